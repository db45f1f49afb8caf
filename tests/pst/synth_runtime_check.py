#!/usr/bin/env python3
"""Checks the runtime's `pst` output for mailboxes written by `pst-synth`
against what the synthesizer says it wrote, with pyarrow as the reader.

For each FILE.pst given, reads FILE.expected.json and FILE.digests.jsonl,
takes the rows of MESSAGES.parquet and ATTACHMENTS.parquet whose
`source_path` ends with the file's name, and compares:

- counts: messages (embedded included), top-level and embedded messages,
  attachments, and the top-level messages of every folder, and every
  message's folder (an embedded message's is its parent's);
- every message's canonical digest (tools/pst-synth/README.md), recomputed
  from the columns: subject, sender name and address, plain and HTML body,
  the recipients as [type, name, address] (to = 1, cc = 2, bcc = 3, in that
  order, which is the order the synthesizer writes them), and the
  attachments as [name, size, sha256], or [name, null, id of the embedded
  message] for an embedded message;
- that no `message_key`, and no `attachment_key` within its message,
  appears twice.

Unlike synth_check.py (libpff), this reaches messages nested inside embedded
messages, so every message is checked. Prints one line per file; exits 1 on
any difference.

Usage: synth_runtime_check.py MESSAGES.parquet ATTACHMENTS.parquet FILE.pst...
"""
import collections
import hashlib
import json
import os
import sys

import pyarrow.parquet as pq

KINDS = (("to", 1), ("cc", 2), ("bcc", 3))


def load(path, columns):
    return pq.read_table(path, columns=columns).to_pylist()


def check(pst, messages, attachments):
    stem = os.path.splitext(pst)[0]
    with open(stem + ".expected.json", encoding="utf-8") as fh:
        expected = json.load(fh)
    with open(stem + ".digests.jsonl", encoding="utf-8") as fh:
        lines = [json.loads(x) for x in fh]
    name = os.path.basename(pst)
    mine = [m for m in messages if os.path.basename(m["source_path"]) == name]
    atts = [a for a in attachments if os.path.basename(a["source_path"]) == name]
    errors = []

    by_key = {}
    for m in mine:
        if m["message_key"] in by_key:
            errors.append(f"message_key {m['message_key']} appears twice")
        by_key[m["message_key"]] = m
    seen_att = set()
    atts_of = collections.defaultdict(list)
    for a in atts:
        # An attachment's key is its subnode id, unique within its message.
        key = (a["message_key"], a["attachment_key"])
        if key in seen_att:
            errors.append(f"attachment {key} appears twice")
        seen_att.add(key)
        atts_of[a["message_key"]].append(a)

    found = {}
    per_folder = collections.Counter()
    for m in mine:
        recipients = [[t, r["name"], r["email"]] for col, t in KINDS for r in (m[col] or [])]
        canon_atts = []
        for a in atts_of.get(m["message_key"], []):
            if a["embedded_message_key"] is not None:
                sub = by_key.get(a["embedded_message_key"])
                canon_atts.append([a["filename"], None, sub and sub["internet_message_id"]])
            else:
                canon_atts.append([a["filename"], a["size_bytes"], a["sha256"]])
        canon = json.dumps(
            [m["subject"], m["sender_name"], m["sender_email"], m["body_text"], m["body_html"], recipients, canon_atts],
            ensure_ascii=False, separators=(",", ":"))
        mid = m["internet_message_id"]
        if mid in found:
            errors.append(f"message {mid} read twice")
        found[mid] = (hashlib.sha256(canon.encode("utf-8")).hexdigest(), m)
        if m["parent_message_key"] is None:
            per_folder[m["folder_path"]] += 1

    got = {
        "messages": len(mine),
        "top_level_messages": sum(1 for m in mine if m["parent_message_key"] is None),
        "embedded_messages": sum(1 for m in mine if m["parent_message_key"] is not None),
        "attachments": len(atts),
    }
    for k, v in got.items():
        if expected[k] != v:
            errors.append(f"{k}: expected {expected[k]}, the runtime wrote {v}")
    got_folders = dict(per_folder)
    if got_folders != expected["per_folder"]:
        keys = sorted(set(got_folders) | set(expected["per_folder"]))
        diff = [k for k in keys if got_folders.get(k) != expected["per_folder"].get(k)]
        errors.append(f"per-folder counts differ in {len(diff)} folders, e.g. "
                      + "; ".join(f"{k!r}: expected {expected['per_folder'].get(k)}, got {got_folders.get(k)}" for k in diff[:3]))
    agree = 0
    for d in lines:
        have = found.get(d["id"])
        if have is None:
            errors.append(f"message {d['id']} is missing")
        elif have[0] != d["digest"]:
            errors.append(f"message {d['id']}: digest differs")
        elif have[1]["folder_path"] != d["folder"]:
            errors.append(f"message {d['id']}: in {have[1]['folder_path']!r}, expected {d['folder']!r}")
        else:
            agree += 1
    for e in errors[:20]:
        print("MISMATCH", name, e)
    status = "ok" if not errors else f"{len(errors)} differences"
    print(f"{name}: {status}: {agree} of {len(lines)} messages agree, {len(atts)} attachments, "
          f"{expected['format']}, encryption {expected['encryption']}")
    return not errors


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cols_m = ["source_path", "folder_path", "message_key", "parent_message_key", "subject", "sender_name",
              "sender_email", "to", "cc", "bcc", "internet_message_id", "body_text", "body_html"]
    cols_a = ["source_path", "message_key", "attachment_key", "filename", "size_bytes", "sha256",
              "embedded_message_key"]
    messages = load(sys.argv[1], cols_m)
    attachments = load(sys.argv[2], cols_a)
    ok = all([check(p, messages, attachments) for p in sys.argv[3:]])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
