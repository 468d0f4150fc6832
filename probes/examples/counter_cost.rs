//! What reading the counters costs, per chunk, with a small map (a fresh
//! process) and a big one (5000 more one-page entries, as after 5000 leaky
//! forks): `cargo run --release -p probes --example counter_cost`. The
//! reading is taken after a chunk's clock stops, so this is not in any
//! measured time; it says how long a chunk's bookkeeping takes.

use probes::churn::MapChurn;
use probes::resources::vm_map_entries;
use probes::Sampler;
use std::time::Instant;

fn median_us(reps: usize, s: &mut Sampler) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(s.sample());
            t0.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    let mut s = Sampler::new();
    let small = vm_map_entries().unwrap_or(0);
    let a = median_us(2001, &mut s);
    let mut churn = MapChurn::new(5000, 1).expect("room for 5000 mappings");
    churn.before_call().expect("mmap");
    let big = vm_map_entries().unwrap_or(0);
    let b = median_us(201, &mut s);
    println!("one reading with {small} map entries: {a:.1} us (median of 2001)");
    println!("one reading with {big} map entries: {b:.1} us (median of 201)");
}
