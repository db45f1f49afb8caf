//! `runtime commit`: the staged attempts a driver chose become one commit
//! per table. This is where a distributed run becomes exactly-once: the
//! attempts are checked against each other (one attempt per split) and
//! against what the tables already record for the run (an attempt whose
//! splits are committed is not committed again), every table is opened and
//! every decision made before the first commit, and each commit records
//! the run id and the splits as `runtime run` does, so `--resume` and
//! `skip_committed` read a distributed run like any other.
//!
//! ```text
//!   manifests ──check (pipeline, plan fingerprint, run id, duplicates, max_failed_splits)
//!             ──per sink: open the table, its history ─▶ new / already committed / refused
//!             ──per sink: adopt the new attempts' files, commit once (Delta version, folder manifest)
//!             ──remove the attempt folders consumed
//! ```

use super::error::SinkError;
use super::manifest::{ATTEMPT_MARKER, StageManifest};
use super::table::{CommitMeta, RunIdentity, TableWriter};
use crate::prepare::Prepared;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Why nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The manifests cannot be committed as given (a usage mistake: exit 2).
    #[error("{0}")]
    Refused(String),
    /// More splits failed than `run.max_failed_splits` allows (exit 1).
    #[error("{0}")]
    TooManyFailed(String),
    /// The final merge of an aggregation's states failed (exit 1).
    #[error("{0}")]
    MergeFailed(String),
    /// A table could not be opened or committed (exit 1).
    #[error(transparent)]
    Sink(Box<SinkError>),
}

impl From<SinkError> for CommitError {
    fn from(e: SinkError) -> Self {
        CommitError::Sink(Box::new(e))
    }
}

/// A staged attempt to commit: where its manifest is, and what it says.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub manifest_path: PathBuf,
    pub manifest: StageManifest,
}

impl Attempt {
    /// The attempt's folder (the manifest's).
    pub fn dir(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(Path::new("."))
    }
}

/// What the commit did to one sink.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SinkCommitted {
    pub name: String,
    /// The version made (Delta version, folder manifest version); none when
    /// there was nothing new.
    pub version: Option<i64>,
    pub attempts: Vec<String>,
    /// Attempts whose splits this table already held.
    pub already_committed: Vec<String>,
    pub splits: usize,
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
    /// After this commit the table holds every planned split of the run
    /// (failed ones aside): the run is complete here.
    pub complete: bool,
}

/// What `runtime commit` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CommitOutcome {
    pub run_id: String,
    pub sinks: Vec<SinkCommitted>,
    /// Attempt folders removed (consumed).
    pub removed: Vec<PathBuf>,
}

impl CommitOutcome {
    /// Whether any sink took an attempt.
    pub fn committed_anything(&self) -> bool {
        self.sinks.iter().any(|s| !s.attempts.is_empty())
    }
}

/// One sink's plan: its table, opened, and which attempts it takes.
struct SinkPlan {
    name: String,
    writer: Box<dyn TableWriter>,
    new: Vec<usize>,
    already: Vec<usize>,
    committed_in_run: HashSet<String>,
    run_wrote_before: bool,
}

