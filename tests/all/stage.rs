//! Distributed runs without a cluster (issue 16's engine-neutral host
//! pieces): `runtime plan --json` splits into task lists, each task staged
//! by `runtime run --splits FILE --stage-only DIR --attempt NAME` (plus a
//! speculative duplicate attempt), and `runtime commit` of the winning
//! manifests. The table, read back with Python `deltalake`, equals a plain
//! `runtime run` of the same pipeline row for row; committing again adds
//! nothing; the losing attempt's files are never referenced and `--clean`
//! removes them; `--resume` reads the distributed run like any other. The
//! same for a Parquet folder, and the refusals (duplicate attempts, a name
//! used twice, a single Parquet file, an aggregation). And two drivers
//! committing the same attempts at once: each row lands once.

use crate::tables::folder_rows;
use crate::util::Case;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Four NDJSON files and a pipeline writing them to sink `t` (`table` is
/// the sink's extra settings).
fn case(format: &str, table: &str) -> Case {
    let case = Case::new();
    for f in 0..4 {
        let text: String = (0..25)
            .map(|i| format!("{{\"id\":{},\"g\":\"g{}\",\"v\":{}}}\n", f * 100 + i, i % 3, f * 10 + i))
            .collect();
        case.write(&format!("data/f{f}.ndjson"), text);
    }
    case.write(
        "pipeline.toml",
        format!(
            "version = 1\nname = \"staged\"\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\n\
             options = {{ fields = [{{ name = \"id\", type = \"int64\" }}, {{ name = \"g\", type = \"string\" }}, \
             {{ name = \"v\", type = \"int64\" }}] }}\n\
             [sinks.t]\nformat = \"{format}\"\npath = \"out/t\"\nmode = \"append\"\n{table}[run]\nworkers = 2\n"
        ),
    );
    case
}

/// Splits the plan into two task files (plan JSON, fingerprint kept).
fn task_files(c: &Case) -> serde_json::Value {
    let plan = c.run(&["plan", "pipeline.toml", "--json"]);
    plan.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout()).unwrap();
    let splits = plan["splits"].as_array().unwrap().clone();
    assert_eq!(splits.len(), 4);
    for (name, part) in [("task-1.json", &splits[..2]), ("task-2.json", &splits[2..])] {
        let mut t = plan.clone();
        t["splits"] = serde_json::Value::Array(part.to_vec());
        c.write(name, t.to_string());
    }
    plan
}

/// Stages one task as attempt `attempt`; returns the manifest's path
/// (relative to the case) and the manifest.
fn stage(c: &Case, task: &str, attempt: &str) -> (String, serde_json::Value) {
    let run =
        c.run(&["run", "pipeline.toml", "--splits", task, "--stage-only", "staging", "--attempt", attempt]);
    run.expect_code(0);
    let path = run.stdout().trim().to_string();
    assert_eq!(path, format!("staging/{attempt}/manifest.json"), "stdout names the manifest");
    let manifest = serde_json::from_str(&std::fs::read_to_string(c.path(&path)).unwrap()).unwrap();
    (path, manifest)
}

