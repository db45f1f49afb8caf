//! Executing a prepared pipeline.
//!
//! ```text
//!   side tables (read once) ─┐
//!                            ▼
//!   plan ──▶ splits, largest first ──▶ rayon pool (work stealing, FIFO)
//!                                        │ worker: reader ─emit─▶ router ─▶ transforms
//!                                        │                           │
//!                                        │        partial states ────┼──▶ final stage thread
//!                                        ▼                           ▼            │
//!                              bounded channel ─────────────▶ writer thread ◀──────┘
//!                                                           (stage, commit / abort)
//! ```
//!
//! Workers run splits; each split's output is staged by the writer and
//! committed only when the split succeeds. When the failed splits pass
//! `run.max_failed_splits`, no new splits start and the outputs are not
//! committed. Otherwise the outputs are committed and failures listed in the
//! report.

pub mod ctx;
pub mod error;
pub mod final_stage;
pub mod router;
pub mod side_cache;
pub mod side_tables;
pub mod stage;
pub mod worker;

use crate::plugin::Runtime;
use crate::prepare::Prepared;
use crate::progress::Progress;
use crate::report::quarantine;
use crate::report::{RunReport, SplitRecord, SplitStatus};
use crate::sink::{self, WriterMsg};
use crossbeam_channel::bounded;
pub use ctx::{Ctx, FinalMsg};
use error::ExecError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use worker::Worker;

/// Sends the writer its `Finish` when dropped: at the end of a run, or
/// when the run's own thread unwinds.
struct FinishGuard<'a> {
    writer: &'a sink::WriterTx,
    commit: bool,
}

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        let _ = self.writer.send(WriterMsg::Finish { commit: self.commit && !std::thread::panicking() });
    }
}

/// The most bytes of batches on their way to the writer: a quarter of the
/// staging budget, at least 8 MiB (one batch always passes).
pub fn in_flight_budget(max_staged_bytes: u64) -> u64 {
    (max_staged_bytes / 4).max(8 << 20)
}

/// `--resume` of a run that completed, when the inputs are no longer the
/// ones it committed: continuing it would mean writing the new splits under
/// a finished run (an overwrite would even drop them), so the run is refused
/// with what to do instead.
fn resume_changed_inputs(sinks: &[sink::OpenSink], keys: &[String], run: &str) -> Option<String> {
    let s =
        sinks.iter().find(|s| s.opened.completed && keys.iter().any(|k| !s.opened.committed.contains(k)))?;
    let missing = keys.iter().filter(|k| !s.opened.committed.contains(*k)).count();
    Some(format!(
        "--resume: the last run recorded in {} (run {run}) completed, and {missing} of the {} planned splits are \
         not in it (the inputs changed since); run without --resume to write every split again (an overwrite \
         replaces the table), or, for an append, set skip_committed = true to add only the new splits",
        s.shown,
        keys.len()
    ))
}

/// Settings of one run from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub workers: Option<usize>,
    /// `--resume`: continue an interrupted run where its sinks support it
    /// (Delta, Parquet), instead of starting the outputs afresh.
    pub resume: bool,
    /// `--splits`: run only these splits of the plan.
    pub splits: Option<SplitSelection>,
    /// `--stage-only`: stage the sinks' files for `runtime commit` instead
    /// of committing them.
    pub stage: Option<sink::stage::StageTarget>,
    /// `runtime commit` of an aggregating pipeline: merge staged partial
    /// states instead of running splits.
    pub merge: Option<stage::MergeInput>,
    /// `--side-table-cache`: where side tables are kept between runs.
    pub side_table_cache: Option<std::path::PathBuf>,
}

/// The splits a run is limited to (`run --splits FILE`): ids from a plan,
/// and that plan's fingerprint when the list came from `runtime plan --json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SplitSelection {
    pub ids: Vec<String>,
    pub fingerprint: Option<String>,
    /// Where the list came from, for messages.
    pub source: String,
}

