"""The PySpark launcher on real Spark: `local-cluster[2,1,1024]` (two
executor JVMs, Python workers per executor), ONE SparkSession for the whole
module (start-up is most of the time). Started by tests/all/spark.rs with
RUNTIME_BIN (the `runtime` binary under test) and RUNTIME_REPO.

Each launch's table is read back with Python deltalake and compared, row
for row (order aside), with one single-machine `runtime run` of the same
pipeline."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

REPO = os.environ.get("RUNTIME_REPO") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "integrations", "spark"))

from runtime_spark import cli  # noqa: E402

RUNTIME = os.environ.get("RUNTIME_BIN") or os.path.join(REPO, "target", "debug", "runtime")
MASTER = os.environ.get("RUNTIME_SPARK_MASTER", "local-cluster[2,1,1024]")
spark = None


def setUpModule():
    global spark
    from pyspark.sql import SparkSession

    t = time.time()
    spark = (SparkSession.builder.master(MASTER).appName("runtime-spark tests")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.task.maxFailures", "3")
             .config("spark.executor.memory", "512m")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(f"spark session ({MASTER}) up in {time.time() - t:.1f} s", file=sys.stderr)


def tearDownModule():
    if spark is not None:
        app = spark.sparkContext.applicationId
        spark.stop()
        # The local cluster's workers keep each application's executor
        # folders under pyspark's installation: remove this one's.
        import pyspark

        shutil.rmtree(os.path.join(os.path.dirname(pyspark.__file__), "work", app), ignore_errors=True)


def runtime(*args, cwd=None):
    p = subprocess.run([RUNTIME, *args], cwd=cwd, capture_output=True, text=True)
    assert p.returncode == 0, f"runtime {args}: {p.returncode}\n{p.stderr}"
    return p


def delta_rows(path):
    import deltalake

    t = deltalake.DeltaTable(path)
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in t.to_pyarrow_table().to_pylist())


def delta_adds(path):
    """Every data file the Delta log references (add actions, less removes)."""
    live = set()
    for f in sorted(glob.glob(os.path.join(path, "_delta_log", "*.json"))):
        with open(f) as fh:
            lines = fh.read().splitlines()
        for line in lines:
            a = json.loads(line)
            if "add" in a:
                live.add(a["add"]["path"])
            if "remove" in a:
                live.discard(a["remove"]["path"])
    return live


def versions(path):
    return len(glob.glob(os.path.join(path, "_delta_log", "*.json")))


def launch(pipeline, *extra, env=None):
    report = os.path.join(os.path.dirname(pipeline), f"launch-{time.time_ns()}.json")
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        t = time.time()
        code = cli.main(["run", pipeline, "--master", MASTER, "--runtime", RUNTIME, "--report", report,
                         *extra], spark=spark)
        print(f"launch {os.path.basename(pipeline)} {' '.join(extra)}: exit {code} in {time.time() - t:.1f} s",
              file=sys.stderr)
    finally:
        os.environ.clear()
        os.environ.update(old)
    with open(report) as f:
        return code, json.load(f)


def ndjson_pipeline(d, files=6, mode="append"):
    """A pipeline of `files` small NDJSON files into a Delta table partitioned by `g`."""
    os.makedirs(os.path.join(d, "data"))
    for f in range(files):
        with open(os.path.join(d, "data", f"f{f}.ndjson"), "w") as fh:
            for i in range(40 + f * 10):
                fh.write(json.dumps({"id": f * 1000 + i, "g": f"g{i % 3}", "v": f * 10 + i}) + "\n")
    pipeline = os.path.join(d, "pipeline.toml")
    with open(pipeline, "w") as fh:
        fh.write('version = 1\nname = "events"\n[source]\nplugin = "ndjson"\ninputs = "data/*.ndjson"\n'
                 'options = { fields = [{ name = "id", type = "int64" }, { name = "g", type = "string" }, '
                 '{ name = "v", type = "int64" }] }\n'
                 f'[sinks.t]\nformat = "delta"\npath = "out/t"\nmode = "{mode}"\npartition_by = ["g"]\n'
                 '[run]\nworkers = 2\n')
    return pipeline


class Launcher(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="runtime-spark-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check_report(self, rep, splits):
        self.assertEqual(rep["exit_code"], 0, rep.get("error"))
        self.assertEqual(rep["splits_total"], splits)
        self.assertEqual(rep["engine"]["name"], "spark")
        self.assertGreaterEqual(len(rep["tasks"]), 2, rep["tasks"])
        for t in rep["tasks"]:
            self.assertTrue(t["host"] and t["executor_id"] not in ("", None), t)
            self.assertNotEqual(t["executor_id"], "driver", "tasks run in executor JVMs")
        self.assertEqual(sum(e["splits"] for e in rep["executors"]), splits - rep["splits_already_committed"])
        # The report is one `runtime report` reads (and draws).
        html = os.path.join(self.dir, "run.html")
        path = os.path.join(self.dir, "report-check.json")
        with open(path, "w") as f:
            json.dump(rep, f)
        runtime("report", path, "--html", html)
        self.assertTrue(os.path.getsize(html) > 1000)

    def test_pod_usage_aggregation_equals_one_run(self):
        d = self.dir
        shutil.copytree(os.path.join(REPO, "examples", "pod-usage"), os.path.join(d, "ex"),
                        ignore=shutil.ignore_patterns("out", "data"))
        subprocess.run([sys.executable, os.path.join(d, "ex", "gen.py"), "--rows", "20000", "--out",
                        os.path.join(d, "ex", "data")], check=True, capture_output=True)
        pipeline = os.path.join(d, "ex", "pipeline-delta.toml")
        small = 'source.max_split_bytes="1 MiB"'
        code, rep = launch(pipeline, "--set", small, "--num-partitions", "4")
        self.assertEqual(code, 0)
        plan = json.loads(runtime("plan", pipeline, "--json", "--set", small).stdout)
        self.assertGreaterEqual(len(plan["splits"]), 4, "several splits")
        self.check_report(rep, len(plan["splits"]))
        # Four tasks on two executors: each executor read the two side tables
        # once; its other tasks loaded them from its side-table cache.
        self.assertEqual(len(rep["tasks"]), 4)
        for e in rep["executors"]:
            self.assertEqual(e["side_table_reads"], 2, rep["executors"])
        self.assertEqual(sum(len(t["side_tables_read"]) for t in rep["tasks"]), 2 * len(rep["executors"]))
        self.assertEqual(sorted(s["name"] for s in rep["side_tables"]), ["namespace_labels", "node_labels"])
        runtime("run", pipeline, "--set", small, "--set", 'sinks.pod_usage_daily.path="ref"', "--quiet")
        got, ref = delta_rows(os.path.join(d, "ex", "out", "pod_usage_daily")), delta_rows(os.path.join(d, "ex", "ref"))
        self.assertGreater(len(ref), 1000)
        self.assertEqual(got, ref, "the merged aggregate equals one run's")
        self.assertEqual(rep["outputs"][0]["rows"], len(ref))
        self.assertEqual(os.listdir(os.path.join(d, "ex", ".runtime-staging")), [], "attempt folders removed")
        self.assertTrue(all(t["manifest"].startswith(os.path.join(d, "ex", ".runtime-staging", spark.sparkContext.applicationId))
                            for t in rep["tasks"]), "staged in the launch's own folder")
        # --resume: the run is complete, nothing runs or commits.
        before = versions(os.path.join(d, "ex", "out", "pod_usage_daily"))
        code, again = launch(pipeline, "--set", small, "--resume")
        self.assertEqual(code, 0)
        self.assertEqual(again["nothing_to_resume"], rep["run_id"])
        self.assertEqual(versions(os.path.join(d, "ex", "out", "pod_usage_daily")), before)

    def test_sqlite_example_equals_one_run(self):
        d = self.dir
        shutil.copytree(os.path.join(REPO, "examples", "sql-export"), os.path.join(d, "ex"),
                        ignore=shutil.ignore_patterns("out", "*.db"))
        subprocess.run([sys.executable, os.path.join(d, "ex", "make-sample-db.py"),
                        os.path.join(d, "ex", "sample.db")], check=True, capture_output=True)
        pipeline = os.path.join(d, "ex", "pipeline.toml")
        sets = ["--set", 'sinks.orders.format="delta"', "--set", 'sinks.orders.path="out/orders"']
        code, rep = launch(pipeline, *sets, "--num-partitions", "3")
        self.assertEqual(code, 0)
        self.check_report(rep, 9)
        self.assertEqual(len(rep["tasks"]), 3)
        runtime("run", pipeline, *sets[:2], "--set", 'sinks.orders.path="ref"', "--quiet")
        got, ref = delta_rows(os.path.join(d, "ex", "out", "orders")), delta_rows(os.path.join(d, "ex", "ref"))
        self.assertEqual(len(ref), 20000)
        self.assertEqual(got, ref)

    def test_pst_example_equals_one_run(self):
        d = self.dir
        shutil.copytree(os.path.join(REPO, "examples", "pst-mailboxes"), os.path.join(d, "ex"),
                        ignore=shutil.ignore_patterns("out"))
        pipeline = os.path.join(d, "ex", "pipeline.toml")
        sets = []
        for sink in ("messages", "attachments"):
            sets += ["--set", f'sinks.{sink}.format="delta"', "--set", f'sinks.{sink}.path="out/{sink}"']
        code, rep = launch(pipeline, *sets)
        self.assertEqual(code, 0, rep.get("error"))
        splits = len(json.loads(runtime("plan", pipeline, "--json", *sets).stdout)["splits"])
        self.check_report(rep, splits)
        ref_sets = [a.replace('path="out/', 'path="ref/') for a in sets]
        runtime("run", pipeline, *ref_sets, "--quiet")
        for sink in ("messages", "attachments"):
            got = delta_rows(os.path.join(d, "ex", "out", sink))
            ref = delta_rows(os.path.join(d, "ex", "ref", sink))
            self.assertGreater(len(ref), 0, sink)
            self.assertEqual(got, ref, sink)
        self.assertEqual(rep["splits_failed"], len(rep["failures"]))

    def ndjson_case(self, files=6, mode="append"):
        return ndjson_pipeline(self.dir, files, mode)

    def test_failed_first_attempts_are_retried_and_rows_appear_exactly_once(self):
        d = self.dir
        pipeline = self.ndjson_case()
        staging = os.path.join(d, "staging")
        code, rep = launch(pipeline, "--staging", staging, "--num-partitions", "3",
                           env={"RUNTIME_SPARK_TEST_FAIL_FIRST_ATTEMPT": "1"})
        self.assertEqual(code, 0, rep.get("error"))
        self.check_report(rep, 6)
        self.assertTrue(all(t["attempt_number"] >= 1 for t in rep["tasks"]), "every winner is a retry")
        runtime("run", pipeline, "--set", 'sinks.t.path="ref"', "--quiet")
        table = os.path.join(d, "out", "t")
        got, ref = delta_rows(table), delta_rows(os.path.join(d, "ref"))
        self.assertEqual(len(ref), sum(40 + f * 10 for f in range(6)))
        self.assertEqual(got, ref, "every row exactly once")
        # Exactly the winners' files are referenced: the files their
        # manifests listed (kept in the report's tasks), nothing else; the
        # failed first attempts had staged theirs, and --clean removed them.
        winners = {p for t in rep["tasks"] for p in t["staged_files"]["t"]}
        self.assertEqual(len(winners), 3 * 3, "one file per partition value per task")
        self.assertEqual(delta_adds(table), winners)
        self.assertEqual(len(rep["committed"]["cleaned"]), 3, "the three failed attempts' folders")
        self.assertEqual(versions(table), 2, "one create, one commit")
        for path in winners:
            self.assertTrue(os.path.exists(os.path.join(table, path)), path)
        self.assertEqual(os.listdir(staging), [], "losers' (failed first attempts') folders are cleaned")
        # A second launch with --resume commits nothing new.
        code, again = launch(pipeline, "--staging", staging, "--resume")
        self.assertEqual(code, 0)
        self.assertEqual(again["nothing_to_resume"], rep["run_id"])
        self.assertEqual(versions(table), 2)
        self.assertEqual(delta_rows(table), ref)
        # Without --resume a launch is a new run, as `runtime run` is: an
        # append adds the rows again.
        code, third = launch(pipeline, "--staging", staging)
        self.assertEqual(code, 0)
        self.assertNotEqual(third["run_id"], rep["run_id"])
        self.assertEqual(len(delta_rows(table)), 2 * len(ref))

    def test_resume_continues_a_run_committed_in_part(self):
        d = self.dir
        pipeline = self.ndjson_case()
        # Half the plan committed as run `part-run` (a launch that stopped
        # after its first commit, made here by hand).
        plan = json.loads(runtime("plan", pipeline, "--json").stdout)
        with open(os.path.join(d, "half.json"), "w") as f:
            json.dump(dict(plan, splits=plan["splits"][:3]), f)
        runtime("run", pipeline, "--splits", "half.json", "--stage-only", "st", "--attempt", "manual",
                "--run-id", "part-run", cwd=d)
        out = runtime("commit", pipeline, "st/manual/manifest.json", cwd=d).stdout
        self.assertNotIn("the run is complete", out)
        code, rep = launch(pipeline, "--resume")
        self.assertEqual(code, 0, rep.get("error"))
        self.assertEqual(rep["run_id"], "part-run")
        self.assertTrue(rep["resumed"])
        self.assertEqual(rep["splits_already_committed"], 3)
        self.assertEqual(sum(t["splits"] for t in rep["tasks"]), 3, "only the other half ran")
        runtime("run", pipeline, "--set", 'sinks.t.path="ref"', "--quiet")
        table = os.path.join(d, "out", "t")
        self.assertEqual(delta_rows(table), delta_rows(os.path.join(d, "ref")))
        code, again = launch(pipeline, "--resume")
        self.assertEqual((code, again["nothing_to_resume"]), (0, "part-run"))
        self.assertEqual(versions(table), 3, "create, the hand-made commit, the launch's")
        # The inputs changed since the run completed: --resume is refused.
        with open(os.path.join(d, "data", "f0.ndjson"), "a") as f:
            f.write(json.dumps({"id": 99999, "g": "g0", "v": 1}) + "\n")
        code, refused = launch(pipeline, "--resume")
        self.assertEqual(code, 2)
        self.assertIn("completed, and 1 of the 6 planned splits are not in it", refused["error"])
        self.assertEqual(versions(table), 3)

    def test_bad_configuration_exits_2_before_any_task(self):
        pipeline = self.ndjson_case(files=1)
        code, rep = launch(pipeline, "--set", "sinks.t.nmae=1")
        self.assertEqual(code, 2)
        self.assertEqual(rep["tasks"], [])
        self.assertIn("runtime plan", rep["error"])

    def test_a_task_whose_runtime_fails_fails_the_launch_with_its_exit_status(self):
        d = self.dir
        pipeline = self.ndjson_case(files=2)
        # A `runtime` that plans and commits but whose `run` fails (exit 3).
        wrapper = os.path.join(d, "runtime")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nif [ "$1" = run ]; then echo "error: boom" >&2; exit 3; fi\nexec {RUNTIME} "$@"\n')
        os.chmod(wrapper, 0o755)
        report = os.path.join(d, "r.json")
        code = cli.main(["run", pipeline, "--runtime", wrapper, "--report", report,
                         "--staging", os.path.join(d, "st")], spark=spark)
        self.assertEqual(code, 3, "as `runtime run` exited, after spark.task.maxFailures attempts")
        with open(report) as f:
            rep = json.load(f)
        self.assertEqual(rep["exit_code"], 3)
        self.assertIn("boom", rep["error"])
        self.assertFalse(os.path.exists(os.path.join(d, "out", "t")), "nothing was committed")

    def test_failed_splits_follow_max_failed_splits(self):
        d = self.dir
        pipeline = self.ndjson_case(files=4)
        os.symlink(os.path.join(d, "nowhere"), os.path.join(d, "data", "f9.ndjson"))
        code, rep = launch(pipeline, "--set", "run.max_failed_splits=0")
        self.assertEqual(code, 1, "past the policy: exit 1, as runtime run")
        self.assertFalse(os.path.exists(os.path.join(d, "out", "t", "_delta_log", "00000000000000000001.json")))
        code, rep = launch(pipeline, "--set", "run.max_failed_splits=1")
        self.assertEqual(code, 0)
        self.assertEqual(rep["splits_failed"], 1)
        self.assertEqual(rep["failures"][0]["split"], "data/f9.ndjson")
        self.assertEqual(len(delta_rows(os.path.join(d, "out", "t"))), sum(40 + f * 10 for f in range(4)))


if __name__ == "__main__":
    unittest.main()
