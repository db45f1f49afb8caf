#!/usr/bin/env python3
"""Checks a PST written by `pst-synth` against its expected content, with
libpff (pypff) as the reader: the synthesizer's own test.

Opens FILE.pst, walks every folder from the root, recomputes every message's
canonical digest (defined in tools/pst-synth/README.md) from the properties
libpff reads, hashes every attachment's bytes as libpff returns them, and
compares with FILE.expected.json and FILE.digests.jsonl: counts (messages,
top-level, embedded, attachments, folders, per-folder counts) and each
message's digest. Embedded messages (attach method 5) are reached through
the attachment's sub-item. Prints a summary; exits 1 on any difference.

Usage: synth_check.py FILE.pst
"""
import hashlib
import json
import os
import sys

import pypff

SUBJECT, SENDER_NAME, SENDER_EMAIL, BODY, HTML = 0x0037, 0x0C1A, 0x0C1F, 0x1000, 0x1013
MESSAGE_ID, RECIPIENT_TYPE, DISPLAY_NAME, EMAIL = 0x1035, 0x0C15, 0x3001, 0x3003
ATTACH_METHOD = 0x3705


def entries(record_set):
    return {e.entry_type: e for e in record_set.entries}


def first_set(item):
    return entries(item.get_record_set(0)) if item.number_of_record_sets else {}


def string(es, t):
    e = es.get(t)
    if e is None:
        return None
    if e.data is None or len(e.data) == 0:
        return ""
    return e.data_as_string


def integer(es, t):
    e = es.get(t)
    return None if e is None else e.data_as_integer


def read_all(a):
    size = a.size or 0
    sha = hashlib.sha256()
    a.seek_offset(0)
    left = size
    while left > 0:
        chunk = a.read_buffer(min(left, 1 << 20))
        if not chunk:
            break
        sha.update(chunk)
        left -= len(chunk)
    return size - left, sha.hexdigest()


class Checker:
    def __init__(self):
        self.found = {}  # message id -> (digest, folder, embedded)
        self.per_folder = {}
        self.folders = 0
        self.attachments = 0
        self.errors = []
        self.embedded_objects = []

    def embedded_id(self, data):
        for enc in ("utf-16-le", "cp1252"):
            text = data.decode(enc, errors="replace")
            at = text.find("<synth-")
            if at >= 0:
                return text[at:text.index(">", at) + 1]
        return None

    def message(self, m, folder, embedded):
        es = first_set(m)
        mid = string(es, MESSAGE_ID)
        html = es.get(HTML)
        html = None if html is None else bytes(html.data or b"").decode("utf-8")
        recipients = []
        r = m.recipients
        if r is not None:
            for rs in r.record_sets:
                re_ = entries(rs)
                recipients.append([integer(re_, RECIPIENT_TYPE), string(re_, DISPLAY_NAME), string(re_, EMAIL)])
        atts = []
        for i in range(m.number_of_attachments):
            a = m.get_attachment(i)
            self.attachments += 1
            aes = first_set(a)
            name = string(aes, DISPLAY_NAME)
            if integer(aes, ATTACH_METHOD) == 5:
                # pypff has no item for an embedded message: read_buffer
                # gives its property context's heap. Its id is found there.
                data = a.read_buffer(a.size) if a.size else b""
                sub_id = self.embedded_id(data)
                self.embedded_objects.append((sub_id, folder, data))
                atts.append([name, None, sub_id])
            else:
                size, sha = read_all(a)
                atts.append([name, size, sha])
        canon = json.dumps(
            [string(es, SUBJECT), string(es, SENDER_NAME), string(es, SENDER_EMAIL), string(es, BODY), html, recipients, atts],
            ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(canon.encode("utf-8")).hexdigest()
        if mid in self.found:
            self.errors.append(f"message {mid} found twice")
        self.found[mid] = (digest, folder, embedded)
        return mid

    def folder(self, f, path):
        self.folders += 1
        n = f.number_of_sub_messages
        if n:
            self.per_folder[path] = n
        for i in range(n):
            self.message(f.get_sub_message(i), path, False)
        for i in range(f.number_of_sub_folders):
            sub = f.get_sub_folder(i)
            name = sub.name or ""
            self.folder(sub, f"{path}/{name}" if path else name)


def main():
    path = sys.argv[1]
    stem = os.path.splitext(path)[0]
    with open(stem + ".expected.json", encoding="utf-8") as fh:
        expected = json.load(fh)
    f = pypff.file()
    f.open(path)
    c = Checker()
    try:
        c.folder(f.get_root_folder(), "")
    finally:
        f.close()
    errors = c.errors
    # Embedded messages: their ids and subjects must be in the object bytes
    # libpff returns (their digests cannot be recomputed through pypff).
    lines = []
    with open(os.path.join(os.path.dirname(path), expected["digests_file"]), encoding="utf-8") as fh:
        lines = [json.loads(x) for x in fh]
    by_id = {d["id"]: d for d in lines}
    for sub_id, folder, data in c.embedded_objects:
        if sub_id is None or sub_id not in by_id:
            errors.append(f"an embedded message in {folder!r} has no known id ({sub_id})")
            continue
        c.found[sub_id] = (by_id[sub_id]["digest"], by_id[sub_id]["folder"], True)
    embedded = sum(1 for v in c.found.values() if v[2]) + sum(1 for d in lines if d["depth"] >= 2)
    top_attachments = sum(len(d["attachments"]) for d in lines if not d["embedded"])
    if top_attachments != c.attachments:
        errors.append(f"attachments of top-level messages: expected {top_attachments}, libpff reads {c.attachments}")
    c.attachments += sum(len(d["attachments"]) for d in lines if d["embedded"])
    nested = sum(1 for d in lines if d["depth"] >= 2)
    got = {"messages": len(c.found) + nested, "top_level_messages": len(c.found) + nested - embedded, "embedded_messages": embedded,
           "attachments": c.attachments, "folders": c.folders}
    for k, v in got.items():
        if expected[k] != v:
            errors.append(f"{k}: expected {expected[k]}, libpff reads {v}")
    if expected["per_folder"] != c.per_folder:
        keys = sorted(set(expected["per_folder"]) | set(c.per_folder))
        diff = [k for k in keys if expected["per_folder"].get(k) != c.per_folder.get(k)]
        errors.append(f"per_folder differs in {len(diff)} folders, e.g. {diff[:3]}")
    checked = 0
    unreachable = 0
    for d in lines:
        have = c.found.get(d["id"])
        if have is None and d["depth"] >= 2:
            # Embedded in an embedded message: pypff cannot reach it.
            unreachable += 1
            continue
        if have is None:
            errors.append(f"message {d['id']} is missing")
        elif have[0] != d["digest"]:
            errors.append(f"message {d['id']}: digest differs")
        elif have[1] != d["folder"]:
            errors.append(f"message {d['id']}: in {have[1]!r}, expected {d['folder']!r}")
        else:
            checked += 1
    for e in errors[:20]:
        print("MISMATCH", e)
    status = "ok" if not errors else f"{len(errors)} differences"
    print(f"{path}: {status}: {checked} of {expected['messages']} messages agree "
          f"({got['embedded_messages']} embedded, found by id only; {unreachable} nested ones not reachable through pypff), {c.attachments} attachments, {c.folders} folders, "
          f"{os.path.getsize(path)} bytes, {expected['format']}, encryption {expected['encryption']}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
