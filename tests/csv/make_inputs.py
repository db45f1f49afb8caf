#!/usr/bin/env python3
"""Writes the CSV inputs of tests/all/csv.rs into a folder.

    make_inputs.py DIR

- `quoted.csv`: a UTF-8 byte order mark, CRLF line ends, 3,000 records whose
  `name` is often quoted and holds newlines (some of them lines that look
  like whole records of this file), doubled quotes, delimiters, non-ASCII
  text, and empty (null) fields in every column.
- `malformed.csv`: good records around one with a missing field and one
  whose `id` is not an integer; their line numbers (of the line each
  record starts on) are printed as `REJECT <line>`.
- `empty.csv` (0 bytes) and `header_only.csv`.
- `dialect.txt`: no header, `;` delimited, `'` quoted with `\\` escapes,
  `NA` and empty fields as nulls.

Deterministic (seeded), small: the tests keep generated data small.
"""
import os
import random
import sys

HEADER = "id,name,amount,flag,day,ts"


def name(rng, i):
    k = rng.randrange(9)
    if k == 0:
        return ""
    if k == 1:
        return '""'
    if k == 2:
        # Lines that look like records of this very file, inside quotes.
        fake = "\r\n".join(f"{i + j},fake,1.5,true,2024-01-01,2024-01-01 00:00:00" for j in range(rng.randrange(1, 4)))
        return f'"{fake}"'
    if k == 3:
        return f'"say ""hi""\r\nto {i}"'
    if k == 4:
        return '"a,b,,c"'
    if k == 5:
        return "café ünïcode"
    if k == 6:
        return f'"trailing newline\n"'
    return f"plain{i}"


def record(rng, i):
    amount = "" if rng.randrange(7) == 0 else f"{rng.uniform(-1e6, 1e6):.3f}"
    flag = rng.choice(["true", "false", ""])
    day = "" if rng.randrange(6) == 0 else f"20{rng.randrange(10, 30)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    ts = (
        ""
        if rng.randrange(6) == 0
        else f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
        f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000000):06d}"
    )
    ident = "" if rng.randrange(50) == 0 else str(i)
    return ",".join([ident, name(rng, i), amount, flag, day, ts])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(11)
    with open(os.path.join(out, "quoted.csv"), "wb") as f:
        f.write(b"\xef\xbb\xbf")
        body = HEADER + "\r\n" + "".join(record(rng, i) + "\r\n" for i in range(3000))
        f.write(body.encode())

    lines = [HEADER]
    rejects = []
    for i in range(200):
        if i == 120:
            rejects.append(sum(l.count("\n") + 1 for l in lines) + 1)
            lines.append("120,missing a field")
        elif i == 150:
            rejects.append(sum(l.count("\n") + 1 for l in lines) + 1)
            lines.append('x150,"not an id\nat all",1.0,true,2024-01-01,2024-01-01 00:00:00')
        else:
            lines.append(record(rng, 10_000 + i).replace("\r\n", "\n"))
    with open(os.path.join(out, "malformed.csv"), "w", newline="") as f:
        f.write("\n".join(lines) + "\n")
    for r in rejects:
        print(f"REJECT {r}")

    open(os.path.join(out, "empty.csv"), "wb").close()
    with open(os.path.join(out, "header_only.csv"), "w", newline="") as f:
        f.write(HEADER + "\n")

    with open(os.path.join(out, "dialect.txt"), "w", newline="") as f:
        for i in range(300):
            text = rng.choice(["NA", "", "'it\\'s; quoted'", "'two\nlines'", "plain", "'NA'"])
            num = rng.choice(["NA", str(i), ""])
            f.write(f"{i};{text};{num}\n")


if __name__ == "__main__":
    main()
