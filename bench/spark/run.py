#!/usr/bin/env python3
"""Spark benchmark (issue 16): the launcher vs `runtime run` vs a plain PySpark job, on the same
2 cores, in one run, each the best of --repeat (the rounds alternate the three).

--workload pod (the pod-usage aggregation, 1,000,000 generated rows, seed 42):
  runtime run        examples/pod-usage/pipeline.toml, --workers 2
  launcher           runtime-spark run pipeline.toml --master local-cluster[2,1,1024]
                     (python3 -m runtime_spark, from integrations/spark), its own SparkSession
  plain PySpark      bench/spark/impl_pyspark.py (DataFrame API) on local-cluster[2,1,1024]
  Both runtime runs write the same Parquet folder (`--set sinks.pod_usage_daily.path=...`: the
  launcher cannot stage a single Parquet file), PySpark writes its own part files. Each output's
  CHECKSUM must be identical, and checksum.py compares them row for row.

--workload pst (the 1,400-file PST set of bench/pst: the 7 PSTs of tests/fixtures/pst/ copied 200
times into bench/data/pst/, made by bench/pst/bench.py's make_corpus):
  runtime run        examples/pst-mailboxes/pipeline.toml (its mailboxes/ pointed at
                     bench/data/pst), --workers 2
  launcher           the same pipeline through runtime-spark on local-cluster[2,1,1024]
  plain PySpark      bench/spark/impl_pyspark_pst.py (pypff inside mapPartitions) on the same
  Both runtime runs write the sinks as Parquet folders (`--set sinks.messages.path="out/messages"`,
  the same for attachments). Checked: the two runtime outputs are row for row identical (a digest
  of every row), and their counts agree with pypff's: top-level messages rows (parent_message_key
  null) = pypff's items, per file; attachment rows = pypff's attachments (an embedded message is
  one attachment row in both; the runtime also writes it as a messages row with
  parent_message_key set, which is not counted; pypff does not walk into it); the SHA-256 of
  every by-value attachment the runtime hashed is among pypff's, and their sizes add up to the
  same bytes (embedded messages' sizes differ: the runtime gives the declared size, pypff the
  size of the attachment's data, so they are left out of the byte check).

--workload all (default): pod, then pst.

Prints wall times, Spark's start-up (the launcher's from its run report, with its other phases;
PySpark's as the job prints it), the ratios against the issue's goals (launcher overhead under
30 s + 10% of `runtime run`; faster than plain PySpark) and the checks; writes the figures to
bench/out/spark/results-<workload>.json. With --lock FILE every timed run holds an exclusive
flock(2) on FILE (the lock flock(1) takes), taken before its clock starts; the load average before
and after each run is logged.

  python3 bench/spark/run.py [--workload all|pod|pst] [--runtime target/release/runtime]
                             [--repeat 2] [--rows 1000000] [--copies 200] [--lock /work/.bench.lock]
"""
import argparse, collections, contextlib, datetime, fcntl, hashlib, importlib.util, json, os, platform
import shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MASTER = "local-cluster[2,1,1024]"
OUT = os.path.join(ROOT, "bench", "out", "spark")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, *path))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


@contextlib.contextmanager
def bench_lock(path):
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def timed(cmd, cwd, env, log, lock):
    with bench_lock(lock):
        before = loadavg()
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t
        after = loadavg()
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n# load average before {before}, after {after}; {wall:.2f} s\n"
                f"{p.stdout}{p.stderr}\n")
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return wall, p, (before, after)


def launcher_phases(rep, wall):
    """Where the launcher's wall time went, from its --report (seconds from the launch's start)."""
    session = rep["engine"].get("session_seconds") or 0.0
    start = min(t["start"] for t in rep["tasks"])
    end = max(t["end"] for t in rep["tasks"])
    commits = rep.get("timeline", {}).get("commits", [])
    commit = sum(c["seconds"] for c in commits)
    elapsed = rep["elapsed_seconds"]
    return {"Spark session": session, "plan and job start": start - session, "tasks": end - start,
            "merge and commit": commit, "other in the launch": elapsed - end - commit,
            "process start and exit": wall - elapsed}


