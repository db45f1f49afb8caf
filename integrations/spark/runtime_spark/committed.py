"""What the tables already hold, for `--resume`: the commits the runtime
recorded in each sink (Delta: `commitInfo.runtime` of every version in
`_delta_log/`; Parquet folders: `_runtime_manifest.json`'s commits), read
the way `runtime run --resume` reads them: the last run recorded, the split
keys it committed, and whether it completed."""

import glob
import json
import os


def sink_commits(sink_path, fmt, app_id):
    """[(version, meta)] of the runtime's commits for `app_id`."""
    out = []
    if fmt == "delta":
        for f in sorted(glob.glob(os.path.join(sink_path, "_delta_log", "*.json"))):
            try:
                version = int(os.path.basename(f).split(".")[0])
            except ValueError:
                continue
            with open(f) as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    action = json.loads(line)
                    meta = (action.get("commitInfo") or {}).get("runtime")
                    if isinstance(meta, dict) and meta.get("app_id") == app_id:
                        out.append((version, meta))
    else:
        manifest = os.path.join(sink_path, "_runtime_manifest.json")
        if os.path.exists(manifest):
            with open(manifest) as fh:
                doc = json.load(fh)
            for c in doc.get("commits", []):
                meta = c.get("meta") or {}
                if meta.get("app_id") == app_id:
                    out.append((c.get("version", 0), meta))
    return out


def last_run(settings):
    """For every sink: (run_id, set of committed keys, complete) of the last
    run recorded in it, or None when it records none."""
    found = {}
    for name, sink in settings["sinks"].items():
        commits = sink_commits(sink["path"], sink["format"], sink["app_id"])
        if not commits:
            found[name] = None
            continue
        run = max(commits, key=lambda c: c[0])[1]["run_id"]
        keys = set()
        complete = False
        for _, meta in commits:
            if meta.get("run_id") == run:
                keys.update(meta.get("splits", []))
                complete = complete or bool(meta.get("complete"))
        found[name] = (run, keys, complete)
    return found
