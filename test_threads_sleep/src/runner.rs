//! One parallel region per call on the chosen runtime, and what the
//! `Threads (extra)` line reports: which threads ran the iterations.

use crate::channel::ChannelPool;
use crate::iteration::{run_iteration, Body, RegionError, SpawnError, Spawner};
use crate::rayon_pool::RayonPool;
use crate::team::Team;
use crate::Runtime;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A process-unique number for the calling thread, given at its first
/// iteration: tells which thread ran what, and how many threads ever ran one.
fn thread_uid() -> usize {
    thread_local!(static UID: usize = THREADS_SEEN.fetch_add(1, Ordering::Relaxed));
    UID.with(|u| *u)
}

/// How many threads have run an iteration since the process started.
static THREADS_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Per bar(): how the iterations were spread over threads.
#[derive(Default)]
pub struct Stats {
    calls: u64,
    /// Calls in which two or more iterations ran on one thread.
    shared_calls: u64,
    /// Every thread that ran an iteration in this bar().
    threads: HashSet<usize>,
    /// Thread of each iteration in the first call, and whether it never changed.
    first: Vec<usize>,
    stable: bool,
}

/// The threads of a runtime. The team and the rayon pool live as long as
/// the process (OpenMP keeps its team); the channel pool one bar().
enum Engine {
    Team(Team),
    Rayon(RayonPool),
    Scoped,
    Channel(Option<ChannelPool>),
}

/// How each iteration behaves: `usleep`, plus the testing aids.
pub struct BodySpec {
    pub usec: libc::useconds_t,
    pub check: bool,
    /// `--inject-panic A`: iteration A panics in the first call that runs it.
    pub panic_at: Option<usize>,
}

pub struct Runner {
    runtime: Runtime,
    ncpus: usize,
    spawner: Spawner,
    body: Arc<Body>,
    engine: Engine,
    pub results: Vec<Option<u64>>,
    /// Thread uid of each iteration of the current call.
    ran_on: Arc<Vec<AtomicUsize>>,
    pub stats: Stats,
}

/// foo(a, T) of the original: `usleep((unsigned int)(T * 1000000))`.
fn make_body(spec: BodySpec, ran_on: Arc<Vec<AtomicUsize>>) -> Arc<Body> {
    let inject = spec.panic_at.map(|a| (a, AtomicBool::new(false)));
    let (usec, check) = (spec.usec, spec.check);
    Arc::new(move |a: usize| {
        ran_on[a].store(thread_uid(), Ordering::Relaxed);
        if let Some((at, done)) = &inject {
            if *at == a && !done.swap(true, Ordering::SeqCst) {
                panic!("injected panic");
            }
        }
        // SAFETY: usleep has no memory preconditions.
        unsafe { libc::usleep(usec) };
        check.then(|| (a as u64) * (a as u64))
    })
}

impl Runner {
    /// Creates the runtime's long-lived threads (team, rayon pool).
    pub fn new(runtime: Runtime, ncpus: usize, spec: BodySpec, spawner: Spawner) -> Result<Runner, SpawnError> {
        let ran_on: Arc<Vec<AtomicUsize>> = Arc::new((0..ncpus).map(|_| AtomicUsize::new(usize::MAX)).collect());
        let engine = match runtime {
            Runtime::Team => Engine::Team(Team::new(ncpus, spawner)?),
            Runtime::Rayon => Engine::Rayon(RayonPool::new(ncpus, spawner)?),
            Runtime::Scoped => Engine::Scoped,
            Runtime::Channel => Engine::Channel(None),
        };
        Ok(Runner {
            runtime,
            ncpus,
            spawner,
            body: make_body(spec, Arc::clone(&ran_on)),
            engine,
            results: Vec::with_capacity(ncpus),
            ran_on,
            stats: Stats::default(),
        })
    }

    /// Start of a bar(): the channel runtime creates its pool (inside
    /// `%time`, as `with Pool(...)` is inside bar()).
    pub fn begin_bar(&mut self) -> Result<(), SpawnError> {
        self.stats = Stats::default();
        if let Engine::Channel(pool) = &mut self.engine {
            *pool = Some(ChannelPool::new(self.ncpus, &self.body, self.spawner)?);
        }
        Ok(())
    }

    /// End of a bar() (also after a failure): the channel pool's threads
    /// leave and are joined.
    pub fn end_bar(&mut self) {
        if let Engine::Channel(pool) = &mut self.engine {
            *pool = None;
        }
    }

    /// One parallel region over `a` in `0..ncpus`.
    pub fn call(&mut self) -> Result<(), RegionError> {
        let out = &mut self.results;
        match &mut self.engine {
            Engine::Team(team) => team.region(&self.body, out)?,
            Engine::Rayon(pool) => pool.region(&*self.body, self.ncpus, out)?,
            Engine::Scoped => scoped_region(&*self.body, self.ncpus, self.spawner, out)?,
            Engine::Channel(pool) => pool.as_mut().ok_or(RegionError::WorkersGone)?.map(out)?,
        }
        self.record_threads();
        Ok(())
    }

    fn record_threads(&mut self) {
        let uids: Vec<usize> = self
            .ran_on
            .iter()
            .map(|u| u.swap(usize::MAX, Ordering::Relaxed))
            .collect();
        let s = &mut self.stats;
        let distinct: HashSet<usize> = uids.iter().copied().collect();
        if distinct.len() < uids.len() {
            s.shared_calls += 1;
        }
        s.threads.extend(distinct);
        if s.calls == 0 {
            s.first = uids;
            s.stable = true;
        } else if s.first != uids {
            s.stable = false;
        }
        s.calls += 1;
    }

    pub fn stats_line(&self) -> String {
        let s = &self.stats;
        format!(
            "Threads (extra): runtime {}, {} distinct threads ran iterations in {} calls ({} in this process so far); calls with two or more sleeps on one thread: {}; iteration-to-thread map {}",
            self.runtime.name(),
            s.threads.len(),
            s.calls,
            THREADS_SEEN.load(Ordering::Relaxed),
            s.shared_calls,
            if s.stable { "fixed" } else { "varied" },
        )
    }
}

/// `ncpus` new threads for this call (`std::thread::scope`), thread `a + 1`
/// running iteration `a`. If one cannot be created, the ones already made
/// finish their iteration and are joined when the scope ends.
fn scoped_region(body: &Body, n: usize, spawner: Spawner, out: &mut Vec<Option<u64>>) -> Result<(), RegionError> {
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(n);
        for a in 0..n {
            handles.push(spawner.spawn_scoped(s, a + 1, move || run_iteration(body, a))?);
        }
        let slots: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| Err(crate::iteration::panic_message(&*p))))
            .collect();
        crate::iteration::collect(slots.iter(), out)
    })
}