def pyspark_session(p):
    line = next((l for l in p.stderr.splitlines() if l.startswith("pyspark: session")), "")
    return float(line.split()[2]) if line else None


def remove_app_dir(app):
    """local-cluster workers keep each application's executor folders under pyspark's installation."""
    if app:
        import pyspark
        shutil.rmtree(os.path.join(os.path.dirname(pyspark.__file__), "work", app), ignore_errors=True)


def app_of(name, p, report):
    if name == "launcher":
        return json.load(open(report)).get("engine", {}).get("application_id")
    line = next((l for l in p.stderr.splitlines() if l.startswith("pyspark: session")), "")
    return line.rsplit(" ", 1)[-1] if "application" in line else None


def rounds(cmds, repeat, work, env, log, lock, report, before_run, after_run):
    """Runs every command `repeat` times (rounds alternate them); returns the times, the Spark
    session start-up where known, the launcher's phases and the load averages, per run."""
    times = {k: [] for k in cmds}
    session = {k: [] for k in cmds}
    loads = {k: [] for k in cmds}
    phases = []
    for r in range(repeat):
        for name, cmd in cmds.items():
            before_run(name)
            wall, p, load_ = timed(cmd, work, env, log, lock)
            times[name].append(wall)
            loads[name].append(load_)
            if name == "launcher":
                rep = json.load(open(report))
                session[name].append(rep.get("engine", {}).get("session_seconds"))
                phases.append(launcher_phases(rep, wall))
            elif name == "plain PySpark":
                session[name].append(pyspark_session(p))
            else:
                session[name].append(None)
            s = session[name][-1]
            print(f"round {r + 1}: {name:14s} {wall:7.2f} s" + (f"  (Spark session {s:.2f} s)" if s is not None else "")
                  + f"  [load {load_[0]} -> {load_[1]}]", flush=True)
            if name != "runtime run":
                remove_app_dir(app_of(name, p, report))
            after_run(name, p)
    return times, session, phases, loads


def summary(cmds, times, session, phases):
    print()
    best = {k: min(v) for k, v in times.items()}
    for name in cmds:
        i = times[name].index(best[name])
        s = session[name][i]
        print(f"{name:14s} best {best[name]:7.2f} s   all runs: {', '.join(f'{t:.2f}' for t in times[name])} s"
              + (f"   Spark session {s:.2f} s, the rest {best[name] - s:.2f} s" if s is not None else ""))
    ph = phases[times["launcher"].index(best["launcher"])]
    print("launcher, by phase:          " + ", ".join(f"{k} {v:.2f} s" for k, v in ph.items()))
    rt, la, ps = best["runtime run"], best["launcher"], best["plain PySpark"]
    over = la - rt
    goal = 30 + 0.1 * rt
    print(f"\nlauncher / runtime run:      {la / rt:.2f}x")
    print(f"launcher overhead:           {over:.2f} s = {100 * over / rt:.0f}% of runtime run "
          f"(goal: under 30 s + 10% = {goal:.2f} s: {'met' if over < goal else 'NOT met'})")
    print(f"plain PySpark / launcher:    {ps / la:.2f}x (goal: above 1: {'met' if ps > la else 'NOT met'})")
    return {"best": best, "runs": times, "spark_session": session, "launcher_phases": ph,
            "launcher_over_runtime": la / rt, "overhead_seconds": over, "overhead_goal_seconds": goal,
            "overhead_goal_met": over < goal, "pyspark_over_launcher": ps / la}


def base_env(work):
    env = dict(os.environ, RUNTIME_CACHE_DIR=os.path.join(ROOT, "target", "bench-cache"))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "integrations", "spark")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


# ---------------------------------------------------------------------------------------- pod --

