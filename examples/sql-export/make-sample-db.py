#!/usr/bin/env python3
"""Creates the SQLite sample database for pipeline.toml.

    python3 make-sample-db.py [sample.db]

The `orders` table has the same rows as orders.sql loads into PostgreSQL.
"""
import datetime
import pathlib
import sqlite3
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "sample.db")
out.unlink(missing_ok=True)
db = sqlite3.connect(out)
db.execute(
    """CREATE TABLE orders (
        id          INTEGER PRIMARY KEY,
        customer    TEXT,
        amount      DECIMAL(12, 2),
        discount    DOUBLE,
        paid        BOOLEAN,
        ordered_on  DATE,
        created_at  TIMESTAMPTZ,
        note        TEXT
    )"""
)
start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
rows = []
for g in range(1, 20001):
    rows.append(
        (
            g if g <= 18000 else g * 1_000_000_000,
            f"customer {g % 997}",
            f"{(g % 50000) / 100 + 1:.2f}",
            None if g % 10 == 0 else (g % 7) / 20,
            g % 3 != 0,
            (datetime.date(2024, 1, 1) + datetime.timedelta(days=g % 366)).isoformat(),
            (start + datetime.timedelta(minutes=7 * g)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "" if g % 11 == 0 else None if g % 13 == 0 else f'note "{g}"\nsecond line',
        )
    )
db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
db.commit()
db.close()
print(f"wrote {out} ({len(rows)} orders)")
