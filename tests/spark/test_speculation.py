"""The launcher under `spark.speculation` on a real standalone Spark
cluster: a master and two workers (one core each) started here from
pyspark's own `spark-class`, all on 127.0.0.1.

Why not `local-cluster`: Spark never starts a speculative copy of a task
on a host where an attempt of it already runs, and every executor of a
local cluster is on one host. The two workers here register under two host
names that both mean 127.0.0.1 (`localhost` and `127.0.0.1`), so Spark sees
two hosts and speculates. The first attempt of partition 0 stages its files
and then straggles (the RUNTIME_SPARK_TEST_STRAGGLE_FIRST_ATTEMPT hook); a
speculative copy on the other worker wins; the table must hold every row
exactly once, reference only the winners' files, and the straggler's
folder must be removed."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from tests.spark import test_launcher as common

spark = None
procs = []
work = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def setUpModule():
    global spark, work
    import pyspark
    from pyspark.sql import SparkSession

    t = time.time()
    home = os.path.dirname(pyspark.__file__)
    work = tempfile.mkdtemp(prefix="runtime-spark-standalone-")
    # Every server here binds 127.0.0.1 (their web UIs too).
    env = dict(os.environ, SPARK_HOME=home, SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=work,
               SPARK_WORKER_DIR=os.path.join(work, "work"))
    spark_class = os.path.join(home, "bin", "spark-class")
    log = open(os.path.join(work, "cluster.log"), "w")
    port = free_port()
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(free_port())],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    procs.append(master)
    wait_port(port, master, "the Spark master")
    url = f"spark://127.0.0.1:{port}"
    for host in ("localhost", "127.0.0.1"):
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", host, "--cores", "1",
             "--memory", "1g", "--webui-port", str(free_port()),
             "--work-dir", os.path.join(work, "work", host), url],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    spark = (SparkSession.builder.master(url).appName("runtime-spark speculation test")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.executor.memory", "512m")
             .config("spark.cores.max", "2")
             .config("spark.task.maxFailures", "3")
             .config("spark.speculation", "true")
             .config("spark.speculation.interval", "200ms")
             .config("spark.speculation.quantile", "0.5")
             .config("spark.speculation.multiplier", "1.5")
             .config("spark.speculation.minTaskRuntime", "1s")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    # Wait for both executors (the driver counts as one more).
    sc = spark.sparkContext
    deadline = time.time() + 90
    while sc._jsc.sc().getExecutorMemoryStatus().size() < 3:
        if time.time() > deadline:
            raise RuntimeError("two executors did not register; see " + os.path.join(work, "cluster.log"))
        time.sleep(0.5)
    common.spark = spark
    common.MASTER = url
    print(f"standalone spark ({url}, 2 workers) up in {time.time() - t:.1f} s", file=sys.stderr)


def tearDownModule():
    if spark is not None:
        spark.stop()
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=20)
        except Exception:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except Exception:
                pass
    if work:
        shutil.rmtree(work, ignore_errors=True)


class Speculation(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="runtime-spark-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_a_speculative_copy_wins_and_rows_appear_exactly_once(self):
        pipeline = common.ndjson_pipeline(self.dir, files=4)
        staging = os.path.join(self.dir, "staging")
        code, rep = common.launch(pipeline, "--staging", staging, "--num-partitions", "2",
                                  env={"RUNTIME_SPARK_TEST_STRAGGLE_FIRST_ATTEMPT": "60"})
        self.assertEqual(code, 0, rep.get("error"))
        by_part = {t["partition"]: t for t in rep["tasks"]}
        self.assertEqual(sorted(by_part), [0, 1])
        self.assertGreaterEqual(by_part[0]["attempt_number"], 1,
                                "partition 0 was won by its speculative copy, not the straggler")
        self.assertLess(rep["elapsed_seconds"], 55, "the launch did not wait for the straggler to finish")
        common.runtime("run", pipeline, "--set", 'sinks.t.path="ref"', "--quiet")
        table = os.path.join(self.dir, "out", "t")
        got, ref = common.delta_rows(table), common.delta_rows(os.path.join(self.dir, "ref"))
        self.assertEqual(len(ref), sum(40 + f * 10 for f in range(4)))
        self.assertEqual(got, ref, "every row exactly once")
        winners = {p for t in rep["tasks"] for p in t["staged_files"]["t"]}
        self.assertEqual(common.delta_adds(table), winners, "only the winners' files are referenced")
        self.assertEqual(common.versions(table), 2, "one create, one commit")
        self.assertGreaterEqual(len(rep["committed"]["cleaned"]), 1, "the straggler's folder was removed")
        self.assertEqual(os.listdir(staging), [], "no attempt folder is left")
        # The straggler staged its own files before it was killed: none of
        # them is in the table, and none is left on disk.
        left = [os.path.join(r, f) for r, _, fs in os.walk(table) for f in fs if f.endswith(".parquet")]
        self.assertEqual({os.path.relpath(p, table) for p in left}, winners)
        code, again = common.launch(pipeline, "--staging", staging, "--resume")
        self.assertEqual((code, again["nothing_to_resume"]), (0, rep["run_id"]))
        self.assertEqual(common.versions(table), 2)


if __name__ == "__main__":
    unittest.main()
