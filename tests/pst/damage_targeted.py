#!/usr/bin/env python3
"""Damages a PST where it hurts one object at a time: a body or attachment
block, a subnode tree, one folder's tables. For the "no silent damage" test
(tests/all/pst_synth.rs), which compares every message the reader outputs
from a damaged copy with the same message read from the clean file.

Unlike make_damaged.py (random damage anywhere), every variant here damages
blocks that belong to one known object, and the MANIFEST says which:

  data-K            one bit flipped in an external block below one message's
                    subnode tree (a long body, a recipient table, an
                    attachment's properties or bytes); checksum left stale
  data-fixed-K      the same with the block checksum recomputed: the format
                    has no other check on those bytes, so the owning message
                    may come out changed; no other message may
  subnodes-K        random bytes in one message's subnode tree block
                    (SLBLOCK/SIBLOCK), checksum recomputed
  message-K         one bit flipped in a message's own property context,
                    checksum left stale
  folder-table-K    one bit flipped in one folder's contents table, checksum
                    left stale (that folder's messages are lost, and must be
                    counted)
  folder-table-fixed-K  random bytes in one folder's contents table, checksum
                    recomputed

MANIFEST lines: FILE <tab> variant <tab> owner, where owner is the owning
message's key as the runtime writes it (`message_key`, the node id in
decimal), `folder:NID` for a folder's table, or `-`.

Usage: damage_targeted.py [--seed N] [--count K] CLEAN.pst OUT_DIR
"""
import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_damaged import Layout  # noqa: E402

NID_TYPE_NORMAL_MESSAGE = 0x04
NID_TYPE_CONTENTS_TABLE = 0x0E


class Nodes(Layout):
    """The node B-tree's leaf entries and the blocks below each node."""

    def __init__(self, data):
        super().__init__(data)
        self.by_bid = {bid & ~1: (ib, cb) for bid, ib, cb in self.blocks}
        self.nodes = []  # (nid, bid_data, bid_sub)
        self.walk_nodes(self.nbt[1], 0, set())

    def walk_nodes(self, ib, depth, seen):
        if depth > 8 or ib in seen or ib + 512 > len(self.data):
            return
        seen.add(ib)
        count, _, size, level = self.data[ib + self.meta:ib + self.meta + 4]
        for i in range(count):
            at = ib + i * size
            if level > 0:
                self.walk_nodes(self.read_id(at + 2 * self.id), depth + 1, seen)
            else:
                nid = self.read_id(at) & 0xFFFFFFFF
                self.nodes.append((nid, self.read_id(at + self.id), self.read_id(at + 2 * self.id)))

    def block(self, bid):
        return self.by_bid.get(bid & ~1)

    def leaves(self, bid, depth=0):
        """External blocks of a data tree (bid itself if it is one)."""
        loc = self.block(bid)
        if loc is None or depth > 3:
            return []
        if not bid & 2:
            return [bid]
        ib, cb = loc
        btype, level, n = self.data[ib], self.data[ib + 1], struct.unpack_from("<H", self.data, ib + 2)[0]
        if btype != 1:
            return []
        out = []
        for i in range(n):
            child = self.read_id(ib + 8 + i * self.id)
            out.extend(self.leaves(child, depth + 1) if level > 0 else [child])
        return out

    def subnode_blocks(self, bid, depth=0):
        """(internal tree blocks, external blocks) below a subnode tree."""
        loc = self.block(bid)
        if not bid or loc is None or depth > 4:
            return [], []
        ib, cb = loc
        btype, level, n = self.data[ib], self.data[ib + 1], struct.unpack_from("<H", self.data, ib + 2)[0]
        if btype != 2:
            return [], []
        inner, outer = [bid], []
        entry = 3 * self.id if level == 0 else 2 * self.id
        head = 8 if self.unicode else 4  # Unicode pads the header to 8 bytes
        for i in range(n):
            at = ib + head + i * entry
            if level == 0:
                data_bid, sub_bid = self.read_id(at + self.id), self.read_id(at + 2 * self.id)
                outer.extend(self.leaves(data_bid))
                i2, o2 = self.subnode_blocks(sub_bid, depth + 1)
                inner += i2
                outer += o2
            else:
                i2, o2 = self.subnode_blocks(self.read_id(at + self.id), depth + 1)
                inner += i2
                outer += o2
        return inner, outer


