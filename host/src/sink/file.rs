//! A Parquet sink that is one file (`path` ending in `.parquet`): written
//! under a temporary name and renamed into place when the run commits, so
//! readers see the previous file or the new one, never a partial one. It
//! commits once, at the end of the run; a crashed run leaves the previous
//! output untouched and is simply run again.
//!
//! The file's footer records the run that wrote it (key `runtime`, the same
//! JSON as a Delta commit's), so `--resume` after a completed run knows there
//! is nothing to do.

use super::error::SinkError;
use super::parquet::{ParquetFile, properties};
use super::table::{CommitMeta, Opened, RecordedCommit, RunIdentity, TableWriter, plan_skips};
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
    ) -> Result<(Self, Opened), SinkError> {
        // Temporary files of crashed runs are removed; those of live runs
        // are left alone.
        super::parquet::remove_stale_temporaries(&stage.path);
        let app_id = stage.table.app_id.clone();
        let written = recorded_run(&stage.path, &app_id);
        let opened = plan_skips(written.as_slice(), run.resume, false);
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
        file.annotate(RUN_KEY, meta.to_json(&self.app_id).to_string());
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

/// The run recorded in an existing file's footer, if this pipeline wrote it.
/// A file that is missing, unreadable or written by something else has no
/// history: the run writes it anew.
fn recorded_run(path: &std::path::Path, app_id: &str) -> Option<RecordedCommit> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).ok()?).ok()?;
    let kv = reader.metadata().file_metadata().key_value_metadata()?;
    let value = kv.iter().find(|k| k.key == RUN_KEY)?.value.as_deref()?;
    RecordedCommit::from_json(0, app_id, &serde_json::from_str(value).ok()?)
}