impl SplitSelection {
    /// The planned splits named by the selection, in plan order. Refused,
    /// with the reason, when the plan has changed since the list was made
    /// or when the list names splits the plan does not have.
    pub fn select(
        &self,
        pipeline: &str,
        splits: &[crate::plan::PlannedSplit],
        keys: &[String],
    ) -> Result<Vec<crate::plan::PlannedSplit>, String> {
        if let Some(want) = &self.fingerprint {
            let now = crate::plan::fingerprint(pipeline, keys);
            if &now != want {
                return Err(format!(
                    "--splits {}: the plan has changed since that list was made (fingerprint {} then, {} now: \
                     inputs were added, removed or changed); plan again with `runtime plan --json`",
                    self.source,
                    &want[..want.len().min(12)],
                    &now[..12]
                ));
            }
        }
        let wanted: std::collections::HashSet<&str> = self.ids.iter().map(String::as_str).collect();
        let known: std::collections::HashSet<&str> = splits.iter().map(|s| s.split.id.as_str()).collect();
        let unknown: Vec<&str> =
            self.ids.iter().map(String::as_str).filter(|id| !known.contains(id)).collect();
        if !unknown.is_empty() {
            let shown: Vec<String> = unknown.iter().take(5).map(|id| format!("`{id}`")).collect();
            return Err(format!(
                "--splits {}: {} of its {} splits are not in this pipeline's plan: {}{}; see `runtime plan` for the split ids",
                self.source,
                unknown.len(),
                self.ids.len(),
                shown.join(", "),
                if unknown.len() > 5 { ", ..." } else { "" }
            ));
        }
        Ok(splits.iter().filter(|s| wanted.contains(s.split.id.as_str())).cloned().collect())
    }
}

