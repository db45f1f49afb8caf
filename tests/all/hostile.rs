//! The hostile-plugin suite: plugins that attack the sandbox, built by the
//! test from `tests/fixtures/plugins/hostile` like any user's plugin.
//!
//! `hostile-reader` picks its behaviour per split from the first line of the
//! input file (loop forever, sleep, allocate, recurse, flood, open files,
//! sockets, read the environment, spawn, exit, panic, emit malformed or
//! mistyped Arrow); `hostile-transform` passes batches through unless a row
//! asks it to misbehave. One pipeline mixes good and hostile splits: every
//! hostile split must fail with its exact reason, within its limit, while
//! every good row reaches the output and the host stays alive with bounded
//! memory. The error policy (`max_failed_splits` as a count and as a ratio),
//! grants (network, environment), fuel and nested stacks have their own
//! cases.

use crate::util::{Case, read_parquet, repo};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Builds the fixture workspace once per test run; returns the reader and
/// transform components.
pub(crate) fn plugins() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = crate::util::fixture_plugins("hostile");
        (dir.join("hostile_reader.wasm"), dir.join("hostile_transform.wasm"))
    })
}

/// A case folder with both plugins copied in and one input file per split.
pub(crate) fn case_with(inputs: &[(&str, String)]) -> Case {
    let case = Case::new();
    let (reader, transform) = plugins();
    std::fs::copy(reader, case.path("hostile_reader.wasm")).unwrap();
    std::fs::copy(transform, case.path("hostile_transform.wasm")).unwrap();
    for (name, content) in inputs {
        case.write(&format!("data/{name}.txt"), content);
    }
    case
}

/// The pipeline: the hostile reader with tight limits, the hostile transform,
/// one Parquet sink. `extra` is appended (it may add sections).
pub(crate) fn pipeline(source_limits: &str, run: &str, extra: &str) -> String {
    format!(
        r#"version = 1
[source]
plugin = "hostile_reader.wasm"
inputs = "data/*.txt"
[source.limits]
{source_limits}

[[transforms]]
name = "pass"
plugin = "hostile_transform.wasm"
[transforms.limits]
time = "3 s"

[sinks.rows]
format = "parquet"
path = "out/rows.parquet"

[run]
{run}
{extra}
"#
    )
}

pub(crate) const LIMITS: &str = r#"memory = "64 MiB"
time = "1 s"
output_bytes = "4 MiB""#;

/// An output row: (file, line, text).
pub(crate) type Row = (String, i64, String);

/// A `good` input of `n` data lines, and the rows it must produce.
pub(crate) fn good(name: &str, n: usize) -> ((String, String), Vec<Row>) {
    let lines: Vec<String> = (0..n).map(|i| format!("{name} row {i}")).collect();
    let rows = lines
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("data/{name}.txt"), i as i64 + 2, t.clone()))
        .collect();
    ((name.to_string(), format!("good\n{}\n", lines.join("\n"))), rows)
}

/// Every (file, line, text) row of the output, sorted.
pub(crate) fn output_rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in batches {
        let file = b.column(0).as_string::<i32>();
        let line = b.column(1).as_primitive::<arrow_array::types::Int64Type>();
        let text = b.column(2).as_string::<i32>();
        for i in 0..b.num_rows() {
            rows.push((file.value(i).to_string(), line.value(i), text.value(i).to_string()));
        }
    }
    rows.sort();
    rows
}

/// split → (error, kind, attempts) of every failure in a report.
pub(crate) fn failures(report: &serde_json::Value) -> BTreeMap<String, (String, String, u64)> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["split"].as_str().unwrap().to_string(),
                (
                    f["error"].as_str().unwrap().to_string(),
                    f["kind"].as_str().unwrap().to_string(),
                    f["attempts"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// The line of the fixture source holding `needle` (for exact panic reasons).
fn fixture_line(file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/plugins/hostile").join(file)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not in {file}")) + 1
}

