//! Re-running a pipeline over a table it already wrote (issue 14, items 5
//! and 6): every combination of sink (Parquet file, Parquet folder, Delta)
//! × mode (append, overwrite) × pipeline (plain, aggregating) × state of the
//! table (fresh, killed mid-run, completed) × option (`--resume`,
//! `skip_committed`, neither) ends with the rows an uninterrupted run
//! writes, or, where appending twice is what was asked, the rows before
//! plus those. Combinations that cannot mean anything (`skip_committed`
//! with an overwrite, a single file or an aggregate) are refused at
//! validation. And a partition value too long to name a directory fails
//! only its own split.
//!
//! "Killed mid-run" is `RUNTIME_TEST_KILL_BEFORE_COMMIT=3`: the process
//! aborts (as `kill -9` would end it) before its third commit, or before its
//! final commit if that comes first, so a per-split append has two splits
//! committed and an overwrite or an aggregate has none.

use crate::tables::{folder_rows, read_delta};
use crate::util::{Case, read_parquet, runtime};
use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};

const FILES: usize = 4;
const ROWS: usize = 40;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Sink {
    File,
    Folder,
    Delta,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    Fresh,
    Killed,
    Completed,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Opt {
    Resume,
    SkipCommitted,
    Neither,
}

/// The sink's path in the case folder.
fn path(sink: Sink) -> &'static str {
    match sink {
        Sink::File => "out/t.parquet",
        Sink::Folder => "out/t",
        Sink::Delta => "out/t",
    }
}

/// A case: four NDJSON files and a pipeline writing them (or their sums per
/// group) to the sink.
fn case(sink: Sink, overwrite: bool, aggregate: bool, skip: bool) -> Case {
    let case = Case::new();
    for f in 0..FILES {
        let text: String = (0..ROWS)
            .map(|i| format!("{{\"id\":{},\"g\":\"g{}\",\"v\":{}}}\n", f * 1000 + i, i % 3, f * 10 + i))
            .collect();
        case.write(&format!("data/f{f}.ndjson"), text);
    }
    let format = if sink == Sink::Delta { "delta" } else { "parquet" };
    let mut table = String::new();
    if sink != Sink::File {
        table.push_str(if overwrite {
            "mode = \"overwrite\"\n"
        } else {
            "mode = \"append\"\ncommit_every_splits = 1\n"
        });
    }
    if skip {
        table.push_str("skip_committed = true\n");
    }
    let transform = if aggregate {
        "[[transforms]]\nname = \"sums\"\nplugin = \"aggregate\"\n[transforms.options]\ngroup_by = [\"g\"]\n\
         aggregates = [{ name = \"rows\", function = \"count\" }, { name = \"total\", function = \"sum\", column = \"v\" }]\n"
    } else {
        ""
    };
    case.write(
        "pipeline.toml",
        format!(
            "version = 1\nname = \"again\"\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\n\
             options = {{ fields = [{{ name = \"id\", type = \"int64\" }}, {{ name = \"g\", type = \"string\" }}, {{ name = \"v\", type = \"int64\" }}] }}\n\
             {transform}[sinks.t]\nformat = \"{format}\"\npath = \"{}\"\n{table}[run]\nworkers = 2\n",
            path(sink)
        ),
    );
    case
}

/// Every row of `batches`, as text (columns by name), sorted.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let mut names: Vec<(String, usize)> =
            b.schema().fields().iter().enumerate().map(|(i, f)| (f.name().clone(), i)).collect();
        names.sort();
        let formatters: Vec<_> = names
            .iter()
            .map(|(_, i)| ArrayFormatter::try_new(b.column(*i).as_ref(), &FormatOptions::default()).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            let row: Vec<String> =
                names.iter().zip(&formatters).map(|((n, _), f)| format!("{n}={}", f.value(r))).collect();
            out.push(row.join(","));
        }
    }
    out.sort();
    out
}

/// What the table holds, as a reader sees it (nothing if it does not exist),
/// and its version (Delta version, folder commits; none for a file).
fn table(case: &Case, sink: Sink) -> (Vec<String>, Option<i64>) {
    let p = case.path(path(sink));
    match sink {
        Sink::File if p.is_file() => (rows(&read_parquet(&p)), None),
        Sink::Folder if p.is_dir() => {
            let manifest = std::fs::read_to_string(p.join("_runtime_manifest.json")).ok();
            let commits = manifest
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|m| m["commits"].as_array().map(|c| c.len() as i64));
            (rows(&folder_rows(&p)), commits)
        }
        Sink::Delta if p.join("_delta_log").is_dir() => {
            let (version, batches) = read_delta(&p);
            (rows(&batches), Some(version))
        }
        _ => (Vec::new(), None),
    }
}

