//! The output side of a sink, behind one trait: a [`TableWriter`] writes
//! data files and, separately, commits them, recording which splits the
//! commit covers. Three implementations:
//!
//! - [`super::file::ParquetFileSink`]: one Parquet file, renamed into place at
//!   the end of the run (a single commit; nothing to resume).
//! - [`super::folder::ParquetFolderSink`]: a folder of Parquet part files and a
//!   commit manifest (`_runtime_manifest.json`): resumable, commit cadence.
//! - [`super::delta::DeltaSink`]: a Delta Lake table; each commit carries a
//!   `txn` action for the pipeline's application id and, in its commitInfo,
//!   the run id and the splits it covers.
//!
//! ```text
//!   open ──▶ Opened { committed splits, resumed run }      (before any split runs)
//!   write(batch)* ──▶ data files (not visible)
//!   commit(splits, complete) ──▶ new table version (atomic)  ─┐ repeated per cadence
//!   abort ──▶ unreferenced data files removed                 ┘
//! ```
//!
//! Exactly-once: a split's rows reach a table only through a commit that
//! names the split. `--resume` continues the last run recorded in the table
//! and skips the splits it committed; `skip_committed` skips every split any
//! earlier run of the pipeline committed.

use super::error::{Context, SinkError};
use super::manifest::StagedFile;
use arrow_array::RecordBatch;
use std::collections::HashSet;
use std::path::Path;

/// Who is writing: recorded with every commit.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    /// Unique per run (kept when a run is resumed).
    pub run_id: String,
    pub pipeline: String,
    /// Continue the last recorded run (`--resume`).
    pub resume: bool,
}

/// What a table says about earlier runs, read when it is opened.
#[derive(Debug, Clone, Default)]
pub struct Opened {
    /// Splits whose rows the table already holds and that this run skips.
    pub committed: HashSet<String>,
    /// The run id being continued, when resuming an earlier run.
    pub resumed_run: Option<String>,
    /// The run being resumed already made its final commit here: this
    /// table holds all of it, and resuming must not write it again.
    pub completed: bool,
    /// The table's version before this run (Delta version, manifest
    /// version), if it existed.
    pub version: Option<i64>,
    /// Every commit of this pipeline the table records (`runtime commit`
    /// reads which splits a distributed run already committed).
    pub history: Vec<RecordedCommit>,
}

/// What one commit records.
#[derive(Debug, Clone)]
pub struct CommitMeta {
    pub run_id: String,
    pub pipeline: String,
    /// Keys of the splits whose rows this commit adds.
    pub splits: Vec<String>,
    /// The last commit of the run.
    pub complete: bool,
    /// Rows added by this commit.
    pub rows: u64,
}

impl CommitMeta {
    /// The metadata as JSON, as stored in Delta commitInfo and manifests.
    pub fn to_json(&self, app_id: &str) -> serde_json::Value {
        serde_json::json!({
            "app_id": app_id,
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "splits": self.splits,
            "complete": self.complete,
            "rows": self.rows,
        })
    }
}

/// A recorded commit of this pipeline, read back from a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCommit {
    pub version: i64,
    pub run_id: String,
    pub splits: Vec<String>,
    pub complete: bool,
}

impl RecordedCommit {
    pub fn from_json(version: i64, app_id: &str, v: &serde_json::Value) -> Option<Self> {
        if v.get("app_id")?.as_str()? != app_id {
            return None;
        }
        Some(RecordedCommit {
            version,
            run_id: v.get("run_id")?.as_str()?.to_string(),
            splits: v
                .get("splits")?
                .as_array()?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            complete: v.get("complete").and_then(|c| c.as_bool()).unwrap_or(false),
        })
    }
}

/// Which splits to skip given the pipeline's earlier commits (any order).
pub fn plan_skips(commits: &[RecordedCommit], resume: bool, skip_committed: bool) -> Opened {
    let mut opened = Opened { history: commits.to_vec(), ..Opened::default() };
    if skip_committed {
        opened.committed.extend(commits.iter().flat_map(|c| c.splits.iter().cloned()));
    }
    if resume && let Some(last) = commits.iter().max_by_key(|c| c.version) {
        opened.resumed_run = Some(last.run_id.clone());
        let of_last = || commits.iter().filter(|c| c.run_id == last.run_id);
        opened.committed.extend(of_last().flat_map(|c| c.splits.iter().cloned()));
        opened.completed = of_last().any(|c| c.complete);
    }
    opened
}

