//! Host side of the WIT `io` interface: the read-only input views a reader
//! gets, and `emit` / `reject`.
//!
//! An [`InputHandle`] is a byte range of one file, opened by the host. The
//! plugin can read inside the range and nothing else. Reads are capped so a
//! plugin cannot make the host allocate without bound.

use super::bindings::{v1, v2};
use super::instance::{ErrorKind, HostError};
use super::state::{EmitError, HostState, MAX_REJECTS_KEPT, Reject};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use wasmtime::component::Resource;

/// Largest single read a plugin may ask for.
pub const MAX_READ: u32 = 16 << 20;

/// A read-only view of `[start, start + len)` of a file.
#[derive(Debug, Clone)]
pub struct InputHandle {
    file: Arc<Lazy>,
    pub path: Arc<str>,
    pub start: u64,
    pub len: u64,
}

/// A file opened on first read: planning and discovery hand a plugin views
/// of every input (400,000 of them, say), of which it may read a few.
#[derive(Debug)]
struct Lazy {
    path: PathBuf,
    file: OnceLock<Result<File, std::io::ErrorKind>>,
}

impl InputHandle {
    /// Opens a view of a byte range of `path` (the whole file when `len` is
    /// `None`).
    pub fn open(path: &Path, shown: &str, start: u64, len: Option<u64>) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        let len = len.unwrap_or(size.saturating_sub(start));
        let lazy = Lazy { path: path.to_path_buf(), file: OnceLock::from(Ok(file)) };
        Ok(InputHandle { file: Arc::new(lazy), path: shown.into(), start, len })
    }

    /// A view of the whole of `path`, of the size planning found, opened
    /// only when the plugin first reads it.
    pub fn lazy(path: &Path, shown: &str, size: u64) -> Self {
        let lazy = Lazy { path: path.to_path_buf(), file: OnceLock::new() };
        InputHandle { file: Arc::new(lazy), path: shown.into(), start: 0, len: size }
    }

    /// Reads up to `length` bytes at `offset` of the view.
    pub fn read(&self, offset: u64, length: u32) -> std::io::Result<Vec<u8>> {
        let file = match self.file.file.get_or_init(|| File::open(&self.file.path).map_err(|e| e.kind())) {
            Ok(f) => f,
            Err(kind) => return Err(std::io::Error::from(*kind)),
        };
        let want = (length.min(MAX_READ) as u64).min(self.len.saturating_sub(offset)) as usize;
        let mut buf = vec![0u8; want];
        let mut done = 0;
        while done < want {
            match file.read_at(&mut buf[done..], self.start + offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(done);
        Ok(buf)
    }
}

/// The `io` imports, on the host's types; the WIT traits of every version
/// call these (see the bottom of this module).
impl HostState {
    fn input_size(&mut self, handle: &Resource<InputHandle>) -> wasmtime::Result<u64> {
        Ok(self.table().get(handle)?.len)
    }

    fn input_read(
        &mut self,
        handle: &Resource<InputHandle>,
        offset: u64,
        length: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, HostError>> {
        let input = self.table().get(handle)?.clone();
        self.clock.exit();
        let result = input.read(offset, length);
        self.clock.enter();
        Ok(match result {
            Ok(data) => {
                self.call.bytes_read += data.len() as u64;
                Ok(data)
            }
            Err(e) => Err(HostError {
                kind: ErrorKind::Io,
                message: format!("reading {} at offset {}: {e}", input.path, input.start + offset),
                retryable: false,
            }),
        })
    }

    fn input_drop(&mut self, handle: Resource<InputHandle>) -> wasmtime::Result<()> {
        self.table().delete(handle)?;
        Ok(())
    }

    fn emit_batch(&mut self, output: String, batch: Vec<u8>) -> wasmtime::Result<Result<(), HostError>> {
        self.call.bytes_emitted += batch.len() as u64;
        self.call.batches_emitted += 1;
        if self.call.bytes_emitted > self.limits.output_bytes {
            let msg = format!(
                "output limit {} per split exceeded",
                crate::units::ByteSize(self.limits.output_bytes)
            );
            self.call.failure = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        let Some(mut emitter) = self.call.emitter.take() else {
            let msg = "emit called outside of `read`".to_string();
            self.call.failure = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        };
        self.clock.exit();
        let result = emitter.emit(&output, batch);
        self.clock.enter();
        self.call.emitter = Some(emitter);
        match result {
            Ok(()) => Ok(Ok(())),
            Err(EmitError::Soft(msg)) => {
                self.call.failure.get_or_insert(msg.clone());
                Ok(Err(HostError { kind: ErrorKind::Internal, message: msg, retryable: false }))
            }
            Err(EmitError::Fatal(msg)) => {
                self.call.failure = Some(msg.clone());
                Err(wasmtime::format_err!("{msg}"))
            }
        }
    }

    fn reject_record(&mut self, location: String, reason: String) {
        self.call.rejected += 1;
        if self.call.rejects.len() < MAX_REJECTS_KEPT {
            let cap = |s: String| crate::text::untrusted(&s, crate::text::MAX_REJECT);
            self.call.rejects.push(Reject { location: cap(location), reason: cap(reason) });
        }
    }
}

/// The WIT `io` traits of one version, calling the functions above.
macro_rules! io_host {
    ($($io:ident)::+, $($types:ident)::+) => {
        impl $($io)::+::HostInput for HostState {
            fn size(&mut self, handle: Resource<InputHandle>) -> wasmtime::Result<u64> {
                self.input_size(&handle)
            }
            fn read(
                &mut self,
                handle: Resource<InputHandle>,
                offset: u64,
                length: u32,
            ) -> wasmtime::Result<Result<Vec<u8>, $($types)::+::PluginError>> {
                Ok(self.input_read(&handle, offset, length)?.map_err(Into::into))
            }
            fn drop(&mut self, handle: Resource<InputHandle>) -> wasmtime::Result<()> {
                self.input_drop(handle)
            }
        }

        impl $($io)::+::Host for HostState {
            fn emit(
                &mut self,
                output: String,
                batch: Vec<u8>,
            ) -> wasmtime::Result<Result<(), $($types)::+::PluginError>> {
                Ok(self.emit_batch(output, batch)?.map_err(Into::into))
            }
            fn reject(&mut self, location: String, reason: String) -> wasmtime::Result<()> {
                self.reject_record(location, reason);
                Ok(())
            }
        }
    };
}

io_host!(v1::reader::runtime::plugin::io, v1::reader::runtime::plugin::types);
io_host!(v2::reader::runtime::plugin::io, v2::reader::runtime::plugin::types);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_stay_in_their_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let v = InputHandle::open(&p, "f", 2, Some(5)).unwrap();
        assert_eq!(v.read(0, 100).unwrap(), b"23456");
        assert_eq!(v.read(3, 100).unwrap(), b"56");
        assert_eq!(v.read(9, 100).unwrap(), b"");
        let whole = InputHandle::open(&p, "f", 0, None).unwrap();
        assert_eq!(whole.len, 10);
        // A lazy view opens the file at its first read, and says why it
        // cannot.
        let lazy = InputHandle::lazy(&p, "f", 10);
        assert_eq!(lazy.read(8, 100).unwrap(), b"89");
        let gone = InputHandle::lazy(&dir.path().join("gone"), "gone", 10);
        assert_eq!(gone.read(0, 1).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
