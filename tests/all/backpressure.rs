//! Backpressure: with a deliberately slow writer, the process's peak memory
//! stays bounded by configuration, not by the size of the input.

use crate::util::{Case, runtime};
use std::io::Write;

const PIPELINE: &str = r#"version = 1
[source]
plugin = "ndjson"
inputs = "data/*.ndjson"
max_split_bytes = "4 MiB"
options = { fields = [{ name = "id", type = "int64" }, { name = "text", type = "string" }], batch_rows = 4096 }

[sinks.rows]
format = "parquet"
path = "out/rows.parquet"
compression = "none"
row_group_bytes = "4 MiB"

[run]
workers = 2
channel_batches = 4
max_staged_bytes = "2 MiB"
"#;

fn write_input(case: &Case, mib: usize) {
    let p = case.path("data/in.ndjson");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let pad = "x".repeat(180);
    let mut written = 0;
    let mut i = 0u64;
    while written < mib << 20 {
        let line = format!("{{\"id\":{i},\"text\":\"{pad}{i}\"}}\n");
        f.write_all(line.as_bytes()).unwrap();
        written += line.len();
        i += 1;
    }
}

/// Peak resident memory of a run over an input of `mib` MiB, in bytes.
fn peak(mib: usize) -> u64 {
    let case = Case::new();
    write_input(&case, mib);
    case.write("pipeline.toml", PIPELINE);
    let report = case.path("report.json");
    let out = runtime()
        .args(["run", "pipeline.toml", "--report", report.to_str().unwrap()])
        .env("RUNTIME_WRITER_DELAY_MS", "2")
        .current_dir(case.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert!(report["outputs"][0]["rows"].as_u64().unwrap() > 0);
    // The slow writer made the workers stage more than the budget: it spilled.
    assert!(report["spilled_bytes"].as_u64().unwrap() > 0, "{report}");
    report["peak_rss_bytes"].as_u64().expect("the report has peak_rss_bytes")
}

#[test]
fn slow_writer_keeps_memory_bounded() {
    let small = peak(32);
    let large = peak(160);
    // Buffering the input would add well over 100 MiB between the two runs.
    let growth = large.saturating_sub(small);
    assert!(
        growth < 48 << 20,
        "peak grew by {} MiB (small {} MiB, large {} MiB)",
        growth >> 20,
        small >> 20,
        large >> 20
    );
}
