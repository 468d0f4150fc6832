//! `--runtime rayon`: a rayon `ThreadPool` of `ncpus` threads whose threads
//! this crate creates itself (`spawn_handler`), so that a thread that cannot
//! be created is named in the error and the pool's threads are joined when
//! it goes (rayon's own threads are detached).

use crate::iteration::{run_iteration, Body, RegionError, SpawnError, Spawner};
use rayon::prelude::*;
use std::thread::JoinHandle;

pub struct RayonPool {
    pool: Option<rayon::ThreadPool>,
    threads: Vec<JoinHandle<()>>,
}

impl RayonPool {
    /// `n` threads; if one cannot be created, rayon stops the ones already
    /// made and they are joined here.
    pub fn new(n: usize, spawner: Spawner) -> Result<RayonPool, SpawnError> {
        let mut threads = Vec::with_capacity(n);
        let mut failed = None;
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .spawn_handler(|t| {
                let i = t.index();
                match spawner.spawn(i + 1, format!("rayon-{i}"), move || t.run()) {
                    Ok(h) => {
                        threads.push(h);
                        Ok(())
                    }
                    Err(e) => {
                        let err = std::io::Error::new(e.err.kind(), e.to_string());
                        failed = Some(e);
                        Err(err)
                    }
                }
            })
            .build();
        match built {
            Ok(pool) => Ok(RayonPool {
                pool: Some(pool),
                threads,
            }),
            Err(e) => {
                for t in threads {
                    let _ = t.join();
                }
                Err(failed.unwrap_or_else(|| SpawnError {
                    thread: 1,
                    of: n,
                    err: std::io::Error::other(e.to_string()),
                }))
            }
        }
    }

    /// A parallel iterator over `0..n`: results in iteration order, or the
    /// first panic (in iteration order).
    pub fn region(&self, body: &Body, n: usize, out: &mut Vec<Option<u64>>) -> Result<(), RegionError> {
        let pool = self.pool.as_ref().ok_or(RegionError::WorkersGone)?;
        let mut slots = Vec::with_capacity(n);
        pool.install(|| {
            (0..n)
                .into_par_iter()
                .map(|a| run_iteration(body, a))
                .collect_into_vec(&mut slots)
        });
        crate::iteration::collect(slots.iter(), out)
    }
}

impl Drop for RayonPool {
    fn drop(&mut self) {
        // Dropping the pool tells its threads to stop; then they are joined.
        drop(self.pool.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_creation_names_the_thread() {
        let e = RayonPool::new(
            4,
            Spawner {
                of: 4,
                fail_at: Some(3),
            },
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "cannot create thread 3 of 4: Resource temporarily unavailable"
        );
    }

    #[test]
    fn results_in_iteration_order() {
        let pool = RayonPool::new(3, Spawner { of: 3, fail_at: None }).unwrap();
        let body = |a: usize| Some(a as u64 * 2);
        let mut out = Vec::new();
        pool.region(&body, 5, &mut out).unwrap();
        assert_eq!(out, vec![Some(0), Some(2), Some(4), Some(6), Some(8)]);
    }
}
