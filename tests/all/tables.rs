//! Table sinks (issue 4): Delta tables read back with the `deltalake` crate
//! and cross-checked with Python `deltalake`; crash-and-resume with
//! `kill -9` at several points for Delta and for Parquet folders; two
//! concurrent runs on one table; schema checks before anything is written.

use crate::util::{Case, read_parquet, row_count, runtime};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Reads a Delta table's current version with the deltalake crate: the
/// version and every row of its active files.
pub fn read_delta(path: &Path) -> (i64, Vec<RecordBatch>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = url::Url::from_directory_path(path.canonicalize().unwrap()).unwrap();
    let table = rt.block_on(deltalake::open_table(url)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let files: Vec<String> = table.get_file_uris().unwrap().collect();
    let mut batches = Vec::new();
    for f in files {
        let p = match url::Url::parse(&f) {
            Ok(u) => u.to_file_path().unwrap(),
            Err(_) => PathBuf::from(&f),
        };
        batches.extend(read_parquet(&p));
    }
    (table.version().unwrap() as i64, batches)
}

/// Runs a Python script that uses `deltalake`. The binding's background
/// threads sometimes abort the interpreter at shutdown ("terminate called
/// without an active exception"), after the script's work is done: the
/// script's output is flushed and the process ends with `os._exit`.
fn python(script: &str) -> std::process::Output {
    let script = format!("{script}\nimport os, sys\nsys.stdout.flush()\nos._exit(0)\n");
    Command::new("python3").args(["-c", &script]).output().unwrap()
}

/// Row count and the sum of an int64 column, by Python deltalake.
fn py_delta(path: &Path, column: &str) -> (u64, i64) {
    let script = format!(
        "import deltalake, pyarrow.compute as pc\n\
         t = deltalake.DeltaTable({p:?}).to_pyarrow_table()\n\
         print(t.num_rows, pc.sum(t[{column:?}]).as_py() or 0)",
        p = path.to_str().unwrap()
    );
    let out = python(&script);
    assert!(out.status.success(), "python deltalake: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace();
    (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse().unwrap())
}

fn sum_i64(batches: &[RecordBatch], column: &str) -> i64 {
    batches
        .iter()
        .map(|b| {
            let c = b.column(b.schema().index_of(column).unwrap()).as_primitive::<Int64Type>();
            c.iter().flatten().sum::<i64>()
        })
        .sum()
}

#[test]
fn pod_usage_to_delta_matches_parquet_and_python() {
    let case = Case::new();
    case.copy("examples/pod-usage/pipeline-delta.toml", "pipeline.toml");
    case.copy("examples/pod-usage/data", "data");
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    let table = case.path("out/pod_usage_daily");
    assert_eq!(report["outputs"][0]["path"], "out/pod_usage_daily");
    assert_eq!(report["outputs"][0]["format"], "delta");
    assert_eq!(report["outputs"][0]["versions"], serde_json::json!([1]));
    let (version, batches) = read_delta(&table);
    assert_eq!(version, 1);
    // The same pipeline to Parquet, for comparison.
    case.copy("examples/pod-usage/pipeline.toml", "parquet.toml");
    case.run_pipeline("parquet.toml", &[]).0.expect_code(0);
    let parquet = read_parquet(&case.path("out/pod_usage_daily.parquet"));
    assert_eq!(row_count(&batches), row_count(&parquet));
    assert_eq!(sum_i64(&batches, "pod_count"), sum_i64(&parquet, "pod_count"));
    // Python deltalake sees the same table.
    assert_eq!(py_delta(&table, "pod_count"), (row_count(&parquet) as u64, sum_i64(&parquet, "pod_count")));
    // And the spec's checksum of the Delta table equals the Parquet file's.
    let flat = case.path("delta.parquet");
    let script = format!(
        "import deltalake, pyarrow.parquet as pq\npq.write_table(deltalake.DeltaTable({:?}).to_pyarrow_table(), {:?})",
        table.to_str().unwrap(),
        flat.to_str().unwrap()
    );
    assert!(python(&script).status.success());
    let both = crate::util::checksum(&[&case.path("out/pod_usage_daily.parquet"), &flat]);
    assert!(both.contains("IDENTICAL"), "{both}");
}

#[test]
fn pst_outputs_to_two_delta_tables() {
    let case = Case::new();
    case.copy("tests/fixtures/pst", "mail");
    let pipeline = |format: &str, messages: &str, attachments: &str| {
        format!(
            r#"version = 1
[source]
plugin = "pst"
inputs = "mail/*.pst"
[sinks.messages]
input = "messages"
format = "{format}"
path = "{messages}"
[sinks.attachments]
input = "attachments"
format = "{format}"
path = "{attachments}"
"#
        )
    };
    case.write("delta.toml", pipeline("delta", "out/messages", "out/attachments"));
    case.write("parquet.toml", pipeline("parquet", "out/messages.parquet", "out/attachments.parquet"));
    let (run, report) = case.run_pipeline("delta.toml", &[]);
    run.expect_code(0);
    case.run_pipeline("parquet.toml", &[]).0.expect_code(0);
    let names: Vec<&str> =
        report["outputs"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["out/messages", "out/attachments"]);
    for (table, file) in
        [("out/messages", "out/messages.parquet"), ("out/attachments", "out/attachments.parquet")]
    {
        let (_, delta) = read_delta(&case.path(table));
        let parquet = read_parquet(&case.path(file));
        assert!(row_count(&parquet) > 0, "{file}");
        assert_eq!(row_count(&delta), row_count(&parquet), "{table}");
        let (rows, size) = py_delta(&case.path(table), "size_bytes");
        assert_eq!(rows, row_count(&parquet) as u64, "{table}");
        assert_eq!(size, sum_i64(&parquet, "size_bytes"), "{table}");
    }
}

// ---- crash and resume ---------------------------------------------------

const FILES: usize = 24;
const LINES: usize = 1500;

/// 24 NDJSON files of 1,500 rows each, and a pipeline writing them to a
/// `format` sink at `path` whose table settings are the line `settings`.
fn crash_case(format: &str, path: &str, settings: &str) -> Case {
    let case = Case::new();
    for f in 0..FILES {
        let text: String = (0..LINES)
            .map(|i| format!("{{\"id\":{},\"file\":{f},\"v\":{i}}}\n", f * 1_000_000 + i))
            .collect();
        case.write(&format!("data/f{f:02}.ndjson"), text);
    }
    case.write(
        "pipeline.toml",
        format!(
            r#"version = 1
name = "crash"
[source]
plugin = "ndjson"
inputs = "data/*.ndjson"
options = {{ fields = [{{ name = "id", type = "int64", nullable = false }}, {{ name = "file", type = "int64" }}, {{ name = "v", type = "int64" }}], batch_rows = 100 }}
[sinks.rows]
format = "{format}"
path = "{path}"
{settings}
[run]
workers = 2
"#
        ),
    );
    case
}

/// Starts a slow run (the writer sleeps per batch) in the background; its
/// stderr is appended to `runs.log` in the case folder.
fn start(case: &Case, extra: &[&str]) -> std::process::Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(case.path("runs.log")).unwrap();
    runtime()
        .args(["run", "pipeline.toml", "-q"])
        .args(extra)
        .env("RUNTIME_WRITER_DELAY_MS", "15")
        .current_dir(case.dir.path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits until `count()` reaches `n` (or the child exits), then kills -9.
fn kill_when(child: &mut std::process::Child, n: usize, count: &impl Fn() -> usize) {
    let t = Instant::now();
    while count() < n && t.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Checks a table holds only whole splits (every file all or nothing, no
/// duplicates); returns how many files it holds.
fn whole_files(batches: &[RecordBatch]) -> usize {
    let mut per_file: HashMap<i64, usize> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for b in batches {
        let id = b.column(b.schema().index_of("id").unwrap()).as_primitive::<Int64Type>();
        let file = b.column(b.schema().index_of("file").unwrap()).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            assert!(ids.insert(id.value(i)), "duplicate row {}", id.value(i));
            *per_file.entry(file.value(i)).or_default() += 1;
        }
    }
    for (f, n) in &per_file {
        assert_eq!(*n, LINES, "file {f} is in the table partly ({n} of {LINES} rows): not a whole commit");
    }
    per_file.len()
}

fn delta_commits(table: &Path) -> usize {
    std::fs::read_dir(table.join("_delta_log"))
        .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count())
        .unwrap_or(0)
}

pub fn folder_rows(dir: &Path) -> Vec<RecordBatch> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".parquet") && !n.starts_with('.') && !n.starts_with('_')
        })
        .collect();
    files.sort();
    files.iter().flat_map(|f| read_parquet(f)).collect()
}