def run_pod(a, runtime):
    ex = os.path.join(ROOT, "examples", "pod-usage")
    sink = 'sinks.pod_usage_daily.path="out/pod_usage_daily"'
    pb = load("pod_bench", ("bench", "pod-usage", "run.py"))
    data = pb.generate(a.rows)
    with open(os.path.join(data, "pod_usage.ndjson"), "rb") as f:  # warm the page cache
        md5 = hashlib.md5()
        while chunk := f.read(1 << 24):
            md5.update(chunk)
    print(f"pod input: {data} ({a.rows:,} rows, md5 {md5.hexdigest()})")

    work = tempfile.mkdtemp(prefix="spark-bench-")
    log = os.path.join(work, "log.txt")
    shutil.copy(os.path.join(ex, "pipeline.toml"), work)
    os.symlink(data, os.path.join(work, "data"))
    env = base_env(work)
    # Compile the plugins into the cache once, outside the timings.
    subprocess.run([runtime, "validate", os.path.join(work, "pipeline.toml")], env=env, check=True, capture_output=True)

    out = {"runtime run": os.path.join(work, "out", "pod_usage_daily"),
           "launcher": os.path.join(work, "out", "pod_usage_daily"),
           "plain PySpark": os.path.join(work, "pyspark_out")}
    report = os.path.join(work, "launcher-report.json")
    cmds = {
        "runtime run": [runtime, "run", "pipeline.toml", "-q", "--workers", "2", "--set", sink],
        "launcher": [sys.executable, "-m", "runtime_spark", "run", "pipeline.toml", "--master", MASTER,
                     "--runtime", runtime, "--set", sink, "--report", report],
        "plain PySpark": [sys.executable, os.path.join(ROOT, "bench", "spark", "impl_pyspark.py"), data,
                          out["plain PySpark"], "--master", MASTER],
    }
    sums = {}

    def after_run(name, p):
        sums[name] = pb.checksum(out[name])
        if name in ("launcher", "runtime run"):  # keep one copy for the row-for-row comparison
            keep = os.path.join(work, "launcher_out" if name == "launcher" else "runtime_out")
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(out[name], keep)

    def before_run(name):
        shutil.rmtree(out[name], ignore_errors=True)

    times, session, phases, loads = rounds(cmds, a.repeat, work, env, log, a.lock, report, before_run, after_run)
    res = summary(cmds, times, session, phases)
    print()
    for name in cmds:
        print(f"{name:14s} {sums[name]}")
    same = len(set(sums.values())) == 1
    print("checksums: " + ("all identical" if same else "DIFFERENT"))
    cmp = subprocess.run([sys.executable, os.path.join(ex, "checksum.py"), os.path.join(work, "runtime_out"),
                          os.path.join(work, "launcher_out"), out["plain PySpark"]], capture_output=True, text=True)
    print("\n".join(l for l in cmp.stdout.splitlines() if not l.startswith("/")))
    res.update(loads=loads, checksums=sums, checksums_identical=same, compare=cmp.stdout)
    shutil.copy(log, os.path.join(OUT, "log-pod.txt"))
    shutil.rmtree(work)
    return res


# ---------------------------------------------------------------------------------------- pst --

def row_digest(table):
    """Order-independent digest of a table's rows (bytes as their SHA-256)."""
    rows = []
    for r in table.to_pylist():
        rows.append(json.dumps({k: hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v
                                for k, v in r.items()}, sort_keys=True, default=str))
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()


def runtime_counts(folder):
    """Counts of a runtime run's two Parquet folders (the part files listed in each manifest)."""
    import pyarrow.compute as pc

    msgs = read_folder(os.path.join(folder, "messages"))
    atts = read_folder(os.path.join(folder, "attachments"))
    top = msgs.filter(pc.is_null(msgs["parent_message_key"]))
    per_file = collections.Counter(os.path.basename(p) for p in top["source_path"].to_pylist())
    by_value = atts.filter(pc.is_null(atts["embedded_message_key"]))
    return {
        "messages_rows": msgs.num_rows, "top_level_messages": top.num_rows,
        "embedded_messages": msgs.num_rows - top.num_rows,
        "attachments": atts.num_rows, "embedded_message_attachments": atts.num_rows - by_value.num_rows,
        "attachment_bytes": pc.sum(atts["size_bytes"]).as_py() or 0,
        "by_value_attachments": by_value.num_rows,
        "by_value_bytes": pc.sum(by_value["size_bytes"]).as_py() or 0,
        "by_value_sha256": collections.Counter(x for x in by_value["sha256"].to_pylist() if x),
        "per_file": per_file,
        "digest": {"messages": row_digest(msgs), "attachments": row_digest(atts)},
    }