/// Writes data files and commits them.
pub trait TableWriter: Send {
    /// Appends rows to the current data files (not visible until a commit).
    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError>;
    /// Bytes written since the last commit (for `commit_every_bytes`).
    fn pending_bytes(&self) -> u64;
    /// Makes everything written so far visible, atomically, recording `meta`.
    /// Returns the new version, when the format has versions.
    fn commit(&mut self, meta: &CommitMeta) -> Result<Option<i64>, SinkError>;
    /// Drops what was written since the last commit.
    fn abort(&mut self);
    /// Whether an intermediate commit is possible (a single Parquet file
    /// commits once, at the end).
    fn can_commit_early(&self) -> bool {
        true
    }
    /// Takes a staged data file (`runtime commit`): moved into the table
    /// and made visible by the next commit, like a file this writer wrote.
    /// `source` is where the file is now.
    fn adopt(&mut self, source: &Path, file: &StagedFile) -> Result<(), SinkError> {
        let _ = (source, file);
        Err(SinkError::Refused("this sink cannot take staged files".into()))
    }
    /// The next commit adds to the table even under `mode = "overwrite"`:
    /// the run already replaced the table's contents in an earlier commit.
    fn keep_existing(&mut self) {}
}

/// Puts a staged file at `dest`: a hard link (a copy when they are on
/// different file systems). The staged file stays where it is until the
/// commit has been made (`runtime commit` then removes the attempt's
/// folder), so a commit that fails midway can simply be tried again. A file
/// already at `dest` with the staged size is an earlier try's and is kept.
pub fn place_staged(source: &Path, dest: &Path, bytes: u64) -> Result<(), SinkError> {
    if std::fs::metadata(dest).is_ok_and(|m| m.len() == bytes) {
        return Ok(());
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).context(|| format!("cannot create {}", parent.display()))?;
    }
    let _ = std::fs::remove_file(dest);
    if std::fs::hard_link(source, dest).is_err() {
        std::fs::copy(source, dest)
            .context(|| format!("cannot copy {} to {}", source.display(), dest.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(version: i64, run: &str, splits: &[&str], complete: bool) -> RecordedCommit {
        RecordedCommit {
            version,
            run_id: run.into(),
            splits: splits.iter().map(|s| s.to_string()).collect(),
            complete,
        }
    }

    #[test]
    fn resume_takes_the_last_run_only() {
        let commits =
            [commit(1, "a", &["x", "y"], true), commit(2, "b", &["z"], false), commit(3, "b", &["w"], false)];
        let o = plan_skips(&commits, true, false);
        assert_eq!(o.resumed_run.as_deref(), Some("b"));
        assert_eq!(o.committed, ["z", "w"].iter().map(|s| s.to_string()).collect());
        assert!(!o.completed, "run b made no final commit");
        let done = [commit(1, "a", &["x"], false), commit(2, "a", &["y"], true)];
        assert!(plan_skips(&done, true, false).completed);
        assert!(!plan_skips(&done, false, true).completed, "only a resume continues a run");
        let all = plan_skips(&commits, false, true);
        assert_eq!(all.committed.len(), 4);
        assert!(plan_skips(&commits, false, false).committed.is_empty());
    }

    #[test]
    fn a_staged_file_is_placed_once_and_stays_staged() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("staged.parquet");
        std::fs::write(&source, b"12345").unwrap();
        let dest = dir.path().join("table/g=1/part.parquet");
        place_staged(&source, &dest, 5).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"12345");
        assert!(source.is_file(), "the staged file stays until the commit is made");
        // A second try finds it in place.
        std::fs::remove_file(&source).unwrap();
        place_staged(&source, &dest, 5).unwrap();
        assert!(place_staged(&source, &dir.path().join("other"), 5).is_err(), "nothing to place");
    }

    #[test]
    fn metadata_round_trip_filters_other_apps() {
        let meta = CommitMeta {
            run_id: "r".into(),
            pipeline: "p".into(),
            splits: vec!["s#1".into()],
            complete: true,
            rows: 3,
        };
        let json = meta.to_json("app");
        assert_eq!(RecordedCommit::from_json(4, "app", &json), Some(commit(4, "r", &["s#1"], true)));
        assert_eq!(RecordedCommit::from_json(4, "other", &json), None);
    }
}
