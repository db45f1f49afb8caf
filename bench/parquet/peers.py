#!/usr/bin/env python3
"""One run of a reference tool, in its own process (run.py times it).

    peers.py duckdb|polars small|big|csv INPUT OUT.parquet [--threads 2]

INPUT is `files.txt` (small: the list file, paths relative to it), the
Parquet file (big) or the CSV file (csv). Every tool reads every column
and row and writes one snappy Parquet file with its default row groups.

- duckdb: `SET threads = N`, then
  `COPY (SELECT * FROM read_parquet([...])) TO OUT (FORMAT parquet, COMPRESSION snappy)`
  or the same with `read_csv(..., header = true, delim = ',', quote = '"',
  escape = '"', columns = {...})`;
- polars: `POLARS_MAX_THREADS` must be set by the caller (run.py sets it to
  N); `scan_parquet([...]).sink_parquet(OUT, compression="snappy")`, or
  `scan_csv(..., has_header=True, separator=",", quote_char='"',
  schema={...}).sink_parquet(...)`.
"""
import argparse
import os
from pathlib import Path

# The CSV's columns, declared to every tool (runtime: `fields`; its csv
# reader has no 32-bit integer, so quantity is BIGINT for everyone).
CSV_COLUMNS = [
    ("id", "BIGINT"), ("user_id", "BIGINT"), ("amount", "DOUBLE"), ("quantity", "BIGINT"),
    ("score", "DOUBLE"), ("category", "VARCHAR"), ("name", "VARCHAR"), ("comment", "VARCHAR"),
    ("created_at", "TIMESTAMP"), ("event_date", "DATE"), ("active", "BOOLEAN"),
]


def inputs(workload, path):
    path = Path(path)
    if workload == "small":
        return [str(path.parent / line.strip()) for line in path.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    return [str(path)]


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def run_duckdb(workload, paths, out, threads):
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    if workload == "csv":
        cols = ", ".join(f"{sql_str(n)}: {sql_str(t)}" for n, t in CSV_COLUMNS)
        src = (f"read_csv({sql_str(paths[0])}, header = true, delim = ',', quote = '\"', "
               f"escape = '\"', columns = {{{cols}}})")
    else:
        src = "read_parquet([" + ", ".join(sql_str(p) for p in paths) + "])"
    con.execute(f"COPY (SELECT * FROM {src}) TO {sql_str(out)} (FORMAT parquet, COMPRESSION snappy)")


def run_polars(workload, paths, out):
    import polars as pl
    if workload == "csv":
        types = {"BIGINT": pl.Int64, "INTEGER": pl.Int32, "DOUBLE": pl.Float64, "VARCHAR": pl.String,
                 "TIMESTAMP": pl.Datetime("us"), "DATE": pl.Date, "BOOLEAN": pl.Boolean}
        lf = pl.scan_csv(paths[0], has_header=True, separator=",", quote_char='"',
                         schema={n: types[t] for n, t in CSV_COLUMNS})
    else:
        lf = pl.scan_parquet(paths)
    lf.sink_parquet(out, compression="snappy")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=["duckdb", "polars"])
    ap.add_argument("workload", choices=["small", "big", "csv"])
    ap.add_argument("input")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    paths = inputs(a.workload, a.input)
    if a.tool == "duckdb":
        run_duckdb(a.workload, paths, a.out, a.threads)
    else:
        assert os.environ.get("POLARS_MAX_THREADS") == str(a.threads), "set POLARS_MAX_THREADS"
        run_polars(a.workload, paths, a.out)


if __name__ == "__main__":
    main()
