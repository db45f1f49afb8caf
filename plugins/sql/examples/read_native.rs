//! Reads a relation natively with the plugin's core (no WebAssembly, no
//! Parquet), one reader per thread taking splits largest first, and prints
//! the throughput: a baseline for the component's numbers.
//!
//! ```sh
//! cargo run --release -p sql --target x86_64-unknown-linux-gnu --example read_native -- \
//!     '{"url_env":"PG_URL","table":"bench_rows","partition_column":"id","num_partitions":8}' 2
//! ```

use std::sync::Mutex;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let options = args.get(1).expect("usage: read_native OPTIONS_JSON [THREADS]");
    let threads: usize = args.get(2).map_or(2, |t| t.parse().expect("THREADS"));
    let parse =
        || sql::SqlReader::from_options(serde_json::from_str(options).expect("options JSON")).unwrap();
    let start = Instant::now();
    let mut planner = parse();
    let mut splits = planner.plan_postgres().unwrap_or_else(|e| panic!("plan: {e}"));
    let planned = start.elapsed();
    splits.sort_by_key(|s| s.size_hint);
    let queue = Mutex::new(splits);
    let total = Mutex::new(0u64);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut reader = parse();
                loop {
                    let Some(split) = queue.lock().unwrap().pop() else { break };
                    let rows =
                        reader.read_split(&split, None, &mut |_| Ok(())).unwrap_or_else(|e| panic!("{e}"));
                    *total.lock().unwrap() += rows;
                }
            });
        }
    });
    let rows = *total.lock().unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{rows} rows in {secs:.3} s (planning {:.3} s): {:.0} rows/s",
        planned.as_secs_f64(),
        rows as f64 / secs
    );
}
