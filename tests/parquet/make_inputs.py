#!/usr/bin/env python3
"""Writes the Parquet inputs of tests/all/parquet.rs with pyarrow.

    make_inputs.py OUT_DIR

- codec_<name>.parquet for snappy, zstd, gzip, lz4, brotli and none: the same
  table of nested and logical types (lists, structs, maps, decimals,
  timestamps with a time zone, a dictionary column, dates), with nulls, in
  two row groups;
- compat.parquet: a compatible but different schema (columns in another
  order, some missing, one extra nullable column);
- empty.parquet: 0 rows;
- many_rg.parquet: 200 row groups;
- corrupt.parquet: a valid file whose footer metadata is overwritten with
  garbage (the magic stays), so only its footer is wrong.
"""
import datetime as dt
import decimal
import os
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("price", pa.decimal128(12, 3)),
    pa.field("ts", pa.timestamp("us", tz="Europe/Paris")),
    pa.field("day", pa.date32()),
    pa.field("flag", pa.bool_()),
    pa.field("tags", pa.list_(pa.string())),
    pa.field("point", pa.struct([("x", pa.float64()), ("y", pa.int32())])),
    pa.field("attrs", pa.map_(pa.string(), pa.string())),
    pa.field("cat", pa.dictionary(pa.int32(), pa.string())),
    pa.field("items", pa.list_(pa.struct([("a", pa.int64()), ("b", pa.list_(pa.string()))]))),
])


def rows(start, n, rng):
    def maybe(v):
        return None if rng.random() < 0.15 else v

    out = {f.name: [] for f in SCHEMA}
    base = dt.datetime(2024, 3, 30, 23, 0, tzinfo=dt.timezone.utc)
    for i in range(start, start + n):
        out["id"].append(i)
        out["name"].append(maybe(f"name-{i}-" + "é" * (i % 3)))
        out["price"].append(maybe(decimal.Decimal(rng.randint(-10**9, 10**9)) / 1000))
        out["ts"].append(maybe(base + dt.timedelta(minutes=17 * i)))
        out["day"].append(maybe(dt.date(2024, 1, 1) + dt.timedelta(days=i % 400)))
        out["flag"].append(maybe(i % 3 == 0))
        out["tags"].append(maybe([maybe(f"t{j}") for j in range(i % 4)]))
        out["point"].append(maybe({"x": maybe(i / 7), "y": maybe(i % 1000)}))
        out["attrs"].append(maybe([(f"k{j}", maybe(f"v{i}-{j}")) for j in range(i % 3)]))
        out["cat"].append(maybe(["red", "green", "blue"][i % 3]))
        out["items"].append(maybe([{"a": maybe(i * j), "b": maybe([f"b{j}"] * j)} for j in range(i % 3)]))
    return pa.table(out, schema=SCHEMA)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(11)
    start = 0
    for codec in ["snappy", "zstd", "gzip", "lz4", "brotli", "none"]:
        t = rows(start, 300, rng)
        start += 300
        pq.write_table(t, os.path.join(out, f"codec_{codec}.parquet"), compression=codec,
                       row_group_size=150)
    t = rows(start, 120, rng)
    start += 120
    compat = pa.table({
        "extra": pa.array([float(i) if i % 5 else None for i in range(120)], pa.float64()),
        "name": t["name"],
        "id": t["id"],
        "tags": t["tags"],
    }, schema=pa.schema([pa.field("extra", pa.float64()), pa.field("name", pa.string()),
                         pa.field("id", pa.int64(), nullable=False),
                         pa.field("tags", pa.list_(pa.string()))]))
    pq.write_table(compat, os.path.join(out, "compat.parquet"), compression="zstd")
    pq.write_table(rows(0, 0, rng), os.path.join(out, "empty.parquet"))
    pq.write_table(rows(start, 200 * 200, rng), os.path.join(out, "many_rg.parquet"),
                   row_group_size=200, compression="snappy")
    start += 200 * 200
    path = os.path.join(out, "corrupt.parquet")
    pq.write_table(rows(start, 50, rng), path)
    with open(path, "r+b") as f:
        f.seek(-8, os.SEEK_END)
        meta_len = int.from_bytes(f.read(4), "little")
        f.seek(-8 - meta_len, os.SEEK_END)
        f.write(b"\xff" * meta_len)


if __name__ == "__main__":
    main()
