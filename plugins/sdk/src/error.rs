//! The plugin error type: a kind, a message and whether a retry may help.
//!
//! It converts into the WIT `plugin-error` of either world, and from the
//! errors plugins commonly meet (Arrow, JSON, options).

use std::fmt;

/// What kind of failure a plugin reports (mirrors WIT `error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The options in `pipeline.toml` are wrong.
    InvalidOptions,
    /// The input is malformed or damaged.
    InvalidInput,
    /// The input uses a feature the plugin does not handle.
    Unsupported,
    /// Reading input or talking to a service failed.
    Io,
    /// A bug or broken invariant in the plugin.
    Internal,
}

/// A plugin error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub retryable: bool,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), retryable: false }
    }
    pub fn invalid_options(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidOptions, message)
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// Marks the error as worth retrying (a dropped connection, say).
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }
    /// Prefixes the message with context: `"{context}: {message}"`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::internal(format!("arrow: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        // Errors produced by `Input`'s `Read` adapter carry the original
        // plugin error; keep its kind.
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
            return inner.clone();
        }
        Error::io(e.to_string())
    }
}

macro_rules! wit_conversions {
    ($m:ident, $types:path) => {
        mod $m {
            use super::*;
            use $types as t;
            impl From<Error> for t::PluginError {
                fn from(e: Error) -> Self {
                    use t::ErrorKind as K;
                    let kind = match e.kind {
                        ErrorKind::InvalidOptions => K::InvalidOptions,
                        ErrorKind::InvalidInput => K::InvalidInput,
                        ErrorKind::Unsupported => K::Unsupported,
                        ErrorKind::Io => K::Io,
                        ErrorKind::Internal => K::Internal,
                    };
                    t::PluginError { kind, message: e.message, retryable: e.retryable }
                }
            }
            impl From<t::PluginError> for Error {
                fn from(e: t::PluginError) -> Self {
                    use t::ErrorKind as K;
                    let kind = match e.kind {
                        K::InvalidOptions => ErrorKind::InvalidOptions,
                        K::InvalidInput => ErrorKind::InvalidInput,
                        K::Unsupported => ErrorKind::Unsupported,
                        K::Io => ErrorKind::Io,
                        K::Internal => ErrorKind::Internal,
                    };
                    Error { kind, message: e.message, retryable: e.retryable }
                }
            }
        }
    };
}

wit_conversions!(reader_wit, crate::bindings::reader::runtime::plugin::types);
wit_conversions!(transform_wit, crate::bindings::transform::runtime::plugin::types);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_keeps_plugin_error_kind() {
        let inner = Error::invalid_input("bad header").retryable();
        let io = std::io::Error::other(inner.clone());
        assert_eq!(Error::from(io), inner);
    }

    #[test]
    fn context_prefixes_message() {
        let e = Error::io("connection reset").context("split 3");
        assert_eq!(e.to_string(), "split 3: connection reset");
    }
}
