//! Clocks: a monotonic wall clock (Python's `time.perf_counter()`) and the CPU
//! times of `getrusage(2)`, which is what IPython's `%time` reads.

use nix::sys::resource::{getrusage, UsageWho};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// User and system CPU seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuTimes {
    pub user: f64,
    pub sys: f64,
}

impl CpuTimes {
    pub fn total(&self) -> f64 {
        self.user + self.sys
    }

    fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user - earlier.user,
            sys: self.sys - earlier.sys,
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
    pub wall: Instant,
    pub own: CpuTimes,
    pub children: CpuTimes,
}

/// What happened between two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub wall: f64,
    /// `RUSAGE_SELF`: the parent, what `%time` prints.
    #[serde(rename = "self")]
    pub own: CpuTimes,
    /// `RUSAGE_CHILDREN`: the reaped children, where forked work is done.
    pub children: CpuTimes,
}

impl Snapshot {
    pub fn now() -> Snapshot {
        let own = cpu_times(UsageWho::RUSAGE_SELF).0;
        let children = cpu_times(UsageWho::RUSAGE_CHILDREN).0;
        Snapshot {
            wall: Instant::now(),
            own,
            children,
        }
    }

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
    fn intervals_are_non_negative_and_rss_is_known() {
        let a = Snapshot::now();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let d = Snapshot::now().since(&a);
        assert!(d.wall >= 0.0 && d.own.user >= 0.0 && d.own.sys >= 0.0);
        assert!(d.children.total() >= 0.0);
        assert!(peak_rss_bytes() > 0);
    }
}
