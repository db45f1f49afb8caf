//! Writing one Parquet output file: under a temporary name in the same
//! folder, renamed into place only when complete, so readers never see a
//! half-written file and a failed run leaves the previous output untouched.

use super::error::{Context, SinkError};
use crate::config::{Compression, SinkStage};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// An output file being written.
pub struct ParquetFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
    pub rows: u64,
}

/// Writer settings from the sink's configuration.
pub fn properties(sink: &SinkStage) -> WriterProperties {
    let codec = match sink.compression {
        Compression::None => Codec::UNCOMPRESSED,
        Compression::Snappy => Codec::SNAPPY,
        Compression::Zstd => Codec::ZSTD(ZstdLevel::default()),
        Compression::Lz4 => Codec::LZ4_RAW,
        Compression::Gzip => Codec::GZIP(GzipLevel::default()),
    };
    WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(sink.row_group_rows))
        .set_max_row_group_bytes(Some(sink.row_group_bytes))
        .set_created_by(format!("runtime {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Temporary files of `path` left by any process (`.name.tmp-<pid>`).
pub fn temporaries(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return Vec::new() };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes temporary files of `path` whose writing process is gone (a
/// crashed run's leftovers); those of live processes are left alone.
pub fn remove_stale_temporaries(path: &Path) {
    for tmp in temporaries(path) {
        let pid = tmp.to_string_lossy().rsplit_once("tmp-").and_then(|(_, p)| p.parse::<i32>().ok());
        if pid.is_some_and(|p| !process_alive(p)) {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Whether a process with this id exists.
pub fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && (pid as u32 == std::process::id() || unsafe { libc::kill(pid, 0) } == 0)
}

/// The temporary name a file is written under before it is complete.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or("output".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

impl ParquetFile {
    pub fn create(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<Self, SinkError> {
        if path.is_dir() {
            return Err(SinkError::Refused(format!(
                "{} is a directory; a parquet sink writes one file",
                path.display()
            )));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).context(|| format!("cannot create {}", parent.display()))?;
        }
        let tmp = temp_path(path);
        let file = File::create(&tmp).context(|| format!("cannot create {}", tmp.display()))?;
        let writer = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
            .context(|| format!("cannot start {}", path.display()))?;
        Ok(ParquetFile { path: path.to_path_buf(), tmp, writer, rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).context(|| format!("writing {}", self.path.display()))
    }

    /// Records `value` under `key` in the file's footer (key-value metadata).
    pub fn annotate(&mut self, key: &str, value: String) {
        self.writer.append_key_value_metadata(parquet::file::metadata::KeyValue::new(key.to_string(), value));
    }

    /// Bytes written so far, including the row group in progress.
    pub fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    /// Finishes the file under its temporary name (durable, not yet
    /// visible).
    pub fn close(self) -> Result<Closed, SinkError> {
        let inner = self.writer.into_inner().context(|| format!("finishing {}", self.path.display()))?;
        let file = inner.into_inner().context(|| format!("finishing {}", self.path.display()))?;
        file.sync_all().context(|| format!("syncing {}", self.path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Closed { path: self.path, tmp: self.tmp, size, rows: self.rows })
    }

    /// Finishes the file and moves it into place; returns its size.
    pub fn commit(self) -> Result<u64, SinkError> {
        let closed = self.close()?;
        closed.publish()?;
        Ok(closed.size)
    }

    /// The final path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the unfinished file.
    pub fn abort(self) {
        drop(self.writer);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A finished file still under its temporary name.
#[derive(Debug, Clone)]
pub struct Closed {
    pub path: PathBuf,
    pub tmp: PathBuf,
    pub size: u64,
    pub rows: u64,
}

impl Closed {
    /// Moves the file into place (atomic rename).
    pub fn publish(&self) -> Result<(), SinkError> {
        std::fs::rename(&self.tmp, &self.path)
            .context(|| format!("moving {} into place", self.path.display()))
    }

    /// Deletes the unpublished file.
    pub fn discard(&self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}
