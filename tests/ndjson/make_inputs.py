#!/usr/bin/env python3
"""Writes NDJSON inputs with nested values for tests/all/ndjson.rs.

    make_inputs.py DIR

DIR/good/ gets files that every reader can read whole: pods.ndjson (3,000
lines of pods: scalars, a list, a struct holding a list, sparse labels
with Kubernetes-style keys (more than 200 distinct ones, so DuckDB and the
runtime both infer a map), a nested metadata object, a key whose values
have no common type, nulls and missing keys at every level, a byte order
mark, escapes and non-ASCII text), crlf.ndjson (the same kind of lines
with CRLF ends) and empty.ndjson (0 bytes). DIR/bad.ndjson holds good
lines and malformed ones; for each malformed line it prints `REJECT <n>`
(its line number), and DIR/bad_kept.ndjson its good lines.
"""
import json
import os
import random
import sys


def pod(rng, i):
    p = {"id": i, "name": f"pod-{i}\u00e9\"q\"" if i % 97 == 0 else f"pod-{i}"}
    if i % 11:
        p["score"] = rng.choice([rng.randint(-5, 5), round(rng.uniform(-100, 100), 3)])
    p["ok"] = None if i % 13 == 0 else bool(i % 2)
    p["day"] = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
    if i % 7 == 0:
        p["tags"] = None
    elif i % 5:
        p["tags"] = [rng.choice(["a", "b", "c\nd", None]) for _ in range(i % 4)]
    if i % 17 == 0:
        p["pod"] = None
    elif i % 3:
        c = {"name": f"c{i}", "cpu": rng.choice([1, 0.25, 2.5])}
        if i % 4:
            c["ports"] = [8000 + i % 10, None] if i % 8 == 1 else [8000 + i % 10]
        p["pod"] = c
    labels = {}
    for _ in range(i % 4):
        k = rng.randrange(400)
        labels[f"app.kubernetes.io/k{k}"] = None if k % 9 == 0 else f"v{k}"
    p["labels"] = labels if i % 19 else None
    if i % 23:
        p["metadata"] = {"namespace": f"ns{i % 5}", "labels": {"app": None if i % 29 == 0 else f"app{i % 7}"}}
    p["extra"] = [1, {"x": [True, None]}, "s", 2.5, None][i % 5]
    return p


def main():
    d = sys.argv[1]
    os.makedirs(os.path.join(d, "good"), exist_ok=True)
    rng = random.Random(7)
    lines = [json.dumps(pod(rng, i), ensure_ascii=i % 2 == 0) for i in range(3000)]
    with open(os.path.join(d, "good", "pods.ndjson"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    with open(os.path.join(d, "good", "crlf.ndjson"), "wb") as f:
        f.write("".join(json.dumps(pod(rng, i)) + "\r\n" for i in range(3000, 3400)).encode())
    open(os.path.join(d, "good", "empty.ndjson"), "wb").close()
    bad = [
        json.dumps(pod(rng, 5000)),
        '{"id": 1, "pod": {"name": "x", "cpu": "lots"}}',  # a struct member of the wrong type
        '{"id": 2, "tags": "not a list"}',  # a string where a list goes
        '{"id": 3, "labels": {"k": 1}}',  # a map value of the wrong type
        '{"id": 4, "metadata": "flat"}',  # a path through a string
        '{"id": 5, "labels": {"k": "a", "k": "b"}}',  # a key twice in a map
        '{"id": 6, "tags": ["a", "b"',  # cut short
        json.dumps(pod(rng, 5001)),
    ]
    with open(os.path.join(d, "bad.ndjson"), "w") as f:
        f.write("\n".join(bad) + "\n")
    # Its good lines on their own, for DuckDB (which stops at a bad line).
    with open(os.path.join(d, "bad_kept.ndjson"), "w") as f:
        f.write(bad[0] + "\n" + bad[-1] + "\n")
    for n in range(2, 8):
        print(f"REJECT {n}")


if __name__ == "__main__":
    main()
