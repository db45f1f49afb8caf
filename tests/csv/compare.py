#!/usr/bin/env python3
"""Compares the runtime's output with DuckDB's read_csv of the same inputs.

    compare.py OUTPUT.parquet READ_CSV_OPTIONS INPUT.csv...

READ_CSV_OPTIONS is DuckDB's named parameters of read_csv as SQL text
(`header = true, delim = ',', columns = {...}`). DuckDB reads each input on
its own (`UNION ALL` of one `read_csv` per file: with a list of files it
applies the first file's sniffed line ends to all of them) and leaves out
0-byte inputs (it cannot sniff an empty file; they hold no rows). Both sides must hold
the same multiset of rows (EXCEPT ALL both ways, nulls included) with the
same types; timestamps are compared as microseconds since the epoch, UTC
(the runtime writes UTC timestamps, DuckDB reads naive ones). Prints
`IDENTICAL <rows>` or the differences, and exits 1 when they differ.
"""
import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import duckdb_diff  # noqa: E402

SAME = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMP"}


def main():
    out, options, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    inputs = [p for p in inputs if os.path.getsize(p) > 0]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW o AS SELECT * FROM read_parquet('{out}')")
    reads = " UNION ALL ".join(f"SELECT * FROM read_csv('{p}', {options})" for p in inputs)
    con.execute(f"CREATE VIEW i AS {reads}")
    duckdb_diff.compare_typed(con, SAME)


if __name__ == "__main__":
    main()
