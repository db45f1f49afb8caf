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
//! it again, and a sink that replaces its table (overwrite, one Parquet file)
//! commits only when this run wrote something to it: a run whose every split
//! was committed earlier never replaces a table with nothing. A resumed run
//! that already made its final commit on a sink commits nothing there.
//!
//! A `--stage-only` run swaps the tables for staging writers ([`stage`]):
//! the same writer thread, but its "commits" only finish data files under
//! the attempt's folder, listed in a manifest ([`manifest`]) that `runtime
//! commit` ([`commit`]) turns into table commits.
//!
//! `RUNTIME_WRITER_DELAY_MS` makes the writer sleep that long per batch: a
//! testing knob that simulates slow storage (the backpressure test uses it).

pub mod commit;
pub mod delta;
pub mod error;
pub mod file;
pub mod folder;
pub mod gate;
pub mod manifest;
pub mod parquet;
pub mod partition;
pub mod schema;
pub mod stage;
pub mod staging;
pub mod table;
pub mod writer;

use crate::config::{SinkFormat, SinkStage};
use crate::prepare::{Phase, Prepared};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use error::SinkError;
pub use staging::Unit;
use std::collections::HashSet;
use table::{Opened, RunIdentity, TableWriter};
pub use writer::run;

/// Messages to the writer.
pub enum WriterMsg {
    /// Sent through [`WriterTx::batch`], which counts `charge` bytes in
    /// flight until the writer has staged the batch.
    Batch {
        unit: Unit,
        sink: usize,
        batch: RecordBatch,
        charge: u64,
    },
    Commit(Unit),
    Abort(Unit),
    /// The run is over: commit the outputs or drop what is uncommitted.
    Finish {
        commit: bool,
    },
}

/// The workers' end of the channel to the writer: bounded by message count
/// (the channel) and by bytes in flight ([`gate::Gate`]).
#[derive(Clone)]
pub struct WriterTx {
    tx: crossbeam_channel::Sender<WriterMsg>,
    gate: std::sync::Arc<gate::Gate>,
}

/// The writer has stopped taking messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterGone;

impl WriterTx {
    pub fn new(tx: crossbeam_channel::Sender<WriterMsg>, gate: std::sync::Arc<gate::Gate>) -> Self {
        WriterTx { tx, gate }
    }

    /// Sends a batch, first waiting for room in the byte budget.
    pub fn batch(&self, unit: Unit, sink: usize, batch: RecordBatch) -> Result<(), WriterGone> {
        let charge = staging::retained_bytes(&batch);
        self.gate.acquire(charge);
        self.tx.send(WriterMsg::Batch { unit, sink, batch, charge }).map_err(|_| {
            self.gate.release(charge);
            WriterGone
        })
    }

    /// Sends a message that carries no batch (commit, abort, finish).
    pub fn send(&self, msg: WriterMsg) -> Result<(), WriterGone> {
        debug_assert!(!matches!(msg, WriterMsg::Batch { .. }), "batches go through WriterTx::batch");
        self.tx.send(msg).map_err(|_| WriterGone)
    }
}

/// What one sink wrote.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// Time spent staging batches and writing them to data files.
    pub writing: std::time::Duration,
    /// Every commit the writer attempted, in order.
    pub commits: Vec<CommitTime>,
}

/// One commit of a sink: when it started and how long it took.
#[derive(Debug, Clone)]
pub struct CommitTime {
    pub sink: String,
    pub at: std::time::Instant,
    pub took: std::time::Duration,
    /// The table version it made, if the format has versions.
    pub version: Option<i64>,
    /// The run's final commit of this sink.
    pub complete: bool,
    pub ok: bool,
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
    /// Its final commit replaces what the table held (`mode = "overwrite"`,
    /// a single Parquet file).
    pub replaces: bool,
    pub commit_every_splits: Option<u64>,
    pub commit_every_bytes: Option<u64>,
}

/// Opens every sink: tables are created or checked (schema, earlier runs)
/// before any split runs, so an incompatible table fails the run before
/// anything is written.
/// `keys` are the planned splits' keys (see [`crate::plan::split_key`]).
pub fn open_sinks(
    prepared: &Prepared,
    run: &RunIdentity,
    keys: &[String],
) -> Result<Vec<OpenSink>, SinkError> {
    let mut out = Vec::new();
    for s in &prepared.sinks {
        let stream = &prepared.streams[s.input];
        let (writer, opened) =
            open_table(&s.stage, stream.schema.clone(), run, keys).map_err(|e| e.of(&s.stage.name))?;
        out.push(OpenSink {
            name: s.stage.name.clone(),
            shown: s.stage.path_as_written.clone(),
            format: s.stage.format.name(),
            writer,
            opened,
            final_phase: stream.phase == Phase::Final,
            replaces: s.stage.format == SinkFormat::ParquetFile
                || s.stage.table.mode == crate::config::WriteMode::Overwrite,
            commit_every_splits: s.stage.table.commit_every_splits,
            commit_every_bytes: s.stage.table.commit_every_bytes,
        });
    }
    Ok(out)
}

/// Opens the table of a sink before the run: creates it if needed, checks
/// the schema, and reads which splits earlier runs committed.
pub fn open_table(
    stage: &SinkStage,
    schema: SchemaRef,
    run: &RunIdentity,
    keys: &[String],
) -> Result<(Box<dyn TableWriter>, Opened), SinkError> {
    match stage.format {
        SinkFormat::ParquetFile => {
            let (w, opened) = file::ParquetFileSink::open(stage, schema, run, keys)?;
            Ok((Box::new(w), opened))
        }
        SinkFormat::ParquetDir => {
            let (w, opened) = folder::ParquetFolderSink::open(stage, schema, run)?;
            Ok((Box::new(w), opened))
        }
        SinkFormat::Delta => {
            let (w, opened) = delta::DeltaSink::open(stage, schema, run)?;
            Ok((Box::new(w), opened))
        }
    }
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
