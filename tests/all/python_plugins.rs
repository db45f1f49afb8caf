//! Python plugins: the two examples in `examples/python-plugins` and the
//! hostile fixture `tests/fixtures/python-plugins/hostile`, built by the test
//! with componentize-py (`plugins/sdk-python/build`, installed by
//! `scripts/setup`) like any user's plugin, run in pipelines by the real
//! binary, their outputs read back with pyarrow.
//!
//! Each component (about 19 MB) is built once per test process. The example
//! tests run against a fresh compiled-component cache, so their first run
//! compiles and the second must load from the cache (the report says which);
//! the hostile test shares the suite's cache.

use crate::util::{Case, Run, pyarrow_rows, repo, runtime};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds the Python plugin in `dir` (repository-relative) for `kind`
/// (`reader` or `transform`) into target/python-plugins/NAME.wasm.
fn build(kind: &str, dir: &str, name: &str) -> PathBuf {
    let out = repo().join("target/python-plugins").join(format!("{name}.wasm"));
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let status = Command::new(repo().join("plugins/sdk-python/build"))
        .args([kind, repo().join(dir).to_str().unwrap(), out.to_str().unwrap()])
        .output()
        .expect("plugins/sdk-python/build (does scripts/setup install componentize-py?)");
    assert!(
        status.status.success(),
        "building {dir} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

fn redact() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("transform", "examples/python-plugins/redact", "redact"))
}

fn access_log() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("reader", "examples/python-plugins/access-log", "access-log"))
}

fn hostile() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("reader", "tests/fixtures/python-plugins/hostile", "hostile-python"))
}

/// A case holding a copy of the example folder `name`, its plugin built into
/// `build/` where the example pipeline expects it.
fn example_case(name: &str, wasm: &Path) -> Case {
    let case = Case::new();
    case.copy(&format!("examples/python-plugins/{name}"), ".");
    let _ = std::fs::remove_dir_all(case.path("build"));
    let _ = std::fs::remove_dir_all(case.path("out"));
    std::fs::create_dir_all(case.path("build")).unwrap();
    std::fs::copy(wasm, case.path(&format!("build/{name}.wasm"))).unwrap();
    case
}

/// Runs `runtime run pipeline.toml` in the case with the given cache folder;
/// returns the run and its report.
fn run_with_cache(case: &Case, cache: &Path) -> (Run, Value) {
    let report = case.path("report.json");
    let _ = std::fs::remove_file(&report);
    let output = runtime()
        .env("RUNTIME_CACHE_DIR", cache)
        .args(["run", "pipeline.toml", "--report", report.to_str().unwrap()])
        .current_dir(case.dir.path())
        .output()
        .unwrap();
    let run = Run { output };
    let json = std::fs::read_to_string(&report)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|_| panic!("no report\n--- stderr\n{}", run.stderr()));
    (run, json)
}

/// stage -> whether its component came from the compiled-component cache.
fn cached(report: &Value) -> BTreeMap<String, bool> {
    report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["stage"].as_str().unwrap().to_string(), p["cached"].as_bool().unwrap()))
        .collect()
}

