//! The reader's own error type: what went wrong while decoding a PST and
//! whether it is damage, an unsupported feature, an I/O failure or a limit.
//!
//! It stays independent of the SDK so that the parser can be used and tested
//! natively; `extract` converts it into the SDK's `Error` at the boundary.

use std::fmt;

/// What kind of failure a PST operation hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is malformed, truncated or inconsistent.
    Corrupt,
    /// A valid file using a feature this reader does not handle.
    Unsupported,
    /// Reading the underlying input failed.
    Io,
    /// A configured bound (size, depth, count) was exceeded.
    Limit,
}

/// A PST decoding error with a specific, human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PstError {
    pub kind: ErrorKind,
    pub message: String,
}

/// Result with [`PstError`].
pub type Result<T, E = PstError> = std::result::Result<T, E>;

impl PstError {
    pub fn corrupt(message: impl Into<String>) -> Self {
        PstError { kind: ErrorKind::Corrupt, message: message.into() }
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        PstError { kind: ErrorKind::Unsupported, message: message.into() }
    }
    pub fn io(message: impl Into<String>) -> Self {
        PstError { kind: ErrorKind::Io, message: message.into() }
    }
    pub fn limit(message: impl Into<String>) -> Self {
        PstError { kind: ErrorKind::Limit, message: message.into() }
    }
    /// Prefixes the message with where it happened: `"{context}: {message}"`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for PstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PstError {}

impl From<std::io::Error> for PstError {
    fn from(e: std::io::Error) -> Self {
        PstError::io(e.to_string())
    }
}

/// Shorthand for returning a [`ErrorKind::Corrupt`] error.
macro_rules! corrupt {
    ($($arg:tt)*) => { return Err($crate::error::PstError::corrupt(format!($($arg)*))) };
}
pub(crate) use corrupt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes() {
        let e = PstError::corrupt("bad page").context("node 0x21");
        assert_eq!(e.to_string(), "node 0x21: bad page");
        assert_eq!(e.kind, ErrorKind::Corrupt);
    }

    #[test]
    fn corrupt_macro_returns_error() {
        fn f(x: u32) -> Result<u32> {
            if x > 1 {
                corrupt!("value {x} too big");
            }
            Ok(x)
        }
        assert_eq!(f(1), Ok(1));
        assert_eq!(f(5).unwrap_err().message, "value 5 too big");
    }
}
