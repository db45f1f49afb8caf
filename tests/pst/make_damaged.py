#!/usr/bin/env python3
"""Generates a deterministic corpus of damaged PST files from real ones.

For every source PST it writes variants named `<stem>.<variant>.pst`:

  trunc-N            the file cut to N bytes (several points, header to EOF-1)
  flip-K-S           K random bits flipped (seed S)
  zero-pages-K       K random 512-byte pages zeroed
  zero-nbt-root,     the root page of the node / block B-tree zeroed
  zero-bbt-root
  magic-then-random  the 4-byte magic followed by random bytes
  header-then-random a valid header followed by random bytes
  absurd-eof         header claims a file end of 2^63 (or 2^32-1 for ANSI)
  absurd-nbt-root    node B-tree root offset far past the end of the file
  bbt-root-past-eof  block B-tree root just past the end of the file
  fuzz-blocks-S      random bytes written into random data blocks, with the
                     block checksums recomputed so the damage reaches the
                     parsers even when checksums are verified
  huge-xblock        every data-tree block claims 4 GiB and 65535 entries
                     (checksums recomputed)
  btree-self-loop    the first entry of the node B-tree root points back at
                     the root (checksums recomputed)
  fuzz-pages-S       random bytes in the entries of random B-tree pages
                     (checksums recomputed)

and one `empty.pst` of zero bytes. The same seed always gives the same
files. A `MANIFEST` file lists every variant with its description.

Usage: make_damaged.py [--seed N] SOURCE_DIR OUT_DIR
"""
import argparse
import os
import random
import struct
import zlib

PAGE = 512


def pst_crc(data):
    """CRC-32 as [MS-PST] computes it: no initial or final inversion."""
    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


class Layout:
    """The few structures of a PST the mutations need to find."""

    def __init__(self, data):
        self.data = data
        ver = struct.unpack_from("<H", data, 10)[0]
        self.unicode = ver >= 23
        if self.unicode:
            self.id, self.fmt, root = 8, "<Q", 180
            self.eof_at, self.nbt_at, self.bbt_at = root + 4, root + 36, root + 52
            self.meta, self.trailer, self.btrailer = 488, 496, 16
        else:
            self.id, self.fmt, root = 4, "<I", 164
            self.eof_at, self.nbt_at, self.bbt_at = root + 4, root + 20, root + 28
            self.meta, self.trailer, self.btrailer = 496, 500, 12
        self.nbt = self.bref(self.nbt_at)
        self.bbt = self.bref(self.bbt_at)
        self.pages = []   # offsets of every B-tree page reached
        self.blocks = []  # (bid, ib, cb) of every block in the block B-tree
        self.walk(self.bbt[1], leaf_blocks=True)
        self.walk(self.nbt[1], leaf_blocks=False)

    def read_id(self, at):
        return struct.unpack_from(self.fmt, self.data, at)[0]

    def bref(self, at):
        return self.read_id(at), self.read_id(at + self.id)

    def walk(self, ib, leaf_blocks, depth=0):
        if depth > 8 or ib + PAGE > len(self.data) or ib in self.pages:
            return
        self.pages.append(ib)
        count, _, size, level = self.data[ib + self.meta:ib + self.meta + 4]
        for i in range(count):
            at = ib + i * size
            if level > 0:
                self.walk(self.read_id(at + 2 * self.id), leaf_blocks, depth + 1)
            elif leaf_blocks:
                bid, bib = self.read_id(at), self.read_id(at + self.id)
                cb = struct.unpack_from("<H", self.data, at + 2 * self.id)[0]
                self.blocks.append((bid, bib, cb))

    def fix_page_crc(self, buf, ib):
        crc = pst_crc(bytes(buf[ib:ib + self.trailer]))
        at = ib + self.trailer + (4 if self.unicode else 8)
        struct.pack_into("<I", buf, at, crc)

    def fix_block_crc(self, buf, ib, cb):
        total = (cb + self.btrailer + 63) // 64 * 64
        t = ib + total - self.btrailer
        crc = pst_crc(bytes(buf[ib:ib + cb]))
        struct.pack_into("<I", buf, t + (4 if self.unicode else 8), crc)