/// Commits `attempts` (manifests already read) into the pipeline's sinks.
pub fn commit(prepared: &Prepared, attempts: Vec<Attempt>) -> Result<CommitOutcome, CommitError> {
    let pipeline = &prepared.pipeline;
    if let Some(problem) = super::stage::refusal(prepared) {
        return Err(CommitError::Refused(problem.replace("--stage-only", "commit")));
    }
    let planned = prepared.source_splits();
    let keys = prepared.split_keys(&planned);
    let fingerprint = crate::plan::fingerprint(&pipeline.name, &keys);
    let attempts = distinct(attempts);
    let run_id = check(prepared, &attempts, &fingerprint)?;

    let failed = failed_within_policy(prepared, &attempts, &keys)?;

    // Every table opened and every decision made before the first commit.
    let identity = RunIdentity { run_id: run_id.clone(), pipeline: pipeline.name.clone(), resume: false };
    let mut plans = Vec::new();
    for s in &prepared.sinks {
        let schema = prepared.streams[s.input].schema.clone();
        let (writer, opened) =
            super::open_table(&s.stage, schema, &identity, &keys).map_err(|e| e.of(&s.stage.name))?;
        let of_run = || opened.history.iter().filter(|c| c.run_id == run_id);
        let mut committed: HashSet<String> = of_run().flat_map(|c| c.splits.iter().cloned()).collect();
        let committed_in_run = committed.clone();
        if s.stage.table.skip_committed {
            committed.extend(opened.history.iter().flat_map(|c| c.splits.iter().cloned()));
        }
        let mut plan = SinkPlan {
            name: s.stage.name.clone(),
            writer,
            new: Vec::new(),
            already: Vec::new(),
            committed_in_run,
            run_wrote_before: of_run().next().is_some(),
        };
        for (i, a) in attempts.iter().enumerate() {
            let ks: Vec<&str> = a.manifest.keys().collect();
            let held = ks.iter().filter(|k| committed.contains(**k)).count();
            if ks.is_empty() {
                continue;
            } else if held == ks.len() {
                plan.already.push(i);
            } else if held == 0 {
                plan.new.push(i);
            } else {
                return Err(CommitError::Refused(format!(
                    "attempt `{}` ({}): {held} of its {} splits are already committed in sinks.{} and the \
                     others are not; it overlaps an attempt committed earlier: commit attempts of the same \
                     split sets, one per task",
                    a.manifest.attempt,
                    a.manifest_path.display(),
                    ks.len(),
                    plan.name
                )));
            }
        }
        plans.push(plan);
    }

    let mut outcome = CommitOutcome { run_id: run_id.clone(), ..Default::default() };
    for mut plan in plans {
        let mut done = SinkCommitted {
            name: plan.name.clone(),
            already_committed: plan.already.iter().map(|&i| attempts[i].manifest.attempt.clone()).collect(),
            ..Default::default()
        };
        let mut splits: Vec<String> = Vec::new();
        for &i in &plan.new {
            let a = &attempts[i];
            let staged = a.manifest.sink(&plan.name).expect("checked: every attempt stages every sink");
            let base = url::Url::from_directory_path(
                std::path::absolute(a.dir().join(&plan.name)).unwrap_or_else(|_| a.dir().join(&plan.name)),
            )
            .map_err(|_| SinkError::Refused(format!("{} is not a usable path", a.dir().display())))?;
            for f in &staged.files {
                let source =
                    base.join(&f.path).ok().and_then(|u| u.to_file_path().ok()).ok_or_else(|| {
                        SinkError::Refused(format!("the staged file path `{}` is not usable", f.path))
                    })?;
                plan.writer.adopt(&source, f).map_err(|e| e.of(&plan.name))?;
                done.files += 1;
                done.bytes += f.bytes;
            }
            done.rows += staged.rows;
            splits.extend(a.manifest.keys().map(str::to_string));
            done.attempts.push(a.manifest.attempt.clone());
        }
        let mut covered: HashSet<&str> = plan.committed_in_run.iter().map(String::as_str).collect();
        covered.extend(splits.iter().map(String::as_str));
        covered.extend(failed.iter().copied());
        done.complete = keys.iter().all(|k| covered.contains(k.as_str()));
        done.splits = splits.len();
        if plan.new.is_empty() {
            plan.writer.abort();
        } else {
            if plan.run_wrote_before {
                plan.writer.keep_existing();
            }
            let meta = CommitMeta {
                run_id: run_id.clone(),
                pipeline: pipeline.name.clone(),
                splits,
                complete: done.complete,
                rows: done.rows,
            };
            done.version = plan.writer.commit(&meta).map_err(|e| e.of(&plan.name))?;
        }
        outcome.sinks.push(done);
    }
    outcome.removed = consume(&attempts);
    Ok(outcome)
}

