//! Pool behaviour for each start method, run single-threaded by our own main
//! (the workers are this test binary started again).

use probes::hygiene::{children, open_fds, Children};
use procpool::{diag, Fault, Job, Pool, PoolError, SpawnVia, StartMethod, WorkerFault};
use std::sync::atomic::Ordering;

/// Input: a u64 `a` and a command byte. Output: `a*a` as u64.
fn square(input: &[u8], output: &mut Vec<u8>) -> Result<(), i32> {
    let a = u64::from_le_bytes(input.get(..8).ok_or(1)?.try_into().map_err(|_| 1)?);
    match input.get(8).copied().unwrap_or(0) {
        1 => {
            // SAFETY: raising a signal on ourselves.
            unsafe { libc::raise(libc::SIGKILL) };
        }
        2 => Fault::Garble.strike(),
        3 => Fault::Truncate.strike(),
        4 => return Err(7),
        5 => output.resize(60_000, 0xab), // a long result, many pipe reads
        6 => output.resize(procpool::MAX_FRAME + 1, 0), // over the limit
        _ => {}
    }
    output.extend_from_slice(&(a * a).to_le_bytes());
    Ok(())
}

const JOBS: &[Job] = &[
    Job {
        name: "square",
        run: square,
    },
    Job {
        name: "whoami",
        run: diag::whoami,
    },
];

fn input(a: u64, cmd: u8) -> Vec<u8> {
    let mut v = a.to_le_bytes().to_vec();
    v.push(cmd);
    v
}

fn no_children() {
    assert_eq!(children(), Children::None, "a worker or server is left");
}

fn many_calls(m: StartMethod) {
    let fds = open_fds();
    for round in 0..3 {
        let mut pool = Pool::new(m, 4, JOBS[0]).unwrap();
        // Two pipe ends per worker, and the forkserver's socket.
        let with_pool = fds + 8 + usize::from(m == StartMethod::Forkserver);
        assert_eq!(open_fds(), with_pool, "{m}: the pool's own fds");
        let mut out = Vec::new();
        for call in 0..1000u64 {
            let inputs: Vec<Vec<u8>> = (call..call + 6).map(|a| input(a, 0)).collect();
            pool.map_into(&inputs, &mut out).unwrap();
            let got: Vec<u64> = out
                .iter()
                .map(|r| u64::from_le_bytes(r[..].try_into().unwrap()))
                .collect();
            let want: Vec<u64> = (call..call + 6).map(|a| a * a).collect();
            assert_eq!(got, want, "{m} round {round} call {call}: results in input order");
            assert_eq!(open_fds(), with_pool, "{m} round {round} call {call}: no fd leaked");
            assert_eq!(children(), Children::Running, "{m}: no zombie");
        }
        let long = pool.map(&[input(3, 5)]).unwrap();
        assert_eq!(long[0].len(), 60_008);
        assert!(long[0][..60_000].iter().all(|&b| b == 0xab));
        assert!(matches!(
            pool.map(&[input(3, 6)]),
            Err(PoolError::TooLarge { job: 0, .. })
        ));
        drop(pool);
        assert_eq!(open_fds(), fds, "{m}: fds back to baseline after drop");
        no_children();
    }
}

fn start_method_is_real(m: StartMethod) {
    diag::MARK.store(0xfeed, Ordering::SeqCst);
    let me = std::process::id();
    let mut pool = Pool::new(m, 3, JOBS[1]).unwrap();
    let res = pool.map(&[[0u8; 0]; 3]).unwrap();
    let pids = pool.pids();
    for r in &res {
        let (pid, ppid, mark) = diag::decode(r).unwrap();
        assert!(pids.contains(&(pid as i32)), "{m}: answer from a pool worker");
        assert_ne!(pid, me);
        match m {
            StartMethod::Fork => assert_eq!((ppid, mark), (me, 0xfeed), "fork: child of the parent, its memory"),
            StartMethod::Spawn => assert_eq!((ppid, mark), (me, 0), "spawn: child of the parent, a fresh exec"),
            StartMethod::Forkserver => {
                assert_eq!(
                    ppid as i32,
                    pool.server_pid().unwrap(),
                    "forkserver: child of the server"
                );
                assert_eq!(mark, 0, "forkserver: the server is a fresh exec");
            }
        }
    }
    drop(pool);
    no_children();
}