def variants(data, rng):
    size = len(data)
    lay = Layout(data)
    out = []

    for n in sorted({1, 100, 563, 4096, 0x4400, size // 4, size // 2, 3 * size // 4, size - 1}):
        out.append((f"trunc-{n}", f"cut to {n} bytes", data[:n]))

    for k in (1, 10, 100, 1000):
        for s in range(2):
            buf = bytearray(data)
            for _ in range(k):
                bit = rng.randrange(size * 8)
                buf[bit // 8] ^= 1 << (bit % 8)
            out.append((f"flip-{k}-{s}", f"{k} random bits flipped", bytes(buf)))

    for k in (1, 8, 32):
        buf = bytearray(data)
        for _ in range(k):
            p = rng.randrange(size // PAGE) * PAGE
            buf[p:p + PAGE] = bytes(PAGE)
        out.append((f"zero-pages-{k}", f"{k} random pages zeroed", bytes(buf)))
    for name, (_, ib) in (("nbt", lay.nbt), ("bbt", lay.bbt)):
        buf = bytearray(data)
        buf[ib:ib + PAGE] = bytes(PAGE)
        out.append((f"zero-{name}-root", f"{name} root page zeroed", bytes(buf)))

    out.append(("magic-then-random", "magic, then random bytes", data[:4] + rng.randbytes(size - 4)))
    out.append(("header-then-random", "valid header, then random bytes", data[:564] + rng.randbytes(size - 564)))

    buf = bytearray(data)
    struct.pack_into(lay.fmt, buf, lay.eof_at, (1 << 63) if lay.unicode else 0xFFFFFFFF)
    out.append(("absurd-eof", "header claims an absurd file size", bytes(buf)))
    buf = bytearray(data)
    struct.pack_into(lay.fmt, buf, lay.nbt_at + lay.id, (1 << 62) if lay.unicode else 0xFFFFF000)
    out.append(("absurd-nbt-root", "node B-tree root far past the end", bytes(buf)))
    buf = bytearray(data)
    struct.pack_into(lay.fmt, buf, lay.bbt_at + lay.id, size + PAGE)
    out.append(("bbt-root-past-eof", "block B-tree root past the end", bytes(buf)))

    for s in range(4):
        buf = bytearray(data)
        for bid, ib, cb in rng.sample(lay.blocks, min(8, len(lay.blocks))):
            if cb == 0 or ib + cb > size:
                continue
            for _ in range(rng.choice((1, 4, 32))):
                buf[ib + rng.randrange(cb)] = rng.randrange(256)
            lay.fix_block_crc(buf, ib, cb)
        out.append((f"fuzz-blocks-{s}", "random bytes in data blocks, checksums fixed", bytes(buf)))

    buf = bytearray(data)
    for bid, ib, cb in lay.blocks:
        if bid & 2 and cb >= 8 and ib + cb <= size and buf[ib] == 1:
            struct.pack_into("<HI", buf, ib + 2, 0xFFFF, 0xFFFFFFFF)
            lay.fix_block_crc(buf, ib, cb)
    out.append(("huge-xblock", "data trees claim 4 GiB, checksums fixed", bytes(buf)))

    buf = bytearray(data)
    _, root = lay.nbt
    level = buf[root + lay.meta + 3]
    if level > 0:
        struct.pack_into(lay.fmt, buf, root + 2 * lay.id, root)
        struct.pack_into(lay.fmt, buf, root + lay.id, lay.nbt[0])
    else:
        buf[root + lay.meta + 3] = 1  # a leaf that claims to be an index over itself
    lay.fix_page_crc(buf, root)
    out.append(("btree-self-loop", "node B-tree root points at itself, checksums fixed", bytes(buf)))

    for s in range(2):
        buf = bytearray(data)
        for ib in rng.sample(lay.pages, min(3, len(lay.pages))):
            for _ in range(16):
                buf[ib + rng.randrange(lay.meta + 4)] = rng.randrange(256)
            lay.fix_page_crc(buf, ib)
        out.append((f"fuzz-pages-{s}", "random bytes in B-tree pages, checksums fixed", bytes(buf)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20260921)
    parser.add_argument("source")
    parser.add_argument("out")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    names = sorted(n for n in os.listdir(args.source) if n.endswith(".pst"))
    for index, name in enumerate(names):
        data = open(os.path.join(args.source, name), "rb").read()
        rng = random.Random(args.seed * 1000 + index)
        stem = name[:-4]
        for variant, description, content in variants(data, rng):
            file = f"{stem}.{variant}.pst"
            with open(os.path.join(args.out, file), "wb") as f:
                f.write(content)
            manifest.append(f"{file}\t{description}")
    open(os.path.join(args.out, "empty.pst"), "wb").close()
    manifest.append("empty.pst\tzero bytes")
    with open(os.path.join(args.out, "MANIFEST"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"{len(manifest)} damaged files in {args.out}")


if __name__ == "__main__":
    main()