/// Runs a Python script (deltalake's threads may abort the interpreter at
/// exit, after the work: the output is flushed and the process ends with
/// `os._exit`, as in `tables`).
fn python(script: &str) -> String {
    let script = format!("{script}\nimport os, sys\nsys.stdout.flush()\nos._exit(0)\n");
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The Delta table's rows (sorted, as text) and its data files' paths, by
/// Python deltalake.
fn py_delta(table: &Path) -> (Vec<String>, BTreeSet<String>) {
    let script = format!(
        "import deltalake, json\n\
         t = deltalake.DeltaTable({p:?})\n\
         rows = sorted(json.dumps(r, sort_keys=True) for r in t.to_pyarrow_table().to_pylist())\n\
         print(json.dumps({{'rows': rows, 'files': t.file_uris()}}))",
        p = table.to_str().unwrap()
    );
    let v: serde_json::Value = serde_json::from_str(&python(&script)).unwrap();
    let rows = v["rows"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
    let files = v["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    (rows, files)
}

/// The data file names a manifest lists for sink `t`.
fn staged_names(manifest: &serde_json::Value) -> Vec<String> {
    manifest["sinks"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect()
}

fn attempt_folders(c: &Case) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(c.path("staging"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn staged_attempts_commit_once_into_a_delta_table_equal_to_one_run() {
    let c = case("delta", "partition_by = [\"g\"]\n");
    let plan = task_files(&c);
    let (m1, first) = stage(&c, "task-1.json", "task-1-a0");
    let (m2, second) = stage(&c, "task-2.json", "task-2-a0");
    // A speculative second attempt of task 1 that loses.
    let (loser, spec) = stage(&c, "task-1.json", "task-1-a1");

    // The manifest: versioned, the plan's fingerprint, the splits with
    // their keys, files with partition values and Delta statistics.
    assert_eq!(first["manifest_version"], 1, "{first}");
    assert_eq!(first["fingerprint"], plan["fingerprint"]);
    assert_eq!(first["attempt"], "task-1-a0");
    let keys: Vec<&str> =
        first["splits"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    let planned: Vec<&str> =
        plan["splits"].as_array().unwrap()[..2].iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(keys, planned);
    assert_eq!(first["failed"].as_array().unwrap().len(), 0);
    assert_eq!(first["run_id"], second["run_id"], "attempts of one plan are one run");
    let sink = &first["sinks"][0];
    assert_eq!(
        (sink["name"].as_str(), sink["format"].as_str(), sink["rows"].as_u64()),
        (Some("t"), Some("delta"), Some(50))
    );
    let files = sink["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "one file per partition: {sink}");
    for f in files {
        let g = f["partition_values"]["g"].as_str().unwrap();
        assert!(f["path"].as_str().unwrap().starts_with(&format!("g={g}/")), "{f}");
        assert!(c.path("staging/task-1-a0/t").join(f["path"].as_str().unwrap()).is_file(), "{f}");
        assert!(f["bytes"].as_u64().unwrap() > 0);
        assert_eq!(f["stats"]["numRecords"], f["rows"], "{f}");
        assert!(f["stats"]["minValues"]["id"].is_i64() && f["stats"]["nullCount"]["v"] == 0, "{f}");
    }
    assert!(!c.path("out/t").exists(), "staging does not touch the table");

    // A name used twice is refused; so are two attempts of the same task.
    let again = c.run(&[
        "run",
        "pipeline.toml",
        "--splits",
        "task-1.json",
        "--stage-only",
        "staging",
        "--attempt",
        "task-1-a0",
    ]);
    again.expect_code(2);
    assert!(again.stderr().contains("attempt `task-1-a0` was staged before"), "{}", again.stderr());
    let dup = c.run(&["commit", "pipeline.toml", &m1, &loser, &m2]);
    dup.expect_code(2);
    assert!(dup.stderr().contains("duplicate attempts: split"), "{}", dup.stderr());
    assert!(dup.stderr().contains("task-1-a0") && dup.stderr().contains("task-1-a1"), "{}", dup.stderr());
    assert!(!c.path("out/t/_delta_log/00000000000000000001.json").exists(), "nothing was committed");

    // Keep copies of the winners' manifests: committing consumes the folders.
    std::fs::create_dir_all(c.path("kept")).unwrap();
    std::fs::copy(c.path(&m1), c.path("kept/1.json")).unwrap();
    std::fs::copy(c.path(&m2), c.path("kept/2.json")).unwrap();
    // The same manifest given twice counts once.
    let commit = c.run(&["commit", "pipeline.toml", &m1, &m2, &m1]);
    commit.expect_code(0);
    assert!(commit.stdout().contains("t: version 1: 2 attempts (4 splits, 100 rows"), "{}", commit.stdout());
    assert!(commit.stdout().contains("the run is complete"), "{}", commit.stdout());
    assert_eq!(attempt_folders(&c), ["task-1-a1"], "the committed attempts' folders are removed");

    // One `runtime run` of the same pipeline, elsewhere.
    c.run(&["run", "pipeline.toml", "--set", "sinks.t.path=\"ref/t\"", "--quiet"]).expect_code(0);
    let (rows, table_files) = py_delta(&c.path("out/t"));
    let (reference, _) = py_delta(&c.path("ref/t"));
    assert_eq!(rows.len(), 100);
    assert_eq!(rows, reference, "the distributed run's table equals one run's, row for row");
    let winners: BTreeSet<String> = staged_names(&first).into_iter().chain(staged_names(&second)).collect();
    let referenced: BTreeSet<String> =
        table_files.iter().map(|f| f.rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(referenced, winners, "exactly the winners' files");
    assert!(
        staged_names(&spec).iter().all(|n| !referenced.contains(n)),
        "the loser's files are not referenced"
    );

    // The commit records the run and its splits, with a txn action.
    let log = std::fs::read_to_string(c.path("out/t/_delta_log/00000000000000000001.json")).unwrap();
    assert!(log.contains("\"txn\"") && log.contains("runtime/staged/t"), "{log}");
    let info: serde_json::Value = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|a| a.get("commitInfo").is_some())
        .unwrap();
    let runtime = &info["commitInfo"]["runtime"];
    assert_eq!(runtime["run_id"], first["run_id"]);
    assert_eq!(runtime["splits"].as_array().unwrap().len(), 4, "{runtime}");
    assert_eq!(runtime["complete"], true);

    // Committing again (a driver that retries), with the loser's folder
    // cleaned: nothing new.
    let again = c.run(&["commit", "pipeline.toml", "kept/1.json", "kept/2.json", "--clean", "staging"]);
    again.expect_code(0);
    assert!(again.stdout().contains("nothing to commit"), "{}", again.stdout());
    assert!(!c.path("out/t/_delta_log/00000000000000000002.json").exists(), "no new version");
    assert!(attempt_folders(&c).is_empty(), "--clean removed the losing attempt");
    assert_eq!(py_delta(&c.path("out/t")).0, reference);

    // The loser staged again and committed alone: its splits are in.
    let (late, _) = stage(&c, "task-1.json", "task-1-a2");
    let late = c.run(&["commit", "pipeline.toml", &late]);
    late.expect_code(0);
    assert!(late.stdout().contains("nothing to commit"), "{}", late.stdout());
    assert!(attempt_folders(&c).is_empty(), "a consumed attempt's folder is removed");

    // `--resume` reads the distributed run like any other: it is complete.
    let (run, report) = c.run_pipeline("pipeline.toml", &["--resume"]);
    run.expect_code(0);
    assert_eq!(report["nothing_to_resume"], first["run_id"], "{report}");
    assert_eq!(py_delta(&c.path("out/t")).0, reference);
}

#[test]
fn staged_attempts_commit_into_a_parquet_folder_and_unstageable_sinks_are_refused() {
    let c = case("parquet", "");
    task_files(&c);
    let (m1, _) = stage(&c, "task-1.json", "a");
    let (m2, second) = stage(&c, "task-2.json", "b");
    assert_eq!(second["sinks"][0]["format"], "parquet");
    assert_eq!(second["sinks"][0]["rows"], 50);
    let commit = c.run(&["commit", "pipeline.toml", &m2, &m1, "--json"]);
    commit.expect_code(0);
    let out: serde_json::Value = serde_json::from_str(&commit.stdout()).unwrap();
    assert_eq!(out["committed"], true, "{out}");
    assert_eq!(out["sinks"][0]["version"], 0, "the folder's first manifest commit: {out}");
    assert_eq!(out["sinks"][0]["rows"], 100);
    c.run(&["run", "pipeline.toml", "--set", "sinks.t.path=\"ref/t\"", "--quiet"]).expect_code(0);
    let rows = |p: &str| {
        let mut ids: Vec<i64> = folder_rows(&c.path(p))
            .iter()
            .flat_map(|b| {
                use arrow_array::cast::AsArray;
                b.column(0).as_primitive::<arrow_array::types::Int64Type>().values().to_vec()
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(rows("out/t").len(), 100);
    assert_eq!(rows("out/t"), rows("ref/t"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("out/t/_runtime_manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["commits"][0]["meta"]["splits"].as_array().unwrap().len(), 4, "{manifest}");

    // A single Parquet file cannot be assembled from parts.
    let text = std::fs::read_to_string(c.path("pipeline.toml")).unwrap();
    c.write(
        "one.toml",
        text.replace("path = \"out/t\"\nmode = \"append\"\n", "path = \"out/one.parquet\"\n"),
    );
    let single = c.run(&["run", "one.toml", "--stage-only", "staging"]);
    single.expect_code(2);
    assert!(single.stderr().contains("is a single Parquet file"), "{}", single.stderr());
    // An aggregation whose sinks are not all fed by the final merge.
    c.write(
        "mixed.toml",
        "version = 1\nname = \"mixed\"\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\n\
         options = { fields = [{ name = \"g\", type = \"string\" }, { name = \"v\", type = \"int64\" }] }\n\
         [[transforms]]\nname = \"sums\"\nplugin = \"aggregate\"\ninput = \"rows\"\n[transforms.options]\n\
         group_by = [\"g\"]\naggregates = [{ name = \"total\", function = \"sum\", column = \"v\" }]\n\
         [sinks.sums]\ninput = \"sums\"\nformat = \"delta\"\npath = \"out/sums\"\n\
         [sinks.raw]\ninput = \"rows\"\nformat = \"delta\"\npath = \"out/raw\"\n",
    );
    let mixed = c.run(&["run", "mixed.toml", "--stage-only", "staging"]);
    mixed.expect_code(2);
    assert!(mixed.stderr().contains("sinks.raw writes rows of the splits"), "{}", mixed.stderr());
    assert!(!c.path("out/raw").exists());
    // --resume means nothing for an attempt.
    let resume = c.run(&["run", "pipeline.toml", "--stage-only", "staging", "--resume"]);
    resume.expect_code(2);
    assert!(resume.stderr().contains("--resume cannot be used with --stage-only"), "{}", resume.stderr());
}

#[test]
fn an_aggregation_stages_partial_states_and_commit_merges_them_once() {
    let c = case("delta", "");
    c.write(
        "pipeline.toml",
        "version = 1\nname = \"sums\"\n[source]\nplugin = \"ndjson\"\ninputs = \"data/*.ndjson\"\n\
         options = { fields = [{ name = \"g\", type = \"string\" }, { name = \"v\", type = \"int64\" }] }\n\
         [[transforms]]\nname = \"sums\"\nplugin = \"aggregate\"\n[transforms.options]\ngroup_by = [\"g\"]\n\
         aggregates = [{ name = \"rows\", function = \"count\" }, { name = \"total\", function = \"sum\", column = \"v\" }]\n\
         [sinks.t]\nformat = \"delta\"\npath = \"out/t\"\n[run]\nworkers = 2\n",
    );
    task_files(&c);
    let (m1, first) = stage(&c, "task-1.json", "task-1-a0");
    let (m2, _) = stage(&c, "task-2.json", "task-2-a0");
    let (loser, _) = stage(&c, "task-1.json", "task-1-a1");
    assert_eq!(first["sinks"].as_array().unwrap().len(), 0, "the sinks are written by the merge: {first}");
    assert_eq!(first["states"]["path"], "_states.arrow", "{first}");
    assert!(first["states"]["states"].as_u64().unwrap() >= 2, "a partial state per split: {first}");
    assert!(c.path("staging/task-1-a0/_states.arrow").is_file());
    assert!(!c.path("out/t").exists(), "staging does not touch the table");

    let dup = c.run(&["commit", "pipeline.toml", &m1, &m2, &loser]);
    dup.expect_code(2);
    assert!(dup.stderr().contains("duplicate attempts"), "{}", dup.stderr());
    std::fs::create_dir_all(c.path("kept")).unwrap();
    std::fs::copy(c.path(&m1), c.path("kept/1.json")).unwrap();
    std::fs::copy(c.path(&m2), c.path("kept/2.json")).unwrap();
    let commit = c.run(&["commit", "pipeline.toml", &m1, &m2, "--clean", "staging"]);
    commit.expect_code(0);
    assert!(commit.stdout().contains("t: version 1: 2 attempts (4 splits, 3 rows"), "{}", commit.stdout());
    assert!(attempt_folders(&c).is_empty(), "consumed and cleaned: {:?}", attempt_folders(&c));

    c.run(&["run", "pipeline.toml", "--set", "sinks.t.path=\"ref/t\"", "--quiet"]).expect_code(0);
    let (rows, _) = py_delta(&c.path("out/t"));
    let (reference, _) = py_delta(&c.path("ref/t"));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows, reference, "the merged aggregate equals one run's");
    let log = std::fs::read_to_string(c.path("out/t/_delta_log/00000000000000000001.json")).unwrap();
    assert!(log.contains("\"txn\"") && log.contains(first["run_id"].as_str().unwrap()), "{log}");

    // Again: nothing to commit; --resume: nothing to do.
    let again = c.run(&["commit", "pipeline.toml", "kept/1.json", "kept/2.json"]);
    again.expect_code(0);
    assert!(again.stdout().contains("nothing to commit"), "{}", again.stdout());
    assert!(!c.path("out/t/_delta_log/00000000000000000002.json").exists(), "no new version");
    let (run, report) = c.run_pipeline("pipeline.toml", &["--resume"]);
    run.expect_code(0);
    assert_eq!(report["nothing_to_resume"], first["run_id"], "{report}");
}

#[test]
fn failed_splits_of_attempts_count_against_the_policy_at_commit() {
    let c = case("delta", "");
    // An input the process cannot read: its split fails.
    std::os::unix::fs::symlink(c.path("nowhere"), c.path("data/f9.ndjson")).unwrap();
    let text = std::fs::read_to_string(c.path("pipeline.toml")).unwrap();
    c.write("pipeline.toml", text.replace("[run]\n", "[run]\nmax_failed_splits = 0\n"));
    // The attempt (every split) stages what succeeds and lists the failure.
    let run = c.run(&["run", "pipeline.toml", "--stage-only", "staging", "--attempt", "all"]);
    run.expect_code(0);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("staging/all/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["splits"].as_array().unwrap().len(), 4, "{manifest}");
    let failed = manifest["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{manifest}");
    assert_eq!(failed[0]["id"], "data/f9.ndjson");
    assert!(failed[0]["error"].as_str().unwrap().contains("No such file or directory"), "{manifest}");
    // The commit applies run.max_failed_splits over the whole plan.
    let refused = c.run(&["commit", "pipeline.toml", "staging/all/manifest.json"]);
    refused.expect_code(1);
    assert!(refused.stderr().contains("1 of 5 splits failed"), "{}", refused.stderr());
    assert!(!c.path("out/t/_delta_log").exists(), "nothing was committed");
    let allowed =
        c.run(&["commit", "pipeline.toml", "staging/all/manifest.json", "--set", "run.max_failed_splits=1"]);
    allowed.expect_code(0);
    assert!(allowed.stdout().contains("t: version 1: 1 attempt (4 splits, 100 rows"), "{}", allowed.stdout());
    assert!(allowed.stdout().contains("the run is complete"), "failed splits aside: {}", allowed.stdout());
    assert_eq!(py_delta(&c.path("out/t")).0.len(), 100);
}

#[test]
fn an_overwrite_is_replaced_by_the_first_commit_of_the_run_only() {
    let c = case("delta", "");
    let text = std::fs::read_to_string(c.path("pipeline.toml")).unwrap();
    c.write("pipeline.toml", text.replace("mode = \"append\"", "mode = \"overwrite\""));
    // What the table held before: one plain run's rows.
    c.run(&["run", "pipeline.toml", "--quiet"]).expect_code(0);
    task_files(&c);
    let (m1, _) = stage(&c, "task-1.json", "a");
    let (m2, _) = stage(&c, "task-2.json", "b");
    // Two commits of one run: the first replaces the table, the second adds.
    let first = c.run(&["commit", "pipeline.toml", &m1]);
    first.expect_code(0);
    assert!(!first.stdout().contains("the run is complete"), "{}", first.stdout());
    assert_eq!(py_delta(&c.path("out/t")).0.len(), 50);
    let second = c.run(&["commit", "pipeline.toml", &m2]);
    second.expect_code(0);
    assert!(second.stdout().contains("the run is complete"), "{}", second.stdout());
    c.run(&["run", "pipeline.toml", "--set", "sinks.t.path=\"ref/t\"", "--quiet"]).expect_code(0);
    assert_eq!(py_delta(&c.path("out/t")).0, py_delta(&c.path("ref/t")).0, "every row once");
}

/// Two drivers that commit the same staged attempts at the same moment
/// (a launcher started twice, a driver restarted while its first attempt
/// still runs): whichever way the race goes, the table holds every row
/// once and references only files that exist. The loser either finds the
/// splits committed (nothing to commit), or is refused: by the table's
/// `txn` conflict (Delta: both commits carry the pipeline's application id),
/// by the folder's lock (Parquet folder), or because the winner consumed
/// the attempt folders it names.
#[test]
fn two_drivers_committing_at_once_commit_each_row_once() {
    for (format, rows_of) in [("delta", "delta"), ("parquet", "folder")] {
        for round in 0..3 {
            let c = case(format, "");
            task_files(&c);
            let (m1, _) = stage(&c, "task-1.json", "task-1-a0");
            let (m2, _) = stage(&c, "task-2.json", "task-2-a0");
            let start = || {
                crate::util::runtime()
                    .args(["commit", "pipeline.toml", &m1, &m2])
                    .current_dir(c.path(""))
                    .output()
            };
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(start);
                let b = s.spawn(start);
                (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
            });
            let text = |o: &std::process::Output| {
                format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
            };
            let said = format!("{format} round {round}:\n--- a\n{}\n--- b\n{}", text(&a), text(&b));
            assert!(a.status.success() || b.status.success(), "one of the two commits: {said}");
            let ids: Vec<i64> = if rows_of == "delta" {
                // One creation, however the race went: the loser loads the
                // winner's table instead of creating it again.
                let script = format!(
                    "import deltalake\nh = deltalake.DeltaTable({:?}).history()\n\
                     print(sum(1 for c in h if c.get('operation') == 'CREATE TABLE'), len(h))",
                    c.path("out/t").to_str().unwrap()
                );
                let history = python(&script);
                assert!(history.starts_with("1 "), "creations, versions: {history}; {said}");
                let (rows, files) = py_delta(&c.path("out/t"));
                for f in &files {
                    let local = f.strip_prefix("file://").unwrap_or(f);
                    assert!(Path::new(local).exists(), "a referenced file is missing: {f}; {said}");
                }
                rows.iter()
                    .map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()["id"].as_i64().unwrap())
                    .collect()
            } else {
                use arrow_array::cast::AsArray;
                folder_rows(&c.path("out/t"))
                    .iter()
                    .flat_map(|b| {
                        let col =
                            b.column_by_name("id").unwrap().as_primitive::<arrow_array::types::Int64Type>();
                        col.values().to_vec()
                    })
                    .collect()
            };
            assert_eq!(ids.len(), 100, "every row once: {said}");
            let distinct: BTreeSet<i64> = ids.iter().copied().collect();
            assert_eq!(distinct.len(), 100, "no row twice: {said}");
        }
    }
}
