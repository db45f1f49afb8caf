#!/usr/bin/env python3
"""Compares the runtime's `recover = true` reading of damaged mailboxes with
libpff's (pypff) own recovery, message for message: for the acceptance point
"the recover mode recovers at least as many intact messages as pypff".

For every damaged copy in MANIFEST (tests/pst/damage_targeted.py), counts:
- the runtime: top-level `messages` rows of that file equal, column for
  column, to the clean file's row (damage_compare.py checks that every
  other one is a change the format cannot detect);
- pypff: the distinct messages it yields, walking the folders
  (`get_root_folder`, sub-folders, sub-messages) and then its orphan
  items (`get_orphan_item`: the items libpff finds in the node index that
  no folder reaches; libpff-python exposes no other recovery), counted
  when intact: when their digest of every field (synth_check.py's, over
  what libpff reads, attachments included) and of every property value
  libpff gives equal the same message's in the clean file.
A file libpff cannot open counts 0 for it. Prints one line per file and
exits 1 when the runtime has fewer than libpff for any file.

Usage: recover_compare.py MESSAGES.parquet MANIFEST DAMAGED_DIR CLEAN.pst
"""
import collections
import hashlib
import os
import struct
import sys

import pyarrow.parquet as pq
import pypff

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_check import Checker  # noqa: E402


def intact(path):
    """Message id -> (synth_check.py's canonical digest of the fields libpff
    gives, a digest of all its property values) of every message libpff
    reads from `path`, through its folders and then its orphan items; a
    message whose fields libpff cannot read is left out."""
    checker = Checker()
    f = pypff.file()
    try:
        f.open(path)
    except (IOError, OSError):
        return {}

    entries = {}

    def read(item):
        try:
            mid = checker.message(item, "", False)
            # Every property libpff gives, too: a damaged block can empty a
            # property the digest does not cover (seen: the normalized
            # subject), and such a message is not intact either.
            props = hashlib.sha256()
            for rs in item.record_sets:
                for e in sorted(rs.entries, key=lambda e: (e.entry_type, e.value_type)):
                    props.update(struct.pack("<II", e.entry_type, e.value_type))
                    data = bytes(e.data or b"")
                    props.update(struct.pack("<Q", len(data)) + data)
            entries[mid] = props.hexdigest()
        except (IOError, OSError, UnicodeDecodeError, ValueError):
            pass

    def items(count, get):
        """get(i) for i below count(), skipping what libpff cannot read."""
        try:
            n = count()
        except (IOError, OSError):
            return
        for i in range(n):
            try:
                yield get(i)
            except (IOError, OSError):
                continue

    def walk(folder, depth):
        if depth > 64:
            return
        for m in items(lambda: folder.number_of_sub_messages, folder.get_sub_message):
            read(m)
        for sub in items(lambda: folder.number_of_sub_folders, folder.get_sub_folder):
            walk(sub, depth + 1)

    for root in items(lambda: 1, lambda _: f.get_root_folder()):
        walk(root, 0)
    for item in items(lambda: f.number_of_orphan_items, f.get_orphan_item):
        read(item)
    f.close()
    return {mid: (digest, entries.get(mid)) for mid, (digest, _, _) in checker.found.items() if mid}


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    rows = collections.defaultdict(dict)  # file -> message_key -> row
    for r in pq.read_table(sys.argv[1]).to_pylist():
        if r["parent_message_key"] is None:
            name = os.path.basename(r.pop("source_path"))
            r.pop("recovered", None)
            rows[name][r["message_key"]] = r
    clean = os.path.basename(sys.argv[4])
    reference = intact(sys.argv[4])
    wanted = {r["internet_message_id"] for r in rows[clean].values()}
    manifest = [line.split("\t") for line in open(sys.argv[2], encoding="utf-8").read().splitlines() if line]
    worse = []
    total_ours = total_theirs = 0
    for name, variant, _ in manifest:
        got = intact(os.path.join(sys.argv[3], name))
        theirs = {mid for mid, d in got.items() if reference.get(mid) == d}
        # The runtime's intact messages: rows equal to the clean file's.
        mine = {r["internet_message_id"] for k, r in rows[name].items() if rows[clean].get(k) == r}
        total_ours += len(mine)
        total_theirs += len(theirs)
        print(f"{name}: runtime {len(mine)}, libpff {len(theirs)} intact of {len(wanted)}")
        if len(mine) < len(theirs):
            worse.append(name)
    print(f"total: runtime {total_ours}, libpff {total_theirs} intact messages over {len(manifest)} damaged copies")
    if worse:
        print(f"MISMATCH the runtime recovers fewer messages than libpff from: {', '.join(worse)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
