#!/usr/bin/env python3
"""Builds the SQLite acceptance database from sqlite-fixtures.sql.

    python3 tests/sql/make-sqlite-db.py out.db

The end-to-end tests of the runtime read the result as the `sql` source's
input file; the plugin's own tests execute the same SQL file through rusqlite.
"""
import pathlib
import sqlite3
import sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
out = pathlib.Path(sys.argv[1])
out.unlink(missing_ok=True)
sql = (pathlib.Path(__file__).parent / "fixtures" / "sqlite-fixtures.sql").read_text()
with sqlite3.connect(out) as db:
    db.executescript(sql)
db.close()
print(f"wrote {out}")
