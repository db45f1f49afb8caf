#!/usr/bin/env python3
"""Dumps every message of PST files as JSON Lines, read with libpff (pypff).

This is the independent reference the `pst` plugin is compared against. It
walks every folder from the root folder (including folders outside the IPM
subtree, such as "Freebusy Data"), depth first, messages of a folder before
its sub-folders, and prints one JSON object per message:

    {"file": "sample1.pst", "folder_path": "Top of Outlook data file/Sample1",
     "message_key": "2097188", "parent_message_key": null,
     "message_class": "IPM.Note", "subject": "...", "sender_name": "...",
     "body_text": "...", "attachment_count": 1}

`folder_path` joins folder names with "/" below the (nameless) root folder.
`message_key` is libpff's identifier, the message's node id. Items libpff does
not type as messages (free/busy data) have their fields read from the raw
property entries. Subjects lose the MAPI normalized-subject marker (U+0001
plus a length character), as libpff's own subject getter does; bodies lose
trailing NULs.

With `--full`, every message record also gets `record: "message"` and the
fields libpff has getters for: `conversation_topic`, `transport_headers`,
`sent_at` (client submit time) and `received_at` (delivery time) as
ISO 8601 UTC strings with microseconds; and after each message comes one
record per attachment:

    {"record": "attachment", "file": "sample1.pst", "message_key": "2097188",
     "attachment_key": "32805", "attach_method": 1, "size": 93142,
     "long_filename": "leah_thumper.jpg", "sha256": "6cbd...",
     "object_hex": null}

`size` and `sha256` are of the bytes libpff reads for the attachment
(`read_buffer`). For an embedded message (`attach_method` 5) libpff has no
item to walk; what it reads is the embedded message's own property context,
given whole as `object_hex`, so a reader's view of the embedded message can
be checked against the bytes it came from. The default output (without
`--full`) is what `tests/fixtures/pst/reference/pypff.jsonl` holds.

Usage: pypff_dump.py [--full] FILE.pst... > reference.jsonl
"""
import json
import os
import sys

import pypff

import hashlib

SUBJECT, SENDER_NAME, MESSAGE_CLASS, BODY = 0x0037, 0x0C1A, 0x001A, 0x1000
ATTACH_METHOD, EMBEDDED = 0x3705, 5


def entry(item, entry_type):
    for record_set in item.record_sets:
        for e in record_set.entries:
            if e.entry_type == entry_type:
                return e
    return None


def entry_string(item, entry_type):
    e = entry(item, entry_type)
    if e is None or e.value_type not in (0x1E, 0x1F):
        return None
    return e.data_as_string


def strip_marker(subject):
    if subject and subject[0] == "\x01":
        return subject[2:]
    return subject


def text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value.rstrip("\x00")


def getter(item, name):
    try:
        return getattr(item, name)
    except (AttributeError, OSError):
        return None


def entry_int(item, entry_type):
    e = entry(item, entry_type)
    if e is None or e.value_type != 0x03 or e.data is None or len(e.data) < 4:
        return None
    return int.from_bytes(e.data[:4], "little", signed=True)


def timestamp(value):
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def full_fields(m, record):
    """The further fields of `--full`, from libpff's own getters."""
    is_message = isinstance(m, pypff.message)
    record["record"] = "message"
    for field, name in (("conversation_topic", "conversation_topic"), ("transport_headers", "transport_headers")):
        record[field] = text(getter(m, name)) if is_message else None
    record["sent_at"] = timestamp(getter(m, "client_submit_time")) if is_message else None
    record["received_at"] = timestamp(getter(m, "delivery_time")) if is_message else None


def attachment_records(file_name, m):
    if not isinstance(m, pypff.message):
        return []
    out = []
    for i in range(m.number_of_attachments):
        a = m.get_attachment(i)
        size = a.size or 0
        data = a.read_buffer(size) if size else b""
        method = entry_int(a, ATTACH_METHOD)
        out.append({
            "record": "attachment",
            "file": file_name,
            "message_key": str(m.identifier),
            "attachment_key": str(a.identifier),
            "attach_method": method,
            "size": len(data),
            "long_filename": getter(a, "long_filename"),
            "sha256": hashlib.sha256(data).hexdigest(),
            "object_hex": data.hex() if method == EMBEDDED else None,
        })
    return out


def message_record(file_name, path, m):
    is_message = isinstance(m, pypff.message)
    subject = getter(m, "subject") if is_message else None
    if subject is None:
        subject = strip_marker(entry_string(m, SUBJECT))
    sender = getter(m, "sender_name") if is_message else None
    if sender is None:
        sender = entry_string(m, SENDER_NAME)
    body = getter(m, "plain_text_body") if is_message else None
    if body is None:
        body = entry_string(m, BODY)
    attachments = getter(m, "number_of_attachments") if is_message else None
    return {
        "file": file_name,
        "folder_path": path,
        "message_key": str(m.identifier),
        "parent_message_key": None,
        "message_class": entry_string(m, MESSAGE_CLASS),
        "subject": subject,
        "sender_name": sender,
        "body_text": text(body),
        "attachment_count": attachments or 0,
    }


def walk(file_name, folder, path, out, full):
    for i in range(folder.number_of_sub_messages):
        m = folder.get_sub_message(i)
        record = message_record(file_name, path, m)
        out.append(record)
        if full:
            full_fields(m, record)
            out.extend(attachment_records(file_name, m))
    for i in range(folder.number_of_sub_folders):
        try:
            sub = folder.get_sub_folder(i)
        except OSError:
            # libpff refuses search folders here; they hold no messages.
            continue
        name = sub.name or ""
        walk(file_name, sub, f"{path}/{name}" if path else name, out, full)


def dump(path, full=False):
    f = pypff.file()
    f.open(path)
    out = []
    try:
        walk(os.path.basename(path), f.get_root_folder(), "", out, full)
    finally:
        f.close()
    return out


def main():
    args = sys.argv[1:]
    full = "--full" in args
    for path in (a for a in args if a != "--full"):
        for record in dump(path, full):
            print(json.dumps(record, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
