//! The end of a `--stage-only` run attempt: its manifest. The staging
//! writers ([`crate::sink::stage`]) say which files each sink staged; the
//! split records say which splits those files cover and which failed, and
//! why. The manifest is written last and atomically, so an attempt that has
//! a manifest finished staging, and one that has none is to be ignored.

use crate::report::{SplitRecord, SplitStatus};
use crate::sink::error::SinkError;
use crate::sink::manifest::{FailedSplit, MANIFEST_VERSION, StageManifest, StagedSplit, now_ms};
use crate::sink::stage::{Collected, StageTarget};
use std::path::PathBuf;

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
    };
    manifest.write(&target.attempt_dir())
}
