//! `runtime new-plugin` for each kind and language: the project is written
//! into a temporary folder, built with the command the runtime prints
//! (`runtime plugins build DIR`: cargo for Rust, componentize-py for Python),
//! inspected, tested with its own test, and run in its own sample pipeline;
//! the output is read back with pyarrow.
//!
//! The Rust projects share one cargo target folder under `target/` so their
//! dependencies compile once (and stay compiled between test runs).

use crate::util::{Case, Run, pyarrow_rows, repo, runtime};
use serde_json::{Value, json};
use std::process::Command;

/// The cargo target folder of the generated Rust projects.
fn cargo_target() -> std::path::PathBuf {
    repo().join("target/new-plugin-projects")
}

/// Runs a command the runtime printed (`runtime ARGS...`) in the case folder.
fn run_printed(case: &Case, line: &str) -> Run {
    let args: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(args[0], "runtime", "not a runtime command: {line}");
    let output = runtime()
        .args(&args[1..])
        .env("CARGO_TARGET_DIR", cargo_target())
        .current_dir(case.dir.path())
        .output()
        .unwrap();
    Run { output }
}

/// Makes, builds and runs a project; returns the case, the run's report and
/// the output rows.
fn make_build_run(kind: &str, lang: &str) -> (Case, Value, Vec<Value>) {
    // Distinct names: the Rust projects share a target folder, where a
    // package's artifact is named after it.
    let name = format!("{kind}-{lang}");
    let case = Case::new();
    let made = case.run(&["new-plugin", &name, "--kind", kind, "--lang", lang, "--dir", "kv"]);
    made.expect_code(0);
    let printed: Vec<String> = made
        .stdout()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("runtime "))
        .map(String::from)
        .collect();
    assert_eq!(printed, ["runtime plugins build kv", "runtime run kv/pipeline.toml"], "{}", made.stdout());

    // The project's own tests pass as written.
    let test = match lang {
        "rust" => Command::new(env!("CARGO"))
            .args(["test", "--quiet"])
            .env("CARGO_TARGET_DIR", cargo_target())
            .current_dir(case.path("kv"))
            .output()
            .unwrap(),
        _ => Command::new("python3")
            .args(["-m", "unittest", "-v"])
            .current_dir(case.path("kv"))
            .output()
            .unwrap(),
    };
    Run { output: test }.expect_code(0);

    let built = run_printed(&case, &printed[0]);
    built.expect_code(0);
    let wasm = case.path(built.stdout().trim());
    assert_eq!(wasm, case.path(&format!("kv/build/{name}.wasm")), "{}", built.stderr());
    assert!(
        built.stderr().contains(&format!("built the {kind} `{name}` 0.1.0 (runtime:plugin@")),
        "{}",
        built.stderr()
    );

    let inspected = case.run(&["plugins", "inspect", wasm.to_str().unwrap(), "--json"]);
    inspected.expect_code(0);
    let description: Value = serde_json::from_str(&inspected.stdout()).unwrap();
    assert_eq!(
        (description["name"].as_str(), description["kind"].as_str()),
        (Some(name.as_str()), Some(kind))
    );

    let (run, report) = case.run_pipeline(&printed[1]["runtime run ".len()..], &[]);
    run.expect_code(0);
    let rows = pyarrow_rows(&case.path("kv/out/rows.parquet"));
    (case, report, rows)
}

fn check_reader(report: &Value, rows: &[Value]) {
    let row = |k: &str, v: &str| json!({"source_path": "data/sample.txt", "key": k, "value": v});
    assert_eq!(
        rows,
        [
            row("name", "Ada Lovelace"),
            row("born", "1815-12-10"),
            row("known for", "the first published algorithm")
        ]
    );
    assert_eq!(report["rejected_records"], 1, "{report:#}");
    assert_eq!(report["rejects"][0]["location"], "line 6");
    assert_eq!(report["rejects"][0]["reason"], "no separator in the line");
}

fn check_transform(rows: &[Value]) {
    assert_eq!(
        rows,
        [
            json!({"id": 1, "name": "Ada Lovelace", "score": 9.5}),
            json!({"id": 2, "name": "Grace Hopper", "score": 8.75}),
            json!({"id": 3, "name": null, "score": null}),
        ]
    );
}

#[test]
fn rust_reader_builds_and_runs() {
    let (_case, report, rows) = make_build_run("reader", "rust");
    check_reader(&report, &rows);
}

#[test]
fn rust_transform_builds_and_runs() {
    let (_case, _report, rows) = make_build_run("transform", "rust");
    check_transform(&rows);
}

#[test]
fn python_reader_builds_and_runs() {
    let (_case, report, rows) = make_build_run("reader", "python");
    check_reader(&report, &rows);
}

#[test]
fn python_transform_builds_and_runs() {
    let (_case, _report, rows) = make_build_run("transform", "python");
    check_transform(&rows);
}

/// Bad names and folders in use are refused with the fix, and nothing is
/// written; a folder that is not a project is refused by the build.
#[test]
fn mistakes_are_refused_with_a_fix() {
    let case = Case::new();
    let bad = case.run(&["new-plugin", "My_Reader", "--kind", "reader", "--lang", "rust"]);
    bad.expect_code(2);
    assert!(bad.stderr().contains("`My_Reader` is not a usable plugin name"), "{}", bad.stderr());
    assert!(bad.stderr().contains("for example `my-reader`"), "{}", bad.stderr());
    assert!(!case.path("My_Reader").exists());

    case.write("taken/notes.txt", "mine");
    let taken = case.run(&["new-plugin", "kv", "--kind", "reader", "--lang", "python", "--dir", "taken"]);
    taken.expect_code(2);
    assert!(taken.stderr().contains("taken already exists and is not empty"), "{}", taken.stderr());
    assert_eq!(std::fs::read_to_string(case.path("taken/notes.txt")).unwrap(), "mine");

    let not_a_project = case.run(&["plugins", "build", "taken"]);
    not_a_project.expect_code(2);
    assert!(not_a_project.stderr().contains("taken: no plugin.toml here"), "{}", not_a_project.stderr());

    // A compile error is the tool's: its messages on stderr, exit 1.
    case.run(&["new-plugin", "kv", "--kind", "transform", "--lang", "python", "--dir", "broken"])
        .expect_code(0);
    case.write("broken/plugin.py", "this is not python\n");
    let broken = run_printed(&case, "runtime plugins build broken");
    broken.expect_code(1);
    assert!(broken.stderr().contains("componentize-py failed"), "{}", broken.stderr());
    assert!(broken.stdout().is_empty(), "no component path on failure: {}", broken.stdout());
}
