#!/usr/bin/env python3
"""Where the per-file time of the PST benchmark goes: runs the runtime on the
benchmark's files under `perf record` (DWARF call graphs, so host frames
unwind; the plugin's compiled code is named by the symbols wasmtime puts in
the compiled artifact) and sorts every sample into a bucket:

- plugin: time in the component's own code (parsing, CRC, SHA-256, its
  allocator, Arrow batch building and IPC encoding, and the memory.copy /
  memory.fill libcalls it makes);
- host, per call from the plugin: `input.read` (pread and the copy into
  linear memory) and `emit` (lifting the IPC buffer out of linear memory,
  decoding and validating it, routing it to the writer);
- host, per split: opening the input, router setup, the `read` call's
  setup and teardown, commit, bookkeeping;
- writer thread (staging, Parquet encoding), main thread (startup,
  planning, report), epoch ticker.

Prints milliseconds of CPU per file and shares of the total. Run
`bench/pst/bench.py` first (it makes the files and the pipeline).

Usage: bench/pst/profile.py [--workers 1] [--files N] [--frequency 2000] [-v]
"""
import argparse
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench/out/pst"
RUNTIME = REPO / "target/release/runtime"

# (bucket, regex over the frames joined leaf first); the first match wins.
# Frames in the component's compiled code end with " [wasm]".
HOST_RULES = [
    ("host per call: input.read (pread, copy into linear memory)", r"InputHandle::read|HostInput.*::read|__libc_pread"),
    ("host per call: emit (lift buffer, IPC decode + validate)", r"Payload::decode|ipc::decode|arrow_ipc::reader|flatbuffers::verifier|ArrayData::validate|linear_lift_list"),
    ("host per call: emit (route, channel to writer)", r"Router::route|crossbeam|Downstream.*emit|io::.*Host.*emit|state::HostState.*emit"),
    ("host per split: open input file", r"InputHandle::open"),
    ("host per split: router setup / transformers", r"Router::new|Router::open_all|take_slots|Router::finish_all|into_slots"),
    ("host per split: close input, drop resources", r"resource.drop|resource_drop|__close|drop_in_place<.*InputHandle|Table::delete"),
    ("host per split: read call setup (store, table, func lookup)", r"ReaderInstance|Instance<.*ReaderPlugin>>::read|call_read|call_raw|HostState::begin|HostState::end|refuel|catch_traps|lifted_core_func"),
    ("host per split: commit, records, other", r"Worker::run_split|Worker::attempt|SplitRecord|merge_counters"),
]
PLUGIN_RULES = [
    ("plugin: SHA-256 of attachments", r"^\S*sha2"),
    ("plugin: CRC-32 of pages and blocks", r"^\S*crc32"),
    ("plugin: Arrow batches + IPC encode", r"arrow_ipc|IpcDataGenerator|StreamWriter|flatbuffers|arrow_array|arrow_data|arrow_buffer|arrow_schema|columns17|sdk3ipc"),
    ("plugin: allocator (dlmalloc)", r"^\S*(dlmalloc|dlfree|malloc|free|realloc|calloc|rdl_alloc|rdl_dealloc|rust_alloc|rust_dealloc|alloc_shim)"),
    ("plugin: PST parsing and decoding", r"."),
]


def samples(text):
    cur = None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur = None
        elif not line[0].isspace():
            cur = {"comm": line.split()[0], "frames": []}
        else:
            m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m and cur is not None:
                name, dso = m.group(1), m.group(2)
                cur["frames"].append(name + (" [wasm]" if dso.endswith(".cwasm") else ""))
    if cur:
        yield cur


def bucket(sample):
    comm, frames = sample["comm"], sample["frames"]
    if not comm.startswith("worker"):
        return {"writer": "writer thread (staging, Parquet)", "epoch-ticker": "epoch ticker"}.get(
            comm, "main thread (startup, planning, report)")
    wasm = next((i for i, f in enumerate(frames) if f.endswith("[wasm]")), None)
    host = " ".join(frames[: wasm if wasm is not None else len(frames)])
    if wasm is not None and not re.search(r"runtime_host|wasmtime|crossbeam|arrow|flatbuffers", host):
        # The leaf is the plugin's code, or a libc routine it calls for
        # memory.copy / memory.fill, or the kernel under either.
        chain = " ".join(frames[wasm:wasm + 16])
        for name, rule in PLUGIN_RULES:
            if re.search(rule, frames[wasm]) or (name.startswith("plugin: Arrow") and re.search(rule, chain)):
                return name
    for name, rule in HOST_RULES:
        if re.search(rule, host):
            return name
    return "host: unattributed (" + (frames[0] if frames else "?")[:60] + ")"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--frequency", type=int, default=2000)
    parser.add_argument("-v", action="store_true", help="list the leaf functions of each bucket")
    args = parser.parse_args()
    pipeline = OUT / "pipeline.toml"
    if not pipeline.exists():
        sys.exit("run bench/pst/bench.py first")
    files = len(list((REPO / "bench/data/pst").glob("*.pst")))
    data = OUT / "perf.data"
    env = dict(os.environ, RUNTIME_CACHE_DIR=str(OUT / "plugin-cache"))
    subprocess.run(["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", str(args.frequency),
                    "-o", str(data), "--", str(RUNTIME), "run", str(pipeline), "--workers", str(args.workers),
                    "-q"], env=env, check=True)
    text = subprocess.run(["perf", "script", "--no-inline", "-i", str(data), "-F", "comm,ip,sym,dso"],
                          capture_output=True, text=True, check=True).stdout
    counts, leaves = collections.Counter(), collections.defaultdict(collections.Counter)
    for s in samples(text):
        b = bucket(s)
        counts[b] += 1
        leaves[b][(s["frames"] or ["?"])[0][:90]] += 1
    total = sum(counts.values())
    ms = 1000 / args.frequency
    print(f"{files} files, {args.workers} worker(s), {total} samples at {args.frequency} Hz "
          f"= {total * ms / files:.3f} ms CPU per file")
    groups = collections.Counter()
    for name, n in counts.items():
        groups[name.split(":")[0].split(" (")[0]] += n
    for name, n in groups.most_common():
        print(f"  {name:<58} {n * ms / files:6.3f} ms/file {100 * n / total:5.1f}%")
    print()
    for name, n in counts.most_common():
        print(f"  {name:<72} {n * ms / files:6.3f} ms/file {100 * n / total:5.1f}%")
        if args.v:
            for leaf, k in leaves[name].most_common(6):
                print(f"      {100 * k / total:4.1f}%  {leaf}")


if __name__ == "__main__":
    main()
