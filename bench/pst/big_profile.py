#!/usr/bin/env python3
"""Where the runtime's time goes on one big mailbox: runs the big-mailbox
benchmark's runtime pipeline (bench/pst/big.py: 2 workers, `pst` plugin,
attachment_content = false, max_split_bytes 256 MiB) over
bench/data/pstbig/big2.pst under `perf record -g` (frame-pointer call
graphs; wasmtime's compiled artifact names the plugin's functions), under
`flock /work/.bench.lock`, and prints the top symbols by self time, and the
self time per thread (comm) and per object (the plugin's compiled code is
the `.cwasm` file in the plugin cache).

Run bench/pst/big.py --sizes 2g first (it makes the file and the plugin
cache). Writes bench/out/pstbig/perf.data and perf-top.txt.

Usage: bench/pst/big_profile.py [--runtime BIN] [--frequency 499] [--top 40]
"""
import argparse
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import big  # noqa: E402


def report(data, sort, top):
    text = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", sort, "--stdio",
                           "-g", "none", "--percent-limit", "0.3"],
                          capture_output=True, text=True, check=True).stdout
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("#")]
    return lines[:top]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default=str(big.REPO / "target/release/runtime"))
    parser.add_argument("--frequency", type=int, default=499)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--max-split", default="256 MiB")
    args = parser.parse_args()
    files = [big.DATA / "big2.pst"]
    out = big.OUT / "runtime"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pipeline = big.write_pipeline(files, out, args.max_split)
    data = big.OUT / "perf.data"
    cmd = ["perf", "record", "-q", "-g", "-F", str(args.frequency), "-o", str(data), "--",
           args.runtime, "run", str(pipeline), "--workers", "2", "-q"]
    with open(big.LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        big.warm(files)
        before = big.uptime()
        seconds, peak, cpu, _ = big.timed(cmd, env=big.runtime_env())
        after = big.uptime()
        fcntl.flock(lock, fcntl.LOCK_UN)
    shutil.rmtree(out, ignore_errors=True)
    parts = [f"perf record -g -F {args.frequency}: {seconds:.1f} s wall, {cpu:.1f} s CPU, "
             f"load {before} -> {after}", "", "## self time by thread", *report(data, "comm", args.top), "",
             "## self time by object", *report(data, "dso", args.top), "",
             "## top symbols (self time)", *report(data, "comm,dso,symbol", args.top)]
    text = "\n".join(parts) + "\n"
    (big.OUT / "perf-top.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
