//! Integration tests: each runs the real `runtime` binary on a real pipeline
//! in a temporary folder and reads the outputs back.
//!
//! Where new tests go:
//! - `pod_usage`: the pod-usage example against the spec's checksums.
//! - `parquet`: the `parquet` reader against DuckDB (codecs, types, schemas, damage).
//! - `csv`: the `csv` reader against DuckDB (quoted newlines over many splits, inference, dialects, rejects).
//! - `ndjson`: the `ndjson` reader against DuckDB (nested types, dotted paths, inferred columns printed to paste).
//! - `external_plugin`: a plugin built outside the host's workspace.
//! - `failures`: malformed lines, unreadable files, the error policy.
//! - `hostile`: plugins that attack the sandbox; limits, grants, error policy.
//! - `hardening`: panics, staging charges, bounded and escaped plugin text.
//! - `backpressure`: bounded memory with a slow writer.
//! - `pst`: the pst-mailboxes example against libpff; damaged mailboxes.
//! - `pst_synth`: mailboxes written by tools/pst-synth (every layout and encoding) against their expected content.
//! - `sql`: the `sql` reader against PostgreSQL and SQLite; kills, grants.
//! - `cli`: command output and config errors (snapshots).
//! - `compat`: plugins built against the released WIT 0.1.0.
//! - `python_plugins`: Python plugins (the examples, a hostile one) built with componentize-py.
//! - `report_html`: the HTML run report in headless Chromium.
//! - `resume`: reruns over an existing table (resume, skip_committed, neither).
//! - `splits`: `plan --json` fingerprints and `run --splits` (a plan run in parts).
//! - `stage`: `run --stage-only` attempts and `runtime commit` (a distributed run without a cluster).
//! - `spark`: the PySpark launcher (`integrations/spark`) on a real local Spark cluster (`tests/spark`).

mod util;

mod backpressure;
mod cli;
mod compat;
mod csv;
mod external_plugin;
mod failures;
mod hardening;
mod hostile;
mod ndjson;
mod new_plugin;
mod parquet;
mod pod_usage;
mod pst;
mod pst_synth;
mod python_plugins;
mod report_html;
mod resume;
mod spark;
mod splits;
mod sql;
mod stage;
mod tables;
