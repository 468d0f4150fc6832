//! A barrier in the manner of libgomp's (`config/linux/bar.c`), which the
//! OpenMP original (`test_openmp_sleep.c`) pays at the start and the end of
//! every `#pragma omp parallel for`: an atomic arrival count and a
//! generation word. The last member to arrive resets the count and bumps the
//! generation; the others spin on the generation for a short, bounded time,
//! then sleep on it (a futex on Linux, libc++'s `__libcpp_atomic_wait` on
//! macOS, through the `atomic-wait` crate). `std::sync::Barrier` is a mutex
//! and a condition variable: every member takes the lock and the last one
//! wakes the others through it, which on an oversubscribed machine (8
//! threads, 2 cores) is the bulk of the team's overhead.
//!
//! Memory ordering: everything a member wrote before [`Barrier::wait`]
//! happens-before everything any member does after it. Arrivals are AcqRel
//! read-modify-writes of one counter (one release sequence), so the last
//! arriver acquires every earlier arriver's writes; it then publishes them
//! with its store of the new generation, which the waiters acquire.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, Ordering};

/// Keeps the hot words on cache lines of their own (the arrival count is
/// written by every member, the generation read by every waiter).
#[repr(align(128))]
struct Padded<T>(T);

pub struct Barrier {
    n: u32,
    /// Spins before sleeping (libgomp: `GOMP_SPINCOUNT`, throttled to a
    /// thousand when the team is larger than the machine).
    spin: u32,
    arrived: Padded<AtomicU32>,
    generation: Padded<AtomicU32>,
    /// Members asleep (or about to sleep) on `generation`: the last arriver
    /// makes the wake system call only when there is one.
    sleepers: Padded<AtomicU32>,
}

impl Barrier {
    /// A barrier for `n` members (1 ≤ n < 2³²) that spin `spin` times before
    /// they sleep.
    pub fn new(n: usize, spin: u32) -> Barrier {
        assert!(n >= 1 && n <= u32::MAX as usize, "barrier of {n} members");
        Barrier {
            n: n as u32,
            spin,
            arrived: Padded(AtomicU32::new(0)),
            generation: Padded(AtomicU32::new(0)),
            sleepers: Padded(AtomicU32::new(0)),
        }
    }

    /// The spin count for a team of `n` threads on this machine: spinning
    /// helps only while every member has a core to spin on. Measured on 2
    /// busy cores (whole process, 100 calls of 5 ms): 8 threads took 0.53 s
    /// with 0 or 100 spins, 0.56 s with 1000, 0.77 s with 20 000; 2 threads
    /// 0.53 s with 100 or 2000 spins, 0.59 s with 20 000 (libgomp, which
    /// spins much longer there, 0.80 s).
    pub fn spin_for(n: usize) -> u32 {
        if n <= num_cpus::get() {
            2_000
        } else {
            100
        }
    }

    /// Waits until all `n` members have arrived (by `wait` or `arrive`) in
    /// this round.
    pub fn wait(&self) {
        // Relaxed is enough for the value: a member reads the generation of
        // the round it is in (it saw the previous bump when it left the last
        // round, or made it, so coherence gives it the current one).
        let gen = self.generation.0.load(Ordering::Relaxed);
        if self.arrive() {
            return;
        }
        for _ in 0..self.spin {
            // Acquire: pairs with the last arriver's bump.
            if self.generation.0.load(Ordering::Acquire) != gen {
                return;
            }
            spin_loop();
        }
        self.sleep_while(gen);
    }

    /// Arrives without waiting for the others (the join of a fork/join
    /// team: a member that has written its result need not wait for the
    /// other members, only the master must, with `wait`). True for the last
    /// arriver, which has released the round.
    pub fn arrive(&self) -> bool {
        // AcqRel: Release hands this member's earlier writes on; Acquire lets
        // the last arriver take every earlier arriver's writes.
        if self.arrived.0.fetch_add(1, Ordering::AcqRel) + 1 != self.n {
            return false;
        }
        // Relaxed: the next round's arrivals happen after the bump below
        // (through the waiters that see it), which is sequenced after this.
        self.arrived.0.store(0, Ordering::Relaxed);
        // SeqCst: Release publishes the round's writes to the waiters; the
        // total order with the waiters' `sleepers` increment means either the
        // waiter sees the new generation before it sleeps or this thread
        // sees it counted and wakes it.
        self.generation.0.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.0.load(Ordering::SeqCst) != 0 {
            atomic_wait::wake_all(&self.generation.0);
        }
        true
    }

    /// Sleeps on the generation word until it is no longer `gen`.
    fn sleep_while(&self, gen: u32) {
        // SeqCst: see the last arriver's side in `wait`.
        self.sleepers.0.fetch_add(1, Ordering::SeqCst);
        while self.generation.0.load(Ordering::SeqCst) == gen {
            // Returns at once if the word is no longer `gen`; may also
            // return spuriously, hence the loop.
            atomic_wait::wait(&self.generation.0, gen);
        }
        // Relaxed: only a hint for the waker; a stale count costs one
        // needless wake system call, never a lost wake-up.
        self.sleepers.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// Every member adds to its own counter before each round and checks,
    /// after it, that every member has finished that round: a member that
    /// left early would see a counter behind. Run with both spin counts so
    /// that the futex path is exercised (spin 0) as well as the spinning one.
    fn stress(n: usize, rounds: usize, spin: u32) {
        let barrier = Arc::new(Barrier::new(n, spin));
        let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        let members: Vec<_> = (0..n)
            .map(|m| {
                let (barrier, counts) = (Arc::clone(&barrier), Arc::clone(&counts));
                std::thread::spawn(move || {
                    for r in 1..=rounds {
                        counts[m].store(r, Ordering::Relaxed);
                        barrier.wait();
                        for (k, c) in counts.iter().enumerate() {
                            let seen = c.load(Ordering::Relaxed);
                            assert!(seen >= r, "n={n}: member {k} at round {seen} after barrier {r}");
                        }
                        barrier.wait();
                    }
                })
            })
            .collect();
        for m in members {
            m.join().unwrap();
        }
    }

    #[test]
    fn stress_every_size_from_1_to_16() {
        for n in 1..=16 {
            stress(n, 2000, 0);
            stress(n, 500, 100);
        }
    }

    /// The team's shape: members `arrive` at the join and wait at the
    /// fork; the master, after its join `wait`, must see every member's
    /// write of the round.
    #[test]
    fn master_sees_every_arrival_before_the_join_returns() {
        for n in 1..=16usize {
            let (fork, join) = (Arc::new(Barrier::new(n, 0)), Arc::new(Barrier::new(n, 50)));
            let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
            let members: Vec<_> = (1..n)
                .map(|m| {
                    let (fork, join, counts) = (Arc::clone(&fork), Arc::clone(&join), Arc::clone(&counts));
                    std::thread::spawn(move || {
                        for r in 1..=1000 {
                            fork.wait();
                            counts[m].store(r, Ordering::Relaxed);
                            join.arrive();
                        }
                    })
                })
                .collect();
            for r in 1..=1000 {
                fork.wait();
                join.wait();
                for (k, c) in counts.iter().enumerate().skip(1) {
                    assert_eq!(c.load(Ordering::Relaxed), r, "n={n}: member {k} after join {r}");
                }
            }
            for m in members {
                m.join().unwrap();
            }
        }
    }
}