const DENIED: &str = "No such file or directory (os error 44)";

#[test]
fn every_hostile_split_fails_with_its_reason_and_every_good_row_is_written() {
    // A socket the plugin will try to reach: nothing may arrive.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "the host's secret\n").unwrap();
    let secret_path = secret.path().display().to_string();

    let (g1, mut expected) = good("good-a", 2500);
    let (g2, rows) = good("good-b", 3);
    expected.extend(rows);
    let (print, rows) = good("print", 2);
    expected.extend(rows);
    let (flaky, rows) = good("flaky", 2);
    expected.extend(rows);
    let print = (print.0, print.1.replacen("good", "print", 1));
    let flaky = (flaky.0, flaky.1.replacen("good", "flaky", 1));
    let mut inputs = vec![g1, g2, print, flaky];
    for command in [
        "loop",
        "sleep",
        "alloc",
        "recurse",
        "recurse-frames",
        "flood",
        "env",
        "spawn",
        "exit",
        "panic",
        "bad-ipc",
        "wrong-schema",
        "unknown-output",
        "always-retryable",
    ] {
        inputs.push((command.to_string(), format!("{command}\n")));
    }
    inputs.push(("files".into(), format!("files {secret_path}\n")));
    inputs.push(("net".into(), format!("net {addr}\n")));
    for t in ["transform-garbage", "transform-wrong-schema", "transform-panic", "transform-loop"] {
        inputs.push((t.into(), format!("good\nfine\n{t}\n")));
    }
    let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let case = case_with(&refs);
    case.write(
        "pipeline.toml",
        pipeline(
            LIMITS,
            "max_failed_splits = \"90%\"\nretries = 2\nretry_backoff = \"10 ms\"\nmax_staged_bytes = \"16 MiB\"\nquarantine = \"quarantine\"",
            "",
        ),
    );

    // One worker: every split runs on the same worker, so each good split
    // after a trap also proves the trapped instance was replaced.
    let started = std::time::Instant::now();
    let (run, report) = case.run_pipeline("pipeline.toml", &["--workers", "1"]);
    let elapsed = started.elapsed();
    run.expect_code(0);
    assert_eq!(report["status"], "ok");

    let panic_line = fixture_line("reader/src/lib.rs", "panic!(\"hostile plugin panics on purpose\")");
    let tpanic_line = fixture_line("transform/src/lib.rs", "panic!(\"hostile transform panics on purpose\")");
    let files = [
        "read /etc/passwd".to_string(),
        "read /proc/self/environ".into(),
        "read data/files.txt".into(),
        "read .".into(),
        format!("read {secret_path}"),
        "list /".into(),
        "list .".into(),
        "list /tmp".into(),
        "write /tmp/hostile-was-here".into(),
    ]
    .map(|what| format!("{what}: {DENIED}"))
    .join("; ");
    let expected_failures: BTreeMap<&str, (String, &str, u64)> = [
        ("loop", "time limit 1 s exceeded".to_string(), "trap", 1),
        ("sleep", "time limit 1 s exceeded".into(), "trap", 1),
        ("alloc", "memory limit 64 MiB exceeded".into(), "trap", 1),
        ("recurse", "stack overflow (limit 1 MiB)".into(), "trap", 1),
        // Frames in linear memory: the shadow stack runs off the bottom of
        // the plugin's memory.
        ("recurse-frames", "trap: out of bounds memory access at hostile_reader::recurse_frames".into(), "trap", 1),
        ("flood", "output limit 4 MiB per split exceeded".into(), "trap", 1),
        ("env", "sandbox held: no environment variables and no arguments".into(), "io", 1),
        (
            "spawn",
            "sandbox held: cannot spawn /bin/sh: operation not supported on this platform".into(),
            "io",
            1,
        ),
        ("exit", "the plugin called exit (status 1)".into(), "trap", 1),
        (
            "panic",
            format!("plugin panicked at reader/src/lib.rs:{panic_line}: hostile plugin panics on purpose"),
            "trap",
            1,
        ),
        ("bad-ipc", "output `rows`: malformed Arrow IPC: Ipc error: Unexpected End of Stream".into(), "trap", 1),
        ("wrong-schema", "output `rows`: schema mismatch: column `text` is Int64, declared Utf8".into(), "trap", 1),
        ("unknown-output", "emitted to unknown output `secrets` (the plugin declared: rows)".into(), "trap", 1),
        ("always-retryable", "the service stays down".into(), "io", 3),
        ("files", format!("sandbox held: {files}"), "io", 1),
        (
            "net",
            format!(
                "sandbox held: dns localhost: failed to lookup address information: Non-recoverable error; \
                 tcp {addr}: Permission denied (os error 2); udp {addr}: Permission denied (os error 2); \
                 listen: Permission denied (os error 2)"
            ),
            "io",
            1,
        ),
        // A failing transform fails the reader's `emit`; the split's kind
        // is the reader's (`internal`), the reason names the transform.
        (
            "transform-garbage",
            "transforms.pass: malformed Arrow IPC: Ipc error: Unexpected End of Stream".into(),
            "internal",
            1,
        ),
        (
            "transform-wrong-schema",
            "transforms.pass: schema mismatch: the batch has 1 columns (count), the declared schema has 3 (file, line, text)"
                .into(),
            "internal",
            1,
        ),
        (
            "transform-panic",
            format!("transforms.pass: plugin panicked at transform/src/lib.rs:{tpanic_line}: hostile transform panics on purpose"),
            "internal",
            1,
        ),
        ("transform-loop", "transforms.pass: time limit 3 s exceeded".into(), "internal", 1),
    ]
    .into_iter()
    .map(|(k, e, kind, n)| (k, (e, kind, n)))
    .collect();
    let got = failures(&report);
    for (name, (error, kind, attempts)) in &expected_failures {
        let split = format!("data/{name}.txt");
        let Some((e, k, n)) = got.get(&split) else {
            panic!("{split} did not fail; failures: {got:#?}\n--- stderr\n{}", run.stderr())
        };
        assert_eq!(e, error, "reason of {split}");
        assert_eq!((k.as_str(), *n), (*kind, *attempts), "kind and attempts of {split}");
    }
    assert_eq!(got.len(), expected_failures.len(), "{got:#?}");
    assert_eq!(report["splits_failed"], expected_failures.len() as u64);
    assert_eq!(report["splits_ok"], 4);

    // Every good row, and nothing else (no leaked file, variable or socket).
    let batches = read_parquet(&case.path("out/rows.parquet"));
    assert_eq!(output_rows(&batches), {
        expected.sort();
        expected
    });
    assert!(listener.accept().is_err(), "the plugin reached the host's socket");
    assert!(!std::path::Path::new("/tmp/hostile-was-here").exists());

    // The retryable failure was retried; the flaky split succeeded on its
    // second attempt.
    let retried = report["retried"].as_array().unwrap();
    assert!(retried.iter().any(|r| r["split"] == "data/flaky.txt" && r["attempts"] == 2), "{retried:?}");

    // Printing is captured, capped and logged as the plugin's.
    let stderr = run.stderr();
    assert!(stderr.contains("stdout: 983040 more bytes dropped (output cap)"), "{stderr}");
    assert!(stderr.contains("stderr: 983040 more bytes dropped (output cap)"), "{stderr}");

    // Every failed input is in the quarantine list.
    let list = std::fs::read_to_string(case.path("quarantine/failed-inputs.tsv")).unwrap();
    assert_eq!(list.lines().count(), 1 + expected_failures.len(), "{list}");

    // Bounded memory: the flood tried to emit 16 GiB and the allocator to
    // take all 4 GiB of a 32-bit memory.
    let rss = report["peak_rss_bytes"].as_u64().unwrap();
    assert!(rss > 0 && rss < 256 << 20, "peak RSS {rss}");
    // Three splits run into their time limits (1 s, 1 s, 3 s); the rest is quick.
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

#[test]
fn grants_open_exactly_what_they_name() {
    let granted = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let (g, o) = (granted.local_addr().unwrap().to_string(), other.local_addr().unwrap().to_string());
    let case = case_with(&[
        ("granted", format!("net {g}\n")),
        ("other", format!("net {o}\n")),
        ("env", "env\n".into()),
        ("stall", format!("stall {g}\n")),
    ]);
    let grants =
        format!("[source.grants]\nnetwork = [\"{g}\"]\nenv = [\"HOSTILE_GRANTED\", \"HOSTILE_UNSET\"]\n");
    case.write("pipeline.toml", pipeline(LIMITS, "max_failed_splits = \"75%\"", &grants));
    let report_path = case.path("report.json");
    let run = crate::util::runtime()
        .args(["run", "pipeline.toml", "--report"])
        .arg(&report_path)
        .current_dir(case.dir.path())
        .env("HOSTILE_GRANTED", "yes")
        .env("HOSTILE_NOT_GRANTED", "no")
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));

    // The granted address connects; DNS and UDP stay denied. The other
    // address is denied by the allow-list.
    let rows: BTreeSet<(String, String)> = output_rows(&read_parquet(&case.path("out/rows.parquet")))
        .into_iter()
        .map(|(f, _, t)| (f, t))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("data/granted.txt".to_string(), format!("tcp {g}: connected")),
        ("data/env.txt".to_string(), "env HOSTILE_GRANTED=yes".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(rows, expected);
    granted.set_nonblocking(true).unwrap();
    assert!(granted.accept().is_ok(), "the granted connection arrived");
    assert!(other.accept().is_err(), "the plugin reached an address it was not granted");
    let got = failures(&report);
    assert_eq!(
        got["data/other.txt"].0,
        format!(
            "sandbox held: dns localhost: failed to lookup address information: Non-recoverable error; \
             tcp {o}: Permission denied (os error 2); udp {o}: Permission denied (os error 2); \
             listen: Permission denied (os error 2)"
        )
    );
    // Waiting on a granted socket that never answers counts against the
    // time limit like any other work.
    assert_eq!(got["data/stall.txt"].0, "time limit 1 s exceeded");
    assert_eq!(got.len(), 2);
}

