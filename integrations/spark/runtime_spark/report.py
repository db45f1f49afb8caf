"""The launcher's figures: the pipeline's settings it needs (read with
tomllib, `--set` applied), progress lines, the summary, and the JSON run
report: `runtime run --report`'s shape (so `runtime report FILE --html`
draws it), one lane per task worker, plus `engine`, `tasks` and
`executors` (host name and executor id of every task)."""

import os
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib


def size(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _set(doc, key, value):
    parts = key.split(".")
    for p in parts[:-1]:
        doc = doc.setdefault(p, {})
    doc[parts[-1]] = value


def pipeline_settings(pipeline, overrides):
    """name, run.workers, run.max_failed_splits and each sink's format,
    absolute path and app id, as the runtime will see them."""
    with open(pipeline, "rb") as f:
        doc = tomllib.load(f)
    for o in overrides:
        key, _, value = o.partition("=")
        try:
            _set(doc, key.strip(), tomllib.loads(f"v = {value}")["v"])
        except Exception:
            _set(doc, key.strip(), value)
    name = doc.get("name") or os.path.splitext(os.path.basename(pipeline))[0]
    base = os.path.dirname(pipeline)
    sinks = {}
    for sink, s in (doc.get("sinks") or {}).items():
        sinks[sink] = {
            "format": s.get("format", "parquet"),
            "path": os.path.join(base, s.get("path", "")),
            "rel_path": s.get("path", ""),
            "app_id": s.get("app_id") or f"runtime/{name}/{sink}",
        }
    run = doc.get("run") or {}
    return {"name": name, "workers": run.get("workers"),
            "max_failed_splits": str(run.get("max_failed_splits", "10%")), "sinks": sinks}


def progress_line(splits_done, splits_total, rows, nbytes, bytes_total, elapsed):
    rate = nbytes / elapsed if elapsed > 0 else 0
    return (f"progress: {splits_done}/{splits_total} splits done, {rows:,} rows, "
            f"{size(nbytes)} of {size(bytes_total)} ({size(rate)}/s), {elapsed:.0f} s")


def task_error(text):
    """The useful lines of a failed Spark job's error: the task's own."""
    lines = [l for l in text.splitlines()
             if ("RuntimeError:" in l or "runtime run" in l or "error:" in l) and not l.strip().startswith("raise")]
    return "\n".join(lines[:20]) or text[-2000:]


def _base(plan, settings, run_id, started, sc, code):
    session = getattr(sc, "_runtime_spark_ready", started) - started
    return {
        "pipeline": plan.get("pipeline", ""),
        "name": settings["name"],
        "status": "ok" if code == 0 else "failed",
        "exit_code": code,
        "started_at_unix": int(started),
        "elapsed_seconds": time.time() - started,
        "workers": 0,
        "outputs": [],
        "splits_total": len(plan.get("splits", [])),
        "splits_ok": 0, "splits_partial": 0, "splits_failed": 0, "splits_skipped": 0,
        "splits_already_committed": 0,
        "max_failed_splits": settings["max_failed_splits"],
        "run_id": run_id,
        "resumed": False,
        "rows_read": 0, "bytes_read": 0, "rejected_records": 0,
        "rejects": [], "failures": [], "retried": [], "partials": [], "side_tables": [],
        "counters": {}, "plugins": [], "slowest_splits": [], "spilled_bytes": 0,
        "quarantine": None, "peak_rss_bytes": 0, "error": None,
        "timeline": {"splits": [], "others": [], "workers": [],
                     "time": {"reader": 0.0, "transforms": [], "backpressure": 0.0, "host": 0.0,
                              "writer": 0.0, "commit": 0.0},
                     "commits": [], "balance": {"planned_largest_over_mean": plan.get("imbalance", 0.0),
                                                "planned_busiest_over_fair": 0.0,
                                                "measured_busiest_over_fair": 0.0}},
        "engine": {"name": "spark", "master": sc.master, "application_id": sc.applicationId,
                   "spark_version": sc.version,
                   "session_seconds": max(0.0, session)},
        "tasks": [], "executors": [],
    }


def failed(plan, settings, run_id, started, sc, code, error):
    rep = _base(plan, settings, run_id, started, sc, code)
    rep["error"] = f"the Spark job failed: {error}"
    rep["splits_skipped"] = rep["splits_total"]
    return rep


def assemble(plan, settings, run_id, started, sc, results, committed, code, error, commit_started):
    """The report of a launch whose tasks all succeeded; `committed`: the
    JSON of `runtime commit --json` (None when it failed)."""
    rep = _base(plan, settings, run_id, started, sc, code)
    rep["error"] = error
    sums = ("splits_ok", "splits_partial", "splits_failed", "rows_read", "bytes_read",
            "rejected_records", "spilled_bytes")
    lane = 0
    executors = {}
    side = {}
    time_spent = rep["timeline"]["time"]
    stages = {}
    for r in sorted(results, key=lambda r: r["partition"]):
        t = r["report"]
        for k in sums:
            rep[k] += t.get(k, 0)
        for k in ("rejects", "failures", "retried", "partials", "slowest_splits"):
            rep[k].extend(t.get(k, []))
        for k, v in (t.get("counters") or {}).items():
            rep["counters"][k] = rep["counters"].get(k, 0) + v
        for s in t.get("side_tables", []):
            # Read once per executor (the others load it from the executor's
            # side-table cache): show the reading, else a loading.
            if s["name"] not in side or (side[s["name"]].get("cached") and not s.get("cached")):
                side[s["name"]] = s
        side_reads = sorted(s["name"] for s in t.get("side_tables", []) if not s.get("cached"))
        rep["plugins"] = rep["plugins"] or t.get("plugins", [])
        rep["peak_rss_bytes"] = max(rep["peak_rss_bytes"], t.get("peak_rss_bytes", 0))
        offset = r["started_unix"] - started
        tl = t.get("timeline") or {}
        lanes = {}
        for w in tl.get("workers", []):
            lanes[w["worker"]] = lane
            rep["timeline"]["workers"].append(dict(w, worker=lane))
            lane += 1
        for s in tl.get("splits", []):
            if s["worker"] not in lanes:
                lanes[s["worker"]] = lane
                lane += 1
            rep["timeline"]["splits"].append(dict(s, worker=lanes[s["worker"]], start=s["start"] + offset,
                                                  end=s["end"] + offset))
        rep["timeline"]["others"].extend(tl.get("others", []))
        tt = tl.get("time") or {}
        for k in ("reader", "backpressure", "host", "writer"):
            time_spent[k] += tt.get(k, 0.0)
        for st in tt.get("transforms", []):
            stages[st["stage"]] = stages.get(st["stage"], 0.0) + st["seconds"]
        task = {
            "partition": r["partition"], "attempt": r["attempt"], "attempt_number": r["attempt_number"],
            "host": r["host"], "executor_id": r["executor_id"], "manifest": r["manifest"],
            "staged_files": r.get("staged_files", {}), "runtime": r.get("runtime"),
            "splits": len(r["split_ids"]), "rows_read": t.get("rows_read", 0),
            "bytes_read": t.get("bytes_read", 0), "splits_failed": t.get("splits_failed", 0),
            "start": offset, "end": r["ended_unix"] - started,
            "runtime_seconds": t.get("elapsed_seconds", 0.0), "workers": t.get("workers", 1),
            "side_tables_read": side_reads,
        }
        rep["tasks"].append(task)
        e = executors.setdefault((r["host"], r["executor_id"]), {
            "host": r["host"], "executor_id": r["executor_id"], "tasks": 0, "splits": 0,
            "rows_read": 0, "bytes_read": 0, "busy_seconds": 0.0, "side_table_reads": 0})
        e["tasks"] += 1
        e["side_table_reads"] += len(side_reads)
        e["splits"] += task["splits"]
        e["rows_read"] += task["rows_read"]
        e["bytes_read"] += task["bytes_read"]
        e["busy_seconds"] += task["end"] - task["start"]
    time_spent["transforms"] = [{"stage": k, "seconds": v} for k, v in stages.items()]
    rep["timeline"]["splits"].sort(key=lambda s: s["start"])
    rep["slowest_splits"] = sorted(rep["slowest_splits"], key=lambda s: -s["seconds"])[:3]
    rep["side_tables"] = list(side.values())
    rep["executors"] = sorted(executors.values(), key=lambda e: (e["host"], str(e["executor_id"])))
    rep["workers"] = lane
    busy = [w["busy_seconds"] for w in rep["timeline"]["workers"]]
    if busy and sum(busy) > 0:
        rep["timeline"]["balance"]["measured_busiest_over_fair"] = max(busy) / (sum(busy) / len(busy))
    rep["splits_skipped"] = rep["splits_total"] - rep["splits_ok"] - rep["splits_partial"] - rep["splits_failed"]
    if committed is not None:
        rep["run_id"] = committed.get("run_id", run_id)
        now = time.time()
        time_spent["commit"] = now - commit_started
        for s in committed.get("sinks", []):
            conf = settings["sinks"].get(s["name"], {})
            new = s.get("version") is not None
            rep["outputs"].append({
                "name": s["name"], "path": conf.get("rel_path", ""), "format": conf.get("format", ""),
                "rows": s.get("rows", 0) if new else 0, "bytes": s.get("bytes", 0) if new else 0,
                "committed": True, "versions": [s["version"]] if new else [],
                "previous_version": None, "splits_skipped": 0,
            })
            rep["timeline"]["commits"].append({
                "sink": s["name"], "start": commit_started - started, "seconds": now - commit_started,
                "version": s.get("version"), "complete": bool(s.get("complete")), "ok": True})
        rep["committed"] = committed
    rep["elapsed_seconds"] = time.time() - started
    return rep


def summary(rep):
    n, e = len(rep["tasks"]), len(rep["executors"])
    lines = [f"{rep['name']}: {rep['status']} in {rep['elapsed_seconds']:.1f} s with "
             f"{n} Spark task{'s' * (n != 1)} on {e} executor{'s' * (e != 1)} ({rep['engine']['master']}"
             + (f"; session ready after {rep['engine']['session_seconds']:.1f} s)"
                if rep["engine"].get("session_seconds", 0) >= 0.1 else ")"),
             f"  splits   {rep['splits_total']} total: {rep['splits_ok']} ok, {rep['splits_partial']} partial, "
             f"{rep['splits_failed']} failed" + (f", {rep['splits_already_committed']} already committed"
                                                 if rep['splits_already_committed'] else ""),
             f"  in       {rep['rows_read']:,} rows, {size(rep['bytes_read'])}"]
    for e in rep["executors"]:
        lines.append(f"  executor {e['executor_id']} on {e['host']}: {e['tasks']} task{'s' * (e['tasks'] != 1)}, {e['splits']} splits, "
                     f"{e['rows_read']:,} rows, {size(e['bytes_read'])}, {e['busy_seconds']:.1f} s busy")
    for o in rep["outputs"]:
        v = f"version {o['versions'][-1]}" if o["versions"] else "nothing new"
        lines.append(f"  out      {o['name']}: {o['rows']:,} rows, {size(o['bytes'])} -> {o['path']} ({v})")
    return "\n".join(lines) + "\n"
