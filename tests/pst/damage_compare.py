#!/usr/bin/env python3
"""Checks that damage never changes a message silently: compares what the
runtime read from each damaged copy (tests/pst/damage_targeted.py) with what
it read from the clean file, in one run's output (pyarrow) and report.

For each damaged copy V listed in MANIFEST:

- every message row of V (all columns but `source_path`) equals the clean
  file's row with the same `message_key`, and every attachment row the clean
  row with the same (`message_key`, `attachment_key`); the one exception is
  the owner of damage the format cannot detect (a variant whose checksum was
  recomputed over changed bytes of one message's blocks: `data-fixed-*`,
  `subnodes-*`), whose rows (and those of messages embedded in it) may
  differ; they are counted as "changed, undetectable";
- every clean row missing from V is accounted for: by a reject in the report
  for that message or attachment (or one it is embedded in), or by the
  split's partial reason, whose "N message(s) lost" must cover the missing
  top-level messages no reject explains; a failed split explains everything;
- no key appears twice.

Prints one line per copy and a total; exits 1 on any unexplained difference.

Usage: damage_compare.py MESSAGES.parquet ATTACHMENTS.parquet REPORT.json MANIFEST CLEAN.pst
"""
import collections
import json
import os
import re
import sys

import pyarrow.parquet as pq

UNDETECTABLE = ("data-fixed-", "subnodes-")


def rows_by_file(path, key):
    out = collections.defaultdict(dict)
    dup = []
    for r in pq.read_table(path).to_pylist():
        name = os.path.basename(r.pop("source_path"))
        k = key(r)
        if k in out[name]:
            dup.append((name, k))
        if "content" in r and r["content"] is not None:
            r["content"] = len(r["content"])  # sha256 covers the bytes
        out[name][k] = r
    return out, dup


def reject_key(location):
    """'folder F / message X / attachment Y / attachment Z' -> 'X/Y/Z'."""
    m = re.search(r"/ message (\d+)((?: / attachment \d+)*)$", location)
    if not m:
        return None
    return "/".join([m.group(1)] + re.findall(r"attachment (\d+)", m.group(2)))


def covered(key, rejected):
    parts = key.split("/")
    return any("/".join(parts[:i]) in rejected for i in range(1, len(parts) + 1))


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    messages, dup_m = rows_by_file(sys.argv[1], lambda r: r["message_key"])
    attachments, dup_a = rows_by_file(sys.argv[2], lambda r: (r["message_key"], r["attachment_key"]))
    report = json.load(open(sys.argv[3], encoding="utf-8"))
    manifest = [line.split("\t") for line in open(sys.argv[4], encoding="utf-8").read().splitlines() if line]
    clean = os.path.basename(sys.argv[5])
    errors = [f"{n}: key {k} twice" for n, k in dup_m + dup_a]
    if not messages.get(clean):
        sys.exit(f"no rows for the clean file {clean}")
    status = {}
    for p in report.get("partials", []):
        status[os.path.basename(p["split"])] = ("partial", p["reason"])
    for f in report.get("failures", []):
        status[os.path.basename(f["input"])] = ("failed", f["error"])
    rejected = collections.defaultdict(set)
    for r in report.get("rejects", []):
        k = reject_key(r["location"])
        if k:
            rejected[os.path.basename(r["file"])].add(k)
    if len(report.get("rejects", [])) < report.get("rejected_records", 0):
        errors.append("the report lists fewer rejects than it counts; cannot account for losses")
    totals = collections.Counter()
    for name, variant, owner in manifest:
        st, reason = status.get(name, ("ok", ""))
        totals[st] += 1
        got_m, got_a = messages.get(name, {}), attachments.get(name, {})
        exempt = variant.startswith(UNDETECTABLE) and not owner.startswith("folder:")
        same = changed = 0
        for k, row in got_m.items():
            ref = messages[clean].get(k)
            if ref == row:
                same += 1
            elif exempt and (k == owner or k.startswith(owner + "/")):
                changed += 1
            else:
                what = "not in the clean file" if ref is None else \
                    "differs in " + ", ".join(c for c in row if row[c] != ref.get(c))
                errors.append(f"{name} ({variant}): message {k} {what}")
        for k, row in got_a.items():
            ref = attachments[clean].get(k)
            if ref != row and not (exempt and (k[0] == owner or k[0].startswith(owner + "/"))):
                what = "not in the clean file" if ref is None else \
                    "differs in " + ", ".join(c for c in row if row[c] != ref.get(c))
                errors.append(f"{name} ({variant}): attachment {k} {what}")
            elif ref != row:
                changed += 1
        rej = rejected.get(name, set())
        missing = [k for k in messages[clean] if k not in got_m]
        unexplained = [k for k in missing if not covered(k, rej)]
        # Embedded messages go with the message that holds them.
        top = [k for k in unexplained if "/" not in k]
        orphans = [k for k in unexplained if "/" in k and k.split("/")[0] not in top]
        missing_a = [k for k in attachments[clean] if k not in got_a]
        bad_a = [k for k in missing_a if not covered(f"{k[0]}/{k[1]}", rej) and k[0] in got_m]
        if st != "failed":
            if orphans:
                errors.append(f"{name} ({variant}): embedded messages missing without a reason: {orphans[:3]}")
            if bad_a:
                errors.append(f"{name} ({variant}): attachments missing without a reason: {bad_a[:3]}")
            if top:
                m = re.search(r"(\d+) message\(s\) lost", reason)
                counted = int(m.group(1)) if m else 0
                if st != "partial" or (counted < len(top) and "unreadable" not in reason):
                    errors.append(f"{name} ({variant}): {len(top)} messages missing, "
                                  f"the report accounts for {counted} ({st}: {reason or 'no reason'})")
        totals["messages_same"] += same
        totals["changed_undetectable"] += changed
        totals["messages_missing"] += len(missing)
        print(f"{name}: {st}; {same} messages as in the clean file, {changed} changed (undetectable), "
              f"{len(missing)} missing ({len(missing) - len(unexplained)} by rejects), "
              f"{len(missing_a)} attachments missing")
    for e in errors[:30]:
        print("MISMATCH", e)
    print(f"total: {len(manifest)} damaged copies ({totals['ok']} ok, {totals['partial']} partial, "
          f"{totals['failed']} failed); {totals['messages_same']} messages identical, "
          f"{totals['changed_undetectable']} rows changed where the format cannot tell, "
          f"{totals['messages_missing']} messages missing and accounted for; "
          f"{'no' if not errors else len(errors)} unexplained differences")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
