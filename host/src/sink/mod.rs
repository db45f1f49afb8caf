//! The single writer: one thread owns every output.
//!
//! Workers send batches through a bounded channel (backpressure: a slow
//! writer blocks the workers, memory stays bounded), tagged with the unit
//! (split attempt) they belong to. The writer stages them ([`staging`]) and,
//! when the worker reports the unit done, appends them to each sink's data
//! files; a failed unit is discarded. Sinks commit ([`table`]) as their
//! cadence says and once at the end of a successful run; a run that fails
//! drops what it has not committed, leaving the outputs as the last commit
//! left them.
//!
//! ```text
//!  workers ──Batch(unit, sink, batch)──▶ staging ──Commit(unit)──▶ TableWriter.write (data files)
//!          ──Commit(unit) / Abort(unit)─▶          cadence reached ─▶ TableWriter.commit (new version)
//!                                                  Finish(true) ───▶ TableWriter.commit (complete)
//!                                                  Finish(false) ──▶ TableWriter.abort
//! ```
//!
//! Splits a sink already holds (resume, `skip_committed`) are not written to
//! it again. `RUNTIME_WRITER_DELAY_MS` makes the writer sleep that long per
//! batch: a testing knob that simulates slow storage (the backpressure test
//! uses it).

pub mod delta;
pub mod file;
pub mod folder;
pub mod parquet;
pub mod staging;
pub mod table;

use crate::prepare::{Phase, Prepared};
use arrow_array::RecordBatch;
use crossbeam_channel::Receiver;
use staging::Staging;
pub use staging::Unit;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use table::{CommitMeta, Opened, RunIdentity, TableWriter};

/// Messages to the writer.
pub enum WriterMsg {
    Batch {
        unit: Unit,
        sink: usize,
        batch: RecordBatch,
    },
    Commit(Unit),
    Abort(Unit),
    /// The run is over: commit the outputs or drop what is uncommitted.
    Finish {
        commit: bool,
    },
}

/// What one sink wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SinkResult {
    pub name: String,
    /// As written in the pipeline (relative to the pipeline file).
    pub path: String,
    pub format: String,
    /// Rows this run committed.
    pub rows: u64,
    /// Bytes of data this run committed.
    pub bytes: u64,
    /// Whether the run's final commit happened.
    pub committed: bool,
    /// Table versions this run committed (Delta versions, manifest
    /// versions); empty for a single Parquet file.
    pub versions: Vec<i64>,
    /// The table's version before the run, if it existed.
    pub previous_version: Option<i64>,
    /// Splits skipped because the table already held them.
    pub splits_skipped: u64,
}

/// What the writer did.
#[derive(Debug, Clone, Default)]
pub struct WriterReport {
    pub sinks: Vec<SinkResult>,
    pub spilled_bytes: u64,
    /// The first error, if writing failed.
    pub error: Option<String>,
}

/// A sink opened before the run, ready for the writer thread.
pub struct OpenSink {
    pub name: String,
    pub shown: String,
    pub format: &'static str,
    pub writer: Box<dyn TableWriter>,
    pub opened: Opened,
    /// Fed by the final phase (aggregations): commits only at the end.
    pub final_phase: bool,
    pub commit_every_splits: Option<u64>,
    pub commit_every_bytes: Option<u64>,
}

/// Opens every sink: tables are created or checked (schema, earlier runs)
/// before any split runs, so an incompatible table fails the run before
/// anything is written.
pub fn open_sinks(prepared: &Prepared, run: &RunIdentity) -> Result<Vec<OpenSink>, String> {
    let mut out = Vec::new();
    for s in &prepared.sinks {
        let stream = &prepared.streams[s.input];
        let (writer, opened) = table::open(&s.stage, stream.schema.clone(), run)
            .map_err(|e| format!("sinks.{}: {e}", s.stage.name))?;
        out.push(OpenSink {
            name: s.stage.name.clone(),
            shown: s.stage.path_as_written.clone(),
            format: s.stage.format.name(),
            writer,
            opened,
            final_phase: stream.phase == Phase::Final,
            commit_every_splits: s.stage.table.commit_every_splits,
            commit_every_bytes: s.stage.table.commit_every_bytes,
        });
    }
    Ok(out)
}

struct SinkState {
    open: OpenSink,
    /// Splits written since the last commit.
    pending: Vec<String>,
    pending_rows: u64,
    rows: u64,
    bytes: u64,
    versions: Vec<i64>,
    skipped: u64,
    committed: bool,
}

