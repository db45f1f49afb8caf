#!/usr/bin/env python3
"""Compares the runtime's output with DuckDB reading the same inputs.

    compare.py OUTPUT.parquet INPUT.parquet...

DuckDB reads the inputs with `read_parquet(..., union_by_name = true)` and
the output with `read_parquet`; the two must hold the same multiset of rows
(EXCEPT ALL both ways, nulls and nested values included) over the output's
columns, with the same DuckDB types. Prints `IDENTICAL <rows>` or the first
differences, and exits 1 when they differ.
"""
import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import duckdb_diff  # noqa: E402


def main():
    out, inputs = sys.argv[1], sys.argv[2:]
    con = duckdb.connect()
    con.execute(f"CREATE VIEW o AS SELECT * FROM read_parquet('{out}')")
    files = ", ".join(f"'{p}'" for p in inputs)
    con.execute(f"CREATE VIEW i AS SELECT * FROM read_parquet([{files}], union_by_name = true)")
    out_cols = con.execute("DESCRIBE o").fetchall()
    in_types = {r[0]: r[1] for r in con.execute("DESCRIBE i").fetchall()}
    problems = []
    for name, ty, *_ in out_cols:
        if in_types.get(name) != ty:
            problems.append(f"column {name}: output {ty}, inputs {in_types.get(name)}")
    cols = ", ".join(f'"{c[0]}"' for c in out_cols)
    duckdb_diff.report(con, cols, problems)


if __name__ == "__main__":
    main()
