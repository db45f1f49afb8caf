"""The driver's half of `runtime-spark run`: plan, group the splits into
Spark partitions, run one task per partition (see `task.py`), show
progress, commit the winning attempts once, write the run report."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile

from . import balance, committed, report as reports, task as tasks

# Exit status, as `runtime run`'s.
OK, FAILED, CONFIG, INTERNAL = 0, 1, 2, 3


def log(msg):
    print(f"runtime-spark: {msg}", file=sys.stderr, flush=True)


class LaunchError(Exception):
    def __init__(self, msg, code):
        super().__init__(msg)
        self.code = code


def _runtime_cmd(runtime, *args):
    try:
        p = subprocess.run([runtime, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise LaunchError(f"cannot run the runtime binary {runtime}: {e}; give --runtime PATH", CONFIG)
    return p.returncode, p.stdout.decode(), p.stderr.decode(errors="replace")


def _ship_package(sc):
    """Makes `runtime_spark` importable in the executors' Python workers
    (a zip of this package, `addPyFile`), once per SparkContext."""
    if getattr(sc, "_runtime_spark_shipped", False):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    fd, path = tempfile.mkstemp(prefix="runtime_spark-", suffix=".zip")
    os.close(fd)
    with zipfile.ZipFile(path, "w") as z:
        for name in sorted(os.listdir(here)):
            if name.endswith(".py"):
                z.write(os.path.join(here, name), f"runtime_spark/{name}")
    sc.addPyFile(path)  # served from this path to the executors while the driver runs
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    sc._runtime_spark_shipped = True


def resolve_runtime(arg, sc):
    """`--runtime PATH` (on storage every executor sees), or the `runtime`
    shipped with `spark.files` (found by SparkFiles on each executor), or
    the `runtime` on PATH."""
    if arg:
        return os.path.abspath(arg) if os.path.exists(arg) else arg
    files = sc.getConf().get("spark.files", "") or ""
    for f in files.split(","):
        if os.path.basename(f.strip()) == "runtime":
            return "sparkfiles:runtime"
    if not shutil.which("runtime"):
        raise LaunchError("no `runtime` on PATH: give --runtime PATH or ship it with spark.files", CONFIG)
    return "runtime"  # each executor's own PATH


def launch(args, spark=None):
    """Runs one launch; returns the exit status. `spark`: an existing
    SparkSession (kept running), else one is made for `args.master` and
    stopped at the end."""
    started = time.time()
    pipeline = os.path.abspath(args.pipeline)
    overrides = list(args.set or [])
    own = spark is None
    if own:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName(f"runtime-spark {os.path.basename(pipeline)}")
        if args.master:
            builder = builder.master(args.master)
        for c in getattr(args, "conf", None) or []:
            key, sep, value = c.partition("=")
            if not sep:
                log(f"error: --conf {c}: give KEY=VALUE")
                return CONFIG
            builder = builder.config(key.strip(), value)
        spark = builder.getOrCreate()
    try:
        return _launch(args, spark, pipeline, overrides, started)
    except LaunchError as e:
        log(f"error: {e}")
        settings = {"name": os.path.splitext(os.path.basename(pipeline))[0], "max_failed_splits": ""}
        rep = reports.failed({"pipeline": args.pipeline, "splits": []}, settings, "", started,
                             spark.sparkContext, e.code, str(e))
        rep["error"] = str(e)
        _write_report(args, rep)
        return e.code
    finally:
        if own:
            spark.stop()


def _launch(args, spark, pipeline, overrides, started):
    sc = spark.sparkContext
    sc._runtime_spark_ready = time.time()
    runtime = resolve_runtime(args.runtime, sc)
    local_runtime = shutil.which(runtime) or runtime
    if runtime == "sparkfiles:runtime":
        from pyspark import SparkFiles

        local_runtime = SparkFiles.get("runtime")
    sets = [a for o in overrides for a in ("--set", o)]

    # 1. Plan (on the driver).
    code, out, err = _runtime_cmd(local_runtime, "plan", pipeline, "--json", *sets)
    if code != 0:
        sys.stderr.write(err)
        first = next((l for l in err.splitlines() if l.startswith("error")), err.strip()[:500])
        raise LaunchError(f"`runtime plan` exited with {code}: {first}", code if code in (1, 2, 3) else INTERNAL)
    plan = json.loads(out)
    splits = plan["splits"]
    settings = reports.pipeline_settings(pipeline, overrides)
    staging_root = os.path.abspath(args.staging) if args.staging else os.path.join(
        os.path.dirname(pipeline), ".runtime-staging")
    # Each launch stages in a folder of its own: attempt names (Spark's
    # stage, partition and task attempt ids) start again in every Spark
    # application, and --clean then touches only this launch's attempts.
    staging = os.path.join(staging_root, f"{sc.applicationId}-{uuid.uuid4().hex[:8]}")
    os.makedirs(staging, exist_ok=True)
    # Without --resume a launch is a new run, as `runtime run` is (an
    # append adds the rows again, an overwrite replaces the table); with
    # it, the last run recorded in the tables continues (committed.py).
    run_id = args.run_id or f"spark-{sc.applicationId}-{uuid.uuid4().hex[:8]}"
    already = 0
    if args.resume:
        what, run, left = _resume(plan, settings, args.run_id)
        if what != "continue":
            _remove_if_empty(staging)
            code = OK if what == "done" else CONFIG
            rep = reports.failed(plan, settings, run, started, sc, code, "")
            rep.update(status="ok" if code == OK else "failed", error=None if code == OK else left,
                       splits_skipped=0)
            if code == OK:
                rep["nothing_to_resume"] = run
                rep["splits_already_committed"] = len(splits)
            _write_report(args, rep)
            return code
        run_id, splits = run, left
        already = len(plan["splits"]) - len(splits)
    partitions = args.num_partitions or settings.get("workers") or sc.defaultParallelism
    groups = balance.group_splits(splits, max(1, int(partitions))) if splits else []
    todo_bytes = sum(balance.size_of(x) for x in splits)
    log(f"{plan.get('pipeline')}: {len(splits)} splits, {reports.size(todo_bytes)} "
        f"in {len(groups)} Spark partitions (master {sc.master}, run {run_id})")

    # 2. One task per partition.
    _ship_package(sc)
    # The test hook (README, "Test hook"), read on the driver, given to tasks.
    fail_first = os.environ.get("RUNTIME_SPARK_TEST_FAIL_FIRST_ATTEMPT") == "1"
    straggle = float(os.environ.get("RUNTIME_SPARK_TEST_STRAGGLE_FIRST_ATTEMPT") or 0)
    env = {k: os.environ[k] for k in ("RUNTIME_CACHE_DIR", "RUNTIME_PLUGIN_PATH", "RUNTIME_LOG")
           if k in os.environ}
    spec = tasks.TaskSpec(runtime, pipeline, staging, run_id,
                          {k: v for k, v in plan.items() if k != "splits"}, overrides, env, fail_first,
                          straggle)
    counters = (sc.accumulator(0), sc.accumulator(0), sc.accumulator(0))

    def run_one(pair):
        index, part = pair
        s = spec
        if s.runtime == "sparkfiles:runtime":
            from pyspark import SparkFiles

            s = tasks.TaskSpec(SparkFiles.get("runtime"), s.pipeline, s.staging, s.run_id, s.plan,
                               s.overrides, s.env, s.fail_first_attempt, s.straggle_first_attempt)
        return tasks.run_partition(s, index, part, counters)

    results, error = [], None
    if groups:
        rdd = sc.parallelize(list(enumerate(groups)), len(groups)).map(run_one)
        box = {}

        def collect():
            try:
                box["results"] = rdd.collect()
            except Exception as e:  # the job failed (a task past spark.task.maxFailures)
                box["error"] = e

        job = threading.Thread(target=collect, daemon=True)
        job.start()
        interval = float(os.environ.get("RUNTIME_PROGRESS_INTERVAL", "10"))
        job_started = time.time()
        total_bytes = todo_bytes
        while job.is_alive():
            job.join(interval)
            if job.is_alive():
                elapsed = time.time() - job_started
                log(reports.progress_line(counters[0].value, len(splits), counters[1].value,
                                          counters[2].value, total_bytes, elapsed))
        results, error = box.get("results", []), box.get("error")
    if error is not None:
        text = str(error)
        code = FAILED
        marker = text.find(tasks.EXIT_MARKER)
        if marker >= 0:
            digit = text[marker + len(tasks.EXIT_MARKER):][:1]
            code = int(digit) if digit in ("1", "2", "3") else FAILED
        log(f"the Spark job failed; nothing was committed:\n{reports.task_error(text)}")
        _wait_for_stragglers(sc, set(sc.statusTracker().getActiveStageIds()))
        _clean_only(staging)
        _write_report(args, reports.failed(plan, settings, run_id, started, sc, code,
                                           reports.task_error(text)))
        return code
    if groups:
        log(reports.progress_line(counters[0].value, len(splits), counters[1].value, counters[2].value,
                                  todo_bytes, time.time() - job_started) + " (all tasks done)")

    # Speculative or zombie attempts Spark is still killing: wait for them
    # to end, so that --clean finds no attempt still writing.
    _wait_for_stragglers(sc, {r["stage"] for r in results})

    # 3. Commit the winners once; --clean removes the losers' folders.
    manifests = [r["manifest"] for r in sorted(results, key=lambda r: r["partition"])]
    committed = None
    commit_started = time.time()
    if manifests:
        code, out, err = _runtime_cmd(local_runtime, "commit", pipeline, *manifests, "--clean", staging,
                                      "--json", *sets)
        sys.stderr.write(err)
        if code != 0:
            log(f"`runtime commit` exited with {code}; nothing was committed")
            rep = reports.assemble(plan, settings, run_id, started, sc, results, None,
                                   code, err.strip().splitlines()[-1] if err.strip() else "commit failed",
                                   commit_started)
            _write_report(args, rep)
            return code
        committed = json.loads(out)
    _remove_if_empty(staging)
    rep = reports.assemble(plan, settings, run_id, started, sc, results, committed, OK, None, commit_started)
    rep["splits_already_committed"] = already
    rep["splits_skipped"] -= already
    rep["resumed"] = bool(args.resume and already)
    _write_report(args, rep)
    sys.stderr.write(reports.summary(rep))
    return OK


def _resume(plan, settings, run_id):
    """`--resume`: ("continue", run, splits left), ("done", run, None) when
    the last run recorded is complete, or ("refused", run, why) when it
    completed over other inputs."""
    found = committed.last_run(settings)
    recorded = [v for v in found.values() if v]
    keys = [s["key"] for s in plan["splits"]]
    if not recorded:
        log("--resume: no earlier run recorded in the tables; running every split")
        return "continue", run_id or f"plan-{plan['fingerprint'][:16]}", plan["splits"]
    run = recorded[0][0]
    held = set.intersection(*[(v[1] if v and v[0] == run else set()) for v in found.values()])
    complete = all(v and v[0] == run and v[2] for v in found.values())
    if complete:
        missing = [k for k in keys if k not in held]
        if not missing:
            log(f"--resume: run {run} is complete in every table: nothing to do")
            return "done", run, None
        why = (f"--resume: the last run recorded (run {run}) completed, and {len(missing)} of the {len(keys)} "
               f"planned splits are not in it (the inputs changed since, or they failed); run without "
               f"--resume to write every split again")
        log(f"error: {why}")
        return "refused", run, why
    left = [s for s in plan["splits"] if s["key"] not in held]
    log(f"--resume: continuing run {run}: {len(keys) - len(left)} of {len(keys)} splits already committed")
    return "continue", run, left


def _wait_for_stragglers(sc, stages, timeout=60.0):
    deadline = time.time() + timeout
    tracker = sc.statusTracker()
    while time.time() < deadline:
        active = 0
        for st in stages:
            info = tracker.getStageInfo(st)
            active += info.numActiveTasks if info is not None else 0
        if active == 0:
            return
        time.sleep(0.2)
    log(f"warning: attempts of stages {sorted(stages)} still running after {timeout:.0f} s; committing anyway")


def _clean_only(staging):
    """After a failed job: this launch's attempt folders are of no use."""
    for name in os.listdir(staging):
        if os.path.exists(os.path.join(staging, name, "_runtime_attempt")):
            shutil.rmtree(os.path.join(staging, name), ignore_errors=True)
    _remove_if_empty(staging)


def _remove_if_empty(folder):
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _write_report(args, rep):
    if args.report:
        with open(args.report, "w") as f:
            json.dump(rep, f, indent=2)
