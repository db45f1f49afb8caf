#!/usr/bin/env python3
"""Recovers the NDB_CRYPT_PERMUTE decoding table from the test corpus.

PST files written with "compressible encryption" pass each byte of a data
block through a fixed substitution. Given a value libpff decodes for us (the
JPEG attached to sample1.pst) and the raw file, we find the 64-byte aligned
blocks whose bytes map one-to-one onto consecutive 8176-byte slices of the
decoded value and read the substitution off them. A 93 KB JPEG uses every
byte value, so the table comes out complete.

Usage: derive_permute_table.py [FIXTURE_DIR]   (prints 256 hex bytes)
"""
import os
import sys

import pypff

BLOCK = 8176  # data bytes per block in a Unicode PST


def first_attachment(path):
    f = pypff.file()
    f.open(path)
    stack = [f.get_root_folder()]
    while stack:
        folder = stack.pop()
        for m in folder.sub_messages:
            for a in getattr(m, "attachments", []):
                if a.size > 4 * BLOCK:
                    return a.read_buffer(a.size)
        for i in range(folder.number_of_sub_folders):
            try:
                stack.append(folder.get_sub_folder(i))
            except OSError:
                pass  # search folders
    raise SystemExit("no large attachment found")


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "fixtures", "pst")
    path = os.path.join(fixtures, "sample1.pst")
    plain = first_attachment(path)
    raw = open(path, "rb").read()
    table = {}
    for k in range(len(plain) // BLOCK):
        piece = plain[k * BLOCK:(k + 1) * BLOCK]
        for off in range(0, len(raw) - BLOCK, 64):
            enc = raw[off:off + BLOCK]
            seen = {}
            ok = True
            for e, p in zip(enc, piece):
                if seen.setdefault(e, p) != p:
                    ok = False
                    break
            if ok and len(set(seen.values())) == len(seen):
                for e, p in seen.items():
                    if table.setdefault(e, p) != p:
                        raise SystemExit(f"inconsistent mapping for 0x{e:02x}")
                break
    if len(table) != 256:
        raise SystemExit(f"only {len(table)} of 256 byte values recovered")
    print(" ".join(f"{table[i]:02x}" for i in range(256)))


if __name__ == "__main__":
    main()
