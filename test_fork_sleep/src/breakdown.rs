//! `--breakdown`: where a job's time goes in the parent. In sage#39960 a
//! profile showed `posix.fork` itself going from 1.30 s to 2.20 s per 1000
//! forks; this line shows which part grows here.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

#[derive(Default)]
struct Sums {
    fork: Cell<f64>,
    wait: Cell<f64>,
    read: Cell<f64>,
    life: Cell<f64>,
    jobs: Cell<u64>,
}

/// Shared between the call closure and the chunk-line hook; `None` when off,
/// so that a plain run reads no clock for the breakdown (the runner still
/// notes each child's birth, one vDSO clock read per job, for `--timeout`).
#[derive(Clone)]
pub struct Shared(Option<Rc<Sums>>);

fn add(cell: &Cell<f64>, t0: Option<Instant>) {
    if let Some(t0) = t0 {
        cell.set(cell.get() + t0.elapsed().as_secs_f64());
    }
}

impl Shared {
    pub fn new(on: bool) -> Shared {
        Shared(on.then(Rc::default))
    }
    pub fn clock(&self) -> Option<Instant> {
        self.0.as_ref().map(|_| Instant::now())
    }
    pub fn add_fork(&self, t0: Option<Instant>) {
        if let Some(s) = &self.0 {
            add(&s.fork, t0);
            s.jobs.set(s.jobs.get() + 1);
        }
    }
    pub fn add_wait(&self, t0: Option<Instant>) {
        if let Some(s) = &self.0 {
            add(&s.wait, t0);
        }
    }
    pub fn add_read(&self, t0: Option<Instant>) {
        if let Some(s) = &self.0 {
            add(&s.read, t0);
        }
    }
    pub fn add_lifetime(&self, born: Instant) {
        if let Some(s) = &self.0 {
            add(&s.life, Some(born));
        }
    }

    /// The chunk's extra line and JSON value; resets the sums.
    pub fn take_line(&self) -> Option<(String, serde_json::Value)> {
        let s = self.0.as_ref()?;
        let jobs = s.jobs.replace(0).max(1) as f64;
        let us = |c: &Cell<f64>| c.replace(0.0) / jobs * 1e6;
        let (fork, wait, read, life) = (us(&s.fork), us(&s.wait), us(&s.read), us(&s.life));
        let line = format!(
            "Breakdown (extra): per job fork {fork:.1} us, wait {wait:.1} us, read {read:.1} us; child lifetime {life:.1} us ({jobs} jobs)"
        );
        let value = serde_json::json!({
            "jobs": jobs, "fork_us": fork, "wait_us": wait, "read_us": read, "child_lifetime_us": life,
        });
        Some((line, value))
    }
}
