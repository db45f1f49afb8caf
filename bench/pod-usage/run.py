#!/usr/bin/env python3
"""Pod-usage benchmark: the runtime next to the reference implementations.

Runs, one after another on the same generated input (1,000,000 rows, seed 42,
~455 MB), each from a warm page cache:

  runtime -> Parquet   examples/pod-usage/pipeline.toml (every parser and
                       transform a sandboxed WebAssembly component)
  runtime -> Delta     examples/pod-usage/pipeline-delta.toml
  DuckDB               examples/pod-usage/impl_duckdb.py
  Polars               examples/pod-usage/impl_polars.py

and prints wall time, peak memory, the ratios, and each output's CHECKSUM
(all must match SPEC.md). Usage:

  python3 bench/pod-usage/run.py [--rows 1000000] [--repeat 3] [--workers 2]

Needs a release build (`cargo build --release -p runtime`) and
`pip install duckdb polars pyarrow deltalake`.
"""
import argparse, hashlib, os, shutil, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "pod-usage")
RUNTIME = os.path.join(ROOT, "target", "release", "runtime")


def generate(rows):
    out = os.path.join(ROOT, "bench", "data", f"pod-usage-{rows}")
    if not os.path.exists(os.path.join(out, ".complete")):
        subprocess.run([sys.executable, os.path.join(EX, "gen.py"), "--rows", str(rows), "--out", out, "--seed", "42"], check=True)
        open(os.path.join(out, ".complete"), "w").close()
    return out


def timed(cmd, cwd=None, env=None):
    """(wall seconds, peak RSS MiB, stdout) of a command, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%e %M"] + cmd, cwd=cwd, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
        wall, rss = t.read().split()[-2:]
        return float(wall), int(rss) / 1024, p.stdout


def checksum(path):
    out = subprocess.run([sys.executable, os.path.join(EX, "checksum.py"), path], check=True, capture_output=True, text=True).stdout
    return out[out.index("CHECKSUM"):].strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    if not os.path.exists(RUNTIME):
        sys.exit("build first: cargo build --release -p runtime")
    data = generate(a.rows)
    with open(os.path.join(data, "pod_usage.ndjson"), "rb") as f:  # warm the page cache
        md5 = hashlib.md5()
        while chunk := f.read(1 << 24):
            md5.update(chunk)
    print(f"input: {data} ({a.rows:,} rows, md5 {md5.hexdigest()})")

    work = tempfile.mkdtemp(prefix="pod-bench-")
    for f in ["pipeline.toml", "pipeline-delta.toml"]:
        shutil.copy(os.path.join(EX, f), work)
    os.symlink(data, os.path.join(work, "data"))
    env = dict(os.environ, RUNTIME_CACHE_DIR=os.path.join(ROOT, "target", "bench-cache"))
    # Compile the plugins into the cache once, outside the timings.
    subprocess.run([RUNTIME, "validate", os.path.join(work, "pipeline.toml")], env=env, check=True, capture_output=True)

    runs = {
        "runtime -> Parquet": ([RUNTIME, "run", "pipeline.toml", "-q", "--workers", str(a.workers)], work, "out/pod_usage_daily.parquet"),
        "runtime -> Delta": ([RUNTIME, "run", "pipeline-delta.toml", "-q", "--workers", str(a.workers)], work, None),
        "DuckDB": ([sys.executable, os.path.join(EX, "impl_duckdb.py"), data, os.path.join(work, "duckdb.parquet")], None, "duckdb.parquet"),
        "Polars": ([sys.executable, os.path.join(EX, "impl_polars.py"), data, os.path.join(work, "polars.parquet")], None, "polars.parquet"),
    }
    best = {}
    for name, (cmd, cwd, out) in runs.items():
        times = []
        for _ in range(a.repeat):
            if name == "runtime -> Delta":
                shutil.rmtree(os.path.join(work, "out", "pod_usage_daily"), ignore_errors=True)
            times.append(timed(cmd, cwd=cwd, env=env)[:2])
        wall, rss = min(times)
        sums = checksum(os.path.join(work, out)) if out else "(Delta table)"
        best[name] = (wall, rss, sums)
        print(f"{name:20s} {wall:7.2f} s  {rss:8.0f} MiB peak   all runs: {', '.join(f'{t:.2f}' for t, _ in times)} s")
    print()
    fastest_ref = min(best["DuckDB"][0], best["Polars"][0])
    for name, (wall, rss, sums) in best.items():
        print(f"{name:20s} {wall / fastest_ref:5.2f}x the faster reference   {sums}")
    print(f"\nDelta overhead vs Parquet: {best['runtime -> Delta'][0] / best['runtime -> Parquet'][0]:.2f}x")
    ref = {v[2] for k, v in best.items() if v[2].startswith("CHECKSUM")}
    print("checksums: " + ("all identical" if len(ref) == 1 else f"DIFFERENT: {ref}"))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
