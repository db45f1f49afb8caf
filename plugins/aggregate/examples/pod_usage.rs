//! Runs `labels` + `aggregate` natively over a generated pod-usage directory
//! and prints where the time went and the CHECKSUM line (SPEC §3), which must
//! equal the known one for the data:
//!
//! ```text
//! python3 gen.py --rows 1000000 --out /tmp/pod1m --seed 42
//! cargo run --release --target x86_64-unknown-linux-gnu -p aggregate --example pod_usage -- /tmp/pod1m
//! ```
//!
//! Times are CPU time of the thread (the machine may be shared). The input
//! is cut into splits of `--split-rows` rows (default 140,000, about 64 MiB
//! of NDJSON) in batches of 65,536 rows, as the host would. `--dictionary`
//! sets the `labels` option `dictionary = true`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut split_rows = 140_000usize;
    let mut dictionary = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dictionary" => dictionary = true,
            "--split-rows" => split_rows = args.next().and_then(|v| v.parse().ok()).expect("--split-rows N"),
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    let dir = dir.expect("usage: pod_usage DIR [--split-rows N] [--dictionary]");
    let t = Instant::now();
    let batches = support::read_pod_usage(&dir.join("pod_usage.ndjson"), 65_536);
    let side_tables = support::side_tables(&dir);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    eprintln!(
        "read {rows} rows in {} batches: {:.3}s (not part of the transforms)",
        batches.len(),
        t.elapsed().as_secs_f64()
    );

    // Splits of whole batches, about `split_rows` rows each.
    let per_split = split_rows.div_ceil(65_536).max(1);
    let splits: Vec<&[_]> = batches.chunks(per_split).collect();
    let t = Instant::now();
    let cpu = support::cpu_now();
    let (out, timings) = support::run_pipeline(side_tables, &splits, dictionary);
    let (total, total_cpu) = (t.elapsed(), support::cpu_now() - cpu);
    eprintln!(
        "splits: {} ({} batches each), groups per split: {:?}",
        splits.len(),
        per_split,
        timings.groups_per_split
    );
    eprintln!("labels init (side tables): {:.3}s", timings.labels_init.as_secs_f64());
    eprintln!(
        "labels:                    {:.3}s (cache hits {}, misses {})",
        timings.labels.as_secs_f64(),
        timings.cache_hits,
        timings.cache_misses
    );
    eprintln!("aggregate partial:         {:.3}s", timings.partial.as_secs_f64());
    eprintln!(
        "IPC between stages:        {:.3}s (labels output and partial states, encode + decode)",
        timings.ipc.as_secs_f64()
    );
    eprintln!("aggregate final merge:     {:.3}s", timings.merge.as_secs_f64());
    eprintln!("aggregate final finish:    {:.3}s (sort + output)", timings.finish.as_secs_f64());
    eprintln!(
        "total:                     {:.3}s ({:.3}s wall)",
        total_cpu.as_secs_f64(),
        total.as_secs_f64()
    );
    println!("{}", support::checksum(&out));
}
