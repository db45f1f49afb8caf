#!/usr/bin/env python3
"""Two `runtime` binaries on the pod-usage pipeline, interleaved: the cost of
one change measured on the same data in the same minutes.

    python3 bench/pod-usage/ab.py BEFORE_BINARY AFTER_BINARY [--runs 9] [--rows 1000000] [--workers 2]
        [--pipeline FILE] [--before-pipeline FILE]

Each binary keeps its own compiled-plugin cache (compiled once, outside the
timings). Runs alternate (A, B, B, A, ...) so a drift in machine load hits
both alike. For each run: wall time and CPU time (user + sys of the process,
from wait4), and the output's CHECKSUM line, which must be the same for
both. Prints best and median of each and the ratios. Build the binaries
with `cargo build --release -p runtime` at each commit and copy them aside.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import EX, checksum, generate  # noqa: E402


def one(binary, pipeline, work, env, workers):
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen([binary, "run", pipeline, "-q", "--workers", str(workers)], cwd=work, env=env,
                             stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{binary} failed:\n{err.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pipeline", default=os.path.join(EX, "pipeline.toml"),
                    help="the pipeline both run (default: examples/pod-usage/pipeline.toml; give an older "
                         "commit's when the before binary predates a key it uses)")
    ap.add_argument("--before-pipeline",
                    help="the pipeline the before binary runs, when it differs (a change that comes with a "
                         "pipeline setting: measure the old pipeline on the old binary against the new on the new)")
    a = ap.parse_args()
    data = generate(a.rows)
    work = tempfile.mkdtemp(prefix="pod-ab-")
    shutil.copy(a.pipeline, os.path.join(work, "pipeline.toml"))
    shutil.copy(a.before_pipeline or a.pipeline, os.path.join(work, "pipeline-before.toml"))
    os.symlink(data, os.path.join(work, "data"))
    sides = {}
    for name, binary in (("before", a.before), ("after", a.after)):
        env = dict(os.environ, RUNTIME_CACHE_DIR=os.path.join(work, f"cache-{name}"))
        pipeline = "pipeline-before.toml" if name == "before" else "pipeline.toml"
        one(binary, pipeline, work, env, a.workers)  # compile the plugins into the cache, warm the page cache
        sides[name] = {"binary": binary, "pipeline": pipeline, "env": env, "wall": [], "cpu": [],
                       "checksum": checksum(os.path.join(work, "out/pod_usage_daily.parquet"))}
    order = ["before", "after"]
    for i in range(a.runs):
        for name in order if i % 2 == 0 else reversed(order):
            s = sides[name]
            wall, cpu = one(s["binary"], s["pipeline"], work, s["env"], a.workers)
            s["wall"].append(wall)
            s["cpu"].append(cpu)
    load = os.getloadavg()
    print(f"{a.rows:,} rows, {a.workers} workers, {a.runs} runs each, interleaved; load average now "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, s in sides.items():
        print(f"{name:6s} {s['binary']}")
        print(f"       wall best {min(s['wall']):.3f} s, median {statistics.median(s['wall']):.3f} s; "
              f"CPU best {min(s['cpu']):.3f} s, median {statistics.median(s['cpu']):.3f} s")
        print(f"       {s['checksum']}")
    b, f = sides["before"], sides["after"]
    for what in ("wall", "cpu"):
        best = min(f[what]) / min(b[what]) - 1
        median = statistics.median(f[what]) / statistics.median(b[what]) - 1
        print(f"after vs before, {what}: best {best:+.2%}, median {median:+.2%}")
    same = b["checksum"] == f["checksum"]
    print("checksums: " + ("identical" if same else "DIFFERENT"))
    shutil.rmtree(work)
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
