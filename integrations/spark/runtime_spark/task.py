"""The executor's half: one Spark task runs the `runtime` binary on its
partition's splits, staging them as one attempt, and returns the attempt's
manifest path and run report. Runs in Spark's Python worker; needs only the
standard library and pyspark's TaskContext."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

# The task's exit-code marker in an exception, read back by the driver.
EXIT_MARKER = "runtime-exit-code="


class TaskSpec:
    """What every task of a launch needs (pickled to the executors)."""

    def __init__(self, runtime, pipeline, staging, run_id, plan, overrides, env, fail_first_attempt=False,
                 straggle_first_attempt=0.0):
        self.runtime = runtime
        self.pipeline = pipeline
        self.staging = staging
        self.run_id = run_id
        self.plan = plan  # the plan JSON without its splits
        self.overrides = overrides
        self.env = env
        self.fail_first_attempt = fail_first_attempt
        self.straggle_first_attempt = straggle_first_attempt


def executor_id():
    """The executor's id, from the environment Spark gives its Python
    workers (the log URLs name it); "driver" in local mode."""
    for key in ("SPARK_EXECUTOR_ID",):
        if os.environ.get(key):
            return os.environ[key]
    for key in ("SPARK_LOG_URL_STDERR", "SPARK_LOG_URL_STDOUT"):
        m = re.search(r"executorId=([^&]+)", os.environ.get(key, ""))
        if m:
            return m.group(1)
    return "driver"


def _die_with_parent():
    """In the child: killed when the task's Python worker dies, so a killed
    task (a lost speculative attempt) leaves no `runtime` still writing."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def side_table_cache():
    """The executor's own folder for side tables (`runtime run
    --side-table-cache`), so that they are read once per executor process,
    not once per task: under the executor's SparkFiles root, a temporary
    folder Spark creates for each executor and deletes when it stops. None
    outside an executor."""
    try:
        from pyspark import SparkFiles

        if SparkFiles._is_running_on_worker:
            return os.path.join(SparkFiles.getRootDirectory(), "runtime-side-tables")
    except Exception:
        pass
    return None


def run_partition(spec, index, splits, counters=None):
    """Stages `splits` as attempt `<stage>-<partition>-<taskAttemptId>`;
    returns a dict for the driver. Raises (so Spark retries the task) when
    `runtime run` exits non-zero."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    if ctx is not None:
        stage, partition, task_attempt = ctx.stageId(), ctx.partitionId(), ctx.taskAttemptId()
        attempt_number, cpus = ctx.attemptNumber(), ctx.cpus()
    else:  # outside Spark (unit tests)
        stage, partition, task_attempt, attempt_number, cpus = 0, index, index, 0, 1
    attempt = f"{stage}-{partition}-{task_attempt}"
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="runtime-spark-") as tmp:
        task_file = os.path.join(tmp, "splits.json")
        report_file = os.path.join(tmp, "report.json")
        with open(task_file, "w") as f:
            json.dump(dict(spec.plan, splits=splits), f)
        cmd = [spec.runtime, "run", spec.pipeline, "--splits", task_file,
               "--stage-only", spec.staging, "--attempt", attempt, "--run-id", spec.run_id,
               "--report", report_file, "--workers", str(max(1, cpus)), "--quiet"]
        cache = side_table_cache()
        if cache:
            cmd += ["--side-table-cache", cache]
        for o in spec.overrides:
            cmd += ["--set", o]
        env = dict(os.environ, **spec.env)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              preexec_fn=_die_with_parent)
        stderr = proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(
                f"partition {index}, attempt {attempt}: `runtime run` exited with {proc.returncode} "
                f"({EXIT_MARKER}{proc.returncode}):\n{stderr.strip()}")
        with open(report_file) as f:
            report = json.load(f)
    manifest = proc.stdout.decode().strip().splitlines()[-1]
    if not os.path.isabs(manifest):
        manifest = os.path.abspath(manifest)
    with open(manifest) as f:
        staged = {sk["name"]: [x["path"] for x in sk.get("files", [])] for sk in json.load(f).get("sinks", [])}
    if spec.fail_first_attempt and attempt_number == 0:
        # Test hook (RUNTIME_SPARK_TEST_FAIL_FIRST_ATTEMPT): this attempt
        # staged its files; fail it so Spark retries it beside them.
        raise RuntimeError(f"test hook: failing attempt {attempt} after it staged {manifest}")
    if spec.straggle_first_attempt and attempt_number == 0 and index == 0:
        # Test hook (RUNTIME_SPARK_TEST_STRAGGLE_FIRST_ATTEMPT): this attempt
        # staged its files; straggle so that Spark starts a speculative copy
        # elsewhere (which wins; Spark then kills this one).
        time.sleep(spec.straggle_first_attempt)
    if counters is not None:
        splits_acc, rows_acc, bytes_acc = counters
        splits_acc.add(len(splits))
        rows_acc.add(report.get("rows_read", 0))
        bytes_acc.add(report.get("bytes_read", 0))
    return {
        "partition": index,
        "attempt": attempt,
        "attempt_number": attempt_number,
        "task_attempt_id": task_attempt,
        "stage": stage,
        "host": socket.gethostname(),
        "executor_id": executor_id(),
        "pid": os.getpid(),
        "started_unix": started,
        "ended_unix": time.time(),
        "runtime": spec.runtime,
        "manifest": manifest,
        "staged_files": staged,
        "split_ids": [s["id"] for s in splits],
        "report": report,
        "stderr": stderr[-4000:],
    }
