//! The PySpark launcher (`integrations/spark`, issue 16) on real Spark:
//! the Python tests in `tests/spark/` (unittest) run with the binary under
//! test, in `local-cluster[2,1,1024]` mode (two executor JVMs), one
//! SparkSession for all of them. They compare each launch's Delta table
//! with a single-machine `runtime run` (pod-usage aggregation, the SQLite
//! export, the PST example, NDJSON to a partitioned table), retry failing first attempts
//! (exactly once, no stray file referenced, `--resume` commits nothing
//! new), apply `run.max_failed_splits` and read side tables once per
//! executor. `test_speculation.py` then starts a standalone cluster (a
//! master and two workers on 127.0.0.1) where a speculative copy wins.
//! Needs Java 17 and pyspark (`scripts/setup`). About 70 s, most of it
//! Spark's start-up.

use crate::util::repo;
use std::process::Command;

#[test]
fn the_spark_launcher_on_a_local_cluster() {
    let started = std::time::Instant::now();
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests/spark", "-t", ".", "-v"])
        .current_dir(repo())
        .env("RUNTIME_BIN", env!("CARGO_BIN_EXE_runtime"))
        .env("RUNTIME_REPO", repo())
        .env("RUNTIME_CACHE_DIR", repo().join("target").join("test-cache"))
        .env("RUNTIME_PROGRESS_INTERVAL", "5")
        .env_remove("RUNTIME_PLUGIN_PATH")
        .env_remove("RUNTIME_SPARK_TEST_FAIL_FIRST_ATTEMPT")
        .env_remove("RUNTIME_SPARK_TEST_STRAGGLE_FIRST_ATTEMPT")
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tests/spark failed (needs pyspark and Java 17: scripts/setup)\n--- stdout\n{}\n--- stderr\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("Ran 11 tests"), "every Python test ran:\n{stderr}");
    eprintln!("tests/spark: {:.1} s", started.elapsed().as_secs_f64());
}
