#!/usr/bin/env python3
"""Rewrites pod-usage NDJSON inputs with their labels as nested objects.

    nest_labels.py SRC DST

The pod-usage inputs (examples/pod-usage: pod_usage.ndjson,
node_labels.ndjson, namespace_labels.ndjson) hold their labels as JSON text
in a string, or as objects, or empty. DST gets the same lines with every
labels value an object of string values (or null), as a producer that nests
would write them: the conversion is examples/parquet-shards/gen.py's
`as_map` (the same the Parquet shards' map columns get), so both must give
the spec's CHECKSUM.
"""
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "shards_gen", os.path.join(HERE, "..", "..", "examples", "parquet-shards", "gen.py"))
shards_gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shards_gen)

FILES = {"pod_usage.ndjson": "pod_labels", "node_labels.ndjson": "node_labels",
         "namespace_labels.ndjson": "namespace_labels"}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name, key in FILES.items():
        with open(os.path.join(src, name)) as f, open(os.path.join(dst, name), "w") as out:
            for line in f:
                if not line.strip():
                    continue
                row = json.loads(line)
                entries = shards_gen.as_map(row.get(key))
                row[key] = None if entries is None else dict(entries)
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
