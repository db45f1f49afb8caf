#!/usr/bin/env python3
"""Generates the inputs of the Parquet/CSV reader benchmark (issue 11).

    gen.py [--scale 1.0] [--seed 11] [--out bench/data/parquet] [--only small,big,csv]

Writes, deterministically for a given seed and scale:

- `small/part-NNNNN.parquet`: 20,000 * scale small files of 1,000 rows each
  (one row group, snappy), and `small/files.txt` listing them (one path a
  line, relative to the list file) for `[source] inputs_from`;
- `big.parquet`: one file of 32 row groups, snappy, about 2 GB * scale;
- `big.csv`: one CSV file with a header, about 2 GB * scale; strings are
  quoted (pyarrow's "needed" style quotes every string), `comment` holds
  commas, doubled quotes and, in about 1 row of 50, a newline; nulls are
  empty fields;
- `manifest.json`: row counts, bytes, and the checksums run.py compares
  every output with (count, sum(quantity), count(comment), sum(id)).

Columns (the same in every file): id int64 (unique, ascending), user_id
int64, amount float64, quantity int32, score float64 (10% null), category
string (24 values), name string (high cardinality), comment string (15%
null), created_at timestamp[us], event_date date32, active bool (5% null).

Data is made in chunks of at most ~65,000 rows with numpy and pyarrow
compute, so memory stays bounded (one row group of big.parquet at a time,
~1.7 M rows at scale 1).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "data" / "parquet"

SMALL_FILES = 20_000
SMALL_ROWS = 1_000
BIG_ROW_GROUPS = 32
# Calibrated once (pyarrow 26, snappy): big.parquet ~46 B/row -> 2 GB at
# 32 * BIG_GROUP_ROWS rows; big.csv ~140 B/row -> 2 GB at CSV_ROWS rows.
BIG_GROUP_ROWS = 1_370_000
CSV_ROWS = 14_300_000
CHUNK = 65_536

SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("user_id", pa.int64()),
    ("amount", pa.float64()),
    ("quantity", pa.int32()),
    ("score", pa.float64()),
    ("category", pa.string()),
    ("name", pa.string()),
    ("comment", pa.string()),
    ("created_at", pa.timestamp("us")),
    ("event_date", pa.date32()),
    ("active", pa.bool_()),
])

CATEGORIES = pa.array([
    "books", "music", "garden", "toys", "kitchen", "sports", "office", "auto",
    "health", "beauty", "grocery", "pets", "baby", "tools", "outdoor", "games",
    "jewelry", "shoes", "electronics", "movies", "software", "crafts", "travel", "home",
])
_syll = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "da", "pe", "zo", "ul", "an", "er", "is", "ot"]
FIRST = pa.array(sorted({(a + b + c).capitalize() for a in _syll for b in _syll for c in _syll[:6]}))
LAST = pa.array(sorted({(a + b + c + "son") for a in _syll for b in _syll[:8] for c in _syll}))
PHRASES = pa.array([
    "delivered on time", "late, but complete", "refund requested", "gift wrap, please",
    'customer said "thanks"', "left at the door, side entrance", "call before delivery",
    "damaged box, contents fine", "second attempt", "no comment", "priority, fragile, handle with care",
    'size "M", colour blue', "address changed, see ticket", "paid in advance", "partial shipment",
    "line one\nline two", "back-ordered", "returned, restocked",
])
NEWLINE_PHRASE = 15  # index of the one phrase with a newline (1 of 18 comments ~ 1 in 50 rows after mixing)
T0 = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
YEAR_US = 366 * 86400 * 1_000_000


def make_chunk(rng, first_id, n):
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    user_id = rng.integers(1, 2_000_000, n, dtype=np.int64)
    amount = np.round(rng.gamma(2.0, 40.0, n), 2)
    quantity = rng.integers(1, 100, n, dtype=np.int32)
    score = rng.random(n)
    score_null = rng.random(n) < 0.10
    cat = CATEGORIES.take(pa.array(rng.integers(0, len(CATEGORIES), n)))
    name = pc.binary_join_element_wise(
        FIRST.take(pa.array(rng.integers(0, len(FIRST), n))),
        LAST.take(pa.array(rng.integers(0, len(LAST), n))), " ")
    # Comments: a phrase (newline phrase made rarer), some with a number
    # appended, 15% null.
    idx = rng.integers(0, len(PHRASES), n)
    rare = (idx == NEWLINE_PHRASE) & (rng.random(n) > 0.35)
    idx[rare] = 0
    comment = pc.binary_join_element_wise(
        PHRASES.take(pa.array(idx)),
        pa.array(rng.integers(0, 100_000, n).astype(str)), ", ref ")
    comment_null = rng.random(n) < 0.15
    comment = pc.if_else(pa.array(comment_null), pa.scalar(None, pa.string()), comment)
    created = (T0 + rng.integers(0, YEAR_US, n, dtype=np.int64))
    event_date = (created // (86400 * 1_000_000)).astype(np.int32)
    active = rng.random(n) < 0.7
    active_null = rng.random(n) < 0.05
    return pa.Table.from_arrays([
        pa.array(ids),
        pa.array(user_id),
        pa.array(amount),
        pa.array(quantity),
        pa.array(score, mask=score_null),
        cat,
        name,
        comment,
        pa.array(created, type=pa.timestamp("us")),
        pa.array(event_date, type=pa.date32()),
        pa.array(active, mask=active_null),
    ], schema=SCHEMA)


class Sums:
    def __init__(self):
        self.rows = self.quantity = self.comments = self.ids = 0

    def add(self, t):
        self.rows += t.num_rows
        self.quantity += pc.sum(t["quantity"].cast(pa.int64())).as_py() or 0
        self.comments += t.num_rows - t["comment"].null_count
        self.ids += pc.sum(t["id"]).as_py() or 0

    def json(self):
        return {"rows": self.rows, "sum_quantity": self.quantity,
                "count_comment": self.comments, "sum_id": self.ids}


def gen_small(out, scale, seed):
    d = out / "small"
    d.mkdir(parents=True, exist_ok=True)
    files = max(1, round(SMALL_FILES * scale))
    sums = Sums()
    names = []
    for i in range(files):
        rng = np.random.default_rng([seed, 1, i])
        t = make_chunk(rng, i * SMALL_ROWS, SMALL_ROWS)
        name = f"part-{i:05d}.parquet"
        pq.write_table(t, d / name, compression="snappy")
        names.append(name)
        sums.add(t)
    (d / "files.txt").write_text("".join(f"{n}\n" for n in names))
    size = sum((d / n).stat().st_size for n in names)
    return {"files": files, "list": "small/files.txt", "bytes": size, **sums.json()}


def gen_big(out, scale, seed):
    path = out / "big.parquet"
    group_rows = max(1000, round(BIG_GROUP_ROWS * scale))
    sums = Sums()
    tmp = path.with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, SCHEMA, compression="snappy") as w:
        for g in range(BIG_ROW_GROUPS):
            rng = np.random.default_rng([seed, 2, g])
            parts, done = [], 0
            while done < group_rows:
                n = min(CHUNK, group_rows - done)
                parts.append(make_chunk(rng, g * group_rows + done, n))
                done += n
            t = pa.concat_tables(parts)
            w.write_table(t, row_group_size=group_rows)
            sums.add(t)
            del parts, t
    os.replace(tmp, path)
    md = pq.ParquetFile(path).metadata
    assert md.num_row_groups == BIG_ROW_GROUPS, md.num_row_groups
    return {"path": "big.parquet", "row_groups": md.num_row_groups, "bytes": path.stat().st_size, **sums.json()}


def gen_csv(out, scale, seed):
    path = out / "big.csv"
    rows = max(1000, round(CSV_ROWS * scale))
    sums = Sums()
    tmp = path.with_suffix(".csv.tmp")
    rng = np.random.default_rng([seed, 3])
    with pacsv.CSVWriter(tmp, SCHEMA, write_options=pacsv.WriteOptions(include_header=True)) as w:
        done = 0
        while done < rows:
            n = min(CHUNK * 4, rows - done)
            t = make_chunk(rng, done, n)
            w.write_table(t)
            sums.add(t)
            done += n
    os.replace(tmp, path)
    return {"path": "big.csv", "bytes": path.stat().st_size, **sums.json()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", default="small,big,csv", help="comma-separated subset of small,big,csv")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mpath = out / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    if manifest.get("scale") != args.scale or manifest.get("seed") != args.seed:
        manifest = {}
    manifest.update({"scale": args.scale, "seed": args.seed, "pyarrow": pa.__version__})
    for what, fn in (("small", gen_small), ("big", gen_big), ("csv", gen_csv)):
        if what not in args.only.split(","):
            continue
        t = time.perf_counter()
        manifest[what] = fn(out, args.scale, args.seed)
        manifest[what]["gen_seconds"] = round(time.perf_counter() - t, 1)
        print(f"{what}: {json.dumps(manifest[what])}", file=sys.stderr)
        mpath.write_text(json.dumps(manifest, indent=2) + "\n")
    print(mpath)


if __name__ == "__main__":
    main()