/// Runs a prepared pipeline to the end and reports what happened.
pub fn execute(
    prepared: Arc<Prepared>,
    runtime: Arc<Runtime>,
    opts: &RunOptions,
    progress: Progress,
) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport::new(&prepared, opts.workers.unwrap_or(prepared.pipeline.run.workers));
    report.plugins = crate::report::plugin_records(&prepared);

    // Side tables.
    let mut tables = Vec::new();
    let cache = opts.side_table_cache.as_ref().map(side_cache::SideTableCache::new);
    for st in &prepared.side_tables {
        progress.message(&format!("reading side table {}", st.stage.name));
        match side_tables::read_or_load(&runtime, st, cache.as_ref()) {
            Ok(t) => tables.push(t),
            Err(e) => return report.fatal(e.to_string(), started),
        }
    }
    report.side_tables = tables.clone();

    // Plan (plugin-planned readers were planned while preparing).
    let pipeline = &prepared.pipeline;
    let files = prepared.source_files.clone();
    let mut splits = prepared.source_splits();
    let fingerprint = crate::plan::fingerprint(&pipeline.name, &prepared.split_keys(&splits));
    if let Some(problem) = opts.stage.as_ref().and_then(|_| sink::stage::refusal(&prepared)) {
        return report.refused(problem, started);
    }
    if let Some(only) = &opts.splits {
        let keys = prepared.split_keys(&splits);
        match only.select(&pipeline.name, &splits, &keys) {
            Ok(kept) => splits = kept,
            Err(problem) => return report.refused(problem, started),
        }
    }
    if let Some(m) = &opts.merge {
        let keep: std::collections::HashSet<&str> = m.keys.iter().map(String::as_str).collect();
        let keys = prepared.split_keys(&splits);
        splits = splits
            .into_iter()
            .zip(&keys)
            .filter(|(_, k)| keep.contains(k.as_str()))
            .map(|(s, _)| s)
            .collect();
    }
    report.splits_total = splits.len() as u64;

    // Open the sinks before any split runs: a table whose schema does not
    // fit fails the run here, before anything is written; earlier runs'
    // commits say which splits to skip.
    let keys: Arc<Vec<String>> = Arc::new(prepared.split_keys(&splits));
    let mut identity = sink::table::RunIdentity {
        run_id: match (&opts.stage, &opts.merge) {
            (Some(st), _) => st.run_id.clone().unwrap_or_else(|| sink::stage::default_run_id(&fingerprint)),
            (None, Some(m)) => m.run_id.clone(),
            (None, None) => uuid::Uuid::new_v4().to_string(),
        },
        pipeline: pipeline.name.clone(),
        resume: opts.resume || pipeline.run.resume,
    };
    let staged = sink::stage::Collected::default();
    let opened = match &opts.stage {
        Some(st) => sink::stage::open_staged(&prepared, st, &staged),
        None => sink::open_sinks(&prepared, &identity, &keys),
    };
    let sinks = match opened {
        Ok(s) => s,
        Err(sink::error::SinkError::Refused(e)) if opts.stage.is_some() => return report.refused(e, started),
        Err(e) => return report.fatal(e.to_string(), started),
    };
    if let Some(previous) = sinks.iter().find_map(|s| s.opened.resumed_run.clone()) {
        identity.run_id = previous;
        report.resumed = true;
    }
    report.run_id = identity.run_id.clone();
    if let Some(problem) = resume_changed_inputs(&sinks, &keys, &identity.run_id) {
        return report.refused(problem, started);
    }
    let nothing_to_resume = identity.resume && !sinks.is_empty() && sinks.iter().all(|s| s.opened.completed);
    let skip = sink::fully_committed(&sinks, &keys);
    progress.start(
        splits.len() as u64,
        splits.iter().map(|s| s.split.size_hint).sum(),
        splits.iter().map(|s| s.split.input),
    );

    // Threads: writer, final stage, workers.
    let workers = opts.workers.unwrap_or(pipeline.run.workers).max(1);
    let (wtx, wrx) = bounded::<WriterMsg>(pipeline.run.channel_batches);
    // Bytes in flight to the writer, on top of what it stages.
    let gate = Arc::new(sink::gate::Gate::new(in_flight_budget(pipeline.run.max_staged_bytes)));
    let wtx = sink::WriterTx::new(wtx, gate.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let spill_dir = std::env::temp_dir();
    let (ftx, frx) = bounded::<FinalMsg>(workers * 2);
    let has_final = prepared.has_final_phase();
    let ctx = Ctx {
        prepared: prepared.clone(),
        runtime,
        side_tables: tables,
        files,
        writer: wtx,
        finals: Mutex::new(has_final.then_some(ftx)),
        stop: stop.clone(),
        failed: AtomicU64::new(0),
        total: splits.len() as u64,
        progress,
        started,
    };
    let records: Mutex<Vec<SplitRecord>> = Mutex::new(Vec::with_capacity(splits.len()));
    let split_keys = keys.clone();
    let policy = pipeline.run.max_failed_splits;

    let staged_states = Mutex::new(None);
    let states_ref = &staged_states;
    let mut merge_error: Option<String> = None;
    let (writer_report, final_result) = std::thread::scope(|scope| {
        let ctx_ref = &ctx;
        // Whatever happens below, the writer is told the run is over, so
        // the scope never waits on a writer that waits for more messages.
        let mut finish = FinishGuard { writer: &ctx.writer, commit: false };
        let writer = {
            let stop = stop.clone();
            let budget = pipeline.run.max_staged_bytes;
            std::thread::Builder::new()
                .name("writer".into())
                .spawn_scoped(scope, move || {
                    let stop_after = stop.clone();
                    crate::panics::catch(move || {
                        sink::run(sinks, keys, identity, wrx, budget, spill_dir, stop, gate)
                    })
                    .unwrap_or_else(|panic| {
                        // The receiver is gone with the writer: workers
                        // blocked on it fail their splits; none start.
                        stop_after.store(true, Ordering::SeqCst);
                        sink::WriterReport {
                            error: Some(
                                ExecError::Panicked { place: "writer", message: panic.0 }.to_string(),
                            ),
                            ..Default::default()
                        }
                    })
                })
                .expect("spawn the writer")
        };
        let final_thread = has_final.then(|| {
            std::thread::Builder::new()
                .name("final".into())
                .stack_size(ctx_ref.runtime.thread_stack_size())
                .spawn_scoped(scope, move || {
                    let phase = || match &opts.stage {
                        Some(target) => stage::write_states(ctx_ref, target, frx, states_ref),
                        None => final_stage::run(ctx_ref, frx),
                    };
                    crate::panics::catch(phase).unwrap_or_else(|panic| {
                        ctx_ref.stop.store(true, Ordering::SeqCst);
                        let _ = ctx_ref.writer.send(WriterMsg::Abort(sink::Unit::Final));
                        Err(ExecError::Panicked { place: "final stage", message: panic.0 })
                    })
                })
                .expect("spawn the final stage")
        });
        match &opts.merge {
            Some(m) => {
                if let Err(e) = stage::feed_states(ctx_ref, m, &splits, &records) {
                    ctx_ref.stop.store(true, Ordering::SeqCst);
                    merge_error = Some(e);
                }
            }
            None => run_splits(ctx_ref, workers, &splits, &skip, &records, policy),
        }
        // Close the final stage's input and let it finish before the writer.
        drop(ctx_ref.finals.lock().unwrap().take());
        let final_result = final_thread.map(|t| {
            t.join().unwrap_or_else(|_| {
                Err(ExecError::Panicked { place: "final stage", message: "(no message)".into() })
            })
        });
        let failed = ctx_ref.failed.load(Ordering::SeqCst);
        let commit = !policy.exceeded(failed, ctx_ref.total)
            && !ctx_ref.stop.load(Ordering::SeqCst)
            && final_result.as_ref().is_none_or(|r| r.is_ok());
        finish.commit = commit;
        drop(finish);
        let writer_report = writer.join().unwrap_or_else(|_| sink::WriterReport {
            error: Some("the writer panicked".into()),
            ..Default::default()
        });
        (writer_report, final_result)
    });
    ctx.progress.finish();
    let records = records.into_inner().unwrap();
    let staged_splits = opts.stage.as_ref().map(|_| stage::split_lists(&records, &split_keys));
    let quarantine = match &pipeline.run.quarantine {
        Some(dir) if records.iter().any(|r| matches!(r.status, SplitStatus::Failed { .. })) => {
            Some(quarantine::write(dir, &records, &ctx.files))
        }
        _ => None,
    };
    let final_result = final_result.map(|r| r.map_err(|e| e.to_string()));
    let mut report = report.complete(records, &ctx.files, writer_report, final_result, started, &prepared);
    if nothing_to_resume {
        report.nothing_to_resume = Some(report.run_id.clone());
    }
    if let Some(e) = merge_error {
        report = report.fatal(format!("merging the staged partial states: {e}"), started);
    }
    if let (Some(target), Some(lists)) = (&opts.stage, staged_splits)
        && report.exit_code == crate::report::Exit::Ok
    {
        let states = staged_states.into_inner().unwrap();
        match stage::write_manifest(
            target,
            &pipeline.name,
            &report.run_id,
            &fingerprint,
            lists,
            &staged,
            states,
        ) {
            Ok(path) => report.staged_manifest = Some(path.display().to_string()),
            Err(e) => report = report.fatal(format!("writing the attempt's manifest: {e}"), started),
        }
    }
    match quarantine {
        Some(Ok(q)) => report.quarantine = Some(q),
        Some(Err(e)) => tracing::error!("quarantine: {e}"),
        None => {}
    }
    report
}

