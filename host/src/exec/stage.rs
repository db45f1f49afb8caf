//! The end of a `--stage-only` run attempt: its manifest. The staging
//! writers ([`crate::sink::stage`]) say which files each sink staged; the
//! split records say which splits those files cover and which failed, and
//! why. The manifest is written last and atomically, so an attempt that has
//! a manifest finished staging, and one that has none is to be ignored.
//!
//! Aggregating pipelines: an attempt writes its splits' partial states to a
//! states file ([`write_states`], in place of the final stage), and
//! `runtime commit` runs the final merge once over every attempt's states
//! ([`feed_states`], in place of the workers), so the result is the one a
//! single run computes.

use super::error::ExecError;
use super::{Ctx, FinalMsg};
use crate::plan::PlannedSplit;
use crate::report::{FinalReport, SplitRecord, SplitStatus};
use crate::sink::error::SinkError;
use crate::sink::manifest::{
    FailedSplit, MANIFEST_VERSION, StageManifest, StagedSplit, StagedStates, now_ms,
};
use crate::sink::stage::{Collected, StageTarget, StateFile, read_states};
use crate::sink::{Unit, WriterMsg};
use crossbeam_channel::Receiver;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// What the splits of an attempt did: staged (ok or partial) and failed.
pub fn split_lists(records: &[SplitRecord], keys: &[String]) -> (Vec<StagedSplit>, Vec<FailedSplit>) {
    let mut staged = Vec::new();
    let mut failed = Vec::new();
    let mut sorted: Vec<&SplitRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.index);
    for r in sorted {
        let key = keys.get(r.index).cloned().unwrap_or_else(|| r.id.clone());
        match &r.status {
            SplitStatus::Ok => staged.push(StagedSplit { id: r.id.clone(), key, partial: None }),
            SplitStatus::Partial { reason } => {
                staged.push(StagedSplit { id: r.id.clone(), key, partial: Some(reason.clone()) })
            }
            SplitStatus::Failed { error, kind } => {
                failed.push(FailedSplit { id: r.id.clone(), key, error: error.clone(), kind: kind.clone() })
            }
            SplitStatus::Skipped | SplitStatus::Committed => {}
        }
    }
    (staged, failed)
}

/// Writes the attempt's manifest; returns its path.
pub fn write_manifest(
    target: &StageTarget,
    pipeline: &str,
    run_id: &str,
    fingerprint: &str,
    (splits, failed): (Vec<StagedSplit>, Vec<FailedSplit>),
    collected: &Collected,
    states: Option<StagedStates>,
) -> Result<PathBuf, SinkError> {
    let manifest = StageManifest {
        manifest_version: MANIFEST_VERSION,
        pipeline: pipeline.to_string(),
        fingerprint: fingerprint.to_string(),
        run_id: run_id.to_string(),
        attempt: target.attempt.clone(),
        created_unix_ms: now_ms() as u64,
        splits,
        failed,
        sinks: std::mem::take(&mut *collected.lock().unwrap()),
        states,
    };
    manifest.write(&target.attempt_dir())
}

/// The final phase of a staged attempt of an aggregating pipeline: the
/// partial states go to the attempt's states file instead of a merge (the
/// merge runs once, in `runtime commit`). Errors stop the run, as the final
/// stage's do.
pub fn write_states(
    ctx: &Ctx,
    target: &StageTarget,
    rx: Receiver<FinalMsg>,
    out: &Mutex<Option<StagedStates>>,
) -> Result<FinalReport, ExecError> {
    let as_error = |e: SinkError| ExecError::Stage { stage: "staging".into(), reason: e.to_string() };
    let mut file = StateFile::create(target);
    let mut report = FinalReport::default();
    let mut error = None;
    for msg in rx {
        // Keep draining after an error so that workers never block on us.
        let FinalMsg::States(states) = msg;
        if error.is_some() {
            continue;
        }
        let appended = match &mut file {
            Ok(f) => f.append(&states),
            Err(_) => Ok(()),
        };
        report.states_merged += states.iter().map(|(_, s)| s.len() as u64).sum::<u64>();
        if let Err(e) = appended {
            error = Some(e);
            ctx.stop.store(true, Ordering::SeqCst);
        }
    }
    if let Some(e) = error {
        return Err(as_error(e));
    }
    let staged = file.and_then(StateFile::finish).map_err(as_error)?;
    *out.lock().unwrap() = Some(staged);
    Ok(report)
}

/// `runtime commit` of an aggregating pipeline: the run that makes the
/// final merge of staged attempts. Their splits are not read again; their
/// partial states are merged once and the result committed once, recording
/// their splits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeInput {
    /// The distributed run the attempts belong to.
    pub run_id: String,
    /// Keys of the splits the attempts cover.
    pub keys: Vec<String>,
    /// The attempts' states files.
    pub states: Vec<PathBuf>,
}

/// Feeds the states files to the final stage and marks every covered
/// split done with the writer (so the commit records it), in place of the
/// workers.
pub fn feed_states(
    ctx: &Ctx,
    input: &MergeInput,
    splits: &[PlannedSplit],
    records: &Mutex<Vec<SplitRecord>>,
) -> Result<(), String> {
    for path in &input.states {
        let states = read_states(path).map_err(|e| e.to_string())?;
        let mut by_transform: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
        for (t, state) in states {
            match by_transform.iter_mut().find(|(u, _)| *u == t) {
                Some((_, list)) => list.push(state),
                None => by_transform.push((t, vec![state])),
            }
        }
        if !by_transform.is_empty() {
            ctx.send_states(by_transform).map_err(|e| e.to_string())?;
        }
    }
    for (index, planned) in splits.iter().enumerate() {
        let unit = Unit::Split { index: index as u32, attempt: 0 };
        ctx.writer.send(WriterMsg::Commit(unit)).map_err(|_| ExecError::WriterStopped.to_string())?;
        let record = SplitRecord { status: SplitStatus::Ok, ..SplitRecord::new(index, &planned.split, None) };
        records.lock().unwrap().push(record);
    }
    Ok(())
}
