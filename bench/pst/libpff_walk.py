#!/usr/bin/env python3
"""The libpff baseline of the PST benchmark: what a Spark executor's Python
task does today, without Spark. Every file is opened with libpff (pypff)
and walked from the root folder; for every message it reads the fields the
runtime's `pst` plugin extracts: subject, sender, recipients (display name,
e-mail address, type), plain-text and HTML bodies, transport headers,
conversation topic, submit and delivery times, and each attachment's bytes,
hashed with SHA-256. A `multiprocessing.Pool` of N processes (default 2)
shares the files.

Prints one JSON object: files, failed files, messages, attachments,
attachment bytes, seconds.

Usage: libpff_walk.py [--processes N] FILE.pst...
"""
import argparse
import hashlib
import json
import multiprocessing
import sys
import time

import pypff

DISPLAY_NAME, EMAIL_ADDRESS, SMTP_ADDRESS, RECIPIENT_TYPE = 0x3001, 0x3003, 0x39FE, 0x0C15
STRING_TYPES = (0x1E, 0x1F)


def field(item, name):
    try:
        return getattr(item, name)
    except (AttributeError, OSError):
        return None


def recipients(m):
    """(type, name, address) of every recipient, from the recipients table."""
    table = field(m, "recipients")
    if table is None:
        return []
    out = []
    for record_set in table.record_sets:
        values = {}
        for e in record_set.entries:
            if e.entry_type in (DISPLAY_NAME, EMAIL_ADDRESS, SMTP_ADDRESS) and e.value_type in STRING_TYPES:
                values[e.entry_type] = e.data_as_string
            elif e.entry_type == RECIPIENT_TYPE and e.data:
                values[e.entry_type] = int.from_bytes(e.data[:4], "little")
        out.append((
            values.get(RECIPIENT_TYPE),
            values.get(DISPLAY_NAME),
            values.get(SMTP_ADDRESS) or values.get(EMAIL_ADDRESS),
        ))
    return out


def read_message(m, totals):
    if not isinstance(m, pypff.message):
        # Free/busy data and other non-message items: libpff gives them
        # only raw entries; read those.
        for record_set in m.record_sets:
            for e in record_set.entries:
                _ = e.data
        totals["messages"] += 1
        return
    row = (
        field(m, "subject"),
        field(m, "sender_name"),
        recipients(m),
        field(m, "plain_text_body"),
        field(m, "html_body"),
        field(m, "transport_headers"),
        field(m, "conversation_topic"),
        field(m, "client_submit_time"),
        field(m, "delivery_time"),
    )
    totals["messages"] += 1
    totals["fields"] += sum(v is not None for v in row)
    for i in range(m.number_of_attachments):
        a = m.get_attachment(i)
        size = a.size or 0
        data = a.read_buffer(size) if size else b""
        hashlib.sha256(data).hexdigest()
        totals["attachments"] += 1
        totals["attachment_bytes"] += len(data)


def walk(folder, totals):
    for i in range(folder.number_of_sub_messages):
        read_message(folder.get_sub_message(i), totals)
    for i in range(folder.number_of_sub_folders):
        try:
            sub = folder.get_sub_folder(i)
        except OSError:
            continue  # search folders
        walk(sub, totals)


def read_file(path):
    totals = {"messages": 0, "attachments": 0, "attachment_bytes": 0, "fields": 0, "failed": 0}
    f = pypff.file()
    try:
        f.open(path)
        walk(f.get_root_folder(), totals)
    except (OSError, IOError):
        totals["failed"] = 1
    finally:
        try:
            f.close()
        except (OSError, IOError):
            pass
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    start = time.perf_counter()
    sums = {"files": len(args.files), "failed": 0, "messages": 0, "attachments": 0, "attachment_bytes": 0, "fields": 0}
    with multiprocessing.Pool(args.processes) as pool:
        for t in pool.imap_unordered(read_file, args.files, chunksize=16):
            for k, v in t.items():
                sums[k] += v
    sums["seconds"] = time.perf_counter() - start
    json.dump(sums, sys.stdout)
    print()


if __name__ == "__main__":
    main()