fn faults(m: StartMethod) {
    let fds = open_fds();
    for (cmd, what) in [(1u8, "killed"), (2, "garbled"), (3, "truncated"), (4, "job error")] {
        let mut pool = Pool::new(m, 2, JOBS[0]).unwrap();
        pool.map(&[input(1, 0), input(2, 0)]).unwrap();
        let pids = pool.pids();
        let err = pool.map(&[input(1, 0), input(2, cmd), input(3, 0)]).unwrap_err();
        match (&err, cmd) {
            (PoolError::Worker { job: 1, pid, fault }, 1) => {
                assert!(pids.contains(pid));
                assert_eq!(*fault, WorkerFault::Signaled("SIGKILL".into()), "{m}");
            }
            (PoolError::Worker { job: 1, fault, .. }, 2) => assert_eq!(*fault, WorkerFault::Garbled("bad magic")),
            (PoolError::Worker { job: 1, fault, .. }, 3) => assert_eq!(*fault, WorkerFault::Truncated),
            (PoolError::JobFailed { job: 1, code: 7, .. }, 4) => {}
            _ => panic!("{m} {what}: unexpected {err:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with("job 1 (pid "), "{msg}");
        assert!(matches!(pool.map(&[input(1, 0)]), Err(PoolError::Broken)));
        drop(pool);
        assert_eq!(open_fds(), fds, "{m} {what}: fds back to baseline");
        no_children();
    }
}

type Test = (&'static str, fn(StartMethod));

/// The forkserver's third fork fails (hidden switch): `Pool::new` returns the
/// errno as [`PoolError::ForkWorker`], never a worker with pid -1, and the two
/// workers already made and the server are reaped.
fn fork_failure_in_the_server() {
    let fds = open_fds();
    // SAFETY (of set_var): this test main is single-threaded.
    std::env::set_var(procpool::FAIL_FORK_ENV, "3");
    let err = Pool::new(StartMethod::Forkserver, 4, JOBS[0]).err();
    std::env::remove_var(procpool::FAIL_FORK_ENV);
    let err = err.expect("the third fork fails");
    assert!(
        matches!(err, PoolError::ForkWorker { worker: 3, errno } if errno == libc::EAGAIN),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "forkserver could not fork worker 3: Resource temporarily unavailable"
    );
    assert_eq!(open_fds(), fds, "fds back to baseline");
    no_children();
}

/// Both spawn paths, for the two start methods that spawn: the workers are
/// children of the right process and fresh execs, every call returns to the
/// pool's fds, the drop to the baseline with no child left; then `execve`
/// of a path that does not exist (hidden switch) fails `Pool::new` with
/// ENOENT, nothing left behind.
fn spawn_paths(m: StartMethod, via: SpawnVia) {
    let fds = open_fds();
    diag::MARK.store(0xfeed, Ordering::SeqCst);
    let mut pool = Pool::with_spawn_via(m, via, 3, JOBS[1]).unwrap();
    let with_pool = fds + 6 + usize::from(m == StartMethod::Forkserver);
    assert_eq!(open_fds(), with_pool, "{m} via {via}: the pool's own fds");
    let parent = pool.server_pid().unwrap_or(std::process::id() as i32);
    for call in 0..100 {
        for r in pool.map(&[[0u8; 0]; 3]).unwrap() {
            let (_, ppid, mark) = diag::decode(&r).unwrap();
            assert_eq!(
                (ppid as i32, mark),
                (parent, 0),
                "{m} via {via}: a fresh exec, our child"
            );
        }
        assert_eq!(open_fds(), with_pool, "{m} via {via} call {call}: no fd leaked");
        assert_eq!(children(), Children::Running, "{m} via {via}: no zombie");
    }
    drop(pool);
    assert_eq!(open_fds(), fds, "{m} via {via}: fds back to baseline");
    no_children();
    // SAFETY (of set_var): this test main is single-threaded.
    std::env::set_var(procpool::EXEC_PATH_ENV, "/nonexistent/procpool-worker");
    let err = Pool::with_spawn_via(m, via, 2, JOBS[0]).err();
    std::env::remove_var(procpool::EXEC_PATH_ENV);
    let err = err.expect("execve of a missing file fails");
    let what = if m == StartMethod::Spawn {
        "spawning a worker"
    } else {
        "spawning the forkserver"
    };
    assert!(
        matches!(&err, PoolError::Os { what: w, err } if w == what && err.raw_os_error() == Some(libc::ENOENT)),
        "{m} via {via}: {err:?}"
    );
    assert_eq!(
        open_fds(),
        fds,
        "{m} via {via}: fds back to baseline after the failed exec"
    );
    no_children();
}

fn main() {
    procpool::enter_worker_role_if_asked(JOBS);
    let only: Option<String> = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let tests: [Test; 3] = [
        ("many_calls", many_calls),
        ("start_method_is_real", start_method_is_real),
        ("faults", faults),
    ];
    for m in StartMethod::ALL {
        for (name, t) in tests {
            let full = format!("{name}::{m}");
            if only.as_ref().is_some_and(|o| !full.contains(o.as_str())) {
                continue;
            }
            t(m);
            println!("test {full} ... ok");
        }
    }
    for m in [StartMethod::Spawn, StartMethod::Forkserver] {
        for via in SpawnVia::ALL {
            let full = format!("spawn_paths::{m}::{via}");
            if only.as_ref().is_some_and(|o| !full.contains(o.as_str())) {
                continue;
            }
            spawn_paths(m, via);
            println!("test {full} ... ok");
        }
    }
    if only
        .as_ref()
        .is_none_or(|o| "fork_failure_in_the_server".contains(o.as_str()))
    {
        fork_failure_in_the_server();
        println!("test fork_failure_in_the_server ... ok");
    }
}