def flip(buf, ib, cb, rng):
    bit = rng.randrange(cb * 8)
    buf[ib + bit // 8] ^= 1 << (bit % 8)


def scribble(buf, ib, cb, rng):
    for _ in range(rng.choice((1, 4, 16))):
        buf[ib + rng.randrange(cb)] = rng.randrange(256)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--count", type=int, default=4, help="variants of each kind")
    parser.add_argument("clean")
    parser.add_argument("out")
    args = parser.parse_args()
    data = open(args.clean, "rb").read()
    lay = Nodes(data)
    rng = random.Random(args.seed)
    messages = [n for n in lay.nodes if n[0] & 0x1F == NID_TYPE_NORMAL_MESSAGE]
    tables = [n for n in lay.nodes if n[0] & 0x1F == NID_TYPE_CONTENTS_TABLE]
    with_subs = [(m, lay.subnode_blocks(m[2])) for m in messages]
    with_subs = [(m, s) for m, s in with_subs if s[1]]
    if not messages or not with_subs or not tables:
        sys.exit(f"{args.clean}: no messages with subnodes or no contents tables to damage")
    stem = os.path.splitext(os.path.basename(args.clean))[0]
    os.makedirs(args.out, exist_ok=True)
    manifest = []

    def emit(variant, owner, damage):
        buf = bytearray(data)
        damage(buf)
        name = f"{stem}.{variant}.pst"
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(buf)
        manifest.append(f"{name}\t{variant}\t{owner}")

    for k in range(args.count):
        (nid, _, _), (inner, outer) = rng.choice(with_subs)
        bid = rng.choice(outer)
        ib, cb = lay.block(bid)
        seed = rng.random()
        emit(f"data-{k}", nid, lambda b: flip(b, ib, cb, random.Random(seed)))

        def fixed(b, ib=ib, cb=cb, seed=seed):
            flip(b, ib, cb, random.Random(seed))
            lay.fix_block_crc(b, ib, cb)
        emit(f"data-fixed-{k}", nid, fixed)

        (nid, _, _), (inner, outer) = rng.choice(with_subs)
        sib, scb = lay.block(rng.choice(inner))
        seed = rng.random()

        def subnodes(b, ib=sib, cb=scb, seed=seed):
            r = random.Random(seed)
            # Keep the block header (type, level, count) so the damage is
            # in the entries, where a reader must catch it by other means.
            scribble_at = ib + 8
            scribble(b, scribble_at, max(cb - 8, 1), r)
            lay.fix_block_crc(b, ib, cb)
        emit(f"subnodes-{k}", nid, subnodes)

        nid, bid, _ = rng.choice(messages)
        loc = lay.block(bid)
        if loc:
            ib, cb = loc
            seed = rng.random()
            emit(f"message-{k}", nid, lambda b, ib=ib, cb=cb, seed=seed: flip(b, ib, cb, random.Random(seed)))

        tnid, tbid, _ = rng.choice(tables)
        leaves = lay.leaves(tbid)
        if leaves:
            ib, cb = lay.block(rng.choice(leaves))
            seed = rng.random()
            owner = f"folder:{(tnid & ~0x1F) | 0x02}"
            emit(f"folder-table-{k}", owner, lambda b, ib=ib, cb=cb, seed=seed: flip(b, ib, cb, random.Random(seed)))

            def table_fixed(b, ib=ib, cb=cb, seed=seed):
                scribble(b, ib, cb, random.Random(seed))
                lay.fix_block_crc(b, ib, cb)
            emit(f"folder-table-fixed-{k}", owner, table_fixed)

    with open(os.path.join(args.out, "MANIFEST"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"{len(manifest)} damaged copies of {args.clean} in {args.out}")


if __name__ == "__main__":
    main()
