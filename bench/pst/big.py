#!/usr/bin/env python3
"""Big-mailbox PST benchmark (issue 12): the runtime's `pst` plugin against a
libpff walk and readpst on synthesized mailboxes of 2 GB and 10 GB, and on a
mix of the 10 GB file among 500 small ones.

1. Generates the mailboxes with tools/pst-synth (unless present) into
   bench/data/pstbig/: big2.pst (`--size 2GiB --seed 1`), big10.pst
   (`--size 10GiB --seed 2`) and small/small-000..499.pst (`--messages
   20..200`, seed 1000+i, `--max-attachment 1MiB`, so the 500 stay ~7 GB).
2. For every file set (`--sizes 2g,10g,mix`) and every tool, `--repeat`
   times, under `flock /work/.bench.lock` (`--lock`; fcntl.flock on that
   file, the lock flock(1) takes; taken for each timed run only, and
   released between runs): reads the inputs once (page cache), records the
   load average (`uptime`), times the tool, records the load again,
   measures the peak resident memory of the whole process tree (sampled
   every 10 ms) and the CPU time of it (getrusage of the children), then
   counts its messages and deletes its output.
   - runtime: `runtime run`, 2 workers, bundled `pst` plugin, every column
     of `messages` and `attachments` to Parquet, attachments sized and
     hashed but their bytes not written (`attachment_content = false`),
     big files cut into splits by `source.max_split_bytes` (`--max-split`,
     default 256 MiB; `runtime plan --json` is recorded);
   - libpff: libpff_split.py, `multiprocessing.Pool(2)`, big files split
     by folder (see that script), same fields, attachments hashed;
   - readpst: pst-utils, one file: `readpst -q -D -j 2 -o DIR FILE`; the
     mix: `xargs -P2` over the files (largest first), each `readpst -q -D -j 2`.
     readpst writes every message and attachment (base64) to mbox files;
     `-D` so that it includes Deleted Items, which it skips by default.
3. On the first repeat (unless `--no-check`), checks the runtime's output
   with tests/pst/synth_runtime_check.py (its exit code is the verdict: the
   script exits 1 at the end if it failed), and every tool's top-level
   message count against FILE.expected.json.
4. Prints and writes bench/out/pstbig/results.json.

`--sizes smoke` runs ten of the small files, to try the script quickly.

Usage: bench/pst/big.py [--sizes 2g,10g,mix] [--repeat 1] [--runtime BIN]
                        [--tools runtime,libpff,readpst] [--no-check]
                        [--lock /work/.bench.lock] [--wait-load 1.0]
                        [--synth BIN]
"""
import argparse
import fcntl
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import RssSampler  # noqa: E402  (one sampler for the PST benchmarks)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "bench/data/pstbig"
OUT = REPO / "bench/out/pstbig"
SYNTH = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release/pst-synth"
CHECK = REPO / "tests/pst/synth_runtime_check.py"
LOCK = "/work/.bench.lock"
SMALL = 500

