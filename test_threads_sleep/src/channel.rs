//! `--runtime channel`: the thread analogue of `multiprocessing.Pool`
//! (`test_pool_fork_sleep.py`): a pool of worker threads created once per
//! bar(), fed through a queue. Each call is `pool.map`: the caller puts the
//! `ncpus` jobs on the job queue, any idle worker takes the next one, results
//! come back over a second queue in completion order (as `imap_unordered`)
//! and are put back in iteration order. Unlike the team, nothing ties
//! iteration `a` to a thread; the queue is what this runtime measures.

use crate::iteration::{collect, run_iteration, Body, RegionError, Slot, SpawnError, Spawner};
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct ChannelPool {
    /// `None` once the pool is closing: the workers' `recv` then fails.
    jobs: Option<Sender<usize>>,
    results: Receiver<(usize, Slot)>,
    workers: Vec<JoinHandle<()>>,
    /// One slot per iteration, filled in completion order.
    slots: Vec<Slot>,
}

impl ChannelPool {
    /// Creates `n` workers running `body`; if one cannot be created, the
    /// ones already made leave (their queue closes) and are joined.
    pub fn new(n: usize, body: &Arc<Body>, spawner: Spawner) -> Result<ChannelPool, SpawnError> {
        let (jobs, job_rx) = unbounded::<usize>();
        let (result_tx, results) = unbounded();
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (rx, tx, body) = (job_rx.clone(), result_tx.clone(), Arc::clone(body));
            let made = spawner.spawn(i + 1, format!("channel-{i}"), move || {
                for a in rx.iter() {
                    if tx.send((a, run_iteration(&*body, a))).is_err() {
                        return;
                    }
                }
            });
            match made {
                Ok(h) => workers.push(h),
                Err(e) => {
                    drop(jobs);
                    for w in workers {
                        let _ = w.join();
                    }
                    return Err(e);
                }
            }
        }
        let slots = (0..n).map(|_| Ok(None)).collect();
        Ok(ChannelPool {
            jobs: Some(jobs),
            results,
            workers,
            slots,
        })
    }

    /// `pool.map(foo, range(n))`: every iteration once; `out` gets the
    /// results in iteration order, or the error is the first panic (in
    /// iteration order, after every job of the call has come back).
    pub fn map(&mut self, out: &mut Vec<Option<u64>>) -> Result<(), RegionError> {
        let n = self.slots.len();
        let jobs = self.jobs.as_ref().ok_or(RegionError::WorkersGone)?;
        for a in 0..n {
            jobs.send(a).map_err(|_| RegionError::WorkersGone)?;
        }
        for _ in 0..n {
            let (a, r) = self.results.recv().map_err(|_| RegionError::WorkersGone)?;
            self.slots[a] = r;
        }
        collect(self.slots.iter(), out)
    }

    /// How many worker threads the pool holds.
    #[cfg(all(test, target_os = "linux"))]
    pub fn threads(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for ChannelPool {
    /// Closes the job queue and joins every worker: after the pool, the
    /// process has the threads it had before it.
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The tests of this module run one at a time: some count the process's
    /// `channel-*` threads.
    static COUNTING: Mutex<()> = Mutex::new(());

    /// Threads of this process named `channel-*`, read from the kernel
    /// (`/proc/self/task/*/comm`), not from the pool's own bookkeeping.
    #[cfg(target_os = "linux")]
    fn channel_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|c| c.starts_with("channel-"))
            .count()
    }

    /// `channel_threads()` once it equals `want`, or after 5 s: a new thread
    /// names itself as it starts, and a joined one can stay listed for a
    /// moment after `pthread_join` returns (the kernel clears its tid
    /// before it has fully left).
    #[cfg(target_os = "linux")]
    fn settled(want: usize) -> usize {
        for _ in 0..500 {
            if channel_threads() == want {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        channel_threads()
    }

    fn squares() -> Arc<Body> {
        Arc::new(|a: usize| Some((a * a) as u64))
    }

    #[test]
    fn map_returns_results_in_iteration_order() {
        let _one = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
        let mut pool = ChannelPool::new(5, &squares(), Spawner { of: 5, fail_at: None }).unwrap();
        let mut out = Vec::new();
        for _ in 0..300 {
            pool.map(&mut out).unwrap();
            assert_eq!(out, vec![Some(0), Some(1), Some(4), Some(9), Some(16)]);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn thread_count_is_constant_across_calls_and_back_to_baseline() {
        let _one = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
        let baseline = channel_threads();
        for n in [1, 4, 9] {
            let mut pool = ChannelPool::new(n, &squares(), Spawner { of: n, fail_at: None }).unwrap();
            let mut out = Vec::new();
            // A new thread takes its name as it starts: wait for that once.
            assert_eq!(settled(baseline + n), baseline + n, "a pool of {n}");
            for call in 0..50 {
                pool.map(&mut out).unwrap();
                assert_eq!(channel_threads(), baseline + n, "call {call} of a pool of {n}");
            }
            assert_eq!(pool.threads(), n);
            drop(pool);
            assert_eq!(settled(baseline), baseline, "after a pool of {n}");
        }
    }

    #[test]
    fn a_panicking_job_is_reported_and_the_pool_goes_on() {
        let _one = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
        crate::iteration::install_panic_hook();
        let body: Arc<Body> = Arc::new(|a: usize| {
            assert!(a & 1 == 0, "odd {a}");
            Some(a as u64)
        });
        let mut pool = ChannelPool::new(2, &body, Spawner { of: 2, fail_at: None }).unwrap();
        pool.slots.resize_with(4, || Ok(None));
        let mut out = Vec::new();
        for _ in 0..3 {
            let e = pool.map(&mut out).unwrap_err();
            assert_eq!(e.to_string(), "iteration 1 panicked: odd 1");
        }
    }

    #[test]
    fn failed_creation_joins_the_workers_already_made() {
        let _one = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
        #[cfg(target_os = "linux")]
        let baseline = channel_threads();
        let e = ChannelPool::new(
            8,
            &squares(),
            Spawner {
                of: 8,
                fail_at: Some(6),
            },
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "cannot create thread 6 of 8: Resource temporarily unavailable"
        );
        #[cfg(target_os = "linux")]
        assert_eq!(settled(baseline), baseline, "workers 1..5 joined");
    }
}
