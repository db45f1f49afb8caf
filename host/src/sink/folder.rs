//! A Parquet sink that is a folder: part files plus a commit manifest,
//! `_runtime_manifest.json`, so long runs can commit as they go and resume
//! after a crash without duplicating a row.
//!
//! Commit protocol (each step atomic; a crash anywhere leaves only whole
//! commits visible):
//!
//! 1. part files are written and closed under hidden temporary names
//!    (`.part-….parquet.tmp-<pid>`, which Parquet readers skip);
//! 2. the manifest is rewritten (temporary file, fsync, rename) with a new
//!    commit listing the parts by their final names and the splits they hold;
//! 3. the parts are renamed to their final names (`part-….parquet`).
//!
//! Opening the folder finishes step 3 of a commit cut short by a crash and
//! deletes unreferenced files, so readers of the folder (pyarrow, Spark,
//! DuckDB) see exactly the committed parts. An OS file lock on
//! `_runtime.lock` keeps two runs from writing the same folder at once; it
//! dies with its process, so a crashed run leaves no stale lock.

use super::error::{Context, SinkError};
use super::manifest::StagedFile;
use super::parquet::{Closed, ParquetFile, properties};
use super::schema::{conform, reconcile};
use super::table::{CommitMeta, Opened, RecordedCommit, RunIdentity, TableWriter, place_staged, plan_skips};
use crate::config::{SinkStage, TableSettings, WriteMode};
use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MANIFEST: &str = "_runtime_manifest.json";
const LOCK: &str = "_runtime.lock";
const FORMAT: &str = "runtime-parquet-table/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: String,
    schema: Schema,
    /// Part files that make up the table now.
    live: Vec<String>,
    commits: Vec<ManifestCommit>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestCommit {
    version: i64,
    timestamp_ms: u64,
    added: Vec<String>,
    removed: Vec<String>,
    meta: serde_json::Value,
}

pub struct ParquetFolderSink {
    dir: PathBuf,
    props: WriterProperties,
    settings: TableSettings,
    manifest: Manifest,
    run_tag: String,
    current: Option<ParquetFile>,
    closed: Vec<Closed>,
    files_started: u64,
    /// Overwrite replaces the live files in the run's (single) commit.
    replace: bool,
    _lock: Lock,
}

