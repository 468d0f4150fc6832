//! The power tables of docs/verdict.md: for seeded series (see
//! `drift::simulate`) with the chunk noise measured on the build machine and
//! with a quiet machine's, how many calls the verdict needs to say DRIFT in
//! 95 % of series, for a run of fixed length and with `--until-verdict`, and
//! how often it says DRIFT on pure noise. `cargo run --release -p drift
//! --example power`; the same seeds give the same table on every machine.

use drift::simulate::{fixed, share, until_verdict, Model, SplitMix, MEASURED_NOISE, SEED_NOISE};
use drift::Trend;

/// Run lengths tried for a fixed-length run, in calls.
const LENGTHS: [u64; 12] = [
    600, 1000, 1500, 2000, 3000, 4000, 5000, 7000, 10000, 15000, 20000, 30000,
];
/// Series per cell.
const TRIALS: u32 = 400;
/// `--until-verdict` budget in calls, and calls per bar() (the originals' default).
const BUDGET: u64 = 20000;
const BAR: u64 = 1000;

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// The shortest fixed length at which 95 % of series say DRIFT.
fn fixed_needed(model: &Model, seed: u64) -> String {
    let mut last = 0.0;
    for calls in LENGTHS {
        last = share(TRIALS, seed ^ calls, |rng| fixed(model, rng, calls) == Trend::Drift);
        if last >= 0.95 {
            return format!("{calls}");
        }
    }
    format!("not by {} ({} DRIFT there)", LENGTHS[LENGTHS.len() - 1], pct(last))
}

/// `--until-verdict`: share DRIFT, share "no drift", the calls by which
/// 95 % of series had said DRIFT, and the median calls at a DRIFT.
fn sequential(model: &Model, seed: u64, bar: u64) -> (f64, f64, String, String) {
    let mut rng = SplitMix(seed);
    let runs: Vec<_> = (0..TRIALS)
        .map(|_| until_verdict(model, &mut rng, bar, BUDGET))
        .collect();
    let n = runs.len() as f64;
    let drift: Vec<u64> = {
        let mut v: Vec<u64> = runs
            .iter()
            .filter(|r| r.verdict == Trend::Drift)
            .map(|r| r.calls)
            .collect();
        v.sort_unstable();
        v
    };
    let no = runs.iter().filter(|r| r.verdict == Trend::NoDrift).count() as f64 / n;
    let k95 = (0.95 * n).ceil() as usize;
    let at95 = drift
        .get(k95.saturating_sub(1))
        .map_or(format!("not by {BUDGET}"), |c| c.to_string());
    let median = drift.get(drift.len() / 2).map_or("-".into(), |c| c.to_string());
    (drift.len() as f64 / n, no, at95, median)
}

fn main() {
    for noise in [MEASURED_NOISE, SEED_NOISE] {
        println!(
            "\nChunk noise {} (relative sd of a chunk time); {TRIALS} seeded series per cell; \
             --until-verdict with bar() of {BAR} calls and a budget of {BUDGET} calls.\n",
            pct(noise)
        );
        println!(
            "| drift per 1000 calls | fixed length: calls for DRIFT in 95 % | --until-verdict: DRIFT \
             | --until-verdict: 'no drift' (miss) | --until-verdict: calls for DRIFT in 95 % | median calls at DRIFT |"
        );
        println!("|--:|--:|--:|--:|--:|--:|");
        for (k, d) in [5.0, 10.0, 30.0, 100.0].into_iter().enumerate() {
            let model = Model { drift_pct: d, noise };
            let seed = 1000 + k as u64;
            let (share_drift, share_no, at95, median) = sequential(&model, seed, BAR);
            println!(
                "| +{d} % | {} | {} | {} | {at95} | {median} |",
                fixed_needed(&model, seed),
                pct(share_drift),
                pct(share_no)
            );
        }
        println!("\nThe seed's drifts, fixed length of 600 calls (6 chunks): share of series said DRIFT\n");
        println!("| drift per 1000 calls | DRIFT at 600 calls | DRIFT at 1000 calls |\n|--:|--:|--:|");
        for d in [27.0, 34.5] {
            let model = Model { drift_pct: d, noise };
            let at = |calls| {
                pct(share(TRIALS, 77 ^ calls, |rng| {
                    fixed(&model, rng, calls) == Trend::Drift
                }))
            };
            println!("| +{d} % | {} | {} |", at(600), at(1000));
        }
        println!("\nFalse alarms on pure noise (1000 seeded series each)\n");
        println!("| run | DRIFT | 'no drift' | inconclusive |\n|---|--:|--:|--:|");
        let model = Model { drift_pct: 0.0, noise };
        for calls in [600, 1000, 3000, 10000] {
            let mut rng = SplitMix(5000 + calls);
            let v: Vec<Trend> = (0..1000).map(|_| fixed(&model, &mut rng, calls)).collect();
            let f = |t| pct(v.iter().filter(|&&x| x == t).count() as f64 / 1000.0);
            println!(
                "| fixed, {calls} calls | {} | {} | {} |",
                f(Trend::Drift),
                f(Trend::NoDrift),
                f(Trend::Inconclusive)
            );
        }
        for bar in [BAR, 100] {
            let mut rng = SplitMix(9000 + bar);
            let v: Vec<Trend> = (0..1000)
                .map(|_| until_verdict(&model, &mut rng, bar, BUDGET).verdict)
                .collect();
            let f = |t| pct(v.iter().filter(|&&x| x == t).count() as f64 / 1000.0);
            println!(
                "| --until-verdict, bar() of {bar} calls, budget {BUDGET} | {} | {} | {} |",
                f(Trend::Drift),
                f(Trend::NoDrift),
                f(Trend::Inconclusive)
            );
        }
    }
}