/// Runs the splits on the worker pool, each split's record into `records`.
fn run_splits(
    ctx_ref: &Ctx,
    workers: usize,
    splits: &[crate::plan::PlannedSplit],
    skip: &std::collections::HashSet<usize>,
    records: &Mutex<Vec<SplitRecord>>,
    policy: crate::config::FailurePolicy,
) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("worker-{i}"))
        .stack_size(ctx_ref.runtime.thread_stack_size())
        .build()
        .expect("build the worker pool");
    let slots: Vec<Mutex<Worker>> = (0..workers).map(|_| Mutex::new(Worker::default())).collect();
    pool.scope_fifo(|s| {
        for (index, planned) in splits.iter().enumerate() {
            let (slots, records) = (&slots, &records);
            let skip = &skip;
            s.spawn_fifo(move |_| {
                if skip.contains(&index) {
                    records.lock().unwrap().push(SplitRecord::committed_earlier(index, &planned.split));
                    return;
                }
                if ctx_ref.stop.load(Ordering::SeqCst) {
                    records.lock().unwrap().push(SplitRecord::skipped(index, &planned.split));
                    return;
                }
                let me = rayon::current_thread_index().unwrap_or(0);
                let mut worker = slots[me].lock().unwrap();
                let record = crate::panics::catch(|| worker.run_split(ctx_ref, me, index, planned))
                    .unwrap_or_else(|panic| {
                        // The worker's instances may be mid-call: start
                        // afresh, and drop whatever the split staged.
                        *worker = Worker::default();
                        for attempt in 0..=ctx_ref.prepared.pipeline.run.retries {
                            let _ = ctx_ref
                                .writer
                                .send(WriterMsg::Abort(sink::Unit::Split { index: index as u32, attempt }));
                        }
                        SplitRecord::panicked(index, &planned.split, &panic.0)
                    });
                drop(worker);
                if let SplitStatus::Failed { error, .. } = &record.status {
                    let failed = ctx_ref.failed.fetch_add(1, Ordering::SeqCst) + 1;
                    ctx_ref.progress.failure(&record.id, error);
                    if policy.exceeded(failed, ctx_ref.total) {
                        ctx_ref.stop.store(true, Ordering::SeqCst);
                    }
                }
                ctx_ref.progress.split_done(&record);
                records.lock().unwrap().push(record);
            });
        }
    });
    drop(slots);
    drop(pool);
}
