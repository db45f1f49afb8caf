//! The manifest of a staged run attempt (`runtime run --stage-only DIR`):
//! what one attempt wrote under `DIR/<attempt>/` without committing it, so
//! that `runtime commit` can later commit exactly those files, once, into
//! each sink's table. It is the contract between the machines that stage
//! (executors) and the one that commits (a driver), so it is versioned
//! (`manifest_version`) and documented in the README ("Distributed runs").
//!
//! ```text
//!   DIR/<attempt>/_runtime_attempt      marker: this folder is an attempt (for `commit --clean`)
//!   DIR/<attempt>/<sink>/...            the sink's data files (Delta: partition folders, part files)
//!   DIR/<attempt>/manifest.json         written last, atomically: the attempt finished staging
//! ```

use super::error::{Context, SinkError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The version of the manifest format this runtime writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// The manifest's file name in an attempt folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The marker file of an attempt folder.
pub const ATTEMPT_MARKER: &str = "_runtime_attempt";

/// What one staged attempt holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageManifest {
    pub manifest_version: u32,
    /// The pipeline's name (`name` in pipeline.toml).
    pub pipeline: String,
    /// The fingerprint of the whole plan (as `runtime plan --json` prints
    /// it), not only of the splits this attempt ran.
    pub fingerprint: String,
    /// The distributed run this attempt belongs to (recorded with the
    /// commit; `--resume` continues it).
    pub run_id: String,
    pub attempt: String,
    pub created_unix_ms: u64,
    /// Splits whose rows the files hold (every sink's files cover all of
    /// them; a split that emitted no rows is listed too).
    pub splits: Vec<StagedSplit>,
    /// Splits that failed in this attempt: nothing of them was staged.
    pub failed: Vec<FailedSplit>,
    /// Every sink's staged files (empty for an aggregating pipeline, whose
    /// sinks are written by the final merge at commit time).
    pub sinks: Vec<StagedSink>,
    /// An aggregating pipeline's partial states, for the final merge that
    /// `runtime commit` runs once over every attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<StagedStates>,
}

/// The partial aggregation states an attempt's splits produced: an Arrow
/// IPC file of rows (`transform`: the transform's index in the pipeline,
/// `state`: one opaque partial state, as the plugin emitted it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedStates {
    /// Relative to the attempt's folder.
    pub path: String,
    pub bytes: u64,
    /// Partial states in the file.
    pub states: u64,
}

/// A split whose output was staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedSplit {
    pub id: String,
    /// Its key (id and file size), as commits record it.
    pub key: String,
    /// Set when the split ended partial (its rows are staged; the reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

/// A split that failed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedSplit {
    pub id: String,
    pub key: String,
    pub error: String,
    pub kind: String,
}

/// One sink's staged files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedSink {
    /// The sink's name (`[sinks.NAME]`); its files are under `<attempt>/NAME/`.
    pub name: String,
    /// `delta` or `parquet` (a Parquet folder).
    pub format: String,
    pub files: Vec<StagedFile>,
    pub rows: u64,
    pub bytes: u64,
}

/// One staged data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Relative to the sink's folder in the attempt (`<attempt>/<sink>/`).
    /// For Delta, the `add` action's path: partition folders included, and
    /// the same path the file gets in the table.
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
    /// Partition column -> value (`null` for a null value); empty when the
    /// table is not partitioned.
    #[serde(default)]
    pub partition_values: BTreeMap<String, Option<String>>,
    /// Column statistics as Delta's `add.stats` holds them (`numRecords`,
    /// `minValues`, `maxValues`, `nullCount`), from the Parquet writer;
    /// absent for Parquet-folder files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<serde_json::Value>,
    /// When the file was written (ms since the epoch).
    pub modification_time_ms: i64,
}

impl StageManifest {
    /// Reads a manifest and checks its version.
    pub fn read(path: &Path) -> Result<StageManifest, SinkError> {
        let bytes = std::fs::read(path).context(|| format!("cannot read {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .context(|| format!("{} is not a manifest (not JSON)", path.display()))?;
        let version = v.get("manifest_version").and_then(|v| v.as_u64());
        if version != Some(MANIFEST_VERSION as u64) {
            return Err(SinkError::Refused(format!(
                "{} has manifest_version {}, this runtime reads version {MANIFEST_VERSION}",
                path.display(),
                version.map_or("(none)".to_string(), |v| v.to_string())
            )));
        }
        serde_json::from_value(v).context(|| format!("{} is not a valid manifest", path.display()))
    }

    /// Writes the manifest into `dir` atomically (temporary file, fsync,
    /// rename): a manifest that exists is complete.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, SinkError> {
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp-{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(self).context(|| "encoding the manifest".into())?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).context(|| format!("cannot create {}", tmp.display()))?;
            f.write_all(&bytes).context(|| format!("writing {}", tmp.display()))?;
            f.sync_all().context(|| format!("syncing {}", tmp.display()))?;
        }
        std::fs::rename(&tmp, &path).context(|| format!("moving {} into place", path.display()))?;
        Ok(path)
    }

    /// The keys of the splits whose rows this attempt staged.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.splits.iter().map(|s| s.key.as_str())
    }

    /// The sink's files, if the attempt staged that sink.
    pub fn sink(&self, name: &str) -> Option<&StagedSink> {
        self.sinks.iter().find(|s| s.name == name)
    }
}

/// Whether `name` can name an attempt: one path component of letters,
/// digits, `.`, `_` and `-`, not starting with `.`, at most 200 bytes.
pub fn valid_attempt_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> StageManifest {
        StageManifest {
            manifest_version: MANIFEST_VERSION,
            pipeline: "p".into(),
            fingerprint: "f".repeat(64),
            run_id: "r".into(),
            attempt: "a-1".into(),
            created_unix_ms: 1,
            splits: vec![StagedSplit { id: "x@0..9".into(), key: "x@0..9#9".into(), partial: None }],
            failed: vec![],
            sinks: vec![StagedSink {
                name: "t".into(),
                format: "delta".into(),
                files: vec![StagedFile {
                    path: "g=1/part-0.parquet".into(),
                    bytes: 10,
                    rows: 2,
                    partition_values: [("g".to_string(), Some("1".to_string()))].into(),
                    stats: Some(serde_json::json!({"numRecords": 2})),
                    modification_time_ms: 5,
                }],
                rows: 2,
                bytes: 10,
            }],
            states: None,
        }
    }

    #[test]
    fn a_manifest_round_trips_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest();
        let path = m.write(dir.path()).unwrap();
        assert_eq!(StageManifest::read(&path).unwrap(), m);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        v["manifest_version"] = 2.into();
        std::fs::write(&path, v.to_string()).unwrap();
        let err = StageManifest::read(&path).unwrap_err().to_string();
        assert!(err.contains("manifest_version 2, this runtime reads version 1"), "{err}");
    }

    #[test]
    fn attempt_names_are_single_plain_components() {
        assert!(valid_attempt_name("task-3_attempt.1"));
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(201)] {
            assert!(!valid_attempt_name(bad), "{bad}");
        }
    }
}