# memory.py fills the same template with other limits and sink settings.
PIPELINE = """version = 1
name = "pst-big-bench"
{run}
[source]
plugin = "pst"
inputs = [{inputs}]
max_split_bytes = "{max_split}"
options = {{ attachment_content = false }}

[source.limits]
memory = "{memory}"
time = "60 min"

[sinks.messages]
input = "messages"
format = "parquet"
path = "{out}/messages.parquet"
{sink}
[sinks.attachments]
input = "attachments"
format = "parquet"
path = "{out}/attachments.parquet"
{sink}"""


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def busy_seconds():
    """CPU time the whole machine has spent busy (all but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def timed(cmd, stdin_data=None, **kwargs):
    """Runs `cmd`; returns seconds, peak tree RSS, CPU seconds (user+sys of
    the whole tree), stdout. Appends to OUTSIDE the machine's busy CPU
    seconds outside the tree during the run (this script's RSS sampler
    included): near 0 when nothing else ran."""
    busy0 = busy_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    stdin = subprocess.PIPE if stdin_data is not None else None
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, **kwargs)
    with RssSampler(proc.pid) as rss:
        stdout, _ = proc.communicate(stdin_data)
        seconds = time.perf_counter() - start
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1 = busy_seconds()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{cmd} exited with {proc.returncode}")
    TRACES.append(rss.trace)
    OUTSIDE.append(busy1 - busy0 - cpu)
    return seconds, rss.peak, cpu, stdout


TRACES = []
OUTSIDE = []


def synth(out, *args):
    if out.exists() and out.with_suffix(".expected.json").exists():
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([SYNTH_BIN[0], "--out", str(out), *args], check=True)


SYNTH_BIN = [str(SYNTH)]


def file_sets(sizes):
    sets = {}
    if "2g" in sizes:
        synth(DATA / "big2.pst", "--size", "2GiB", "--seed", "1")
        sets["2g"] = [DATA / "big2.pst"]
    if "10g" in sizes or "mix" in sizes:
        synth(DATA / "big10.pst", "--size", "10GiB", "--seed", "2")
    if "10g" in sizes:
        sets["10g"] = [DATA / "big10.pst"]
    if "mix" in sizes:
        small = []
        for i in range(SMALL):
            p = DATA / "small" / f"small-{i:03}.pst"
            synth(p, "--messages", str(20 + (i * 37) % 181), "--seed", str(1000 + i), "--max-attachment", "1MiB")
            small.append(p)
        sets["mix"] = [DATA / "big10.pst"] + small
    if "smoke" in sizes:  # ten small files, to try the script quickly
        sets["smoke"] = sorted((DATA / "small").glob("small-00?.pst"))
    return sets


def expected(files):
    top = 0
    for f in files:
        top += json.loads(f.with_suffix(".expected.json").read_text())["top_level_messages"]
    return top


def warm(files):
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(16 << 20):
                pass


class Locked:
    """flock(PATH) (`--lock`, /work/.bench.lock by default: the lock
    flock(1) takes, which other benchmarks and builds hold) around one timed
    run and its page-cache warm-up, with the load average read just after
    taking it and just before releasing it; `--lock ''` takes no lock.
    With `--wait-load X` it then waits, holding the lock, for the 1-minute
    load average to fall below X. `waited` is the time spent waiting for
    both."""

    def __init__(self, path, wait_load=None, wait_max=1200):
        self.path = path
        self.wait_load, self.wait_max = wait_load, wait_max
        self.waited = 0.0

    def __enter__(self):
        start = time.perf_counter()
        if self.path:
            self.fh = open(self.path, "a")
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        # Builds do not all take the lock: with `--wait-load X`, wait (up to
        # --wait-max seconds, then give up) for the 1-minute load average to
        # fall below X.
        while self.wait_load:
            with open("/proc/loadavg") as f:
                if float(f.read().split()[0]) < self.wait_load:
                    break
            if time.perf_counter() - start > self.wait_max:
                sys.exit(f"the 1-minute load stayed above {self.wait_load} for {self.wait_max:.0f} s: {uptime()}")
            time.sleep(5)
        self.waited = time.perf_counter() - start
        return self

    def __exit__(self, *exc):
        if self.path:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()


def write_pipeline(files, out, max_split):
    OUT.mkdir(parents=True, exist_ok=True)
    pipeline = OUT / "pipeline.toml"
    inputs = ", ".join(json.dumps(str(f)) for f in files)
    pipeline.write_text(PIPELINE.format(inputs=inputs, out=out, max_split=max_split, memory="512 MiB", run="",
                                        sink=""))
    return pipeline


def runtime_env():
    return dict(os.environ, RUNTIME_CACHE_DIR=str(OUT / "plugin-cache"))


def plan(args, files):
    pipeline = write_pipeline(files, OUT / "runtime", args.max_split)
    r = subprocess.run([args.runtime, "plan", str(pipeline), "--json", "--workers", str(args.workers)],
                       capture_output=True, text=True, check=True, env=runtime_env())
    p = json.loads(r.stdout)
    return {"splits": len(p["splits"]), "imbalance": p.get("imbalance"),
            "split_files": sum(1 for s in p["splits"] if "@messages=" in s["id"])}


def bench_runtime(args, files, check):
    out = OUT / "runtime"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pipeline = write_pipeline(files, out, args.max_split)
    report = OUT / "runtime-report.json"
    cmd = [args.runtime, "run", str(pipeline), "--workers", str(args.workers), "--report", str(report), "-q"]
    with Locked(args.lock, args.wait_load, args.wait_max) as lock:
        warm(files)
        before = uptime()
        seconds, peak, cpu, _ = timed(cmd, env=runtime_env())
        after = uptime()
    r = json.loads(report.read_text())
    assert r["status"] == "ok", r.get("error")
    import pyarrow.parquet as pq
    t = pq.read_table(out / "messages.parquet", columns=["parent_message_key"])
    messages = t.column(0).null_count
    res = {"seconds": seconds, "peak_bytes": peak, "cpu_seconds": cpu, "messages": messages,
           "cmd": cmd, "pipeline": pipeline.read_text(),
           "rows": t.num_rows, "load_before": before, "load_after": after, "lock_wait_seconds": lock.waited,
           "splits_ok": r["splits_ok"], "report_peak_rss_bytes": r.get("peak_rss_bytes"),
           "outputs": {o["name"]: {"rows": o["rows"], "bytes": o["bytes"]} for o in r["outputs"]}}
    if check:
        c = subprocess.run([sys.executable, str(CHECK), str(out / "messages.parquet"),
                            str(out / "attachments.parquet"), *map(str, files)],
                           capture_output=True, text=True)
        lines = c.stdout.strip().splitlines()
        mismatches = [x for x in lines if x.startswith("MISMATCH")]
        res["check"] = {"rc": c.returncode, "mismatches": mismatches[:20],
                        "files_ok": sum(1 for x in lines if ": ok: " in x), "files": len(files),
                        "summary_lines": [x for x in lines if not x.startswith("MISMATCH")][-5:],
                        "stderr": c.stderr[-2000:]}
        if c.returncode != 0:
            print("\n".join(mismatches[:50]), c.stderr[-4000:], file=sys.stderr)
    shutil.rmtree(out, ignore_errors=True)
    return res


def bench_libpff(args, files, check):
    cmd = [sys.executable, str(Path(__file__).with_name("libpff_split.py")), "--processes", str(args.workers),
           "--split-bytes", str(parse_size(args.max_split)), *map(str, files)]
    with Locked(args.lock, args.wait_load, args.wait_max) as lock:
        warm(files)
        before = uptime()
        seconds, peak, cpu, stdout = timed(cmd)
        after = uptime()
    r = json.loads(stdout)
    return {"seconds": seconds, "peak_bytes": peak, "cpu_seconds": cpu, "messages": r["messages"],
            "cmd": cmd, "failed": r["failed"], "tasks": r["tasks"], "attachments": r["attachments"],
            "attachment_bytes": r["attachment_bytes"], "load_before": before, "load_after": after,
            "lock_wait_seconds": lock.waited}


def bench_readpst(args, files, check):
    out = OUT / "readpst"
    shutil.rmtree(out, ignore_errors=True)
    # readpst's mbox output is ~1.27x its input (base64 attachments): 13.8 GB
    # for the 10 GB file, 23.9 GB for the mix. Refuse rather than fill the disk.
    need = int(1.3 * sum(f.stat().st_size for f in files)) + (2 << 30)
    free = shutil.disk_usage(OUT).free
    if free < need:
        sys.exit(f"readpst: {free / 1e9:.1f} GB free under {OUT}, needs ~{need / 1e9:.1f} GB for its output")
    for f in files:
        (out / f.stem).mkdir(parents=True)
    jobs = str(args.workers)
    if len(files) == 1:
        f = files[0]
        cmd, stdin = ["readpst", "-q", "-D", "-j", jobs, "-o", str(out / f.stem), str(f)], None
    else:
        order = sorted(files, key=lambda f: -f.stat().st_size)
        stdin = "".join(f"{f}\n" for f in order).encode()
        cmd = ["xargs", f"-P{args.workers}", "-I{}", "sh", "-c",
               f'readpst -q -D -j {jobs} -o "{out}/$(basename "$1" .pst)" "$1"', "_", "{}"]
    with Locked(args.lock, args.wait_load, args.wait_max) as lock:
        warm(files)
        before = uptime()
        seconds, peak, cpu, _ = timed(cmd, stdin_data=stdin)
        after = uptime()
    out_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    # Top-level messages: mbox "From " separator lines (readpst writes
    # embedded messages inside their parent, as message/rfc822 parts).
    g = subprocess.run(["grep", "-rc", "^From ", str(out)], capture_output=True, text=True)
    messages = sum(int(line.rsplit(":", 1)[1]) for line in g.stdout.splitlines() if ":" in line)
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "peak_bytes": peak, "cpu_seconds": cpu, "messages": messages,
            "output_bytes": out_bytes, "cmd": cmd, "load_before": before, "load_after": after,
            "lock_wait_seconds": lock.waited}


def parse_size(s):
    n, unit = s.split()
    return int(float(n) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit])


TOOLS = {"runtime": bench_runtime, "libpff": bench_libpff, "readpst": bench_readpst}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2g,10g,mix")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tool per file set; the best is kept")
    parser.add_argument("--runtime", default=str(REPO / "target/release/runtime"))
    parser.add_argument("--tools", default="runtime,libpff,readpst")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-split", default="256 MiB", help="source.max_split_bytes, and libpff's split threshold")
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--lock", default=LOCK, help="file to flock around each timed run ('' for none)")
    parser.add_argument("--wait-load", type=float, help="after taking the lock, wait for the 1-min load to fall below this")
    parser.add_argument("--wait-max", type=float, default=1200,
                        help="longest wait for --wait-load, seconds; then big.py gives up")
    parser.add_argument("--synth", default=str(SYNTH), help="the pst-synth binary (only to make missing files)")
    parser.add_argument("--results", default=str(OUT / "results.json"))
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    tools = args.tools.split(",")
    OUT.mkdir(parents=True, exist_ok=True)
    SYNTH_BIN[0] = args.synth
    sets = file_sets(sizes)
    results_path = Path(args.results)
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    failed = []
    for name in sizes:
        files = sets[name]
        size = sum(f.stat().st_size for f in files)
        entry = results.setdefault(name, {})
        entry.update(files=len(files), bytes=size, expected_top_level_messages=expected(files),
                     date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if "runtime" in tools:
            entry["plan"] = plan(args, files)
            print(f"{name}: runtime plan {entry['plan']}", flush=True)
        for rep in range(args.repeat):
            for tool in tools:
                r = TOOLS[tool](args, files, check=not args.no_check and rep == 0)
                r["messages_per_second"] = r["messages"] / r["seconds"]
                r["mb_per_second"] = size / 1e6 / r["seconds"]
                r["cores_used"] = r["cpu_seconds"] / r["seconds"]
                r["repeat"] = rep
                r["rss_trace"] = TRACES[-1]
                r["busy_cpu_seconds_outside_tree"] = OUTSIDE[-1]
                print(f"{name} {tool}: {r['seconds']:.1f} s, {r['messages']} msgs "
                      f"(expected {entry['expected_top_level_messages']}), {r['messages_per_second']:.0f} msgs/s, "
                      f"{r['mb_per_second']:.0f} MB/s, peak {r['peak_bytes'] / 2**20:.0f} MiB, "
                      f"{r['cores_used']:.2f} cores, {r['busy_cpu_seconds_outside_tree']:.1f} CPU s outside; "
                      f"{r['load_before']} -> {r['load_after']}"
                      + (f"; check rc {r['check']['rc']}, {r['check']['files_ok']} of {r['check']['files']} files ok"
                         if "check" in r else ""), flush=True)
                if r.get("check", {}).get("rc", 0) != 0:
                    failed.append(f"{name} {tool}: synth_runtime_check.py exited with {r['check']['rc']}")
                prev = entry.get(tool)
                # Runs made with another command line (an older version of
                # this script, other options) are not compared with this one.
                runs = [x for x in (prev or {}).get("runs", []) if x.get("cmd") == r["cmd"]] + [r]
                best = min(runs, key=lambda x: x["seconds"])
                entry[tool] = dict(best, runs=runs)
                results_path.write_text(json.dumps(results, indent=2) + "\n")
        if "runtime" in entry and "libpff" in entry:
            entry["runtime_vs_libpff_msgs"] = (entry["runtime"]["messages_per_second"]
                                               / entry["libpff"]["messages_per_second"])
        results_path.write_text(json.dumps(results, indent=2) + "\n")

    print(f"\n{'set':<5} {'tool':<8} {'wall s':>8} {'msgs':>7} {'msgs/s':>8} {'MB/s':>6} {'peak MiB':>9} {'cores':>6}")
    for name in sizes:
        e = results[name]
        for tool in ("runtime", "libpff", "readpst"):
            if tool in e:
                r = e[tool]
                print(f"{name:<5} {tool:<8} {r['seconds']:>8.1f} {r['messages']:>7} {r['messages_per_second']:>8.0f} "
                      f"{r['mb_per_second']:>6.0f} {r['peak_bytes'] / 2**20:>9.0f} {r['cores_used']:>6.2f}")
        if "runtime_vs_libpff_msgs" in e:
            print(f"{name:<5} runtime/libpff messages/s: {e['runtime_vs_libpff_msgs']:.2f}x")
    print(f"results: {os.path.relpath(results_path)}")
    if failed:
        sys.exit("\n".join(failed))


if __name__ == "__main__":
    main()
