#!/usr/bin/env python3
"""Flat `perf record` profile of one `runtime run`, by thread and symbol.

    perf_threads.py PERF.DATA [TOP]

Prints, per thread name (main plans, worker-N run the reader plugin,
writer encodes the output), its share of all samples and its TOP (12)
symbols, each as a share of all samples. Code of a wasm plugin is shown
as `plugin.cwasm` (wasmtime names it `wasm[0]::function[N]::<rust
symbol>`; the prefix and the Rust hash are dropped). Also prints when
the first sample, the first worker sample and the last sample fell, so
the time spent planning before any worker starts is visible.
"""
import collections
import re
import subprocess
import sys


def main():
    data = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,time,ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    by_comm, by_sym, total = collections.Counter(), collections.defaultdict(collections.Counter), 0
    first = first_worker = last = None
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+([0-9.]+):\s+([0-9a-f]+)\s+(.*)\s+\((.*)\)$", line)
        if not m:
            continue
        comm, t, _, sym, dso = m.groups()
        t = float(t)
        first = t if first is None else first
        if comm.startswith("worker") and first_worker is None:
            first_worker = t
        last = t
        dso = dso.rsplit("/", 1)[-1]
        dso = "plugin.cwasm" if dso.endswith(".cwasm") else dso
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        sym = re.sub(r"^wasm\[\d+\]::function\[\d+\]::", "", sym)
        sym = re.sub(r"17h[0-9a-f]{16}E$", "", sym)
        total += 1
        by_comm[comm] += 1
        by_sym[comm][(dso, sym[:110])] += 1
    if not total:
        sys.exit("no samples")
    fw = f"+{first_worker - first:.3f} s" if first_worker is not None else "never"
    print(f"samples {total}; first worker sample {fw}; last sample +{last - first:.3f} s")
    for comm, n in by_comm.most_common():
        print(f"== {comm}: {n} samples, {100 * n / total:.1f}%")
        for (dso, sym), k in by_sym[comm].most_common(top):
            print(f"   {100 * k / total:5.1f}%  {dso:22} {sym}")


if __name__ == "__main__":
    main()