fn folder_commits(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("_runtime_manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map_or(0, |m| m["commits"].as_array().map_or(0, |c| c.len()))
}

/// Kills runs with `kill -9` once the table has `targets[i]` commits,
/// resuming each time; after every kill a reader sees only whole commits
/// (`rows()` reads the table as a reader would). A last `--resume` finishes:
/// every row exactly once.
fn crash_and_resume(
    case: &Case,
    targets: [usize; 3],
    commits: impl Fn() -> usize,
    rows: impl Fn() -> Option<Vec<RecordBatch>>,
) {
    // (commits, whole files a reader sees) after each kill.
    let mut seen = Vec::new();
    for target in targets {
        // At least one commit of this run's own, however far the last got.
        let target = target.max(commits() + 1);
        let mut child = start(case, &["--resume"]);
        kill_when(&mut child, target, &commits);
        if let Some(batches) = rows() {
            let files = whole_files(&batches);
            assert!(files < FILES, "the run finished before it was killed");
            seen.push((commits(), files));
        }
    }
    // Each resumed run made progress: more commits every time. A kill can
    // land after a commit is recorded but before its files are renamed into
    // view (the next run completes the renames), so what a reader sees only
    // never shrinks, and some files were visible by the last kill.
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1) && seen.last().is_some_and(|s| s.1 > 0),
        "(commits, files) after each kill: {seen:?}; the killed runs printed:\n{}",
        std::fs::read_to_string(case.path("runs.log")).unwrap_or_default()
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &["--resume"]);
    run.expect_code(0);
    assert_eq!(report["resumed"], true, "{report}");
    assert!(report["splits_already_committed"].as_u64().unwrap() > 0, "{report}");
    let batches = rows().expect("the table exists");
    assert_eq!(whole_files(&batches), FILES);
    assert_eq!(row_count(&batches), FILES * LINES);
}

