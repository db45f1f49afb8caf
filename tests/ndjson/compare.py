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
    duckdb_diff.compare_typed(con, SAME)


if __name__ == "__main__":
    main()
