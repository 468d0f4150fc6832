//! What OpenMP does for `#pragma omp parallel for num_threads(ncpus)` with the
//! default static schedule and `ncpus` iterations (`test_openmp_sleep.c`):
//! one team of threads, created at the first parallel region and reused by
//! every later one; the master thread is member 0; member `a` runs iteration
//! `a`; the region starts at a barrier (the "fork" barrier) and ends at one
//! (the "join" barrier). As in libgomp, the region itself takes no lock: the
//! master publishes the body before the start barrier, each member writes
//! only its own result slot, and the end barrier orders the master's reads
//! after every member's write (see [`crate::barrier`]). At the end barrier
//! only the master waits; members arrive and go back to the start barrier,
//! as in LLVM's libomp join barrier (gather to the master, release at the
//! next fork), which saves a wake-up per member and call.

use crate::barrier::Barrier;
use crate::iteration::{collect, run_iteration, Body, RegionError, Slot, SpawnError, Spawner};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A result slot on a cache line of its own: members write theirs at the
/// same moment, at the end of their sleep.
#[repr(align(128))]
struct PaddedSlot(UnsafeCell<Slot>);

/// What the team shares.
struct Shared {
    start: Barrier,
    end: Barrier,
    /// The region's body; `None` after the start barrier tells the members
    /// to leave. Written by the master only outside regions.
    body: UnsafeCell<Option<Arc<Body>>>,
    /// Member `a`'s result, written by member `a` only, inside regions.
    slots: Box<[PaddedSlot]>,
    /// Set once all members exist (`GO`) or creation failed (`ABORT`).
    ready: AtomicU8,
}

const PENDING: u8 = 0;
const GO: u8 = 1;
const ABORT: u8 = 2;

// SAFETY: the cells are never accessed concurrently. `body` is written by the
// master only outside regions (before its arrival at the start barrier, after
// its end-barrier wait), and read by a member only after the start barrier
// and before its arrival at the end barrier. Slot `a` is written by member `a`
// (the master for slot 0) in that same span, and read by the master only
// after its end-barrier wait. Arriving is a release and passing the barrier an
// acquire (see `crate::barrier`), so each access happens-before the next.
unsafe impl Sync for Shared {}

pub struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

fn member_loop(shared: &Shared, a: usize) {
    loop {
        shared.start.wait();
        // SAFETY: between the barriers of a region (see `Shared`): the body
        // is not written, and slot `a` is this member's alone.
        unsafe {
            let Some(body) = &*shared.body.get() else { return };
            *shared.slots[a].0.get() = run_iteration(&**body, a);
        }
        // Only the master waits for the end of the region: a member goes
        // straight back to the start barrier (no wake-up just to sleep
        // again, which costs most on an oversubscribed machine).
        shared.end.arrive();
    }
}

/// Parks a new member until the team is complete; false if creation failed.
fn await_team(shared: &Shared) -> bool {
    loop {
        // Acquire: pairs with the Release store in `Team::new`.
        match shared.ready.load(Ordering::Acquire) {
            PENDING => std::thread::park(),
            state => return state == GO,
        }
    }
}

