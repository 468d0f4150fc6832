//! What OpenMP does for `#pragma omp parallel for num_threads(ncpus)` with the
//! default static schedule and `ncpus` iterations: one team of threads,
//! created at the first parallel region and reused by every later one; the
//! master thread is member 0; member `a` runs iteration `a`; the region starts
//! at a barrier (the "fork" barrier) and ends at one (the "join" barrier).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;

/// The body of one iteration: `a` → its result.
pub type Body = dyn Fn(usize) -> Option<u64> + Send + Sync;

/// What the team shares: the region's body and every member's result slot.
struct Shared {
    start: Barrier,
    end: Barrier,
    body: Mutex<Option<Arc<Body>>>,
    /// `Some(results)` per member: Ok(value) or Err(panic message).
    slots: Vec<Mutex<Result<Option<u64>, String>>>,
}

pub struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

fn run_member(shared: &Shared, a: usize, body: &Arc<Body>) {
    let r = catch_unwind(AssertUnwindSafe(|| body(a))).map_err(|p| panic_message(&*p));
    *shared.slots[a].lock().unwrap_or_else(|e| e.into_inner()) = r;
}

/// The text of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

impl Team {
    /// Creates the `n - 1` worker threads (the caller is member 0).
    pub fn new(n: usize) -> Team {
        let shared = Arc::new(Shared {
            start: Barrier::new(n),
            end: Barrier::new(n),
            body: Mutex::new(None),
            slots: (0..n).map(|_| Mutex::new(Ok(None))).collect(),
        });
        let workers = (1..n)
            .map(|a| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || loop {
                    shared.start.wait();
                    let body = shared.body.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    // No body after the start barrier: the team is being dropped.
                    let Some(body) = body else { return };
                    run_member(&shared, a, &body);
                    shared.end.wait();
                })
            })
            .collect();
        Team { shared, workers }
    }

    /// One parallel region: iteration `a` on member `a`; returns every
    /// iteration's result in iteration order, or the first panic as
    /// `(iteration, message)`.
    pub fn region(&self, body: Arc<Body>, out: &mut Vec<Option<u64>>) -> Result<(), (usize, String)> {
        *self.shared.body.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&body));
        self.shared.start.wait();
        run_member(&self.shared, 0, &body);
        self.shared.end.wait();
        out.clear();
        for (a, slot) in self.shared.slots.iter().enumerate() {
            match &*slot.lock().unwrap_or_else(|e| e.into_inner()) {
                Ok(v) => out.push(*v),
                Err(msg) => return Err((a, msg.clone())),
            }
        }
        Ok(())
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        *self.shared.body.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.shared.start.wait();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