/// Inputs for the error-policy cases: two good splits and one that panics.
fn policy_case(policy: &str) -> Case {
    let (a, _) = good("a", 5);
    let (b, _) = good("b", 7);
    let case = case_with(&[(&a.0, a.1), (&b.0, b.1), ("panic", "panic\n".into())]);
    case.write("pipeline.toml", pipeline(LIMITS, &format!("max_failed_splits = {policy}"), ""));
    case
}

#[test]
fn under_max_failed_splits_0_one_failure_fails_the_run_and_is_named() {
    let case = policy_case("0");
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(1);
    let line = fixture_line("reader/src/lib.rs", "panic!(\"hostile plugin panics on purpose\")");
    let reason = format!("plugin panicked at reader/src/lib.rs:{line}: hostile plugin panics on purpose");
    assert!(run.stderr().contains(&format!("FAILED   data/panic.txt: {reason}")), "{}", run.stderr());
    assert_eq!(report["status"], "failed");
    assert_eq!(failures(&report)["data/panic.txt"].0, reason);
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("splits failed, more than run.max_failed_splits (0) allows"), "{error}");
    assert!(!case.path("out/rows.parquet").exists());
}

#[test]
fn under_a_ratio_policy_the_run_completes_and_lists_the_failure() {
    let case = policy_case("\"50%\"");
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["splits_failed"], 1);
    assert!(failures(&report)["data/panic.txt"].0.starts_with("plugin panicked at reader/src/lib.rs:"));
    assert_eq!(output_rows(&read_parquet(&case.path("out/rows.parquet"))).len(), 12);
    assert!(run.stderr().contains("FAILED   data/panic.txt: plugin panicked"), "{}", run.stderr());
}

