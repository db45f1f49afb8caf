//! The writer thread: it owns every sink for the run. Batches arrive
//! tagged with their unit (split attempt or final phase) and are staged;
//! a unit's batches are written to the sinks' data files when the unit
//! commits, dropped when it aborts. Sinks commit at their cadence and once
//! at the end of a successful run (see the diagram in [`super`]).

use super::error::SinkError;
use super::gate::Gate;
use super::staging::{Staging, Unit};
use super::table::{CommitMeta, RunIdentity};
use super::{CommitTime, OpenSink, SinkResult, WriterMsg, WriterReport};
use crossbeam_channel::Receiver;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
    /// A unit of this run reached the sink (its rows were written, even if
    /// there were none): what an overwrite needs before it replaces data.
    took_any: bool,
    /// Each commit's start and duration, for the run report.
    commits: Vec<CommitTime>,
}

impl SinkState {
    fn commit(&mut self, run: &RunIdentity, complete: bool) -> Result<(), SinkError> {
        kill_knob::before_commit(complete);
        let bytes = self.open.writer.pending_bytes();
        let meta = CommitMeta {
            run_id: run.run_id.clone(),
            pipeline: run.pipeline.clone(),
            splits: std::mem::take(&mut self.pending),
            complete,
            rows: self.pending_rows,
        };
        let at = Instant::now();
        let version = self.open.writer.commit(&meta);
        self.commits.push(CommitTime {
            sink: self.open.name.clone(),
            at,
            took: at.elapsed(),
            version: version.as_ref().ok().copied().flatten(),
            complete,
            ok: version.is_ok(),
        });
        let version = version.map_err(|e| e.of(&self.open.name))?;
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

/// Releases a batch's bytes from the gate when dropped.
struct Release<'a>(&'a Gate, u64);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// Closes the gate when dropped (the writer returned or unwound).
struct CloseOnDrop<'a>(&'a Gate);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
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
    gate: Arc<Gate>,
) -> WriterReport {
    // When the writer is done (or gone), nobody waits for room any more.
    let _close = CloseOnDrop(&gate);
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
            took_any: false,
            commits: Vec::new(),
        })
        .collect();
    // Time spent staging and writing batches (commits are timed apart).
    let mut writing = Duration::ZERO;
    let mut staging = Staging::new(budget, &spill_dir);
    let mut error: Option<String> = None;
    let mut commit_all = false;
    let fail = |e: SinkError, error: &mut Option<String>| {
        if error.is_none() {
            tracing::error!("writer: {e}");
            *error = Some(e.to_string());
        }
        stop.store(true, Ordering::SeqCst);
    };
    let delay = std::env::var("RUNTIME_WRITER_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis);
    for msg in rx {
        match msg {
            WriterMsg::Batch { unit, sink, batch, charge } => {
                crate::panics::injected("writer");
                // Staged (or dropped): its bytes are no longer in flight.
                let _release = Release(&gate, charge);
                if let Some(d) = delay {
                    std::thread::sleep(d);
                }
                let t0 = Instant::now();
                if error.is_none()
                    && let Err(e) = staging.add(unit, sink, batch)
                {
                    fail(e, &mut error);
                }
                writing += t0.elapsed();
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
                for s in sinks.iter_mut() {
                    let fed = match &key {
                        Some(k) => !s.open.final_phase && !s.open.opened.committed.contains(k),
                        None => s.open.final_phase,
                    };
                    s.took_any |= fed && !s.open.opened.completed;
                }
                let t0 = Instant::now();
                let r = staging.commit(unit, |i, batch| {
                    let s = &mut sinks[i];
                    if key.as_ref().is_some_and(|k| s.open.opened.committed.contains(k)) {
                        return Ok(());
                    }
                    s.pending_rows += batch.num_rows() as u64;
                    s.open.writer.write(&batch).map_err(|e| e.of(&s.open.name))
                });
                writing += t0.elapsed();
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
        if commit && (s.open.opened.completed || (s.open.replaces && !s.took_any)) {
            // Nothing of this run is for this sink: the table stays as it is.
            tracing::info!("{}: nothing new to commit; left as it was", s.open.name);
            s.open.writer.abort();
        } else if commit {
            match s.commit(&identity, true) {
                Ok(()) => s.committed = true,
                Err(e) => {
                    tracing::error!("writer: {e}");
                    error.get_or_insert(e.to_string());
                }
            }
        } else {
            s.open.writer.abort();
        }
    }
    let commits = sinks.iter_mut().flat_map(|s| std::mem::take(&mut s.commits)).collect();
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
    WriterReport { sinks: results, spilled_bytes: staging.spilled_bytes, error, writing, commits }
}

/// `RUNTIME_TEST_KILL_BEFORE_COMMIT=N`: the process aborts (as a `kill -9`
/// would end it) just before the run's N-th commit, or before its final
/// commit if that comes first. A testing knob for the resume tests: a run
/// killed at a chosen point between commits, deterministically.
mod kill_knob {
    use std::sync::atomic::{AtomicU64, Ordering};

    static COMMITS: AtomicU64 = AtomicU64::new(0);

    pub fn before_commit(complete: bool) {
        let Some(n) =
            std::env::var("RUNTIME_TEST_KILL_BEFORE_COMMIT").ok().and_then(|v| v.parse::<u64>().ok())
        else {
            return;
        };
        let this = COMMITS.fetch_add(1, Ordering::SeqCst) + 1;
        if complete || this >= n {
            eprintln!("RUNTIME_TEST_KILL_BEFORE_COMMIT: aborting before commit {this}");
            std::process::abort();
        }
    }
}
