//! Helpers shared by the integration tests: a temporary folder per case, the
//! real `runtime` binary, and readers for what it wrote.

#![allow(dead_code)]

use arrow_array::RecordBatch;

#[path = "../fixtures/build_plugin.rs"]
mod build_plugin;

/// Builds a fixture plugin crate under tests/fixtures/plugins; returns the
/// folder holding its `.wasm` components.
pub fn fixture_plugins(dir: &str) -> PathBuf {
    build_plugin::build(&repo(), dir)
}
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `runtime` binary under test.
pub fn runtime() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runtime"));
    // Keep the tests' compiled-plugin cache inside the target folder.
    c.env("RUNTIME_CACHE_DIR", repo().join("target").join("test-cache"));
    c.env_remove("RUNTIME_PLUGIN_PATH");
    c
}

/// A temporary folder holding one pipeline case.
pub struct Case {
    pub dir: tempfile::TempDir,
}

/// What a run printed and returned.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// Panics with the command's output unless it exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

impl Case {
    pub fn new() -> Self {
        Case { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Copies a file or folder of the repository into the case.
    pub fn copy(&self, from_repo: &str, to: &str) {
        copy_tree(&repo().join(from_repo), &self.path(to));
    }

    /// Runs `runtime ARGS` in the case folder.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = runtime().args(args).current_dir(self.dir.path()).output().unwrap();
        Run { output }
    }

    /// Runs the pipeline file `rel` with a report; returns the run and the report.
    pub fn run_pipeline(&self, rel: &str, extra: &[&str]) -> (Run, serde_json::Value) {
        let report = self.path("report.json");
        let _ = std::fs::remove_file(&report);
        let mut args = vec!["run", rel, "--report", report.to_str().unwrap()];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        let json = std::fs::read_to_string(&report)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or_else(|_| panic!("no report\n--- stderr\n{}", run.stderr()));
        (run, json)
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Reads every batch of a Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    reader.map(|b| b.unwrap()).collect()
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// The CHECKSUM line of a pod-usage output (SPEC.md §3), by the spec's own
/// `checksum.py` (pyarrow).
pub fn checksum(paths: &[&Path]) -> String {
    verdict("examples/pod-usage/checksum.py", paths)
}

/// The `REJECT <n>` lines an input generator printed (the lines it made
/// malformed), as the run report locates them: `line <n>`.
pub fn reject_lines(printed: &str) -> Vec<String> {
    printed.lines().filter_map(|l| l.strip_prefix("REJECT ")).map(|n| format!("line {n}")).collect()
}

/// Runs a checking script of the repository (`python3 SCRIPT ARGS...`: a
/// DuckDB comparison, a checksum) and returns what it printed; the test
/// fails with its output when it exits non-zero.
pub fn verdict<S: AsRef<std::ffi::OsStr>>(script: &str, args: impl IntoIterator<Item = S>) -> String {
    let out = Command::new("python3").arg(repo().join(script)).args(args).output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{script}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// Just the CHECKSUM part of checksum.py's first line.
pub fn checksum_line(path: &Path) -> String {
    let out = checksum(&[path]);
    let line = out.lines().next().unwrap();
    line[line.find("CHECKSUM").unwrap()..].to_string()
}

/// Every row of a Parquet file as pyarrow reads it (timestamps as ISO text).
pub fn pyarrow_rows(path: &Path) -> Vec<serde_json::Value> {
    let script = "import json, sys, pyarrow.parquet as pq\n\
                  t = pq.read_table(sys.argv[1])\n\
                  print(json.dumps({'schema': [[f.name, str(f.type), f.nullable] for f in t.schema], \
                  'rows': t.to_pylist()}, default=lambda v: v.isoformat()))";
    let out = Command::new("python3").args(["-c", script, path.to_str().unwrap()]).output().expect("python3");
    assert!(out.status.success(), "pyarrow: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["rows"].as_array().unwrap().clone()
}
