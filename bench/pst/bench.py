#!/usr/bin/env python3
"""PST throughput benchmark: the runtime's `pst` plugin against readpst and
a libpff Python walk, on 1,400 small real mailboxes.

1. Builds the runtime (release) unless `--no-build`.
2. Makes the corpus: the 7 real PSTs of `tests/fixtures/pst/` copied 200
   times each (`--copies`) into `bench/data/pst/` (1,400 files, 371 MiB).
3. Reads every file once so all three tools start with a warm page cache,
   and fills the runtime's compiled-plugin cache with a run on the 7
   originals (so compiling the plugin is not timed).
4. In one go, times:
   - runtime: `runtime run` on all files, 2 workers, the bundled `pst`
     plugin, every column of `messages` and `attachments` with attachment
     bytes (`attachment_content = true`), written to Parquet;
   - readpst (pst-utils): `xargs -P2`, one process per file, default mbox
     output into one folder per file (folders made before timing);
   - libpff: `libpff_walk.py`, `multiprocessing.Pool(2)`, reading subject,
     sender, recipients, bodies, headers, times and hashing attachment bytes.
5. Prints files/s, messages/s, peak memory (resident memory of the whole
   process tree, sampled every 10 ms) and the runtime's ratios to the
   others; writes everything to `bench/out/pst/results.json`.

Messages are what each tool produced: the runtime's top-level `messages`
rows (embedded messages are rows too but are not counted, as libpff does
not list them); libpff's items; readpst's mbox messages, vCards and
calendar events in its output (6 of the 13 items per copy set).

Usage: bench/pst/bench.py [--copies 200] [--workers 2] [--runs 1] [--no-build]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests/fixtures/pst"
DATA = REPO / "bench/data/pst"
OUT = REPO / "bench/out/pst"
RUNTIME = REPO / "target/release/runtime"
PAGE = os.sysconf("SC_PAGE_SIZE")

PIPELINE = """version = 1
name = "pst-bench"

[source]
plugin = "pst"
inputs = ["{inputs}"]
options = {{ attachment_content = true }}

[source.limits]
memory = "512 MiB"
time = "30 min"

[sinks.messages]
input = "messages"
format = "parquet"
path = "{out}/messages.parquet"

[sinks.attachments]
input = "attachments"
format = "parquet"
path = "{out}/attachments.parquet"

[run]
max_failed_splits = "50%"
"""


def tree_rss(pid):
    """Resident bytes of a process and all its descendants."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


class RssSampler:
    """Samples tree_rss(pid) every 10 ms on a thread, from `with` to its end:
    `peak` is the highest sample; `trace` one (seconds, bytes) a second
    (is memory flat over a run?). Shared by the benchmarks' timers."""

    def __init__(self, pid):
        self.pid, self.peak, self.trace = pid, 0, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._start = time.perf_counter()

    def _run(self):
        while not self._done.is_set():
            rss = tree_rss(self.pid)
            self.peak = max(self.peak, rss)
            t = time.perf_counter() - self._start
            if not self.trace or t - self.trace[-1][0] >= 1:
                self.trace.append((round(t, 1), rss))
            self._done.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        return False


def timed(cmd, stdin_data=None, **kwargs):
    """Runs `cmd` (fed `stdin_data`, if given); returns (seconds, peak tree
    RSS in bytes, stdout)."""
    start = time.perf_counter()
    stdin = subprocess.PIPE if stdin_data is not None else None
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, **kwargs)
    with RssSampler(proc.pid) as rss:
        stdout, _ = proc.communicate(stdin_data)
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} exited with {proc.returncode}")
    return seconds, rss.peak, stdout


def make_corpus(copies):
    sources = sorted(FIXTURES.glob("*.pst"))
    want = {f"{s.stem}-{i:03}.pst" for s in sources for i in range(copies)}
    if DATA.is_dir() and {p.name for p in DATA.glob("*.pst")} == want:
        return sorted(DATA.glob("*.pst"))
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    for s in sources:
        data = s.read_bytes()
        for i in range(copies):
            (DATA / f"{s.stem}-{i:03}.pst").write_bytes(data)
    return sorted(DATA.glob("*.pst"))