#[test]
fn redact_example_masks_chosen_columns_and_the_second_run_is_cached() {
    let case = example_case("redact", redact());
    let cache = tempfile::tempdir().unwrap();

    let (run, report) = run_with_cache(&case, cache.path());
    run.expect_code(0);
    assert!(!cached(&report)["transforms.redact"], "a fresh cache must compile");
    let mut rows = pyarrow_rows(&case.path("out/tickets.parquet"));
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "customer": "Ada Lovelace", "subject": "Login fails",
                   "body": "Please call me on [phone] or write to [email]."}),
            json!({"id": 2, "customer": "Grace Hopper", "subject": "Invoice",
                   "body": "Send the invoice to [email], not to [email]"}),
            json!({"id": 3, "customer": "Alan Turing", "subject": "No contact details here",
                   "body": "The machine stopped at step 42 of 1000."}),
            json!({"id": 4, "customer": "Edsger Dijkstra", "subject": "Phone [phone]", "body": null}),
            json!({"id": 5, "customer": "Barbara Liskov", "subject": "Re: ticket 5",
                   "body": "Reach me at [phone] ext. 12; backup: [email]"}),
        ]
    );

    // The second run loads every component from the cache.
    let (run, report) = run_with_cache(&case, cache.path());
    run.expect_code(0);
    assert_eq!(
        cached(&report),
        BTreeMap::from([("source".into(), true), ("transforms.redact".into(), true)])
    );
    assert_eq!(pyarrow_rows(&case.path("out/tickets.parquet")).len(), 5);

    // A dictionary-encoded column crosses as a dictionary both ways (the
    // Python codec decodes and re-encodes it) and gives the same rows.
    let pipeline = std::fs::read_to_string(case.path("pipeline.toml")).unwrap();
    let dictionary = r#"{ name = "subject", type = "string", dictionary = true }"#;
    case.write("pipeline.toml", pipeline.replace(r#"{ name = "subject", type = "string" }"#, dictionary));
    let (run, _) = run_with_cache(&case, cache.path());
    run.expect_code(0);
    let mut again = pyarrow_rows(&case.path("out/tickets.parquet"));
    again.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(again, rows);
    case.write("pipeline.toml", pipeline);

    // Options are checked at init, with the plugin's message.
    case.write(
        "pipeline.toml",
        std::fs::read_to_string(case.path("pipeline.toml")).unwrap().replace("\"body\"]", "\"bodies\"]"),
    );
    let output = runtime()
        .env("RUNTIME_CACHE_DIR", cache.path())
        .args(["run", "pipeline.toml"])
        .current_dir(case.dir.path())
        .output()
        .unwrap();
    let run = Run { output };
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr().contains(
            "error: `transforms.redact.options.columns`: no column `bodies` in the input (it has: id, customer, subject, body)"
        ),
        "{}",
        run.stderr()
    );
}

/// `n` access log lines, every seventh one malformed; returns the text and
/// the byte offsets of the good lines.
fn access_log_text(n: usize) -> (String, Vec<(i64, usize)>) {
    let mut text = String::new();
    let mut good = Vec::new();
    for i in 0..n {
        let offset = text.len() as i64;
        if i % 7 == 3 {
            text.push_str(&format!("garbage line {i}\n"));
            continue;
        }
        assert!(i < 3600, "times assume one hour of lines");
        let size = if i % 5 == 0 { "-".to_string() } else { (i * 10).to_string() };
        text.push_str(&format!(
            "10.0.{}.{} - user{} [01/Mar/2024:{:02}:{:02}:{:02} +0100] \"GET /item/{i} HTTP/1.1\" {} {size} \"-\" \"agent {i}\"\n",
            i / 256 % 256,
            i % 256,
            i % 3,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            200 + i % 3
        ));
        good.push((offset, i));
    }
    (text, good)
}

