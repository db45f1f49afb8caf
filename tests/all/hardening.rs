//! The guarantees of SECURITY.md under attack and under operator mistakes
//! (issue: hardening): a panic anywhere in the host's handling of a split
//! fails that split or the run, never hangs it; staging is charged what it
//! holds, whatever the batch shape; plugin text is bounded and escaped
//! wherever it goes. Inputs for the hostile plugins are built here.

use crate::hostile::{LIMITS, case_with, failures, good, output_rows, pipeline};
use crate::util::read_parquet;
use std::time::{Duration, Instant};

/// Runs a pipeline case and checks it ends within `limit` (a hang is the
/// failure being tested for, so the test must not hang with it).
fn run_within(
    case: &crate::util::Case,
    limit: Duration,
    env: &[(&str, &str)],
) -> (crate::util::Run, serde_json::Value) {
    let started = Instant::now();
    let mut cmd = crate::util::runtime();
    cmd.args(["run", "pipeline.toml", "--report", "report.json"]).current_dir(case.dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("the run did not end within {limit:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let report = std::fs::read_to_string(case.path("report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    // Whatever went wrong, the host stayed small.
    if let Some(peak) = report["peak_rss_bytes"].as_u64() {
        assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
    }
    (crate::util::Run { output }, report)
}

#[test]
fn a_schema_the_decoder_panics_on_fails_its_split_and_the_run_ends() {
    let (g, expected) = good("good", 3);
    let inputs = [g, ("bad".to_string(), "bad-schema-ipc\n".to_string())];
    let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let case = case_with(&refs);
    case.write("pipeline.toml", pipeline(LIMITS, "max_failed_splits = 1", ""));
    let (run, report) = run_within(&case, Duration::from_secs(60), &[]);
    run.expect_code(0);
    let f = failures(&report);
    let (error, kind, _) = &f["data/bad.txt"];
    assert!(error.starts_with("output `rows`: malformed Arrow IPC: the decoder cannot read it ("), "{error}");
    assert_eq!(kind, "trap");
    assert_eq!(output_rows(&read_parquet(&case.path("out/rows.parquet"))), expected);
    assert!(
        !run.stderr().contains("panicked at"),
        "a caught panic is not reported as one:\n{}",
        run.stderr()
    );
}

#[test]
fn a_transform_output_the_decoder_panics_on_fails_its_split() {
    let (g, expected) = good("good", 2);
    let inputs = [g, ("bad".to_string(), "good\ntransform-bad-schema\n".to_string())];
    let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let case = case_with(&refs);
    case.write("pipeline.toml", pipeline(LIMITS, "max_failed_splits = 1", ""));
    let (run, report) = run_within(&case, Duration::from_secs(60), &[]);
    run.expect_code(0);
    let (error, _, _) = &failures(&report)["data/bad.txt"];
    assert!(
        error.starts_with("transforms.pass: malformed Arrow IPC: the decoder cannot read it ("),
        "{error}"
    );
    assert_eq!(output_rows(&read_parquet(&case.path("out/rows.parquet"))), expected);
}

#[test]
fn an_output_schema_the_decoder_panics_on_is_a_configuration_error() {
    let case = case_with(&[]);
    case.write("data/a.ndjson", "{\"malformed_output_schema\": 1}\n");
    case.write(
        "pipeline.toml",
        r#"version = 1
[source]
plugin = "ndjson"
inputs = "data/a.ndjson"
options.fields = [{ name = "malformed_output_schema", type = "int64" }]

[[transforms]]
name = "pass"
plugin = "hostile_transform.wasm"

[sinks.rows]
format = "parquet"
path = "out/rows.parquet"
"#,
    );
    let validate = case.run(&["validate", "pipeline.toml"]);
    validate.expect_code(2);
    let err = validate.stderr();
    assert!(
        err.contains("`transforms.pass.plugin`: plugin failed to start: output schema: malformed Arrow IPC: the decoder cannot read it ("),
        "{err}"
    );
}

/// A good pipeline of a few splits, run with a panic injected at `place`.
fn injected(place: &str, aggregate: bool) -> (crate::util::Run, serde_json::Value) {
    let inputs: Vec<(String, String)> = (0..4).map(|i| good(&format!("g{i}"), 50).0).collect();
    let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let case = case_with(&refs);
    let extra = if aggregate {
        r#"
[[transforms]]
name = "per_file"
plugin = "aggregate"
options.group_by = ["file"]
options.aggregates = [{ name = "lines", function = "count" }]
"#
    } else {
        ""
    };
    // The aggregate (when there) comes after `pass` and feeds the sink.
    let text = pipeline(LIMITS, "max_failed_splits = \"100%\"\nretries = 0", "")
        .replace("\n[sinks.rows]", &format!("{extra}\n[sinks.rows]"));
    case.write("pipeline.toml", text);
    run_within(&case, Duration::from_secs(60), &[("RUNTIME_TEST_PANIC", place)])
}

#[test]
fn a_panic_in_the_hosts_routing_fails_the_splits_and_the_run_ends() {
    let (run, report) = injected("route", false);
    run.expect_code(0);
    assert_eq!(report["splits_failed"], 4);
    for (split, (error, kind, _)) in failures(&report) {
        assert_eq!(
            error,
            "the runtime panicked while running this split: RUNTIME_TEST_PANIC=route: a panic on purpose \
             (its output was discarded)",
            "{split}"
        );
        assert_eq!(kind, "internal");
    }
    assert!(!run.stderr().contains("panicked at"), "{}", run.stderr());
}

#[test]
fn a_panic_in_the_writer_fails_the_run_and_it_ends() {
    let (run, report) = injected("writer", false);
    run.expect_code(1);
    assert_eq!(
        report["error"],
        "writing outputs: the writer panicked: RUNTIME_TEST_PANIC=writer: a panic on purpose"
    );
}

#[test]
fn a_panic_in_the_final_stage_fails_the_run_and_it_ends() {
    let (run, report) = injected("final", true);
    run.expect_code(1);
    assert_eq!(
        report["error"],
        "final stage: the final stage panicked: RUNTIME_TEST_PANIC=final: a panic on purpose"
    );
}

/// No raw control character (newline aside, which ends lines) in text the
/// host wrote: nothing forged, no terminal escapes.
fn assert_no_controls(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
        panic!("{what} holds the control character {c:?}");
    }
}

#[test]
fn plugin_text_is_bounded_and_escaped_wherever_it_goes() {
    let (g, _) = good("good", 2);
    let inputs = [
        g,
        ("huge".to_string(), "huge-error 16777216\n".to_string()),
        ("forged".to_string(), "forged\nfine\n".to_string()),
    ];
    let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let case = case_with(&refs);
    let limits = "memory = \"256 MiB\"\ntime = \"10 s\"";
    case.write("pipeline.toml", pipeline(limits, "max_failed_splits = 1\nquarantine = \"quarantine\"", ""));
    let (run, report) = run_within(&case, Duration::from_secs(60), &[("RUNTIME_LOG", "plugin=warn")]);
    run.expect_code(0);
    // The 16 MiB error is cut to a few KiB, with the cut said.
    let (error, kind, _) = &failures(&report)["data/huge.txt"];
    assert_eq!(kind, "invalid-input");
    assert!(error.len() < 5000, "{}", error.len());
    assert!(error.starts_with("bad\\n\\tforged\\tline\\n\\u{1b}[31mred"), "{error}");
    assert!(error.ends_with("more bytes cut)"), "{}", &error[error.len() - 60..]);
    // Partial reasons and rejects are escaped and bounded too.
    let partial = report["partials"][0]["reason"].as_str().unwrap();
    assert!(partial.len() < 5000 && partial.ends_with("more bytes cut)"), "{}", partial.len());
    let reject = &report["rejects"][0];
    assert!(reject["location"].as_str().unwrap().starts_with("bad\\n\\t"), "{reject}");
    assert!(reject["reason"].as_str().unwrap().len() < 700, "{reject}");
    // Every file the host wrote and everything it printed is free of
    // forged lines and escapes, and small.
    let report_text = std::fs::read_to_string(case.path("report.json")).unwrap();
    assert!(report_text.len() < 200_000, "report.json is {} bytes", report_text.len());
    assert_no_controls("report.json", &report_text);
    let tsv = std::fs::read_to_string(case.path("quarantine/failed-inputs.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 2, "one header and one failure:\n{tsv}");
    assert!(tsv.lines().all(|l| l.split('\t').count() == 3), "{tsv}");
    assert_no_controls("failed-inputs.tsv", &tsv.replace('\t', " "));
    assert_no_controls("stderr", &run.stderr());
    assert!(run.stderr().len() < 100_000, "stderr is {} bytes", run.stderr().len());
    assert!(report["peak_rss_bytes"].as_u64().unwrap() < 512 << 20, "{}", report["peak_rss_bytes"]);
}

#[test]
fn a_huge_init_error_is_bounded_in_validate() {
    let case = case_with(&[("a", "good\nx\n".to_string())]);
    let text = pipeline("memory = \"256 MiB\"", "", "")
        .replace("[source.limits]", "[source.options]\ninit_error_bytes = 20000000\n[source.limits]");
    case.write("pipeline.toml", text);
    let validate = case.run(&["validate", "pipeline.toml"]);
    validate.expect_code(2);
    let err = validate.stderr();
    assert!(err.len() < 20_000, "validate printed {} bytes", err.len());
    assert!(err.contains("more bytes cut)"), "{}", &err[..err.len().min(2000)]);
    assert_no_controls("validate's stderr", &err);
}

/// The memory bound SECURITY.md states: every worker's instances at their
/// memory limits, the staging budget, the bytes in flight to the writer,
/// and a constant for the host itself (engine, compiled code, buffers).
fn memory_bound(workers: u64, stage_limits: u64, max_staged: u64) -> u64 {
    const HOST: u64 = 160 << 20;
    workers * stage_limits + max_staged + (max_staged / 4).max(8 << 20) + HOST
}

/// A run whose only split emits batches of the given shape, with tight
/// memory limits and a 64 MiB staging budget.
fn shape_case(command: &str, memory_mib: u64) -> (crate::util::Run, serde_json::Value) {
    let inputs = [("shape".to_string(), format!("{command}\n"))];
    let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let case = case_with(&refs);
    let limits = format!("memory = \"{memory_mib} MiB\"\ntime = \"60 s\"");
    let text = pipeline(&limits, "workers = 2\nmax_staged_bytes = \"64 MiB\"", "")
        .replace("[transforms.limits]\ntime = \"3 s\"", &format!("[transforms.limits]\n{limits}"));
    case.write("pipeline.toml", text);
    run_within(&case, Duration::from_secs(300), &[])
}

#[test]
fn millions_of_one_row_batches_stay_within_the_memory_bound() {
    let n = 300_000;
    let (run, report) = shape_case(&format!("tiny-batches {n}"), 16);
    run.expect_code(0);
    assert_eq!(report["rows_read"], n);
    let peak = report["peak_rss_bytes"].as_u64().unwrap();
    // Two workers, each with a reader and a transform of 16 MiB.
    let bound = memory_bound(2, 2 * (16 << 20), 64 << 20);
    assert!(peak < bound, "peak RSS {} MiB over the bound {} MiB", peak >> 20, bound >> 20);
}

#[test]
fn batches_dragging_megabytes_of_metadata_stay_within_the_memory_bound() {
    let (run, report) = shape_case("fat-metadata 300", 40);
    run.expect_code(0);
    assert_eq!(report["rows_read"], 300);
    let peak = report["peak_rss_bytes"].as_u64().unwrap();
    let bound = memory_bound(2, 2 * (40 << 20), 64 << 20);
    assert!(peak < bound, "peak RSS {} MiB over the bound {} MiB", peak >> 20, bound >> 20);
}
