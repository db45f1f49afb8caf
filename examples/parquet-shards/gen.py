#!/usr/bin/env python3
"""Writes the pod-usage inputs as many small Parquet shards with native
map<string, string> label columns, plus a list file naming the shards.

    gen.py [--from ../pod-usage/data] [--shards 2000] [--out data]

Reads the pod-usage NDJSON inputs in --from (examples/pod-usage: the
committed sample, `edge/`, or what its gen.py wrote) and writes to --out:

- pod_usage/part-NNNNN.parquet: the rows of pod_usage.ndjson in --shards
  files of consecutive rows (zstd, one row group each), with columns
  usage_date (date32: the UTC day of interval_start), namespace, node, pod,
  pod_labels (map<string, string>; null for `null` and `""`) and the four
  float64 measures;
- files.txt: the shards, one per line, relative to --out;
- node_labels.parquet and namespace_labels.parquet: the daily label tables,
  their labels as map<string, string>.

Label objects are converted as SPEC.md §2 reads them: a string holding an
object is parsed, a nested object is used as it is; a value that is not a
string keeps its JSON text (`true`, `1.50`). The pipeline beside this script
then gives the same CHECKSUM as the NDJSON pipeline of examples/pod-usage.
"""
import argparse
import datetime as dt
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

LABELS = pa.map_(pa.string(), pa.string())


def as_map(value):
    """A labels value of the NDJSON input as map entries (None: SQL null)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = json.loads(value, parse_float=str, parse_int=str)
    if not isinstance(value, dict):
        raise ValueError(f"labels are not an object: {value!r}")
    entries = []
    for k, v in value.items():
        if v is None or isinstance(v, str):
            entries.append((k, v))
        elif isinstance(v, bool):
            entries.append((k, "true" if v else "false"))
        else:
            entries.append((k, str(v)))
    return entries


def day(text):
    return dt.date.fromisoformat(text[:10])


def read_ndjson(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line, parse_float=str, parse_int=str)


MEASURES = ["pod_usage_cpu_core_seconds", "pod_request_cpu_core_seconds",
            "pod_usage_memory_byte_seconds", "pod_request_memory_byte_seconds"]


def pod_table(rows):
    cols = {
        "usage_date": pa.array([day(r["interval_start"]) for r in rows], pa.date32()),
        "namespace": pa.array([r["namespace"] for r in rows], pa.string()),
        "node": pa.array([r["node"] for r in rows], pa.string()),
        "pod": pa.array([r["pod"] for r in rows], pa.string()),
        "pod_labels": pa.array([as_map(r.get("pod_labels")) for r in rows], LABELS),
    }
    for m in MEASURES:
        cols[m] = pa.array([float(r[m]) for r in rows], pa.float64())
    schema = pa.schema([pa.field(n, a.type, nullable=(n == "pod_labels")) for n, a in cols.items()])
    return pa.table(cols, schema=schema)


def side_table(path, key, labels):
    rows = list(read_ndjson(path))
    schema = pa.schema([pa.field("usage_date", pa.date32(), nullable=False),
                        pa.field(key, pa.string(), nullable=False), pa.field(labels, LABELS)])
    return pa.table({
        "usage_date": [day(r["interval_start"]) for r in rows],
        key: [r[key] for r in rows],
        labels: [as_map(r.get(labels)) for r in rows],
    }, schema=schema)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--from", dest="src", default=os.path.join(here, "..", "pod-usage", "data"))
    p.add_argument("--shards", type=int, default=2000)
    p.add_argument("--out", default=os.path.join(here, "data"))
    a = p.parse_args()
    rows = list(read_ndjson(os.path.join(a.src, "pod_usage.ndjson")))
    shards = max(1, min(a.shards, len(rows)))
    os.makedirs(os.path.join(a.out, "pod_usage"), exist_ok=True)
    names = []
    for i in range(shards):
        part = rows[len(rows) * i // shards: len(rows) * (i + 1) // shards]
        name = f"pod_usage/part-{i:05d}.parquet"
        pq.write_table(pod_table(part), os.path.join(a.out, name), compression="zstd")
        names.append(name)
    with open(os.path.join(a.out, "files.txt"), "w") as f:
        f.write(f"# {shards} shards of {os.path.basename(os.path.abspath(a.src))}/pod_usage.ndjson\n")
        f.write("\n".join(names) + "\n")
    pq.write_table(side_table(os.path.join(a.src, "node_labels.ndjson"), "node", "node_labels"),
                   os.path.join(a.out, "node_labels.parquet"))
    pq.write_table(side_table(os.path.join(a.src, "namespace_labels.ndjson"), "namespace", "namespace_labels"),
                   os.path.join(a.out, "namespace_labels.parquet"))
    print(f"{len(rows)} rows in {shards} shards under {a.out}")


if __name__ == "__main__":
    main()