/// Failed splits over the whole plan, as one run would count them (a
/// split that failed in one attempt and was staged by another is not
/// failed); refused past `run.max_failed_splits`.
fn failed_within_policy<'a>(
    prepared: &Prepared,
    attempts: &'a [Attempt],
    keys: &[String],
) -> Result<HashSet<&'a str>, CommitError> {
    let staged: HashSet<&str> = attempts.iter().flat_map(|a| a.manifest.keys()).collect();
    let failed: HashSet<&str> = attempts
        .iter()
        .flat_map(|a| a.manifest.failed.iter().map(|f| f.key.as_str()))
        .filter(|k| !staged.contains(k))
        .collect();
    let policy = prepared.pipeline.run.max_failed_splits;
    if policy.exceeded(failed.len() as u64, keys.len() as u64) {
        return Err(CommitError::TooManyFailed(format!(
            "{} of {} splits failed in the attempts given, more than run.max_failed_splits ({policy}) allows; \
             nothing was committed",
            failed.len(),
            keys.len()
        )));
    }
    Ok(failed)
}

/// What `runtime commit` of an aggregating pipeline does.
#[derive(Debug, Clone)]
pub enum MergePlan {
    /// The run already committed its result, from these attempts' splits.
    Nothing { run_id: String, attempts: Vec<Attempt> },
    /// Merge these states files once, recording these splits.
    Merge { run_id: String, keys: Vec<String>, states: Vec<PathBuf>, attempts: Vec<Attempt> },
}

/// Checks the attempts of an aggregating pipeline and whether the run
/// already committed its result: an aggregation commits once, from every
/// attempt at the same time.
pub fn plan_merge(prepared: &Prepared, attempts: Vec<Attempt>) -> Result<MergePlan, CommitError> {
    let pipeline = &prepared.pipeline;
    if let Some(problem) = super::stage::refusal(prepared) {
        return Err(CommitError::Refused(problem.replace("--stage-only", "commit")));
    }
    let keys = prepared.split_keys(&prepared.source_splits());
    let fingerprint = crate::plan::fingerprint(&pipeline.name, &keys);
    let attempts = distinct(attempts);
    let run_id = check(prepared, &attempts, &fingerprint)?;
    failed_within_policy(prepared, &attempts, &keys)?;
    let given: Vec<String> = attempts.iter().flat_map(|a| a.manifest.keys().map(str::to_string)).collect();
    let identity = RunIdentity { run_id: run_id.clone(), pipeline: pipeline.name.clone(), resume: false };
    let mut already = 0;
    for s in &prepared.sinks {
        let schema = prepared.streams[s.input].schema.clone();
        let (mut writer, opened) =
            super::open_table(&s.stage, schema, &identity, &keys).map_err(|e| e.of(&s.stage.name))?;
        writer.abort();
        let committed: HashSet<&str> = opened
            .history
            .iter()
            .filter(|c| c.run_id == run_id)
            .flat_map(|c| c.splits.iter().map(String::as_str))
            .collect();
        if committed.is_empty() {
            continue;
        }
        if !given.iter().all(|k| committed.contains(k.as_str())) {
            return Err(CommitError::Refused(format!(
                "run `{run_id}` already committed its aggregate to sinks.{}, and some of the attempts given hold \
                 splits it did not cover; an aggregation commits once, from all its attempts at the same time \
                 (give a new --run-id to stage and commit the whole plan again)",
                s.stage.name
            )));
        }
        already += 1;
    }
    if already > 0 {
        return Ok(MergePlan::Nothing { run_id, attempts });
    }
    let states =
        attempts.iter().filter_map(|a| a.manifest.states.as_ref().map(|st| a.dir().join(&st.path))).collect();
    Ok(MergePlan::Merge { run_id, keys: given, states, attempts })
}

/// Removes the folders of attempts that were consumed (committed, or found
/// already committed); returns them.
pub fn consume(attempts: &[Attempt]) -> Vec<PathBuf> {
    attempts.iter().filter(|a| remove_attempt(a.dir())).map(|a| a.dir().to_path_buf()).collect()
}

/// The attempts, each once: a manifest given twice (or two identical
/// copies of one) counts once.
fn distinct(attempts: Vec<Attempt>) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = Vec::new();
    for a in attempts {
        if !out.iter().any(|o| o.manifest == a.manifest) {
            out.push(a);
        }
    }
    out
}