/// The folder's lock: an exclusive OS file lock (flock) on `_runtime.lock`,
/// which holds the owner's pid for the error message. The OS drops the lock
/// when its process dies, `kill -9` included, so a crashed run never leaves
/// a stale lock behind. The file is removed when the lock is dropped.
struct Lock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlinked while still locked: a run that opened this file just
        // before sees, once it gets the lock, that the path no longer names
        // it, and starts over (see `lock`).
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock(dir: &Path) -> Result<Lock, SinkError> {
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(LOCK);
    let io = |e: std::io::Error| SinkError::Failed {
        context: format!("cannot take the lock {}", path.display()),
        cause: e.into(),
    };
    for _ in 0..8 {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(SinkError::Refused(format!(
                    "another run (pid {}) is writing to {}; wait for it to finish",
                    pid.trim(),
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // The previous owner may have removed the file between our open and
        // our lock: then we hold a lock on a file nobody else can see.
        let held = file.metadata().map_err(io)?;
        let same =
            std::fs::metadata(&path).is_ok_and(|now| now.ino() == held.ino() && now.dev() == held.dev());
        if !same {
            continue;
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        return Ok(Lock { path, _file: file });
    }
    Err(SinkError::Refused(format!("cannot take the lock {}: it keeps changing hands", path.display())))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl ParquetFolderSink {
    pub fn open(
        stage: &SinkStage,
        schema: SchemaRef,
        run: &RunIdentity,
    ) -> Result<(Self, Opened), SinkError> {
        let dir = stage.path.clone();
        if dir.is_file() {
            return Err(SinkError::Refused(format!(
                "{} is a file; a Parquet table is a folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
        let lock = lock(&dir)?;
        let manifest_path = dir.join(MANIFEST);
        let manifest = match std::fs::read(&manifest_path) {
            Ok(bytes) => {
                let m: Manifest = serde_json::from_slice(&bytes)
                    .context(|| format!("{} is not a valid manifest", manifest_path.display()))?;
                if m.format != FORMAT {
                    return Err(SinkError::Refused(format!(
                        "{} has format {}, this runtime writes {FORMAT}",
                        manifest_path.display(),
                        m.format
                    )));
                }
                m
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let stray = std::fs::read_dir(&dir)
                    .context(|| format!("cannot list {}", dir.display()))?
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".parquet"));
                if stray {
                    return Err(SinkError::Refused(format!(
                        "{} holds Parquet files but no {MANIFEST}; it was not written by this runtime (choose another path)",
                        dir.display()
                    )));
                }
                Manifest {
                    format: FORMAT.into(),
                    schema: schema.as_ref().clone(),
                    live: Vec::new(),
                    commits: Vec::new(),
                }
            }
            Err(e) => return Err(e).context(|| format!("cannot read {}", manifest_path.display())),
        };
        let mut sink = ParquetFolderSink {
            dir: dir.clone(),
            props: properties(stage),
            settings: stage.table.clone(),
            manifest,
            run_tag: run.run_id.chars().take(8).collect(),
            current: None,
            closed: Vec::new(),
            files_started: 0,
            replace: stage.table.mode == WriteMode::Overwrite,
            _lock: lock,
        };
        sink.recover()?;
        if !sink.manifest.commits.is_empty()
            && let Some(merged) =
                reconcile(&sink.manifest.schema, &schema, stage.table.add_columns).map_err(|e| {
                    SinkError::Mismatch(format!(
                        "the table at {} does not fit this pipeline: {e}",
                        dir.display()
                    ))
                })?
        {
            sink.manifest.schema = merged.as_ref().clone();
        }
        let app = &stage.table.app_id;
        let commits: Vec<RecordedCommit> = sink
            .manifest
            .commits
            .iter()
            .filter_map(|c| RecordedCommit::from_json(c.version, app, &c.meta))
            .collect();
        let mut opened = plan_skips(&commits, run.resume, stage.table.skip_committed);
        opened.version = sink.manifest.commits.last().map(|c| c.version);
        Ok((sink, opened))
    }

    /// Completes renames cut short by a crash and removes files no commit
    /// references.
    fn recover(&mut self) -> Result<(), SinkError> {
        for name in &self.manifest.live {
            let path = self.dir.join(name);
            if !path.exists() {
                match super::parquet::temporaries(&path).first() {
                    Some(tmp) => {
                        std::fs::rename(tmp, &path).context(|| format!("recovering {}", path.display()))?
                    }
                    None => {
                        return Err(SinkError::Refused(format!(
                            "{} lists {name}, which is missing",
                            self.dir.join(MANIFEST).display()
                        )));
                    }
                }
            }
        }
        let live: std::collections::HashSet<&str> = self.manifest.live.iter().map(String::as_str).collect();
        for entry in
            std::fs::read_dir(&self.dir).context(|| format!("cannot list {}", self.dir.display()))?.flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let orphan_part =
                name.starts_with("part-") && name.ends_with(".parquet") && !live.contains(name.as_str());
            let temporary = name.starts_with(".part-") || name.starts_with(&format!(".{MANIFEST}."));
            if orphan_part || temporary {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<(), SinkError> {
        if let Some(f) = self.current.take() {
            if f.rows == 0 {
                f.abort();
            } else {
                self.closed.push(f.close()?);
            }
        }
        Ok(())
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<(), SinkError> {
        let path = self.dir.join(MANIFEST);
        let tmp = self.dir.join(format!(".{MANIFEST}.{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(manifest).context(|| "encoding the manifest".into())?;
        let io = |e: std::io::Error| SinkError::Failed {
            context: format!("writing {}", path.display()),
            cause: e.into(),
        };
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl ParquetFolderSink {
    /// The name of the next data file: `part-<commit>-<file>-<run>.parquet`,
    /// the commit it will belong to, its number among this run's files, and
    /// the run's tag.
    fn next_part_name(&mut self) -> String {
        self.files_started += 1;
        format!(
            "part-{:05}-{:04}-{}.parquet",
            self.manifest.commits.len() + 1,
            self.files_started,
            self.run_tag
        )
    }
}

impl TableWriter for ParquetFolderSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        if self.current.is_none() {
            let name = self.next_part_name();
            let schema: SchemaRef = Arc::new(self.manifest.schema.clone());
            self.current = Some(ParquetFile::create(&self.dir.join(name), schema, self.props.clone())?);
        }
        let batch = conform(batch, &self.manifest.schema)?;
        let f = self.current.as_mut().expect("opened above");
        f.write(&batch)?;
        if f.size() >= self.settings.target_file_size {
            self.roll()?;
        }
        Ok(())
    }

    fn pending_bytes(&self) -> u64 {
        self.closed.iter().map(|c| c.size).sum::<u64>() + self.current.as_ref().map_or(0, |f| f.size())
    }

    fn commit(&mut self, meta: &CommitMeta) -> Result<Option<i64>, SinkError> {
        self.roll()?;
        if self.closed.is_empty() && !meta.complete && !self.replace {
            return Ok(None);
        }
        let mut next = self.manifest.clone();
        let version = next.commits.last().map_or(0, |c| c.version + 1);
        let added: Vec<String> =
            self.closed.iter().map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        let removed =
            if std::mem::take(&mut self.replace) { std::mem::take(&mut next.live) } else { Vec::new() };
        next.live.extend(added.iter().cloned());
        next.commits.push(ManifestCommit {
            version,
            timestamp_ms: now_ms(),
            added,
            removed: removed.clone(),
            meta: meta.to_json(&self.settings.app_id),
        });
        self.write_manifest(&next)?;
        for c in self.closed.drain(..) {
            c.publish()?;
        }
        for name in &removed {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        self.manifest = next;
        Ok(Some(version))
    }

    fn abort(&mut self) {
        if let Some(f) = self.current.take() {
            f.abort();
        }
        for c in self.closed.drain(..) {
            c.discard();
        }
    }

    fn adopt(&mut self, source: &Path, file: &StagedFile) -> Result<(), SinkError> {
        // Under a part name of the next commit and, until the manifest
        // lists it, a temporary name (step 1 of the commit protocol).
        self.roll()?;
        let name = self.next_part_name();
        let path = self.dir.join(name);
        let tmp = super::parquet::temp_path(&path);
        place_staged(source, &tmp, file.bytes)?;
        self.closed.push(Closed { path, tmp, size: file.bytes, rows: file.rows });
        Ok(())
    }

    fn keep_existing(&mut self) {
        self.replace = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_writer_and_names_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        let err = lock(dir.path()).err().unwrap().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(err.contains("wait for it to finish"), "{err}");
        drop(held);
        assert!(!dir.path().join(LOCK).exists(), "the lock file is removed with the lock");
        lock(dir.path()).unwrap();
    }

    #[test]
    fn a_lock_file_left_by_a_killed_run_is_taken_over() {
        // kill -9 leaves the file (with the dead run's pid) but not the OS
        // lock, which died with the process.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK), "4194303999").unwrap();
        let _held = lock(dir.path()).unwrap();
        let pid = std::fs::read_to_string(dir.path().join(LOCK)).unwrap();
        assert_eq!(pid, std::process::id().to_string());
    }
}
