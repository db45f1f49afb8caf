#!/usr/bin/env python3
"""Parquet/CSV reader benchmark (issue 11): the runtime against DuckDB and
Polars, side by side in one run, on the data of gen.py.

    run.py [--data bench/data/parquet] [--runtime /work/bins/runtime-parquetbench]
           [--repeat 2] [--workloads small,big,csv] [--tools runtime,duckdb,polars]
           [--workers 2] [--out bench/out/parquet] [--lock /work/.bench.lock]

Workloads (inputs from `gen.py`; row counts and checksums from its
manifest.json):

- small: 20,000 small Parquet files named in `small/files.txt`;
- big:   one ~2 GB Parquet file with 32 row groups;
- csv:   one ~2 GB CSV file.

Each tool reads all rows and columns and writes one snappy Parquet file:

- runtime: `runtime run {small,big,csv}.toml --workers 2 --report R -q`
  (the pipelines of this folder, rendered with absolute paths; sandboxed
  `parquet` / `csv` reader plugins; the sink is one Parquet file);
- duckdb, polars: `peers.py` in a subprocess (DuckDB `threads = 2`;
  Polars with `POLARS_MAX_THREADS=2`).

Before timing: every input is read once (warm page cache) and the
runtime's plugins are compiled into its cache (`runtime validate` with
`RUNTIME_CACHE_DIR` set), so compiling is not timed. Then, per round and
workload, one "set": all tools one after the other, the order reversed
every other round. Each timed run holds an exclusive flock(2) on the
`--lock` file (default /work/.bench.lock, the lock `flock(1)` takes;
`--lock ''` for none), taken before its clock starts and released after
it stops; the load average at both ends is recorded per run. Each run is
timed by wall clock; peak RSS is the resident memory of the whole
process tree, sampled every 10 ms from /proc. After each run (not timed)
the output is read back with DuckDB and its rows, sum(quantity),
count(comment) and sum(id) compared with manifest.json; a mismatch or a
failed run is reported and stops the benchmark. The best of `--repeat`
runs per tool is reported, with rows/s and the ratios runtime/DuckDB and
runtime/Polars. Everything goes to OUT/results.json.
"""
import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOCK = "/work/.bench.lock"  # --lock default
WORKLOADS = {  # name -> (pipeline, input relative to --data, manifest key)
    "small": ("small.toml", "small/files.txt", "small"),
    "big": ("big.toml", "big.parquet", "big"),
    "csv": ("csv.toml", "big.csv", "csv"),
}


