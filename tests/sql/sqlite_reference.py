#!/usr/bin/env python3
"""Reference reader for the end-to-end SQLite tests (tests/all/sql.rs).

    python3 tests/sql/sqlite_reference.py DB "SELECT ..." KIND,KIND,...

Runs one plain query with Python's own sqlite3 module and prints every row
as a JSON array, one per line, in the canonical form the Rust test also
derives from the runtime's Parquet output. KIND says which Arrow type the
`sql` reader documents for the column (plugins/sql/README.md) and therefore
how the stored value is converted:

    int      integer                              -> JSON number
    f64      float64                              -> 16 hex digits of the IEEE bits
    dec:S    decimal128(p, S)                     -> unscaled integer as a string
    text     utf8                                 -> string
    uuid     utf8 (16-byte blobs hyphenated)      -> string
    bool     boolean                              -> true / false
    date     date32                               -> days since 1970-01-01
    ts       timestamp(us), with or without UTC   -> microseconds since 1970-01-01
    bin      binary                               -> lowercase hex

A stored value that the documented conversions do not cover is an error:
the reference never guesses.
"""
import datetime
import decimal
import json
import sqlite3
import struct
import sys
import uuid

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_UTC = EPOCH.replace(tzinfo=datetime.timezone.utc)


def fail(kind, value):
    raise SystemExit(f"sqlite_reference: no documented {kind} conversion for {value!r}")


def to_int(v):
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        return int(v.strip())
    fail("int", v)


def to_f64(v):
    if isinstance(v, (int, float)):
        return struct.pack(">d", float(v)).hex()
    if isinstance(v, str):
        return struct.pack(">d", float(v)).hex()
    fail("f64", v)


def to_dec(v, scale):
    if isinstance(v, int):
        d = decimal.Decimal(v)
    elif isinstance(v, float):
        d = decimal.Decimal(repr(v))
    elif isinstance(v, str):
        d = decimal.Decimal(v.strip())
    else:
        fail("decimal", v)
    scaled = (d * (decimal.Decimal(10) ** scale)).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)
    return str(int(scaled))


def to_bool(v):
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("true", "t", "yes", "1", "false", "f", "no", "0"):
        return v.lower() in ("true", "t", "yes", "1")
    fail("bool", v)


def parse_datetime(text):
    """ISO-8601 date or date-time, `T` or space, optional Z/offset; returns
    naive UTC (offsets applied) as a datetime."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(t)
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt


def micros(dt):
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_date(v):
    if isinstance(v, str):
        return (parse_datetime(v).date() - EPOCH.date()).days
    if isinstance(v, int):
        return v // 86400
    fail("date", v)


def to_ts(v):
    if isinstance(v, str):
        return micros(parse_datetime(v))
    if isinstance(v, int):
        return v * 1_000_000
    fail("timestamp", v)


def to_bin(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, str):
        return v.encode().hex()
    fail("binary", v)


def to_text(v):
    if isinstance(v, str):
        return v
    fail("text", v)


def to_uuid(v):
    if isinstance(v, bytes) and len(v) == 16:
        return str(uuid.UUID(bytes=v))
    if isinstance(v, str):
        return v
    fail("uuid", v)


def converter(kind):
    if kind.startswith("dec:"):
        scale = int(kind[4:])
        return lambda v: to_dec(v, scale)
    return {
        "int": to_int,
        "f64": to_f64,
        "text": to_text,
        "uuid": to_uuid,
        "bool": to_bool,
        "date": to_date,
        "ts": to_ts,
        "bin": to_bin,
    }[kind]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    db, query, kinds = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    convert = [converter(k) for k in kinds]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = str
    out = sys.stdout
    for row in con.execute(query):
        if len(row) != len(convert):
            sys.exit(f"sqlite_reference: {len(row)} columns, {len(convert)} kinds")
        values = [None if v is None else c(v) for c, v in zip(convert, row)]
        out.write(json.dumps(values, ensure_ascii=False))
        out.write("\n")
    con.close()


if __name__ == "__main__":
    main()