/// Brings the case's table to `state`.
fn prepare(case: &Case, state: State) {
    match state {
        State::Fresh => {}
        State::Completed => {
            case.run(&["run", "pipeline.toml", "-q"]).expect_code(0);
        }
        State::Killed => {
            let out = runtime()
                .args(["run", "pipeline.toml", "-q"])
                .env("RUNTIME_TEST_KILL_BEFORE_COMMIT", "3")
                .current_dir(case.dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.code().is_none()
                    && String::from_utf8_lossy(&out.stderr).contains("aborting before commit"),
                "the run was to be killed before a commit: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// One sink configuration through every state and option, for the plain
/// and the aggregating pipeline.
fn matrix(sink: Sink, overwrite: bool) {
    for aggregate in [false, true] {
        // What an uninterrupted run writes.
        let base = case(sink, overwrite, aggregate, false);
        base.run(&["run", "pipeline.toml", "-q"]).expect_code(0);
        let expected = table(&base, sink).0;
        assert_eq!(expected.len(), if aggregate { 3 } else { FILES * ROWS });

        for opt in [Opt::Resume, Opt::SkipCommitted, Opt::Neither] {
            let skip = opt == Opt::SkipCommitted;
            if skip && (sink == Sink::File || overwrite || aggregate) {
                let c = case(sink, overwrite, aggregate, true);
                let run = c.run(&["validate", "pipeline.toml"]);
                run.expect_code(2);
                assert!(run.stderr().contains("skip_committed"), "{}", run.stderr());
                continue;
            }
            for state in [State::Fresh, State::Killed, State::Completed] {
                let what = format!("{sink:?} overwrite={overwrite} aggregate={aggregate} {state:?} {opt:?}");
                let c = case(sink, overwrite, aggregate, skip);
                prepare(&c, state);
                let (before, version_before) = table(&c, sink);
                let extra: &[&str] = if opt == Opt::Resume { &["--resume"] } else { &[] };
                let (run, report) = c.run_pipeline("pipeline.toml", extra);
                assert_eq!(run.code(), 0, "{what}: {}", run.stderr());
                let (after, version_after) = table(&c, sink);
                let appends = opt == Opt::Neither && sink != Sink::File && !overwrite;
                let want = if appends {
                    let mut both = [before.clone(), expected.clone()].concat();
                    both.sort();
                    both
                } else {
                    expected.clone()
                };
                assert_eq!(after, want, "{what}: rows after the run");
                if state == State::Completed && opt == Opt::Resume {
                    assert!(report["nothing_to_resume"].is_string(), "{what}: {report}");
                    assert!(
                        run.stderr().contains("nothing to do") || report["splits_already_committed"] == FILES,
                        "{what}"
                    );
                    assert_eq!(version_after, version_before, "{what}: a no-op makes no new version");
                }
                if state == State::Completed && opt == Opt::SkipCommitted {
                    assert_eq!(report["splits_already_committed"], FILES, "{what}: {report}");
                }
            }
        }
    }
}

#[test]
fn rerunning_a_single_parquet_file() {
    matrix(Sink::File, true);
}

#[test]
fn rerunning_a_parquet_folder_in_append_mode() {
    matrix(Sink::Folder, false);
}

#[test]
fn rerunning_a_parquet_folder_in_overwrite_mode() {
    matrix(Sink::Folder, true);
}

#[test]
fn rerunning_a_delta_table_in_append_mode() {
    matrix(Sink::Delta, false);
}

#[test]
fn rerunning_a_delta_table_in_overwrite_mode() {
    matrix(Sink::Delta, true);
}

#[test]
fn resuming_a_completed_run_after_the_inputs_changed_is_refused_with_what_to_do() {
    let c = case(Sink::Delta, false, false, false);
    c.run(&["run", "pipeline.toml", "-q"]).expect_code(0);
    c.write("data/f9.ndjson", "{\"id\":9000,\"g\":\"g0\",\"v\":1}\n");
    let (run, report) = c.run_pipeline("pipeline.toml", &["--resume"]);
    run.expect_code(2);
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("completed, and 1 of the 5 planned splits are not in it"), "{report}");
    assert!(error.contains("skip_committed = true"), "{error}");
    assert_eq!(table(&c, Sink::Delta).0.len(), FILES * ROWS, "nothing was written");
}

#[test]
fn a_partition_value_too_long_for_a_directory_fails_only_its_split() {
    let c = Case::new();
    let long = "x".repeat(10 * 1024);
    c.write("data/a.ndjson", "{\"k\":\"a\",\"v\":1}\n{\"k\":\"../../escape\",\"v\":2}\n");
    c.write("data/b.ndjson", format!("{{\"k\":\"ok\",\"v\":3}}\n{{\"k\":\"{long}\",\"v\":4}}\n"));
    c.write("data/c.ndjson", "{\"k\":\"c\",\"v\":5}\n");
    c.write(
        "pipeline.toml",
        "version = 1\nname = \"parts\"\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\n\
         options = { fields = [{ name = \"k\", type = \"string\" }, { name = \"v\", type = \"int64\" }] }\n\
         [sinks.t]\nformat = \"delta\"\npath = \"out/t\"\npartition_by = [\"k\"]\n\
         [run]\nmax_failed_splits = 1\n",
    );
    let (run, report) = c.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert!(report["peak_rss_bytes"].as_u64().unwrap() < 512 << 20, "{}", report["peak_rss_bytes"]);
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report}");
    let failure = failures[0].to_string();
    assert!(failure.contains("b.ndjson"), "{failure}");
    assert!(
        failure.contains("partition column `k`, row 1: the value makes a directory name of 10242 bytes"),
        "{failure}"
    );
    // The other splits committed, the traversal attempt stayed inside the table.
    let (_, batches) = read_delta(&c.path("out/t"));
    let mut vs: Vec<String> =
        rows(&batches).into_iter().filter_map(|r| r.split("v=").nth(1).map(String::from)).collect();
    vs.sort();
    assert_eq!(vs, ["1", "2", "5"]);
    assert!(c.path("out/t/k=..%2F..%2Fescape").is_dir());
    assert!(!c.path("escape").exists() && !c.path("out/escape").exists());
}
