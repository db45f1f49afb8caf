#!/usr/bin/env python3
"""The libpff baseline of the big-mailbox benchmark (bench/pst/big.py): the
walk of libpff_walk.py (same fields, every attachment's bytes read and
hashed with SHA-256), but with a big file split by folder so that
`multiprocessing.Pool(N)` can put both cores on one mailbox, as a Spark or
Python user would.

- A file up to `--split-bytes` (default 256 MiB) is one task: a worker
  opens it and walks it from the root folder (libpff_walk.py's walk).
- A larger file is first opened in the parent process, which walks the
  folder tree only (no messages) and lists every folder with its number of
  messages; each folder is then one task: a worker opens the file (once:
  each worker process keeps a split file open for its other folders) and
  reads that folder's own messages, not its subfolders'.
- Tasks go to `Pool(N).imap_unordered(..., chunksize=1)` largest first
  (folders by message count, whole files by size), so the two processes
  end close together. The folder listing is timed: it is part of the work.

Prints one JSON object: files, failed files, tasks, messages (top-level
items, as libpff lists them), attachments, attachment bytes, seconds.

Usage: libpff_split.py [--processes N] [--split-bytes N] FILE.pst...
"""
import argparse
import json
import multiprocessing
import os
import sys
import time

import pypff

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from libpff_walk import read_message, walk  # noqa: E402

_open = {}


def opened(path):
    """The worker's pypff.file for a split `path`, opened on its first task
    and kept open for the others."""
    if path not in _open:
        f = pypff.file()
        f.open(path)
        _open[path] = f
    return _open[path]


def list_folders(path):
    """[(index path, messages)] of every folder of `path` (the root
    included), by walking the folder tree without reading messages."""
    f = pypff.file()
    f.open(path)
    out = []

    def rec(folder, idx):
        out.append((idx, folder.number_of_sub_messages))
        for i in range(folder.number_of_sub_folders):
            try:
                sub = folder.get_sub_folder(i)
            except OSError:
                continue  # search folders
            rec(sub, idx + (i,))

    rec(f.get_root_folder(), ())
    f.close()
    return out


def run_task(task):
    kind, path, idx = task
    totals = {"messages": 0, "attachments": 0, "attachment_bytes": 0, "fields": 0, "failed": 0}
    try:
        if kind == "file":
            f = pypff.file()
            f.open(path)
            try:
                walk(f.get_root_folder(), totals)
            finally:
                f.close()
        else:
            folder = opened(path).get_root_folder()
            for i in idx:
                folder = folder.get_sub_folder(i)
            for i in range(folder.number_of_sub_messages):
                read_message(folder.get_sub_message(i), totals)
    except (OSError, IOError):
        totals["failed"] = 1
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--split-bytes", type=int, default=256 << 20)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    start = time.perf_counter()
    tasks = []  # (weight, task)
    for path in args.files:
        size = os.path.getsize(path)
        if size <= args.split_bytes:
            tasks.append((size, ("file", path, ())))
        else:
            folders = list_folders(path)
            per_msg = size / max(1, sum(n for _, n in folders))
            tasks += [(n * per_msg, ("folder", path, idx)) for idx, n in folders if n]
    tasks.sort(key=lambda t: -t[0])
    sums = {"files": len(args.files), "tasks": len(tasks), "failed": 0, "messages": 0,
            "attachments": 0, "attachment_bytes": 0, "fields": 0}
    with multiprocessing.Pool(args.processes) as pool:
        for t in pool.imap_unordered(run_task, [t for _, t in tasks], chunksize=1):
            for k, v in t.items():
                sums[k] += v
    sums["seconds"] = time.perf_counter() - start
    json.dump(sums, sys.stdout)
    print()


if __name__ == "__main__":
    main()