def bench_runtime(files, workers):
    out = OUT / "runtime"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pipeline = OUT / "pipeline.toml"
    pipeline.write_text(PIPELINE.format(inputs=f"{os.path.relpath(DATA, OUT)}/*.pst", out="runtime"))
    report = OUT / "runtime-report.json"
    env = dict(os.environ, RUNTIME_CACHE_DIR=str(OUT / "plugin-cache"))
    cmd = [str(RUNTIME), "run", str(pipeline), "--workers", str(workers), "--report", str(report), "-q"]
    seconds, peak, _ = timed(cmd, env=env)
    r = json.loads(report.read_text())
    assert r["status"] == "ok" and r["splits_ok"] == len(files), r["error"]
    messages = json.loads(subprocess.run(
        [sys.executable, "-c", "import pyarrow.parquet as pq, sys;"
         "t = pq.read_table(sys.argv[1], columns=['parent_message_key']);"
         "print(t.column(0).null_count, t.num_rows)", str(out / "messages.parquet")],
        capture_output=True, text=True, check=True).stdout.split()[0])
    return {
        "tool": "runtime", "seconds": seconds, "peak_bytes": peak, "files": len(files),
        "messages": messages, "report_peak_rss_bytes": r["peak_rss_bytes"],
        "report_elapsed_seconds": r["elapsed_seconds"],
        "outputs": {o["name"]: {"rows": o["rows"], "bytes": o["bytes"]} for o in r["outputs"]},
    }


def warm_plugin_cache(workers):
    pipeline = OUT / "warm.toml"
    pipeline.write_text(PIPELINE.format(inputs=f"{os.path.relpath(FIXTURES, OUT)}/*.pst", out="warm"))
    env = dict(os.environ, RUNTIME_CACHE_DIR=str(OUT / "plugin-cache"))
    subprocess.run([str(RUNTIME), "run", str(pipeline), "--workers", str(workers), "-q"], env=env, check=True)


def bench_readpst(files, workers):
    out = OUT / "readpst"
    shutil.rmtree(out, ignore_errors=True)
    for f in files:
        (out / f.stem).mkdir(parents=True)
    stems = "".join(f"{f.stem}\n" for f in files).encode()
    cmd = ["xargs", f"-P{workers}", "-I{}", "readpst", "-q", "-o", f"{out}/{{}}", f"{DATA}/{{}}.pst"]
    seconds, peak, _ = timed(cmd, stdin_data=stems)
    messages = 0
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            messages += text.count(b"\nFrom ") + text.startswith(b"From ")
            messages += text.count(b"BEGIN:VCARD") + text.count(b"BEGIN:VEVENT")
    return {"tool": "readpst", "seconds": seconds, "peak_bytes": peak, "files": len(files), "messages": messages}


def bench_libpff(files, workers):
    cmd = [sys.executable, str(Path(__file__).with_name("libpff_walk.py")), "--processes", str(workers)]
    seconds, peak, stdout = timed(cmd + [str(f) for f in files])
    r = json.loads(stdout)
    assert r["failed"] == 0, r
    return {"tool": "libpff", "seconds": seconds, "peak_bytes": peak, "files": len(files),
            "messages": r["messages"], "attachment_bytes": r["attachment_bytes"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="runs of each tool; the best is kept")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "runtime"], cwd=REPO, check=True)
    for tool in ("readpst", "xargs"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install pst-utils)")
    OUT.mkdir(parents=True, exist_ok=True)
    files = make_corpus(args.copies)
    for f in files:
        f.read_bytes()
    warm_plugin_cache(args.workers)

    results = {}
    load_before = os.getloadavg()
    for _ in range(args.runs):
        for name, run in (("runtime", bench_runtime), ("readpst", bench_readpst), ("libpff", bench_libpff)):
            r = run(files, args.workers)
            if name not in results or r["seconds"] < results[name]["seconds"]:
                results[name] = r

    load = os.getloadavg()
    print(f"{len(files)} files ({sum(f.stat().st_size for f in files) / 2**20:.0f} MiB), "
          f"{args.workers} workers, {os.cpu_count()} CPUs, best of {args.runs}; "
          f"load average before {load_before[0]:.2f}, after {load[0]:.2f}")
    print(f"{'tool':<8} {'seconds':>8} {'files/s':>8} {'messages':>9} {'msgs/s':>8} {'peak MiB':>9}")
    for r in results.values():
        r["files_per_second"] = r["files"] / r["seconds"]
        r["messages_per_second"] = r["messages"] / r["seconds"]
        print(f"{r['tool']:<8} {r['seconds']:>8.2f} {r['files_per_second']:>8.0f} {r['messages']:>9} "
              f"{r['messages_per_second']:>8.0f} {r['peak_bytes'] / 2**20:>9.1f}")
    rt = results["runtime"]
    for other in ("libpff", "readpst"):
        o = results[other]
        ratio = rt["files_per_second"] / o["files_per_second"]
        print(f"runtime vs {other}: {ratio:.2f}x files/s, "
              f"{rt['messages_per_second'] / o['messages_per_second']:.2f}x messages/s, "
              f"{rt['peak_bytes'] / o['peak_bytes']:.2f}x peak memory")
    results["load_average"] = {"before": load_before[0], "after": load[0]}
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {os.path.relpath(OUT / 'results.json')}")


if __name__ == "__main__":
    main()
