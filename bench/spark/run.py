#!/usr/bin/env python3
"""Spark benchmark, pod-usage part (issue 16): on the same generated input (1,000,000 rows, seed 42)
and the same 2 cores, in one run, each the best of --repeat (rounds alternate the three):

  runtime run        examples/pod-usage/pipeline.toml, --workers 2
  launcher           runtime-spark run pipeline.toml --master local-cluster[2,1,1024]
                     (python3 -m runtime_spark, from integrations/spark), its own SparkSession
  plain PySpark      bench/spark/impl_pyspark.py (DataFrame API) on local-cluster[2,1,1024]

Both runtime runs write the same Parquet folder (`--set sinks.pod_usage_daily.path=...`: the
launcher cannot stage a single Parquet file), PySpark writes its own part files. Prints wall times,
Spark's start-up where known, the ratios and each CHECKSUM (all must be identical). Usage:

  python3 bench/spark/run.py [--runtime target/release/runtime] [--repeat 2] [--rows 1000000]
"""
import argparse, hashlib, importlib.util, json, os, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "pod-usage")
MASTER = "local-cluster[2,1,1024]"
SINK = 'sinks.pod_usage_daily.path="out/pod_usage_daily"'


def pod_bench():
    spec = importlib.util.spec_from_file_location("pod_bench", os.path.join(ROOT, "bench", "pod-usage", "run.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def timed(cmd, cwd, env, log):
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{p.stdout}{p.stderr}\n")
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return wall, p


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", default=os.path.join(ROOT, "target", "release", "runtime"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1_000_000)
    a = ap.parse_args()
    runtime = os.path.abspath(a.runtime)
    if not os.path.exists(runtime):
        sys.exit(f"no runtime binary at {runtime}: cargo build --release -p runtime, or --runtime PATH")
    pb = pod_bench()
    data = pb.generate(a.rows)
    with open(os.path.join(data, "pod_usage.ndjson"), "rb") as f:  # warm the page cache
        md5 = hashlib.md5()
        while chunk := f.read(1 << 24):
            md5.update(chunk)
    print(f"input: {data} ({a.rows:,} rows, md5 {md5.hexdigest()})")
    print(f"runtime: {runtime} ({subprocess.run([runtime, '--version'], capture_output=True, text=True).stdout.strip()})")
    print(f"load average at start: {' '.join(open('/proc/loadavg').read().split()[:3])}")

    work = tempfile.mkdtemp(prefix="spark-bench-")
    log = os.path.join(work, "log.txt")
    shutil.copy(os.path.join(EX, "pipeline.toml"), work)
    os.symlink(data, os.path.join(work, "data"))
    env = dict(os.environ, RUNTIME_CACHE_DIR=os.path.join(ROOT, "target", "bench-cache"))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "integrations", "spark")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # Compile the plugins into the cache once, outside the timings.
    subprocess.run([runtime, "validate", os.path.join(work, "pipeline.toml")], env=env, check=True, capture_output=True)

    out = {"runtime run": os.path.join(work, "out", "pod_usage_daily"),
           "launcher": os.path.join(work, "out", "pod_usage_daily"),
           "plain PySpark": os.path.join(work, "pyspark_out")}
    report = os.path.join(work, "launcher-report.json")
    cmds = {
        "runtime run": [runtime, "run", "pipeline.toml", "-q", "--workers", "2", "--set", SINK],
        "launcher": [sys.executable, "-m", "runtime_spark", "run", "pipeline.toml", "--master", MASTER,
                     "--runtime", runtime, "--set", SINK, "--report", report],
        "plain PySpark": [sys.executable, os.path.join(ROOT, "bench", "spark", "impl_pyspark.py"), data,
                          out["plain PySpark"], "--master", MASTER],
    }
    times = {k: [] for k in cmds}
    extra = {k: [] for k in cmds}  # Spark session start-up per run, where known
    sums = {}
    phases = []  # the launcher's wall time, by phase (from its run report)
    for r in range(a.repeat):
        for name, cmd in cmds.items():
            shutil.rmtree(out[name], ignore_errors=True)
            wall, p = timed(cmd, work, env, log)
            times[name].append(wall)
            if name == "launcher":
                rep = json.load(open(report))
                extra[name].append(rep.get("engine", {}).get("session_seconds"))
                phases.append(launcher_phases(rep, wall))
            elif name == "plain PySpark":
                line = next((l for l in p.stderr.splitlines() if l.startswith("pyspark: session")), "")
                extra[name].append(float(line.split()[2]) if line else None)
            print(f"round {r + 1}: {name:14s} {wall:7.2f} s" +
                  (f"  (Spark session {extra[name][-1]:.2f} s)" if extra[name] and extra[name][-1] is not None else ""),
                  flush=True)
            sums[name] = pb.checksum(out[name])
            if name == "launcher":  # keep one copy for the row-for-row comparison
                shutil.rmtree(os.path.join(work, "launcher_out"), ignore_errors=True)
                shutil.copytree(out[name], os.path.join(work, "launcher_out"))
            if name == "runtime run":
                shutil.rmtree(os.path.join(work, "runtime_out"), ignore_errors=True)
                shutil.copytree(out[name], os.path.join(work, "runtime_out"))

    print()
    best = {k: min(v) for k, v in times.items()}
    for name in cmds:
        i = times[name].index(best[name])
        s = extra[name][i] if extra[name] else None
        print(f"{name:14s} best {best[name]:7.2f} s   all runs: {', '.join(f'{t:.2f}' for t in times[name])} s"
              + (f"   Spark session {s:.2f} s, the rest {best[name] - s:.2f} s" if s is not None else ""))
    ph = phases[times["launcher"].index(best["launcher"])]
    print("launcher, by phase:          " + ", ".join(f"{k} {v:.2f} s" for k, v in ph.items()))
    rt, la, ps = best["runtime run"], best["launcher"], best["plain PySpark"]
    over = la - rt
    print(f"\nlauncher / runtime run:      {la / rt:.2f}x")
    print(f"launcher overhead:           {over:.2f} s = {100 * over / rt:.0f}% of runtime run "
          f"(goal: under 30 s + 10% = {30 + 0.1 * rt:.2f} s: {'met' if over < 30 + 0.1 * rt else 'NOT met'})")
    print(f"plain PySpark / launcher:    {ps / la:.2f}x (goal: above 1: {'met' if ps > la else 'NOT met'})")
    print()
    for name in cmds:
        print(f"{name:14s} {sums[name]}")
    print("checksums: " + ("all identical" if len(set(sums.values())) == 1 else "DIFFERENT"))
    cmp = subprocess.run([sys.executable, os.path.join(EX, "checksum.py"), os.path.join(work, "runtime_out"),
                          os.path.join(work, "launcher_out"), out["plain PySpark"]], capture_output=True, text=True)
    print("\n".join(l for l in cmp.stdout.splitlines() if not l.startswith("/")))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
