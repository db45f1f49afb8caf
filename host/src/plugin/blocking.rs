//! WASI calls that block the host thread, held to the plugin's time limit.
//!
//! Epoch interruption stops a plugin only while it runs WebAssembly code. A
//! plugin that waits inside a host call — `std::thread::sleep` (a monotonic
//! clock subscription and `wasi:io/poll`), or a blocking read from a socket
//! it was granted — would hold its worker past any time limit. The host's
//! WASI linker therefore replaces the waiting functions of `wasi:io/poll` and
//! `wasi:io/streams` (`poll`, `pollable.block`, the `blocking-*` stream
//! methods) with versions that wait at most the time left in the plugin's
//! budget for the split, then trap with the same `time limit … exceeded`
//! reason as a busy loop. Every other WASI function is wasmtime-wasi's own.

use super::state::HostState;
use std::future::Future;
use std::time::Duration;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll::{Host as AsyncPollHost, HostPollable as AsyncPollable};
use wasmtime_wasi::p2::bindings::io::streams::{
    HostInputStream as AsyncInput, HostOutputStream as AsyncOutput,
};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamError, StreamResult};
use wasmtime_wasi::runtime::in_tokio;

/// Adds WASI 0.2 to `linker`, with the waiting functions bounded.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    poll::add_to_linker::<HostState, Bounded>(linker, HostState::bounded_io)?;
    streams::add_to_linker::<HostState, Bounded>(linker, HostState::bounded_io)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The resource table plus the plugin's remaining time, for one host call.
pub struct BoundedIo<'a> {
    pub table: &'a mut ResourceTable,
    /// Time left in the plugin's budget.
    pub remaining: Duration,
    /// The limit, for the message.
    pub limit: Duration,
    /// Where the host records why it stopped the plugin.
    pub failure: &'a mut Option<String>,
}

/// [`HasData`] marker for [`BoundedIo`].
pub struct Bounded;

impl HasData for Bounded {
    type Data<'a> = BoundedIo<'a>;
}

/// The wait ran out of time.
struct TimedOut;

impl BoundedIo<'_> {
    /// Runs `f` (which borrows the table) to completion or until the budget
    /// runs out.
    fn wait<R>(
        &mut self,
        f: impl FnOnce(&mut ResourceTable) -> std::pin::Pin<Box<dyn Future<Output = R> + '_>>,
    ) -> Result<R, TimedOut> {
        let remaining = self.remaining;
        let fut = f(self.table);
        match in_tokio(async move { tokio::time::timeout(remaining, fut).await }) {
            Ok(r) => Ok(r),
            Err(_) => {
                let msg = format!("time limit {} exceeded", crate::units::Span(self.limit));
                *self.failure = Some(msg);
                Err(TimedOut)
            }
        }
    }

    fn timeout_error(&self) -> wasmtime::Error {
        wasmtime::format_err!("{}", self.failure.as_deref().unwrap_or("time limit exceeded"))
    }

    fn stream_timeout(&self) -> StreamError {
        StreamError::Trap(self.timeout_error())
    }
}

impl poll::Host for BoundedIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        match self
            .wait(|t| Box::pin(async move { <ResourceTable as AsyncPollHost>::poll(t, pollables).await }))
        {
            Ok(r) => r,
            Err(TimedOut) => Err(self.timeout_error()),
        }
    }
}

impl poll::HostPollable for BoundedIo<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        <ResourceTable as poll::HostPollable>::ready(self.table, pollable)
    }
    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        match self.wait(|t| Box::pin(async move { AsyncPollable::block(t, pollable).await })) {
            Ok(r) => r,
            Err(TimedOut) => Err(self.timeout_error()),
        }
    }
    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        <ResourceTable as poll::HostPollable>::drop(self.table, pollable)
    }
}

impl streams::Host for BoundedIo<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        <ResourceTable as streams::Host>::convert_stream_error(self.table, err)
    }
}

impl streams::HostOutputStream for BoundedIo<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        <ResourceTable as streams::HostOutputStream>::drop(self.table, stream)
    }
    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        <ResourceTable as streams::HostOutputStream>::check_write(self.table, stream)
    }
    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        <ResourceTable as streams::HostOutputStream>::write(self.table, stream, bytes)
    }
    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        self.wait(|t| Box::pin(async move { AsyncOutput::blocking_write_and_flush(t, stream, bytes).await }))
            .unwrap_or_else(|TimedOut| Err(self.stream_timeout()))
    }
    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        self.wait(|t| {
            Box::pin(async move { AsyncOutput::blocking_write_zeroes_and_flush(t, stream, len).await })
        })
        .unwrap_or_else(|TimedOut| Err(self.stream_timeout()))
    }
    fn subscribe(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<Resource<DynPollable>> {
        <ResourceTable as streams::HostOutputStream>::subscribe(self.table, stream)
    }
    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        <ResourceTable as streams::HostOutputStream>::write_zeroes(self.table, stream, len)
    }
    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        <ResourceTable as streams::HostOutputStream>::flush(self.table, stream)
    }
    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        self.wait(|t| Box::pin(async move { AsyncOutput::blocking_flush(t, stream).await }))
            .unwrap_or_else(|TimedOut| Err(self.stream_timeout()))
    }
    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        <ResourceTable as streams::HostOutputStream>::splice(self.table, dst, src, len)
    }
    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        self.wait(|t| Box::pin(async move { AsyncOutput::blocking_splice(t, dst, src, len).await }))
            .unwrap_or_else(|TimedOut| Err(self.stream_timeout()))
    }
}

impl streams::HostInputStream for BoundedIo<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        <ResourceTable as streams::HostInputStream>::drop(self.table, stream)
    }
    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        <ResourceTable as streams::HostInputStream>::read(self.table, stream, len)
    }
    fn blocking_read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        self.wait(|t| Box::pin(async move { AsyncInput::blocking_read(t, stream, len).await }))
            .unwrap_or_else(|TimedOut| Err(self.stream_timeout()))
    }
    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        <ResourceTable as streams::HostInputStream>::skip(self.table, stream, len)
    }
    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        self.wait(|t| Box::pin(async move { AsyncInput::blocking_skip(t, stream, len).await }))
            .unwrap_or_else(|TimedOut| Err(self.stream_timeout()))
    }
    fn subscribe(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<Resource<DynPollable>> {
        <ResourceTable as streams::HostInputStream>::subscribe(self.table, stream)
    }
}
