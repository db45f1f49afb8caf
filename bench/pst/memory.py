#!/usr/bin/env python3
"""Where the runtime's peak memory on a big mailbox comes from (issue 12):
big.py's pipeline on synthesized mailboxes of two sizes, with the
sinks' row groups and the staging budget held small, at two plugin memory
limits (`[source.limits] memory`). Each run's peak resident memory (the
process tree, sampled every 10 ms) and its trace at 10/25/50/75/100% of
the run are printed and written to bench/out/pstbig/memory.json.

If the growth with the file size follows the plugin's memory limit, it is
the high-water mark of the plugin instances' linear memory (an instance is
reused by its worker for split after split, and WebAssembly memory never
shrinks, so a worker's memory is the most any of its splits needed, which
grows with the chance that a bigger file holds a bigger attachment or data
tree), bounded by the limit: configuration, not input size.

Usage: bench/pst/memory.py --runtime BIN FILE.pst... [--limits "512 MiB,96 MiB"]
                           [--row-groups "8 MiB,1 MiB"]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import RssSampler  # noqa: E402
from big import PIPELINE  # noqa: E402  (big.py's pipeline, other settings)

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench/out/pstbig"


def run(binary, pst, limit, row_group):
    with tempfile.TemporaryDirectory() as work:
        text = PIPELINE.format(inputs=json.dumps(str(Path(pst).resolve())), out="out", max_split="256 MiB",
                               memory=limit, run='[run]\nworkers = 2\nmax_staged_bytes = "32 MiB"\n',
                               sink=f'row_group_bytes = "{row_group}"\n')
        Path(work, "pipeline.toml").write_text(text)
        proc = subprocess.Popen([binary, "run", "pipeline.toml", "-q", "--report", "report.json"], cwd=work,
                                stdout=subprocess.DEVNULL)
        with RssSampler(proc.pid) as rss:
            proc.wait()
        if proc.returncode != 0:
            sys.exit(f"{binary} exited with {proc.returncode}")
        report = json.loads(Path(work, "report.json").read_text())
    n = len(rss.trace)
    marks = [rss.trace[min(n - 1, int(n * f))][1] >> 20 for f in (0.1, 0.25, 0.5, 0.75, 1.0)]
    return {"file": Path(pst).name, "limit": limit, "row_group": row_group, "peak_mib": rss.peak >> 20, "trace_mib": marks,
            "seconds": rss.trace[-1][0] if rss.trace else 0, "rows": report.get("rows_read"),
            "splits_failed": report.get("splits_failed")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--limits", default="512 MiB,96 MiB")
    ap.add_argument("--row-groups", default="8 MiB")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    results = []
    for row_group in a.row_groups.split(","):
        for limit in a.limits.split(","):
            for f in a.files:
                r = run(a.runtime, f, limit.strip(), row_group.strip())
                print(json.dumps(r), flush=True)
                results.append(r)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
