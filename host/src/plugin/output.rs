//! Capture of a plugin's stdout and stderr: a capped in-memory buffer.
//!
//! Writes never fail (a plugin that prints too much must not crash because
//! of it); bytes past the cap are counted and dropped. The host drains the
//! buffer into the run's log after every call.

use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Default)]
struct Buffer {
    data: Vec<u8>,
    dropped: u64,
}

/// A capped, shared output buffer.
#[derive(Clone)]
pub struct CapturedOutput {
    inner: Arc<Mutex<Buffer>>,
    cap: usize,
}

impl CapturedOutput {
    pub fn new(cap: usize) -> Self {
        CapturedOutput { inner: Arc::default(), cap }
    }

    fn push(&self, bytes: &[u8]) {
        let mut b = self.inner.lock().unwrap();
        let room = self.cap.saturating_sub(b.data.len());
        let n = room.min(bytes.len());
        b.data.extend_from_slice(&bytes[..n]);
        b.dropped += (bytes.len() - n) as u64;
    }

    /// Takes the captured text and the number of dropped bytes.
    pub fn take(&self) -> (String, u64) {
        let mut b = self.inner.lock().unwrap();
        let text = String::from_utf8_lossy(&b.data).into_owned();
        let dropped = b.dropped;
        b.data.clear();
        b.dropped = 0;
        (text, dropped)
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_counts() {
        let o = CapturedOutput::new(4);
        let mut s = o.clone();
        s.write(Bytes::from_static(b"abcdef")).unwrap();
        assert_eq!(o.take(), ("abcd".to_string(), 2));
        assert_eq!(o.take(), (String::new(), 0));
    }
}