/// Checks the attempts against the pipeline and each other; returns their
/// run id.
fn check(prepared: &Prepared, attempts: &[Attempt], fingerprint: &str) -> Result<String, CommitError> {
    let refuse = |a: &Attempt, why: String| {
        CommitError::Refused(format!(
            "{} (attempt `{}`): {why}",
            a.manifest_path.display(),
            a.manifest.attempt
        ))
    };
    let first = attempts.first().ok_or_else(|| CommitError::Refused("no manifest to commit".into()))?;
    let run_id = first.manifest.run_id.clone();
    let mut owner: HashMap<&str, &Attempt> = HashMap::new();
    for a in attempts {
        let m = &a.manifest;
        if m.pipeline != prepared.pipeline.name {
            return Err(refuse(
                a,
                format!("staged by pipeline `{}`, not `{}`", m.pipeline, prepared.pipeline.name),
            ));
        }
        if m.fingerprint != fingerprint {
            return Err(refuse(
                a,
                format!(
                    "staged from another plan (fingerprint {}, now {}): the inputs changed since; plan and \
                     stage again",
                    &m.fingerprint[..m.fingerprint.len().min(12)],
                    &fingerprint[..12]
                ),
            ));
        }
        if m.run_id != run_id {
            return Err(refuse(
                a,
                format!(
                    "belongs to run `{}`, and {} to run `{run_id}`; commit the attempts of one run together",
                    m.run_id,
                    first.manifest_path.display()
                ),
            ));
        }
        if prepared.has_final_phase() {
            if m.states.is_none() || !m.sinks.is_empty() {
                return Err(refuse(
                    a,
                    "it was not staged by this aggregating pipeline (no partial states)".into(),
                ));
            }
        } else if m.states.is_some() {
            return Err(refuse(a, "it holds partial states, but this pipeline does not aggregate".into()));
        }
        for s in prepared.sinks.iter().filter(|_| !prepared.has_final_phase()) {
            match m.sink(&s.stage.name) {
                Some(staged) if staged.format == s.stage.format.name() => {}
                Some(staged) => {
                    return Err(refuse(
                        a,
                        format!(
                            "sinks.{} was staged as {}, the pipeline writes {}",
                            s.stage.name,
                            staged.format,
                            s.stage.format.name()
                        ),
                    ));
                }
                None => return Err(refuse(a, format!("it staged nothing for sinks.{}", s.stage.name))),
            }
        }
        if let Some(extra) = m.sinks.iter().find(|s| !prepared.sinks.iter().any(|p| p.stage.name == s.name)) {
            return Err(refuse(
                a,
                format!("it staged sinks.{}, which the pipeline does not have", extra.name),
            ));
        }
        for split in &m.splits {
            if let Some(other) = owner.insert(split.key.as_str(), a) {
                return Err(CommitError::Refused(format!(
                    "duplicate attempts: split `{}` was staged by attempt `{}` ({}) and by attempt `{}` ({}); \
                     commit one attempt per task (the other's files are never committed; `--clean` removes them)",
                    split.id,
                    other.manifest.attempt,
                    other.manifest_path.display(),
                    m.attempt,
                    a.manifest_path.display()
                )));
            }
        }
    }
    Ok(run_id)
}

/// Removes an attempt folder, if it is one (it holds the marker).
fn remove_attempt(dir: &Path) -> bool {
    dir.join(ATTEMPT_MARKER).is_file() && std::fs::remove_dir_all(dir).is_ok()
}

/// `runtime commit --clean DIR`: removes every attempt folder left in the
/// staging folder (those of failed, losing or speculative attempts; the
/// committed ones were removed by the commit). Returns what was removed.
pub fn clean(dir: &Path) -> Result<Vec<PathBuf>, SinkError> {
    use super::error::Context;
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e).context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && remove_attempt(&path) {
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_attempt_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a0", "a1"] {
            std::fs::create_dir_all(dir.path().join(name).join("t")).unwrap();
            std::fs::write(dir.path().join(name).join(ATTEMPT_MARKER), name).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let removed = clean(dir.path()).unwrap();
        assert_eq!(removed, [dir.path().join("a0"), dir.path().join("a1")]);
        assert!(dir.path().join("other").is_dir() && dir.path().join("file").is_file());
        assert!(clean(&dir.path().join("missing")).unwrap().is_empty());
    }
}