def _pst_bench():
    """bench/pst/bench.py, for its RSS sampler (one copy of the /proc walk)."""
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "pst" / "bench.py"
    spec = importlib.util.spec_from_file_location("pst_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Samples the resident memory of a process and all its descendants.
RssSampler = _pst_bench().RssSampler


def timed(cmd, env=None):
    """Runs `cmd`; returns (seconds, peak tree RSS bytes, returncode, stderr tail)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    with RssSampler(proc.pid) as rss:
        _, stderr = proc.communicate()
        seconds = time.perf_counter() - start
    return seconds, rss.peak, proc.returncode, stderr.decode(errors="replace")[-4000:]


@contextlib.contextmanager
def bench_lock(path):
    """Holds an exclusive flock on `path` (nothing if empty); yields the seconds waited."""
    if not path:
        yield 0.0
        return
    with open(path, "a") as f:
        t = time.perf_counter()
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield time.perf_counter() - t
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def render_pipeline(name, data, out):
    text = (HERE / name).read_text()
    text = text.replace('"../data/parquet/', f'"{data}/').replace('"../out/parquet/', f'"{out}/')
    dst = out / "pipelines" / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text)
    return dst


def check(con, path, want):
    """Reads an output back; returns (ok, what it holds)."""
    got = con.execute(
        "SELECT count(*), sum(quantity), count(comment), sum(id) FROM read_parquet(?)", [str(path)]).fetchone()
    got = dict(zip(("rows", "sum_quantity", "count_comment", "sum_id"), (int(x or 0) for x in got)))
    return all(got[k] == want[k] for k in got), got


def command(tool, workload, args, data, out):
    pipeline, rel, _ = WORKLOADS[workload]
    dst = out / tool / f"{workload}.parquet"
    env = dict(os.environ)
    if tool == "runtime":
        env["RUNTIME_CACHE_DIR"] = str(out / "plugin-cache")
        report = out / "runtime" / f"{workload}-report.json"
        cmd = [str(args.runtime), "run", str(out / "pipelines" / pipeline), "--workers", str(args.workers),
               "--report", str(report), "-q"]
    else:
        env["POLARS_MAX_THREADS"] = str(args.workers)
        cmd = [sys.executable, str(HERE / "peers.py"), tool, workload, str(data / rel), str(dst),
               "--threads", str(args.workers)]
    return cmd, env, dst


def versions(tools, runtime):
    v = {"python": sys.version.split()[0]}
    import duckdb, polars, pyarrow
    v.update(duckdb=duckdb.__version__, polars=polars.__version__, pyarrow=pyarrow.__version__)
    if "runtime" in tools:
        r = subprocess.run([str(runtime), "--version"], capture_output=True, text=True)
        v["runtime"] = (r.stdout or r.stderr).strip()
    return v


def mib(b):
    return b / 1048576


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "bench/data/parquet")
    ap.add_argument("--out", type=Path, default=REPO / "bench/out/parquet")
    ap.add_argument("--runtime", type=Path, default=Path("/work/bins/runtime-parquetbench"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="runtime --workers, DuckDB threads, POLARS_MAX_THREADS")
    ap.add_argument("--workloads", default="small,big,csv")
    ap.add_argument("--tools", default="runtime,duckdb,polars")
    ap.add_argument("--lock", default=LOCK, help="hold an exclusive flock on this file during each timed run "
                    "('' for none)")
    ap.add_argument("--keep-going", action="store_true", help="report a failed run and go on")
    args = ap.parse_args()
    data, out = args.data.resolve(), args.out.resolve()
    workloads = args.workloads.split(",")
    tools = args.tools.split(",")
    manifest = json.loads((data / "manifest.json").read_text())
    out.mkdir(parents=True, exist_ok=True)

    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {args.workers}")

    meta = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "nproc": os.cpu_count(), "data": str(data), "scale": manifest["scale"],
        "versions": versions(tools, args.runtime), "workers": args.workers, "repeat": args.repeat,
        "runtime_binary": str(args.runtime), "lock": args.lock,
    }
    print(f"# {meta['started']}  {meta['uptime_before']}", flush=True)
    print(f"# versions: {json.dumps(meta['versions'])}", flush=True)

    # Warm the page cache; compile the runtime's plugins (not timed).
    for w in workloads:
        rel = WORKLOADS[w][1]
        files = [data / rel]
        if w == "small":
            files += [data / "small" / l.strip() for l in (data / rel).read_text().splitlines() if l.strip()]
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass
        if "runtime" in tools:
            p = render_pipeline(WORKLOADS[w][0], data, out)
            env = dict(os.environ, RUNTIME_CACHE_DIR=str(out / "plugin-cache"))
            subprocess.run([str(args.runtime), "validate", str(p)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            plan = subprocess.run([str(args.runtime), "plan", str(p), "--json", "--workers", str(args.workers)],
                                  env=env, capture_output=True, text=True)
            if plan.returncode == 0:
                try:
                    pj = json.loads(plan.stdout)
                    n = pj.get("splits_total", len(pj.get("splits", [])))
                    meta.setdefault("runtime_splits", {})[w] = n
                    print(f"# runtime plan {w}: {n} splits", flush=True)
                except (ValueError, KeyError, TypeError):
                    pass

    runs = []
    for r in range(args.repeat):
        for w in workloads:
            order = tools if r % 2 == 0 else tools[::-1]
            want = manifest[WORKLOADS[w][2]]
            load0 = loadavg()
            for tool in order:
                cmd, env, dst = command(tool, w, args, data, out)
                shutil.rmtree(out / tool / w, ignore_errors=True)
                if dst.exists():
                    dst.unlink()
                dst.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(["sync"])
                with bench_lock(args.lock) as waited:
                    load_before = loadavg()
                    seconds, peak, rc, err = timed(cmd, env)
                    load_after = loadavg()
                rec = {"round": r, "workload": w, "tool": tool, "seconds": seconds, "peak_rss_bytes": peak,
                       "returncode": rc, "cmd": cmd, "lock_wait_seconds": waited, "load_before": load_before,
                       "load_after": load_after, "load_before_set": load0}
                if rc != 0:
                    rec["error"] = err
                    rec["ok"] = False
                else:
                    rec["ok"], rec["got"] = check(con, dst, want)
                    rec["output_bytes"] = dst.stat().st_size
                    if tool == "runtime":
                        rep = json.loads((out / "runtime" / f"{w}-report.json").read_text())
                        rec["report"] = {k: rep.get(k) for k in ("status", "elapsed_seconds", "peak_rss_bytes",
                                                                   "splits_ok", "splits_failed")}
                runs.append(rec)
                status = "ok" if rec["ok"] else ("FAILED rc=%d" % rc if rc else f"WRONG {rec['got']}")
                print(f"round {r} {w:5} {tool:7} {seconds:8.2f} s  {mib(peak):8.0f} MiB  {status}  "
                      f"(load {load_before} -> {load_after})", flush=True)
                if not rec["ok"]:
                    print(err, file=sys.stderr)
                    if not args.keep_going:
                        (out / "results.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2))
                        sys.exit(1)
                if dst.exists():
                    dst.unlink()  # keep the disk free; the checks are done
            rec_load = loadavg()
            for x in runs:
                if x["round"] == r and x["workload"] == w:
                    x["load_after_set"] = rec_load
            print(f"#   load {load0} -> {rec_load}", flush=True)

    meta["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    # Summary: best of the repeats per (workload, tool).
    summary = {}
    print()
    print(f"| workload | input | tool | best wall | all runs | rows/s | input MB/s | peak RSS (tree) | check |")
    print(f"| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w in workloads:
        m = manifest[WORKLOADS[w][2]]
        desc = {"small": f"{m.get('files', 0):,} files, {m['bytes'] / 1e9:.2f} GB",
                "big": f"1 file, {m.get('row_groups')} row groups, {m['bytes'] / 1e9:.2f} GB",
                "csv": f"1 file, {m['bytes'] / 1e9:.2f} GB"}[w]
        for tool in tools:
            rs = [x for x in runs if x["workload"] == w and x["tool"] == tool and x["ok"]]
            if not rs:
                print(f"| {w} | {desc} | {tool} | failed | | | | | |")
                continue
            best = min(rs, key=lambda x: x["seconds"])
            s = best["seconds"]
            summary[(w, tool)] = {"seconds": s, "peak_rss_bytes": max(x["peak_rss_bytes"] for x in rs),
                                  "best_run_peak_rss_bytes": best["peak_rss_bytes"]}
            allr = ", ".join(f"{x['seconds']:.2f}" for x in rs)
            print(f"| {w} | {desc} | {tool} | {s:.2f} s | {allr} | {m['rows'] / s / 1e6:.2f} M | "
                  f"{m['bytes'] / s / 1e6:.0f} | {mib(summary[(w, tool)]['peak_rss_bytes']):,.0f} MiB | "
                  f"{m['rows']:,} rows, sums equal |")
    print()
    ratios = {}
    for w in workloads:
        rt = summary.get((w, "runtime"))
        for peer in ("duckdb", "polars"):
            p = summary.get((w, peer))
            if rt and p:
                ratios[f"{w} runtime/{peer}"] = {
                    "time": rt["seconds"] / p["seconds"],
                    "peak_rss": rt["peak_rss_bytes"] / p["peak_rss_bytes"]}
                print(f"{w:5} runtime/{peer:6}: time {rt['seconds'] / p['seconds']:.2f}x, "
                      f"peak RSS {rt['peak_rss_bytes'] / p['peak_rss_bytes']:.2f}x")
    print(f"# {meta['finished']}  {meta['uptime_after']}")
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "runs": runs,
         "summary": [{"workload": w, "tool": t, **v} for (w, t), v in summary.items()],
         "ratios": ratios}, indent=2) + "\n")
    print(out / "results.json")


if __name__ == "__main__":
    main()
