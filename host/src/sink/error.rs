//! Why writing or committing an output failed. Every error says what was
//! being done (`cannot create out/part-3.parquet`, `committing Delta
//! version 4 of out/table`) and keeps the underlying error as its source.

use std::fmt;

/// An error of a sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// An operation failed: what was being done, and the error it met.
    #[error("{context}: {cause}")]
    Failed { context: String, cause: Cause },
    /// The table and the pipeline disagree (schema, partitioning).
    #[error("{0}")]
    Mismatch(String),
    /// The output is in a state this run must not write to: another run
    /// holds it, it is not what it should be, or a value cannot be stored.
    #[error("{0}")]
    Refused(String),
    /// An error of one sink, named as in the pipeline.
    #[error("sinks.{sink}: {error}")]
    Sink { sink: String, error: Box<SinkError> },
}

impl SinkError {
    /// The error as the error of sink `name`.
    pub fn of(self, name: &str) -> SinkError {
        SinkError::Sink { sink: name.to_string(), error: Box::new(self) }
    }
}

/// The error a sink operation met.
#[derive(Debug)]
pub enum Cause {
    Io(std::io::Error),
    Parquet(parquet::errors::ParquetError),
    Arrow(arrow_schema::ArrowError),
    Delta(deltalake::DeltaTableError),
    Json(serde_json::Error),
    Ipc(crate::ipc::IpcError),
    /// An error already put in words (an IPC decode of a spill file).
    Other(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Io(e) => e.fmt(f),
            Cause::Parquet(e) => e.fmt(f),
            Cause::Arrow(e) => e.fmt(f),
            Cause::Delta(e) => e.fmt(f),
            Cause::Json(e) => e.fmt(f),
            Cause::Ipc(e) => e.fmt(f),
            Cause::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Cause {}

impl<W> From<std::io::IntoInnerError<W>> for Cause {
    fn from(e: std::io::IntoInnerError<W>) -> Self {
        Cause::Io(e.into_error())
    }
}

macro_rules! cause_from {
    ($($t:ty => $v:ident),* $(,)?) => {
        $(impl From<$t> for Cause {
            fn from(e: $t) -> Self {
                Cause::$v(e)
            }
        })*
    };
}

cause_from!(
    std::io::Error => Io,
    parquet::errors::ParquetError => Parquet,
    arrow_schema::ArrowError => Arrow,
    deltalake::DeltaTableError => Delta,
    serde_json::Error => Json,
    crate::ipc::IpcError => Ipc,
    String => Other,
);

/// Adds what was being done to an error: `.context(|| format!("cannot
/// create {}", path.display()))?`.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, SinkError>;
}

impl<T, E: Into<Cause>> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, SinkError> {
        self.map_err(|e| SinkError::Failed { context: what(), cause: e.into() })
    }
}
