//! `runtime commit PIPELINE MANIFEST...`: the driver's half of a distributed
//! run. The attempts staged by `runtime run --stage-only` are committed,
//! one commit per sink ([`crate::sink::commit`]); for an aggregating
//! pipeline, the final merge of their partial states runs here, once, as a
//! run that reads no input ([`crate::exec::stage::MergeInput`]). This
//! module reads the manifests, reports what was done and picks the exit
//! status.

use super::output::{Out, plural};
use crate::config::Override;
use crate::exec::stage::MergeInput;
use crate::exec::{self, RunOptions};
use crate::prepare::load;
use crate::progress::{self, Progress};
use crate::report::{Exit, group};
use crate::sink::commit::{self, Attempt, CommitError, CommitOutcome, MergePlan, SinkCommitted};
use crate::sink::manifest::StageManifest;
use crate::units::ByteSize;
use std::path::{Path, PathBuf};

pub fn commit(
    out: &Out,
    pipeline: &Path,
    manifests: &[PathBuf],
    clean: Option<&Path>,
    overrides: &[Override],
    json: bool,
) -> Exit {
    let mut attempts = Vec::new();
    for path in manifests {
        match StageManifest::read(path) {
            Ok(manifest) => attempts.push(Attempt { manifest_path: path.clone(), manifest }),
            Err(e) => {
                out.error_with_hint(
                    &format!("{e}; nothing was committed"),
                    "give the manifest.json files that `runtime run --stage-only` printed",
                );
                return Exit::Config;
            }
        }
    }
    let loaded = match load::load(pipeline, overrides, None) {
        Ok(x) => x,
        Err(e) => return out.load_error(&e),
    };
    let result = if loaded.prepared.has_final_phase() {
        merge(out, loaded, attempts)
    } else {
        commit::commit(&loaded.prepared, attempts)
    };
    let outcome = match result {
        Ok(o) => o,
        Err(CommitError::Refused(e)) => {
            out.error_with_hint(
                &format!("{e}; nothing was committed"),
                "see `runtime commit --help` and the README's \"Distributed runs\"",
            );
            return Exit::Config;
        }
        Err(CommitError::Sink(e)) => {
            out.error(&format!("{e}; nothing was committed by this sink or the ones after it"));
            return Exit::Failed;
        }
        Err(e) => {
            out.error(&e.to_string());
            return Exit::Failed;
        }
    };
    let cleaned = match clean.map(commit::clean).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            out.error(&format!("the commit was made, but --clean failed: {e}"));
            return Exit::Failed;
        }
    };
    if json {
        let mut v = serde_json::to_value(&outcome).expect("the outcome serializes");
        v["cleaned"] = serde_json::json!(cleaned);
        v["committed"] = outcome.committed_anything().into();
        println!("{}", serde_json::to_string_pretty(&v).unwrap());
        return Exit::Ok;
    }
    if !outcome.committed_anything() {
        println!("nothing to commit: every attempt given is already committed (run {})", outcome.run_id);
    }
    for s in &outcome.sinks {
        let already = if s.already_committed.is_empty() {
            String::new()
        } else {
            format!("; {} already committed", plural(s.already_committed.len(), "attempt", "attempts"))
        };
        match s.version {
            Some(v) => println!(
                "{}: version {v}: {} ({}, {} rows, {} in {}){already}{}",
                s.name,
                plural(s.attempts.len(), "attempt", "attempts"),
                plural(s.splits, "split", "splits"),
                group(s.rows),
                ByteSize(s.bytes),
                plural(s.files, "file", "files"),
                if s.complete { "; the run is complete" } else { "" },
            ),
            None => println!("{}: nothing new{already}", s.name),
        }
    }
    if !outcome.removed.is_empty() || !cleaned.is_empty() {
        println!(
            "removed {}",
            plural(outcome.removed.len() + cleaned.len(), "attempt folder", "attempt folders")
        );
    }
    Exit::Ok
}

/// An aggregating pipeline's commit: the final merge of every attempt's
/// partial states, run once as a run of the covered splits that reads no
/// input, committing once.
fn merge(out: &Out, loaded: load::Loaded, attempts: Vec<Attempt>) -> Result<CommitOutcome, CommitError> {
    let (run_id, keys, states, attempts) = match commit::plan_merge(&loaded.prepared, attempts)? {
        MergePlan::Nothing { run_id, attempts } => {
            let removed = commit::consume(&attempts);
            let sinks = loaded
                .prepared
                .sinks
                .iter()
                .map(|s| SinkCommitted {
                    name: s.stage.name.clone(),
                    already_committed: attempts.iter().map(|a| a.manifest.attempt.clone()).collect(),
                    complete: true,
                    ..Default::default()
                })
                .collect();
            return Ok(CommitOutcome { run_id, sinks, removed });
        }
        MergePlan::Merge { run_id, keys, states, attempts } => (run_id, keys, states, attempts),
    };
    let progress = Progress::new(progress::Settings {
        terminal: false,
        quiet: true,
        color: out.color,
        json: out.json,
        interval: progress::Settings::interval_from_env(),
    });
    let options = RunOptions {
        merge: Some(MergeInput { run_id: run_id.clone(), keys: keys.clone(), states }),
        ..Default::default()
    };
    let report = exec::execute(loaded.prepared, loaded.runtime, &options, progress);
    if report.exit_code != Exit::Ok {
        eprint!("{}", report.summary(None));
        return Err(CommitError::MergeFailed(format!(
            "the final merge failed: {}",
            report.error.as_deref().unwrap_or("see the summary above")
        )));
    }
    let names: Vec<String> = attempts.iter().map(|a| a.manifest.attempt.clone()).collect();
    let sinks = report
        .outputs
        .iter()
        .map(|o| SinkCommitted {
            name: o.name.clone(),
            version: o.versions.last().copied(),
            attempts: names.clone(),
            splits: keys.len(),
            rows: o.rows,
            bytes: o.bytes,
            complete: true,
            ..Default::default()
        })
        .collect();
    let removed = commit::consume(&attempts);
    Ok(CommitOutcome { run_id, sinks, removed })
}
