//! A Parquet sink that is one file (`path` ending in `.parquet`): written
//! under a temporary name and renamed into place when the run commits, so
//! readers see the previous file or the new one, never a partial one. It
//! commits once, at the end of the run; a crashed run leaves the previous
//! output untouched and is simply run again.
//!
//! The file's footer records the run that wrote it (key `runtime`: app id,
//! run id, rows, and a SHA-256 of the splits' keys rather than the list, so
//! the footer stays small whatever the number of inputs), so `--resume` after
//! a completed run knows whether there is anything to do.

use super::error::SinkError;
use super::parquet::{ParquetFile, properties};
use super::table::{CommitMeta, Opened, RunIdentity, TableWriter};
use crate::config::SinkStage;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::file::properties::WriterProperties;
use std::path::PathBuf;

pub struct ParquetFileSink {
    path: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    file: Option<ParquetFile>,
    app_id: String,
}

/// The footer key that records the run that wrote the file.
const RUN_KEY: &str = "runtime";

impl ParquetFileSink {
    pub fn open(
        stage: &SinkStage,
        schema: SchemaRef,
        run: &RunIdentity,
        keys: &[String],
    ) -> Result<(Self, Opened), SinkError> {
        // Temporary files of crashed runs are removed; those of live runs
        // are left alone.
        super::parquet::remove_stale_temporaries(&stage.path);
        let app_id = stage.table.app_id.clone();
        let mut opened = Opened::default();
        if run.resume
            && let Some((run_id, digest)) = recorded_run(&stage.path, &app_id)
        {
            // The file is all or nothing: the run it records completed.
            opened.resumed_run = Some(run_id);
            opened.completed = true;
            if digest == keys_digest(keys.iter()) {
                opened.committed = keys.iter().cloned().collect();
            }
        }
        let sink = ParquetFileSink {
            path: stage.path.clone(),
            schema,
            props: properties(stage),
            file: None,
            app_id,
        };
        Ok((sink, opened))
    }

    fn file(&mut self) -> Result<&mut ParquetFile, SinkError> {
        if self.file.is_none() {
            self.file = Some(ParquetFile::create(&self.path, self.schema.clone(), self.props.clone())?);
        }
        Ok(self.file.as_mut().expect("created above"))
    }
}

impl TableWriter for ParquetFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        self.file()?.write(batch)
    }

    fn pending_bytes(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.size())
    }

    fn commit(&mut self, meta: &CommitMeta) -> Result<Option<i64>, SinkError> {
        if !meta.complete {
            return Ok(None);
        }
        // An output with no rows is still a valid (empty) file.
        self.file()?;
        let mut file = self.file.take().expect("opened above");
        let record = serde_json::json!({
            "app_id": self.app_id,
            "run_id": meta.run_id,
            "pipeline": meta.pipeline,
            "rows": meta.rows,
            "splits": meta.splits.len(),
            "splits_sha256": keys_digest(meta.splits.iter()),
        });
        file.annotate(RUN_KEY, record.to_string());
        file.commit()?;
        Ok(None)
    }

    fn abort(&mut self) {
        if let Some(f) = self.file.take() {
            f.abort();
        }
    }

    fn can_commit_early(&self) -> bool {
        false
    }
}

/// The run recorded in an existing file's footer, if this pipeline wrote
/// it: its id and the digest of its splits' keys. A file that is missing,
/// unreadable or written by something else has no history.
fn recorded_run(path: &std::path::Path, app_id: &str) -> Option<(String, String)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).ok()?).ok()?;
    let kv = reader.metadata().file_metadata().key_value_metadata()?;
    let value = kv.iter().find(|k| k.key == RUN_KEY)?.value.as_deref()?;
    let v: serde_json::Value = serde_json::from_str(value).ok()?;
    if v.get("app_id")?.as_str()? != app_id {
        return None;
    }
    Some((v.get("run_id")?.as_str()?.to_string(), v.get("splits_sha256")?.as_str()?.to_string()))
}

/// SHA-256 of the keys, sorted, one per line (hex).
fn keys_digest<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&String> = keys.collect();
    sorted.sort();
    let mut h = Sha256::new();
    for k in sorted {
        h.update(k.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
