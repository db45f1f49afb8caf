//! The single writer: one thread owns every output.
//!
//! Workers send batches through a bounded channel (backpressure: a slow
//! writer blocks the workers, memory stays bounded), tagged with the unit
//! (split attempt) they belong to. The writer stages them ([`staging`]) and,
//! when the worker reports the unit done, appends them to the outputs; a
//! failed unit is discarded. At the end the run either commits every output
//! (files renamed into place) or aborts them all, leaving earlier outputs
//! untouched.
//!
//! `RUNTIME_WRITER_DELAY_MS` makes the writer sleep that long per batch: a
//! testing knob that simulates slow storage (the backpressure test uses it).
//!
//! ```text
//!  workers ──Batch(unit, sink, batch)──▶ staging ──Commit(unit)──▶ ParquetFile.write
//!          ──Commit(unit) / Abort(unit)─▶            Finish(true) ─▶ ParquetFile.commit (rename)
//!                                                    Finish(false) ▶ ParquetFile.abort
//! ```

pub mod parquet;
pub mod staging;

use crate::prepare::Prepared;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use crossbeam_channel::Receiver;
use parquet::ParquetFile;
use staging::Staging;
pub use staging::Unit;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Messages to the writer.
pub enum WriterMsg {
    Batch {
        unit: Unit,
        sink: usize,
        batch: RecordBatch,
    },
    Commit(Unit),
    Abort(Unit),
    /// The run is over: commit the outputs or drop them.
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
    pub rows: u64,
    pub bytes: u64,
    pub committed: bool,
}

/// What the writer did.
#[derive(Debug, Clone, Default)]
pub struct WriterReport {
    pub sinks: Vec<SinkResult>,
    pub spilled_bytes: u64,
    /// The first error, if writing failed.
    pub error: Option<String>,
}

struct SinkState {
    name: String,
    shown: String,
    path: PathBuf,
    schema: SchemaRef,
    props: ::parquet::file::properties::WriterProperties,
    file: Option<ParquetFile>,
    rows: u64,
}

/// The writer thread's loop. `stop` is raised when writing fails so the
/// workers stop early.
pub fn run(
    prepared: &Prepared,
    rx: Receiver<WriterMsg>,
    budget: u64,
    spill_dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> WriterReport {
    let mut sinks: Vec<SinkState> = prepared
        .sinks
        .iter()
        .map(|s| SinkState {
            name: s.stage.name.clone(),
            shown: s.stage.path_as_written.clone(),
            path: s.stage.path.clone(),
            schema: prepared.streams[s.input].schema.clone(),
            props: parquet::properties(&s.stage),
            file: None,
            rows: 0,
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
                if error.is_none() {
                    if let Err(e) = staging.add(unit, sink, batch) {
                        fail(e, &mut error);
                    }
                }
            }
            WriterMsg::Abort(unit) => staging.discard(unit),
            WriterMsg::Commit(unit) => {
                if error.is_some() {
                    staging.discard(unit);
                    continue;
                }
                let r = staging.commit(unit, |i, batch| {
                    let s = &mut sinks[i];
                    if s.file.is_none() {
                        s.file = Some(ParquetFile::create(&s.path, s.schema.clone(), s.props.clone())?);
                    }
                    s.rows += batch.num_rows() as u64;
                    s.file.as_mut().expect("opened above").write(&batch)
                });
                if let Err(e) = r {
                    fail(e, &mut error);
                }
            }
            WriterMsg::Finish { commit } => {
                commit_all = commit;
                break;
            }
        }
    }
    let commit = commit_all && error.is_none();
    let mut results = Vec::new();
    for s in sinks {
        let mut bytes = 0;
        let mut committed = false;
        let file = match (s.file, commit) {
            // An output with no rows is still a valid (empty) file.
            (None, true) => ParquetFile::create(&s.path, s.schema.clone(), s.props.clone()).map(Some),
            (f, _) => Ok(f),
        };
        match file {
            Ok(Some(f)) if commit => match f.commit() {
                Ok(size) => {
                    bytes = size;
                    committed = true;
                }
                Err(e) => {
                    if error.is_none() {
                        error = Some(e);
                    }
                }
            },
            Ok(Some(f)) => f.abort(),
            Ok(None) => {}
            Err(e) => {
                if error.is_none() {
                    error = Some(e);
                }
            }
        }
        results.push(SinkResult {
            name: s.name,
            path: s.shown,
            format: "parquet".into(),
            rows: if committed { s.rows } else { 0 },
            bytes,
            committed,
        });
    }
    WriterReport { sinks: results, spilled_bytes: staging.spilled_bytes, error }
}
