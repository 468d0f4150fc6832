//! Clocks: a monotonic wall clock (Python's `time.perf_counter()`) and the CPU
//! times of `getrusage(2)`, which is what IPython's `%time` reads.

use nix::sys::resource::{getrusage, UsageWho};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// User and system CPU seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuTimes {
    /// `ru_utime`: time in the process's own code (all its threads).
    pub user: f64,
    /// `ru_stime`: time in the kernel on the process's behalf (fork, page
    /// tables, pipes, wait). Where the seed's macOS transcripts show the
    /// drift: `sys: 9.75 s` against `user 398 ms`.
    pub sys: f64,
}

impl CpuTimes {
    /// `user + sys`, the third figure of `%time`'s `CPU times:` line.
    pub fn total(&self) -> f64 {
        self.user + self.sys
    }

    fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user - earlier.user,
            sys: self.sys - earlier.sys,
        }
    }

    /// `self` less `other`, never below zero.
    fn less(&self, other: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: (self.user - other.user).max(0.0),
            sys: (self.sys - other.sys).max(0.0),
        }
    }
}

fn cpu_times(who: UsageWho) -> (CpuTimes, i64) {
    // getrusage cannot fail for RUSAGE_SELF / RUSAGE_CHILDREN with a valid buffer.
    let Ok(u) = getrusage(who) else {
        return (CpuTimes::default(), 0);
    };
    let secs = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 * 1e-6;
    (
        CpuTimes {
            user: secs(u.user_time()),
            sys: secs(u.system_time()),
        },
        u.max_rss(),
    )
}

/// Peak resident set size of this process in bytes (`ru_maxrss` is KiB on
/// Linux and bytes on macOS).
pub fn peak_rss_bytes() -> u64 {
    let (_, maxrss) = cpu_times(UsageWho::RUSAGE_SELF);
    let maxrss = maxrss.max(0) as u64;
    if cfg!(target_os = "macos") {
        maxrss
    } else {
        maxrss * 1024
    }
}

/// One reading of every clock.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// The monotonic clock, as `time.perf_counter()` (never the calendar
    /// clock, which can jump during an hour-long run).
    pub wall: Instant,
    /// `getrusage(RUSAGE_SELF)`: the parent, what `%time` reads.
    pub own: CpuTimes,
    /// `getrusage(RUSAGE_CHILDREN)`: every child reaped so far, so only
    /// differences between two snapshots mean anything.
    pub children: CpuTimes,
}

/// What happened between two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Elapsed seconds on the monotonic clock: the `delta` of the chunk lines
    /// and `%time`'s `Wall time`.
    pub wall: f64,
    /// `RUSAGE_SELF`: the parent, what `%time` prints.
    #[serde(rename = "self")]
    pub own: CpuTimes,
    /// `RUSAGE_CHILDREN`: the reaped children, where forked work is done.
    pub children: CpuTimes,
}

impl Interval {
    /// `self` less `other` (the suite's own work inside a timed interval),
    /// never below zero.
    pub fn less(&self, other: &Interval) -> Interval {
        Interval {
            wall: (self.wall - other.wall).max(0.0),
            own: self.own.less(&other.own),
            children: self.children.less(&other.children),
        }
    }

    /// `self` plus `other`.
    pub fn plus(&self, other: &Interval) -> Interval {
        Interval {
            wall: self.wall + other.wall,
            own: CpuTimes {
                user: self.own.user + other.own.user,
                sys: self.own.sys + other.own.sys,
            },
            children: CpuTimes {
                user: self.children.user + other.children.user,
                sys: self.children.sys + other.children.sys,
            },
        }
    }
}

impl Snapshot {
    /// Reads every clock now: two `getrusage` calls, then the monotonic
    /// clock. Cheap enough to take around every chunk of 100 calls.
    pub fn now() -> Snapshot {
        let own = cpu_times(UsageWho::RUSAGE_SELF).0;
        let children = cpu_times(UsageWho::RUSAGE_CHILDREN).0;
        Snapshot {
            wall: Instant::now(),
            own,
            children,
        }
    }

    /// Reads every clock at the end of an interval: the monotonic clock
    /// first, then the two `getrusage` calls, so that (with [`Snapshot::now`]
    /// at the start, which reads it last) the wall time holds the timed code
    /// alone, as a `perf_counter()` pair does.
    pub fn stop() -> Snapshot {
        let wall = Instant::now();
        Snapshot {
            wall,
            own: cpu_times(UsageWho::RUSAGE_SELF).0,
            children: cpu_times(UsageWho::RUSAGE_CHILDREN).0,
        }
    }

    /// What happened from `start` to this snapshot; `start` must be the
    /// earlier one (the CPU times are plain differences, not checked).
    pub fn since(&self, start: &Snapshot) -> Interval {
        Interval {
            wall: self.wall.duration_since(start.wall).as_secs_f64(),
            own: self.own.since(&start.own),
            children: self.children.since(&start.children),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clock_is_monotonic_and_work_shows_as_cpu_time() {
        let start = Snapshot::now();
        let mut prev = start;
        let mut x = 0u64;
        // Work until the wall clock has moved by 30 ms, checking that no
        // reading ever goes back.
        while prev.wall.duration_since(start.wall).as_millis() < 30 {
            for i in 0..10_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            let now = Snapshot::now();
            let d = now.since(&prev);
            assert!(d.wall >= 0.0, "wall went back: {d:?}");
            assert!(d.own.user >= 0.0 && d.own.sys >= 0.0, "self CPU went back: {d:?}");
            assert!(
                d.children.user >= 0.0 && d.children.sys >= 0.0,
                "children went back: {d:?}"
            );
            prev = now;
        }
        std::hint::black_box(x);
        let d = prev.since(&start);
        assert!(d.wall >= 0.030, "{d:?}");
        // 30 ms of spinning are on the process's CPU clock.
        assert!(d.own.total() > 0.0, "no CPU time for 30 ms of work: {d:?}");
        // The harness runs no child of ours here.
        assert_eq!(d.children, CpuTimes::default());
        let rss = peak_rss_bytes();
        assert!((1 << 20..1 << 40).contains(&rss), "peak RSS {rss} bytes");
    }
}
