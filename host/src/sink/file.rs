//! A Parquet sink that is one file (`path` ending in `.parquet`): written
//! under a temporary name and renamed into place when the run commits, so
//! readers see the previous file or the new one, never a partial one. It
//! commits once, at the end of the run; a crashed run leaves the previous
//! output untouched and is simply run again.

use super::error::SinkError;
use super::parquet::{ParquetFile, properties};
use super::table::{CommitMeta, TableWriter};
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
}

impl ParquetFileSink {
    pub fn new(stage: &SinkStage, schema: SchemaRef) -> Self {
        // Temporary files of crashed runs are removed; those of live runs
        // are left alone.
        super::parquet::remove_stale_temporaries(&stage.path);
        ParquetFileSink { path: stage.path.clone(), schema, props: properties(stage), file: None }
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
        let file = self.file.take().expect("opened above");
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
