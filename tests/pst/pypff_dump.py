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

Usage: pypff_dump.py FILE.pst... > reference.jsonl
"""
import json
import os
import sys

import pypff

SUBJECT, SENDER_NAME, MESSAGE_CLASS, BODY = 0x0037, 0x0C1A, 0x001A, 0x1000


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


def walk(file_name, folder, path, out):
    for i in range(folder.number_of_sub_messages):
        out.append(message_record(file_name, path, folder.get_sub_message(i)))
    for i in range(folder.number_of_sub_folders):
        try:
            sub = folder.get_sub_folder(i)
        except OSError:
            # libpff refuses search folders here; they hold no messages.
            continue
        name = sub.name or ""
        walk(file_name, sub, f"{path}/{name}" if path else name, out)


def dump(path):
    f = pypff.file()
    f.open(path)
    out = []
    try:
        walk(os.path.basename(path), f.get_root_folder(), "", out)
    finally:
        f.close()
    return out


def main():
    for path in sys.argv[1:]:
        for record in dump(path):
            print(json.dumps(record, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
