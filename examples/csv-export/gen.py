#!/usr/bin/env python3
"""Writes a CSV export like the ones CRMs and spreadsheets produce.

    gen.py [--rows N] [--out data/orders.csv] [--seed S]

A UTF-8 byte order mark, CRLF line ends, a header, and free-text `note`
fields that are quoted when they hold commas, quotes (doubled) or
newlines; empty fields are nulls. About 108 bytes per row: the default
20,000 rows make 2.2 MB, `--rows 1000000` about 108 MB.
"""
import argparse
import os
import random

WORDS = "alpha beta gamma delta order shipped refund café naïve übung priority late".split()


def quote(text):
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def note(rng):
    k = rng.randrange(6)
    words = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))
    if k == 0:
        return ""
    if k == 1:
        return words(4) + "\r\n" + words(6) + "\r\n-- " + words(2)
    if k == 2:
        return f'customer said "{words(3)}", then {words(2)}'
    if k == 3:
        # A note holding lines that look like rows of this file.
        return "\n".join(f"{rng.randrange(10**6)},acme,,1.00,true,2024-01-01,2024-01-01 00:00:00" for _ in range(2))
    return words(rng.randrange(1, 12))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__) or ".", "data", "orders.csv"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write("\ufeff")
        f.write("order_id,customer,note,amount,paid,order_date,updated_at\r\n")
        for i in range(args.rows):
            customer = rng.choice(["acme", "globex", "initech", "umbrella", "Stark, Inc.", ""])
            amount = "" if rng.randrange(10) == 0 else f"{rng.uniform(0, 5000):.2f}"
            paid = rng.choice(["true", "false", ""])
            day = f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            updated = "" if rng.randrange(8) == 0 else f"{day} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
            row = [str(i), quote(customer), quote(note(rng)), amount, paid, day, updated]
            f.write(",".join(row) + "\r\n")
    print(f"wrote {args.rows} rows, {os.path.getsize(args.out):,} bytes to {args.out}")


if __name__ == "__main__":
    main()