#[test]
fn a_fuel_limit_stops_a_busy_loop_and_spares_stages_without_one() {
    let (a, rows) = good("a", 10);
    let case = case_with(&[(&a.0, a.1), ("loop", "loop\n".into())]);
    let limits = "memory = \"64 MiB\"\ntime = \"30 s\"\nfuel = 50_000_000";
    case.write("pipeline.toml", pipeline(limits, "max_failed_splits = \"50%\"", ""));
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(failures(&report)["data/loop.txt"].0, "fuel limit 50000000 exhausted");
    // The transform has no fuel limit and runs unmetered.
    assert_eq!(output_rows(&read_parquet(&case.path("out/rows.parquet"))), rows);
}

#[test]
fn nested_plugin_stacks_cannot_overflow_a_worker_thread() {
    // A reader emits while `depth` calls deep, and the transform then
    // recurses without bound on the same thread: the two WebAssembly stacks
    // add up. First find (coarsely) the depth at which the reader alone
    // overflows, then try every depth just below it, where the reader's
    // stack is nearly full when the transform starts.
    let reasons = |from: u64, to: u64, step: u64| {
        let inputs: Vec<(String, String)> = (from..to)
            .step_by(step as usize)
            .map(|d| (format!("d{d:06}"), format!("deep-emit {d}\n")))
            .collect();
        let refs: Vec<(&str, String)> = inputs.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
        let case = case_with(&refs);
        case.write("pipeline.toml", pipeline(LIMITS, "max_failed_splits = \"100%\"", ""));
        let (run, report) = case.run_pipeline("pipeline.toml", &["--workers", "1"]);
        run.expect_code(0);
        let got = failures(&report);
        assert_eq!(got.len(), inputs.len());
        got.into_iter()
            .map(|(split, (e, _, _))| (split[6..12].parse::<u64>().unwrap(), e))
            .collect::<BTreeMap<u64, String>>()
    };
    let reader_overflow = "stack overflow (limit 1 MiB)";
    let coarse = reasons(1000, 64_000, 1000);
    let first = *coarse.iter().find(|(_, e)| *e == reader_overflow).expect("the reader overflows").0;
    let fine = reasons(first - 1000, first + 100, 20);
    let mut seen = BTreeSet::new();
    for (depth, e) in &fine {
        let what = if e == reader_overflow {
            "reader overflow"
        } else if e == "transforms.pass: stack overflow (limit 1 MiB)" {
            "transform overflow"
        } else if e.starts_with("transforms.pass: not enough native stack to call the plugin: ") {
            "transform refused"
        } else {
            panic!("depth {depth}: unexpected reason {e}")
        };
        seen.insert(what);
    }
    assert!(seen.contains("reader overflow"), "{fine:?}");
    assert!(seen.contains("transform overflow") || seen.contains("transform refused"), "{fine:?}");
}

#[test]
fn a_stack_limit_larger_than_a_default_thread_is_honoured() {
    // 4 MiB of WebAssembly stack is more than a default worker thread has
    // (2 MiB): the workers get enough for it and the transform still runs.
    // With that much native stack the plugin's own 1 MiB shadow stack (in
    // its linear memory) runs out first, some 3 MiB down the native stack.
    let (a, rows) = good("a", 3);
    let case = case_with(&[(&a.0, a.1), ("recurse", "recurse\n".into())]);
    let limits = format!("{LIMITS}\nstack = \"4 MiB\"");
    case.write("pipeline.toml", pipeline(&limits, "max_failed_splits = \"50%\"", ""));
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(
        failures(&report)["data/recurse.txt"].0,
        "trap: out of bounds memory access at hostile_reader::recurse"
    );
    assert_eq!(output_rows(&read_parquet(&case.path("out/rows.parquet"))), rows);
}