def read_folder(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = os.path.join(path, "_runtime_manifest.json")
    files = None
    if os.path.exists(manifest):
        m = json.load(open(manifest))
        files = [os.path.join(path, f) for f in m["live"]]  # the committed part files
    if not files:
        return pq.read_table(path)
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def pyspark_counts(folder):
    import pyarrow.parquet as pq

    msgs = pq.read_table(os.path.join(folder, "messages"), columns=["source_path"])
    atts = pq.read_table(os.path.join(folder, "attachments"), columns=["size_bytes", "sha256"])
    import pyarrow.compute as pc
    return {"messages": msgs.num_rows, "attachments": atts.num_rows,
            "attachment_bytes": pc.sum(atts["size_bytes"]).as_py() or 0,
            "sha256": collections.Counter(atts["sha256"].to_pylist()),
            "size_by_sha256": dict(zip(atts["sha256"].to_pylist(), atts["size_bytes"].to_pylist())),
            "per_file": collections.Counter(os.path.basename(p) for p in msgs["source_path"].to_pylist())}


def run_pst(a, runtime):
    ex = os.path.join(ROOT, "examples", "pst-mailboxes")
    pst_bench = load("pst_bench", ("bench", "pst", "bench.py"))
    files = pst_bench.make_corpus(a.copies)
    data = str(pst_bench.DATA)
    size = 0
    for f in files:  # warm the page cache
        size += len(f.read_bytes())
    print(f"pst input: {data} ({len(files):,} files, {size / 2**20:.1f} MiB)")

    work = tempfile.mkdtemp(prefix="spark-bench-pst-")
    log = os.path.join(work, "log.txt")
    shutil.copy(os.path.join(ex, "pipeline.toml"), work)
    os.symlink(data, os.path.join(work, "mailboxes"))
    env = base_env(work)
    sets = []
    for s in ("messages", "attachments"):
        sets += ["--set", f'sinks.{s}.path="out/{s}"']
    # Compile the plugin into the cache once, outside the timings; the plan must see every file.
    subprocess.run([runtime, "validate", os.path.join(work, "pipeline.toml")], env=env, check=True,
                   capture_output=True)
    plan = json.loads(subprocess.run([runtime, "plan", "pipeline.toml", "--json", *sets], cwd=work, env=env,
                                     check=True, capture_output=True, text=True).stdout)
    print(f"plan: {len(plan['splits'])} splits")
    if len(plan["splits"]) != len(files):
        sys.exit(f"the plan has {len(plan['splits'])} splits for {len(files)} files")

    out_rt = os.path.join(work, "out")
    out_ps = os.path.join(work, "pyspark_out")
    report = os.path.join(work, "launcher-report.json")
    rt_report = os.path.join(work, "runtime-report.json")
    cmds = {
        "runtime run": [runtime, "run", "pipeline.toml", "-q", "--workers", "2", *sets, "--report", rt_report],
        "launcher": [sys.executable, "-m", "runtime_spark", "run", "pipeline.toml", "--master", MASTER,
                     "--runtime", runtime, *sets, "--report", report],
        "plain PySpark": [sys.executable, os.path.join(ROOT, "bench", "spark", "impl_pyspark_pst.py"), data,
                          out_ps, "--master", MASTER],
    }
    counts = {}
    reports = {}

    def after_run(name, p):
        if name == "plain PySpark":
            counts[name] = pyspark_counts(out_ps)
            counts[name]["stdout"] = p.stdout.strip()
        else:
            rep = json.load(open(rt_report if name == "runtime run" else report))
            reports[name] = {k: rep.get(k) for k in ("status", "splits_ok", "splits_partial", "splits_failed")}
            counts[name] = runtime_counts(out_rt)

    def before_run(name):
        shutil.rmtree(out_rt, ignore_errors=True)
        shutil.rmtree(out_ps, ignore_errors=True)

    times, session, phases, loads = rounds(cmds, a.repeat, work, env, log, a.lock, report, before_run, after_run)
    res = summary(cmds, times, session, phases)

    rt, la, ps = counts["runtime run"], counts["launcher"], counts["plain PySpark"]
    print()
    for name in ("runtime run", "launcher"):
        c, r = counts[name], reports[name]
        print(f"{name:14s} {r['status']}, splits ok {r['splits_ok']}, partial {r['splits_partial']}, "
              f"failed {r['splits_failed']}; messages rows {c['messages_rows']} = {c['top_level_messages']} "
              f"top-level + {c['embedded_messages']} embedded; attachments {c['attachments']} (of which "
              f"{c['embedded_message_attachments']} embedded messages), {c['attachment_bytes']:,} bytes "
              f"({c['by_value_bytes']:,} in the {c['by_value_attachments']} by value)")
    print(f"{'plain PySpark':14s} {ps['stdout']}")
    checks = {
        "runtime run and launcher: rows identical (messages, attachments)": rt["digest"] == la["digest"],
        "top-level messages: runtime = pypff items": rt["top_level_messages"] == ps["messages"],
        "top-level messages per file: runtime = pypff": rt["per_file"] == ps["per_file"],
        "attachments: runtime rows = pypff attachments": rt["attachments"] == ps["attachments"],
        "by-value attachments: every runtime sha256 among pypff's":
            not (rt["by_value_sha256"] - ps["sha256"]),
        "by-value attachment bytes: runtime size_bytes sum = pypff's sizes of the same attachments":
            rt["by_value_bytes"] == sum(ps["size_by_sha256"].get(h, -1) * n for h, n in rt["by_value_sha256"].items()),
    }
    for k, v in checks.items():
        print(f"  {'OK  ' if v else 'DIFF'} {k}")
    res.update(loads=loads, reports=reports, checks=checks, files=len(files), input_bytes=size,
               counts={n: {k: v for k, v in c.items()
                           if k not in ("by_value_sha256", "sha256", "size_by_sha256", "per_file")}
                       for n, c in counts.items()})
    shutil.copy(log, os.path.join(OUT, "log-pst.txt"))
    shutil.rmtree(work)
    return res


def versions(runtime):
    def out(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    import pyarrow, pyspark
    v = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
         "runtime": f"{runtime} ({out([runtime, '--version'])})", "pyspark": pyspark.__version__,
         "java": out(["java", "-version"]), "python": platform.python_version(), "pyarrow": pyarrow.__version__,
         "cpus": os.cpu_count(), "kernel": platform.release()}
    try:
        import pypff
        v["pypff"] = pypff.get_version()
    except ImportError:
        pass
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=["all", "pod", "pst"], default="all")
    ap.add_argument("--runtime", default=os.path.join(ROOT, "target", "release", "runtime"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1_000_000, help="pod: generated rows")
    ap.add_argument("--copies", type=int, default=200, help="pst: copies of each of the 7 fixtures")
    ap.add_argument("--lock", default=None, help="hold an exclusive flock on this file during each timed run")
    a = ap.parse_args()
    runtime = os.path.abspath(a.runtime)
    if not os.path.exists(runtime):
        sys.exit(f"no runtime binary at {runtime}: cargo build --release -p runtime, or --runtime PATH")
    os.makedirs(OUT, exist_ok=True)
    v = versions(runtime)
    for k, x in v.items():
        print(f"{k}: {x}")
    print(f"load average at start: {loadavg()}")
    for w in (["pod", "pst"] if a.workload == "all" else [a.workload]):
        print(f"\n=== {w} ===")
        res = run_pod(a, runtime) if w == "pod" else run_pst(a, runtime)
        res.update(versions=v, repeat=a.repeat, end=datetime.datetime.now(datetime.timezone.utc).isoformat())
        with open(os.path.join(OUT, f"results-{w}.json"), "w") as f:
            json.dump(res, f, indent=2, default=str)
    print(f"\nload average at end: {loadavg()}")


if __name__ == "__main__":
    main()