#[test]
fn delta_survives_kill_9_and_resume_writes_each_row_once() {
    let case = crash_case("delta", "out/table", "commit_every_splits = 3");
    let table = case.path("out/table");
    // Kill once the table exists (version 0, no data), then after 2 and 4
    // more commits.
    crash_and_resume(
        &case,
        [1, 3, 5],
        || delta_commits(&table),
        || table.join("_delta_log").is_dir().then(|| read_delta(&table).1),
    );
    assert_eq!(py_delta(&table, "v").0, (FILES * LINES) as u64);
}

#[test]
fn parquet_folder_survives_kill_9_and_resume_writes_each_row_once() {
    let case = crash_case("parquet", "out/rows", "commit_every_splits = 3");
    let dir = case.path("out/rows");
    crash_and_resume(&case, [1, 2, 4], || folder_commits(&dir), || dir.is_dir().then(|| folder_rows(&dir)));
    // pyarrow reads the folder as one table with the same rows.
    let script =
        format!("import pyarrow.dataset as ds\nprint(ds.dataset({:?}).count_rows())", dir.to_str().unwrap());
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), (FILES * LINES).to_string());
}

#[test]
fn single_parquet_file_is_all_or_nothing_after_kill_9() {
    let case = crash_case("parquet", "out/rows.parquet", "");
    let mut child = start(&case, &[]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = child.kill();
    let _ = child.wait();
    assert!(!case.path("out/rows.parquet").exists(), "a killed run left a visible output");
    let (run, _) = case.run_pipeline("pipeline.toml", &["--resume"]);
    run.expect_code(0);
    let batches = read_parquet(&case.path("out/rows.parquet"));
    assert_eq!(whole_files(&batches), FILES);
    let leftovers: Vec<_> =
        std::fs::read_dir(case.path("out")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn skip_committed_makes_reruns_idempotent_and_loads_only_new_files() {
    let case = crash_case("delta", "out/table", "skip_committed = true");
    case.run_pipeline("pipeline.toml", &[]).0.expect_code(0);
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["splits_already_committed"].as_u64(), Some(FILES as u64));
    // A new file is the only thing the next run loads.
    case.write(
        "data/new.ndjson",
        (0..10).map(|i| format!("{{\"id\":{},\"file\":99,\"v\":{i}}}\n", 99_000_000 + i)).collect::<String>(),
    );
    let (run, report) = case.run_pipeline("pipeline.toml", &[]);
    run.expect_code(0);
    assert_eq!(report["outputs"][0]["rows"], 10);
    let (_, batches) = read_delta(&case.path("out/table"));
    assert_eq!(row_count(&batches), FILES * LINES + 10);
}

#[test]
fn concurrent_appends_keep_the_delta_table_valid() {
    let case = crash_case("delta", "out/table", "commit_every_splits = 3");
    // Two pipelines (different application ids) and the same one twice.
    let text = std::fs::read_to_string(case.path("pipeline.toml")).unwrap();
    case.write("other.toml", text.replace("name = \"crash\"", "name = \"other\""));
    // Create the table first, so both runs append to an existing table.
    case.run_pipeline("pipeline.toml", &[]).0.expect_code(0);
    let spawn = |file: &str, report: &str| {
        runtime()
            .args(["run", file, "-q", "--report", report])
            .current_dir(case.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut expected = FILES * LINES;
    for pair in [["pipeline.toml", "other.toml"], ["pipeline.toml", "pipeline.toml"]] {
        let a = spawn(pair[0], "a.json");
        let b = spawn(pair[1], "b.json");
        for (out, report) in
            [(a.wait_with_output().unwrap(), "a.json"), (b.wait_with_output().unwrap(), "b.json")]
        {
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(case.path(report)).unwrap()).unwrap();
            let output = &report["outputs"][0];
            match out.status.code() {
                Some(0) => {
                    assert_eq!(output["rows"].as_u64(), Some((FILES * LINES) as u64), "{report}");
                    expected += FILES * LINES;
                }
                Some(1) => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        err.contains("concurrent") || err.contains("conflict"),
                        "failed unclearly: {err}"
                    );
                    // Commits made before the conflicting one stay (every 3
                    // splits), and the report counts their rows.
                    if output["versions"].as_array().is_some_and(|v| !v.is_empty()) {
                        expected += output["rows"].as_u64().unwrap() as usize;
                    }
                }
                other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
            }
        }
        let (_, batches) = read_delta(&case.path("out/table"));
        assert_eq!(
            row_count(&batches),
            expected,
            "the table holds exactly the rows the runs report committed"
        );
    }
}

#[test]
fn a_second_run_on_a_parquet_folder_in_use_is_refused_and_the_first_finishes() {
    let case = crash_case("parquet", "out/rows", "commit_every_splits = 3");
    let lock = case.path("out/rows/_runtime.lock");
    let mut first = start(&case, &[]);
    let t = Instant::now();
    while !lock.exists() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(lock.exists(), "the first run never took the lock");
    let (second, _) = case.run_pipeline("pipeline.toml", &[]);
    assert_ne!(second.output.status.code(), Some(0), "the second run wrote to a folder in use");
    let wanted = format!("another run (pid {}) is writing to", first.id());
    assert!(second.stderr().contains(&wanted), "{}", second.stderr());
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert!(!lock.exists(), "the lock outlived its run");
    let batches = folder_rows(&case.path("out/rows"));
    assert_eq!(whole_files(&batches), FILES);
    assert_eq!(row_count(&batches), FILES * LINES);
}

#[test]
fn incompatible_schema_fails_before_writing_and_new_columns_need_opting_in() {
    let case = Case::new();
    case.write("data/a.ndjson", "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n");
    let pipeline = |fields: &str, extra: &str| {
        format!(
            "version = 1\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\noptions = {{ fields = [{fields}] }}\n\
             [sinks.t]\nformat = \"delta\"\npath = \"out/t\"\n{extra}"
        )
    };
    case.write("v1.toml", pipeline(r#"{ name = "id", type = "int64" }"#, ""));
    case.run_pipeline("v1.toml", &[]).0.expect_code(0);
    let (version, _) = read_delta(&case.path("out/t"));

    // A column of another type: refused before anything is written.
    case.write("bad.toml", pipeline(r#"{ name = "id", type = "string" }"#, ""));
    let (run, report) = case.run_pipeline("bad.toml", &[]);
    run.expect_code(1);
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("column `id` is Int64 in the table, Utf8 in the pipeline"), "{error}");
    assert_eq!(read_delta(&case.path("out/t")).0, version);

    // A new nullable column: refused unless the sink opts in.
    case.write(
        "wider.toml",
        pipeline(r#"{ name = "id", type = "int64" }, { name = "name", type = "string" }"#, ""),
    );
    let (run, report) = case.run_pipeline("wider.toml", &[]);
    run.expect_code(1);
    assert!(report["error"].as_str().unwrap().contains("schema_evolution = \"add_columns\""), "{report}");
    assert_eq!(read_delta(&case.path("out/t")).0, version);
    case.write(
        "wider.toml",
        pipeline(
            r#"{ name = "id", type = "int64" }, { name = "name", type = "string" }"#,
            "schema_evolution = \"add_columns\"\n",
        ),
    );
    case.run_pipeline("wider.toml", &[]).0.expect_code(0);
    let (_, batches) = read_delta(&case.path("out/t"));
    assert_eq!(row_count(&batches), 4);
    // Files written before the column existed do not have it: readers see null.
    let names: usize = batches
        .iter()
        .filter_map(|b| {
            b.schema().index_of("name").ok().map(|i| b.column(i).as_string::<i32>().iter().flatten().count())
        })
        .sum();
    assert_eq!(names, 2);
    let (rows, _) = py_delta(&case.path("out/t"), "id");
    assert_eq!(rows, 4);
}

#[test]
fn partitioned_delta_table_reads_back_by_partition() {
    let case = crash_case("delta", "out/table", "partition_by = [\"file\"]");
    case.run_pipeline("pipeline.toml", &[]).0.expect_code(0);
    // One folder per partition value, as Delta lays them out.
    assert!(case.path("out/table/file=0").is_dir());
    assert!(case.path(&format!("out/table/file={}", FILES - 1)).is_dir());
    let script = format!(
        "import deltalake\n\
         t = deltalake.DeltaTable({:?})\n\
         print(t.metadata().partition_columns, t.to_pyarrow_table().num_rows,\n\
               t.to_pyarrow_table(filters=[('file', '=', 3)]).num_rows)",
        case.path("out/table").to_str().unwrap()
    );
    let out = python(&script);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("['file'] {} {LINES}", FILES * LINES));
}
