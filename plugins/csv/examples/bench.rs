//! Times the `csv` reader natively on one file: the planning scan
//! ([`csv::boundary::cut`]) and parsing and converting every record
//! ([`csv::read_range`]) into batches, which are dropped.
//!
//! ```text
//! python3 examples/csv-export/gen.py --rows 1000000 --out /tmp/orders.csv
//! cargo run --release --target x86_64-unknown-linux-gnu -p csv --example bench -- /tmp/orders.csv \
//!     '{"fields": [...]}'          # options as JSON; omitted: inferred
//! ```
//!
//! The file is read into memory first; times are wall time of one thread.

use csv::options::Options;
use runtime_plugin_sdk::prelude::*;
use std::time::Instant;

struct Count {
    rows: usize,
    rejects: usize,
}

impl csv::Sink for Count {
    fn emit(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        Ok(())
    }
    fn reject(&mut self, _line: u64, _reason: &str) {
        self.rejects += 1;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: bench FILE.csv [OPTIONS_JSON]");
    let json = args.next().unwrap_or_else(|| "{}".into());
    let data = std::fs::read(&path).unwrap();
    let options: Options = runtime_plugin_sdk::options::parse(&json).unwrap();
    let dialect = options.validate().unwrap();
    let nulls: Vec<Vec<u8>> = options.null_strings.iter().map(|s| s.as_bytes().to_vec()).collect();
    let fetch = |off: u64, len: usize| {
        let s = off as usize;
        Ok(data[s..(s + len).min(data.len())].to_vec())
    };
    let mb = data.len() as f64 / 1e6;

    let t = Instant::now();
    let ranges = csv::boundary::cut(data.len() as u64, 64 << 20, dialect, fetch).unwrap();
    let scan = t.elapsed().as_secs_f64();
    println!("plan scan  {:>8.3} s  {:>8.0} MB/s  {} splits of 64 MiB", scan, mb / scan, ranges.len());

    let t = Instant::now();
    let schema = match options.declared_schema() {
        Some(s) => Arc::new(s),
        None => Arc::new(
            csv::infer::infer_bytes(&data, dialect, options.header, options.sample_rows, &nulls)
                .unwrap()
                .unwrap(),
        ),
    };
    let infer = t.elapsed().as_secs_f64();
    println!("schema     {:>8.3} s  ({} columns)", infer, schema.fields().len());

    let t = Instant::now();
    let mut sink = Count { rows: 0, rejects: 0 };
    for r in &ranges {
        csv::read_range(fetch, data.len() as u64, *r, &options, dialect, &nulls, &schema, &mut sink).unwrap();
    }
    let read = t.elapsed().as_secs_f64();
    println!(
        "read       {:>8.3} s  {:>8.1} MB/s  {} rows ({:.0} rows/s), {} rejected",
        read,
        mb / read,
        sink.rows,
        sink.rows as f64 / read,
        sink.rejects
    );
}
