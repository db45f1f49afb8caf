#!/usr/bin/env python3
"""Compares the runtime's output with DuckDB reading the same NDJSON.

    compare.py OUTPUT.parquet SELECT

SELECT is DuckDB SQL over `read_json(...)` of the inputs, naming the
columns as the output does. Both sides must have the same columns with the
same DuckDB types (JSON and VARCHAR count as one: the runtime writes JSON
text as strings; TIMESTAMP and TIMESTAMP WITH TIME ZONE too) and the same
multiset of rows, nulls and nested values included. JSON columns are
compared as JSON (`json(x)`, which minifies both sides), timestamps as
microseconds since the epoch. Prints `IDENTICAL <rows>` or the
differences, and exits 1 when they differ.
"""
import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import duckdb_diff  # noqa: E402

SAME = {"JSON": "VARCHAR", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP"}


def main():
    out, select = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW o AS SELECT * FROM read_parquet('{out}')")
    con.execute(f"CREATE VIEW i AS {select}")
    out_cols = con.execute("DESCRIBE o").fetchall()
    in_types = {r[0]: r[1] for r in con.execute("DESCRIBE i").fetchall()}
    problems = []
    if [c[0] for c in out_cols] != list(in_types):
        problems.append(f"columns: output {[c[0] for c in out_cols]}, inputs {list(in_types)}")
    exprs = []
    for name, ty, *_ in out_cols:
        other = in_types.get(name)
        if SAME.get(ty, ty) != SAME.get(other, other):
            problems.append(f"column {name}: output {ty}, inputs {other}")
        if other == "JSON":
            exprs.append(f'json("{name}")')
        elif ty.startswith("TIMESTAMP"):
            exprs.append(f'epoch_us("{name}")')
        else:
            exprs.append(f'"{name}"')
    duckdb_diff.report(con, ", ".join(exprs), problems)


if __name__ == "__main__":
    main()