impl Team {
    /// Creates the `n - 1` worker threads (the caller is member 0, thread 1).
    /// If one cannot be created, the ones already made leave and are joined.
    pub fn new(n: usize, spawner: Spawner) -> Result<Team, SpawnError> {
        let spin = Barrier::spin_for(n);
        let shared = Arc::new(Shared {
            start: Barrier::new(n, spin),
            end: Barrier::new(n, spin),
            body: UnsafeCell::new(None),
            slots: (0..n).map(|_| PaddedSlot(UnsafeCell::new(Ok(None)))).collect(),
            ready: AtomicU8::new(PENDING),
        });
        let mut workers = Vec::with_capacity(n.saturating_sub(1));
        let mut failed = None;
        for a in 1..n {
            let sh = Arc::clone(&shared);
            let made = spawner.spawn(a + 1, format!("team-{a}"), move || {
                if await_team(&sh) {
                    member_loop(&sh, a);
                }
            });
            match made {
                Ok(h) => workers.push(h),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Release: a member that sees the state sees the team it belongs to.
        shared
            .ready
            .store(if failed.is_some() { ABORT } else { GO }, Ordering::Release);
        for w in &workers {
            w.thread().unpark();
        }
        match failed {
            None => Ok(Team { shared, workers }),
            Some(e) => {
                for w in workers {
                    let _ = w.join();
                }
                Err(e)
            }
        }
    }

    /// One parallel region: iteration `a` on member `a`; `out` gets every
    /// iteration's result in iteration order, or the error is the first
    /// panic (in iteration order). `&mut self`: one master at a time.
    pub fn region(&mut self, body: &Arc<Body>, out: &mut Vec<Option<u64>>) -> Result<(), RegionError> {
        let sh = &*self.shared;
        // SAFETY: outside regions every member waits at the start barrier
        // (see `Shared`), so the master alone touches the body.
        unsafe {
            let cur = &mut *sh.body.get();
            if !cur.as_ref().is_some_and(|b| Arc::ptr_eq(b, body)) {
                *cur = Some(Arc::clone(body));
            }
        }
        sh.start.wait();
        let r0 = run_iteration(&**body, 0);
        // SAFETY: slot 0 is the master's, and this is inside the region.
        unsafe { *sh.slots[0].0.get() = r0 };
        sh.end.wait();
        // SAFETY: after the end barrier no member writes a slot until the
        // next region starts, which only this thread can start.
        collect(sh.slots.iter().map(|s| unsafe { &*s.0.get() }), out)
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        // SAFETY: outside regions (see `region`).
        unsafe { *self.shared.body.get() = None };
        self.shared.start.wait();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawner(n: usize) -> Spawner {
        Spawner { of: n, fail_at: None }
    }

    /// Thousands of regions per team size, every call's results checked;
    /// a seeded shuffle of tiny sleeps varies the order of arrival.
    #[test]
    fn regions_are_correct_for_teams_of_1_to_16() {
        for n in 1..=16usize {
            let mut team = Team::new(n, spawner(n)).unwrap();
            let round = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let r = Arc::clone(&round);
            let body: Arc<Body> = Arc::new(move |a: usize| {
                let call = r.load(Ordering::Relaxed);
                // xorshift of (call, a): 0..=3 µs, a few members yield.
                let mut x = (call << 8 | a as u64) ^ 0x9E37_79B9_7F4A_7C15;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 8 {
                    0 => std::thread::yield_now(),
                    1 => std::thread::sleep(std::time::Duration::from_micros(x % 4)),
                    _ => {}
                }
                Some(call * 100 + a as u64)
            });
            let mut out = Vec::new();
            for call in 0..2000u64 {
                round.store(call, Ordering::Relaxed);
                team.region(&body, &mut out).unwrap();
                let want: Vec<Option<u64>> = (0..n as u64).map(|a| Some(call * 100 + a)).collect();
                assert_eq!(out, want, "team of {n}, call {call}");
            }
        }
    }

    #[test]
    fn a_panicking_member_does_not_deadlock_the_team() {
        crate::iteration::install_panic_hook();
        let n = 6;
        let mut team = Team::new(n, spawner(n)).unwrap();
        let mut out = Vec::new();
        for bad in [3usize, 0, 5] {
            let body: Arc<Body> = Arc::new(move |a: usize| {
                assert!(a != bad, "member {a} fails");
                Some(a as u64)
            });
            let e = team.region(&body, &mut out).unwrap_err();
            assert_eq!(e.to_string(), format!("iteration {bad} panicked: member {bad} fails"));
            // The team goes on: the next region completes with every result.
            let ok: Arc<Body> = Arc::new(|a: usize| Some(a as u64 + 1));
            team.region(&ok, &mut out).unwrap();
            assert_eq!(out, (1..=n as u64).map(Some).collect::<Vec<_>>());
        }
    }

    #[test]
    fn failed_creation_joins_the_members_already_made() {
        let e = Team::new(
            8,
            Spawner {
                of: 8,
                fail_at: Some(3),
            },
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "cannot create thread 3 of 8: Resource temporarily unavailable"
        );
    }
}
