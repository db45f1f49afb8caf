#!/usr/bin/env python3
"""Recovers the middle substitution table of NDB_CRYPT_CYCLIC ("high
encryption") from two PST readers installed here, and checks that they agree.

No file of the test corpus uses cyclic encryption, so the table cannot be
read off real blocks as derive_permute_table.py does for the permute table.
Both libpff (the `pypff` extension module) and libpst (`libpst.so`, used by
readpst) keep the three 256-byte substitution tables of PST encoding
together: the cyclic method's middle table, then the permute method's
encoding and decoding tables. We find the two permute tables (known from the
corpus) in each library and read the 256 bytes before them, then check that
they are a permutation that is its own inverse (which makes the cyclic
method symmetric) and that both libraries hold the same bytes. Whether the
table is right is then tested for real: files pst-synth writes with it are
read by libpff and readpst (tests/pst/synth_check.py, tests/all/pst_synth.rs).

Usage: derive_cyclic_table.py   (prints 256 hex bytes)
"""
import glob
import os
import re
import sys

import pypff

HERE = os.path.dirname(os.path.abspath(__file__))


def permute_decode():
    src = open(os.path.join(HERE, "..", "..", "plugins", "pst", "src", "crypt", "tables.rs"), encoding="utf-8").read()
    body = re.search(r"PERMUTE_DECODE: \[u8; 256\] = \[(.*?)\];", src, re.S).group(1)
    return bytes(int(x, 16) for x in re.findall(r"0x[0-9a-f]{2}", body))


def libraries():
    yield pypff.__file__
    found = sorted(glob.glob("/usr/lib/*/libpst.so*") + glob.glob("/usr/lib/libpst.so*"))
    if not found:
        sys.exit("libpst not found: install Debian's pst-utils (it brings libpst4)")
    yield found[0]


def main():
    decode = permute_decode()
    encode = bytearray(256)
    for i, v in enumerate(decode):
        encode[v] = i
    tables = bytes(encode) + decode
    middles = {}
    for lib in libraries():
        data = open(lib, "rb").read()
        at = data.find(tables)
        if at < 256:
            sys.exit(f"{lib}: the permute tables are not where expected")
        middle = data[at - 256:at]
        if sorted(middle) != list(range(256)):
            sys.exit(f"{lib}: the 256 bytes before the permute tables are not a permutation")
        if any(middle[middle[b]] != b for b in range(256)):
            sys.exit(f"{lib}: the middle table is not its own inverse")
        middles[lib] = middle
    if len(set(middles.values())) != 1:
        sys.exit(f"the libraries disagree: {sorted(middles)}")
    print(" ".join(f"{b:02x}" for b in next(iter(middles.values()))))


if __name__ == "__main__":
    main()
