//! The three bar() shapes of the sleep pool originals (see the crate docs).

use crate::job::{decode_result, encode_whoami, JOBS};
use crate::stop::{interrupted, outcome_of};
use crate::Settings;
use cli::outln;
use probes::churn::MapChurn;
use procpool::diag;
use procpool::{Pool, StartMethod};
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use timing::pyfmt::py_list;
use timing::{CallIndex, Outcome};

/// What happens in the parent before every call: a stop on Ctrl-C, and the
/// `--map-churn` mappings (a no-op without the flag).
fn before_call(churn: &mut MapChurn) -> Result<(), Outcome> {
    Outcome::check_interrupt()?;
    churn.before_call().map_err(|e| Outcome::Failed(e.to_string()))
}

fn new_pool(s: &Settings, m: StartMethod) -> Result<Pool, Outcome> {
    let mut pool = Pool::with_spawn_via(m, s.spawn_via, s.workers, JOBS[0]).map_err(|e| outcome_of(e, 0))?;
    pool.set_interrupt_check(interrupted);
    if s.show_workers {
        show_workers(&mut pool)?;
    }
    Ok(pool)
}

/// `--workers`: one extra line per worker, from the worker itself.
fn show_workers(pool: &mut Pool) -> Result<(), Outcome> {
    let jobs: Vec<_> = (0..pool.len() as u64).map(encode_whoami).collect();
    let res = pool.map(&jobs).map_err(|e| outcome_of(e, 0))?;
    let me = std::process::id();
    let mark = diag::MARK.load(Ordering::SeqCst);
    for r in res {
        let (pid, ppid, their_mark) = diag::decode(&r).ok_or_else(|| Outcome::Failed("bad --workers answer".into()))?;
        let parent = if ppid == me {
            "this process".to_string()
        } else if Some(ppid as i32) == pool.server_pid() {
            format!("the forkserver {ppid}")
        } else {
            format!("process {ppid}")
        };
        let memory = if their_mark == mark {
            "a fork of this process"
        } else {
            "a fresh exec"
        };
        outln!("(extra) worker pid {pid}: parent {parent}, memory of {memory}");
    }
    Ok(())
}

fn results_list(out: &[Vec<u8>]) -> String {
    py_list(&out.iter().map(|r| decode_result(r)).collect::<Vec<_>>())
}

/// bar() of `test_pool_fork_sleep.py` / `test_pool_spawn_sleep.py`.
pub(crate) fn pool_bar(
    b: &mut timing::Bar<'_>,
    s: &Settings,
    method: StartMethod,
    churn: &mut MapChurn,
) -> Result<(), Outcome> {
    outln!("Setting multiprocessing start method to '{method}'");
    outln!("Using maxworkers={} parallel decorated function", s.workers);
    let w = s.workers as u64;
    let mut inputs = Vec::with_capacity(s.workers);
    let mut out = Vec::with_capacity(s.workers);
    {
        // `with mp.Pool(processes=maxworkers) as pool:` — the pool is closed
        // (workers reaped) before the results are printed.
        let mut pool = new_pool(s, method)?;
        b.chunks(s.numcalls, |i: CallIndex| {
            before_call(churn)?;
            // Oddity of the original, kept: `m` grows by maxworkers after each
            // *chunk*, so the 100 calls of a chunk map the same arguments.
            let m = i.chunk * w;
            inputs.clear();
            inputs.extend((m..m + w).map(|a| s.job(a)));
            pool.map_into(&inputs, &mut out).map_err(|e| outcome_of(e, m))
        })?;
    }
    if s.check {
        // The last call's results, in input order (pool.map).
        outln!("{}", results_list(&out));
    }
    Ok(())
}

/// bar() of `test_executor_sleep.sage`.
pub(crate) fn executor_bar(
    b: &mut timing::Bar<'_>,
    s: &Settings,
    method: StartMethod,
    churn: &mut MapChurn,
) -> Result<(), Outcome> {
    outln!("Using maxworkers={} as max_workers for ProcessPoolExecutor", s.workers);
    let w = s.workers as u64;
    let mut inputs = Vec::with_capacity(s.workers);
    let out = RefCell::new(Vec::with_capacity(s.workers));
    let mut pool = new_pool(s, method)?;
    let call = |i: CallIndex| {
        before_call(churn)?;
        // Here `m` grows by maxworkers after every *call*, as in the original.
        let m = i.call * w;
        inputs.clear();
        inputs.extend((m..m + w).map(|a| s.job(a)));
        pool.map_into(&inputs, &mut out.borrow_mut())
            .map_err(|e| outcome_of(e, m))
    };
    // With check, the original prints the last call's results after every
    // chunk line (`list(executor.map(...))`, input order).
    let after_chunk = || {
        s.check.then(|| {
            let out = out.borrow();
            let values: Vec<Option<String>> = out.iter().map(|r| decode_result(r).map(|v| v.to_string())).collect();
            (results_list(&out), serde_json::json!({ "results": values }))
        })
    };
    b.chunks_with_extra(s.numcalls, call, after_chunk)
}

/// bar() of `test_parallel_spawn_sleep.sage`: every call creates a spawned
/// pool, maps, closes and joins it (Sage's `parallel_iter` with
/// `p_iter='multiprocessing'`), and all of that is in the call's time.
pub(crate) fn per_call_bar(b: &mut timing::Bar<'_>, s: &Settings, churn: &mut MapChurn) -> Result<(), Outcome> {
    outln!("Using ncpus={} parallel decorated function", s.workers);
    let w = s.workers as u64;
    let inputs: Vec<_> = (0..w).map(|a| s.job(a)).collect();
    let mut out = Vec::with_capacity(s.workers);
    b.each_call(
        s.numcalls,
        || timing::lines::per_call_prefix(s.sleep, s.workers),
        |_| {
            before_call(churn)?;
            // Sage maps with imap_unordered (completion order); the order
            // only shows with --check, which the original does not have.
            // The pool is closed and joined (dropped) inside the call's time.
            let res = new_pool(s, StartMethod::Spawn)
                .and_then(|mut pool| pool.map_into(&inputs, &mut out).map_err(|e| outcome_of(e, 0)));
            if res.is_err() {
                // End the pending "Now spawning ..." line.
                outln!();
            }
            res
        },
        |delta| timing::lines::per_call_suffix(delta, s.sleep, s.workers),
    )?;
    if s.check {
        outln!("{}", results_list(&out));
    }
    Ok(())
}