impl SinkState {
    fn commit(&mut self, run: &RunIdentity, complete: bool) -> Result<(), String> {
        let bytes = self.open.writer.pending_bytes();
        let meta = CommitMeta {
            run_id: run.run_id.clone(),
            pipeline: run.pipeline.clone(),
            splits: std::mem::take(&mut self.pending),
            complete,
            rows: self.pending_rows,
        };
        let version = self.open.writer.commit(&meta).map_err(|e| format!("sinks.{}: {e}", self.open.name))?;
        self.versions.extend(version);
        self.rows += std::mem::take(&mut self.pending_rows);
        self.bytes += bytes;
        Ok(())
    }

    fn cadence_reached(&self) -> bool {
        if self.open.final_phase || !self.open.writer.can_commit_early() || self.pending.is_empty() {
            return false;
        }
        self.open.commit_every_splits.is_some_and(|n| self.pending.len() as u64 >= n)
            || self.open.commit_every_bytes.is_some_and(|b| self.open.writer.pending_bytes() >= b)
    }
}

/// The writer thread's loop. `keys[i]` is split `i`'s key (what commits
/// record). `stop` is raised when writing fails so the workers stop early.
#[allow(clippy::too_many_arguments)]
pub fn run(
    sinks: Vec<OpenSink>,
    keys: Arc<Vec<String>>,
    identity: RunIdentity,
    rx: Receiver<WriterMsg>,
    budget: u64,
    spill_dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> WriterReport {
    let mut sinks: Vec<SinkState> = sinks
        .into_iter()
        .map(|open| SinkState {
            open,
            pending: Vec::new(),
            pending_rows: 0,
            rows: 0,
            bytes: 0,
            versions: Vec::new(),
            skipped: 0,
            committed: false,
        })
        .collect();
    let mut staging = Staging::new(budget, &spill_dir);
    let mut error: Option<String> = None;
    let mut commit_all = false;
    let fail = |e: String, error: &mut Option<String>| {
        if error.is_none() {
            tracing::error!("writer: {e}");
            *error = Some(e);
        }
        stop.store(true, Ordering::SeqCst);
    };
    let delay = std::env::var("RUNTIME_WRITER_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis);
    for msg in rx {
        match msg {
            WriterMsg::Batch { unit, sink, batch } => {
                if let Some(d) = delay {
                    std::thread::sleep(d);
                }
                if error.is_none()
                    && let Err(e) = staging.add(unit, sink, batch)
                {
                    fail(e, &mut error);
                }
            }
            WriterMsg::Abort(unit) => staging.discard(unit),
            WriterMsg::Commit(unit) => {
                if error.is_some() {
                    staging.discard(unit);
                    continue;
                }
                let key = match unit {
                    Unit::Split { index, .. } => keys.get(index as usize).cloned(),
                    Unit::Final => None,
                };
                let r = staging.commit(unit, |i, batch| {
                    let s = &mut sinks[i];
                    if key.as_ref().is_some_and(|k| s.open.opened.committed.contains(k)) {
                        return Ok(());
                    }
                    s.pending_rows += batch.num_rows() as u64;
                    s.open.writer.write(&batch).map_err(|e| format!("sinks.{}: {e}", s.open.name))
                });
                if let Err(e) = r {
                    fail(e, &mut error);
                    continue;
                }
                if let Some(k) = key {
                    for s in sinks.iter_mut() {
                        if s.open.opened.committed.contains(&k) {
                            s.skipped += 1;
                        } else {
                            s.pending.push(k.clone());
                        }
                    }
                }
                for s in sinks.iter_mut() {
                    if s.cadence_reached()
                        && let Err(e) = s.commit(&identity, false)
                    {
                        fail(e, &mut error);
                        break;
                    }
                }
            }
            WriterMsg::Finish { commit } => {
                commit_all = commit;
                break;
            }
        }
    }
    let commit = commit_all && error.is_none();
    for s in sinks.iter_mut() {
        if commit {
            match s.commit(&identity, true) {
                Ok(()) => s.committed = true,
                Err(e) => {
                    tracing::error!("writer: {e}");
                    error.get_or_insert(e);
                }
            }
        } else {
            s.open.writer.abort();
        }
    }
    let results = sinks
        .into_iter()
        .map(|s| SinkResult {
            name: s.open.name,
            path: s.open.shown,
            format: s.open.format.into(),
            rows: s.rows,
            bytes: s.bytes,
            committed: s.committed,
            versions: s.versions,
            previous_version: s.open.opened.version,
            splits_skipped: s.skipped,
        })
        .collect();
    WriterReport { sinks: results, spilled_bytes: staging.spilled_bytes, error }
}

/// Splits every sink already holds: they need not run at all.
pub fn fully_committed(sinks: &[OpenSink], keys: &[String]) -> HashSet<usize> {
    if sinks.is_empty() {
        return HashSet::new();
    }
    keys.iter()
        .enumerate()
        .filter(|(_, k)| sinks.iter().all(|s| s.opened.committed.contains(*k)))
        .map(|(i, _)| i)
        .collect()
}