#[test]
fn access_log_example_reads_lines_across_byte_range_splits_and_the_second_run_is_cached() {
    let case = example_case("access-log", access_log());
    let cache = tempfile::tempdir().unwrap();

    // The shipped sample: five requests and one rejected line.
    let (run, report) = run_with_cache(&case, cache.path());
    run.expect_code(0);
    assert!(!cached(&report)["source"], "a fresh cache must compile");
    let rows = pyarrow_rows(&case.path("out/requests.parquet"));
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[1],
        json!({"source_path": "data/access.log", "offset": 108, "client": "192.0.2.11", "user": "alice",
               "time": "2024-03-01T07:00:03+00:00", "method": "POST", "path": "/login",
               "protocol": "HTTP/1.1", "status": 302, "bytes": null, "referer": "https://example.com/",
               "user_agent": "Mozilla/5.0 (Macintosh)"})
    );
    assert_eq!(rows[3]["referer"], Value::Null, "common log format: no referer");
    assert_eq!(rows[2]["time"], "2024-03-01T13:00:04+00:00");
    assert_eq!(report["rejected_records"], 1);
    assert_eq!(report["rejects"][0]["location"], "byte 434");
    assert_eq!(report["rejects"][0]["reason"], "not an access log line");

    // A larger log cut into byte ranges: every good line exactly once, with
    // its offset in the file, from a cached component.
    let (text, good) = access_log_text(3000);
    case.write("data/access.log", &text);
    case.write(
        "pipeline.toml",
        std::fs::read_to_string(case.path("pipeline.toml"))
            .unwrap()
            .replace("inputs = \"data/*.log\"", "inputs = \"data/*.log\"\nmax_split_bytes = \"16 KiB\""),
    );
    let (run, report) = run_with_cache(&case, cache.path());
    run.expect_code(0);
    assert!(cached(&report)["source"], "the second run must load from the cache");
    assert!(report["splits_total"].as_u64().unwrap() >= 8, "{}", report["splits_total"]);
    assert_eq!(report["rejected_records"], 3000 / 7 + 1);
    let mut rows = pyarrow_rows(&case.path("out/requests.parquet"));
    rows.sort_by_key(|r| r["offset"].as_i64());
    assert_eq!(rows.len(), good.len());
    for (row, (offset, i)) in rows.iter().zip(&good) {
        assert_eq!(row["offset"], *offset);
        assert_eq!(row["path"], format!("/item/{i}"));
        assert_eq!(row["user_agent"], format!("agent {i}"));
        assert_eq!(row["status"], 200 + (*i as i64) % 3);
        assert_eq!(row["bytes"], if i % 5 == 0 { Value::Null } else { json!(i * 10) });
        // Local 00:MM:SS +0100 on 1 March is 23:MM:SS UTC on 29 February.
        assert_eq!(row["time"], format!("2024-02-29T23:{:02}:{:02}+00:00", i / 60 % 60, i % 60));
    }
}

#[test]
fn a_python_plugin_that_raises_loops_or_allocates_fails_its_split_with_the_reason() {
    let case = Case::new();
    std::fs::copy(hostile(), case.path("hostile.wasm")).unwrap();
    for command in ["good", "invalid", "retry", "bug", "loop", "alloc", "partial"] {
        case.write(&format!("data/{command}.txt"), format!("{command}\nfirst\nsecond\n"));
    }
    case.write(
        "pipeline.toml",
        r#"version = 1
[source]
plugin = "hostile.wasm"
inputs = "data/*.txt"
[source.limits]
memory = "128 MiB"
time = "2 s"

[sinks.rows]
format = "parquet"
path = "out/rows.parquet"

[run]
max_failed_splits = "90%"
retries = 1
retry_backoff = "10 ms"
"#,
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    let bug_line = std::fs::read_to_string(repo().join("tests/fixtures/python-plugins/hostile/app.py"))
        .unwrap()
        .lines()
        .position(|l| l.contains("raise ValueError"))
        .unwrap()
        + 1;
    let failures: BTreeMap<String, (String, String, u64)> = report["failures"]
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
        .collect();
    let expected: BTreeMap<String, (String, String, u64)> = [
        ("invalid", "data/invalid.txt: header says invalid".to_string(), "invalid-input", 1),
        ("retry", "the service stays down".into(), "io", 2),
        ("bug", format!("plugin raised ValueError at app.py:{bug_line}: a bug in the plugin"), "internal", 1),
        ("loop", "time limit 2 s exceeded".into(), "trap", 1),
        ("alloc", "memory limit 128 MiB exceeded".into(), "trap", 1),
    ]
    .into_iter()
    .map(|(s, e, k, n)| (format!("data/{s}.txt"), (e, k.to_string(), n)))
    .collect();
    assert_eq!(failures, expected, "\n--- stderr\n{}", run.stderr());
    assert_eq!(report["splits_ok"], 1);
    assert_eq!(report["partials"], json!([{"split": "data/partial.txt", "reason": "damaged after line 3"}]));

    // The good and the partial split's rows, and nothing from failed splits.
    let mut rows: Vec<(String, i64, String)> = pyarrow_rows(&case.path("out/rows.parquet"))
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().into(),
                r["line"].as_i64().unwrap(),
                r["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    rows.sort();
    let want: Vec<(String, i64, String)> = ["good", "partial"]
        .iter()
        .flat_map(|s| {
            [(format!("data/{s}.txt"), 2, "first".into()), (format!("data/{s}.txt"), 3, "second".into())]
        })
        .collect();
    assert_eq!(rows, want);
}
