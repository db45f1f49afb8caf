//! The data every plugin store carries: the sandboxed WASI context, the
//! resource table, the limits being enforced, and the context of the call in
//! progress (which split, where emitted batches go, what was rejected).
//!
//! Default deny: the WASI context has no preopened directories, no
//! environment, no arguments, a closed stdin and no network (no TCP, UDP or
//! DNS), unless the stage's `grants` say otherwise; WASI 0.2 has no way to
//! start a process. stdout and stderr are captured, capped, and sent to the
//! run's log with the plugin's log lines, which are cut, capped per call and
//! rate-limited per instance ([`LogBudget`]). See SECURITY.md.

use super::output::CapturedOutput;
use crate::config::{Grants, Limits};
use crate::units::{ByteSize, Span};
use std::any::Any;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Where a reader's emitted batches go (the downstream stages of the split).
pub trait Emit: Send + Any {
    /// Takes one batch, already validated against the output's schema.
    /// `Err(Soft)` is returned to the plugin as a plugin error; `Err(Fatal)`
    /// stops the plugin with a trap.
    fn emit(&mut self, output: &str, ipc: Vec<u8>) -> Result<(), EmitError>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// Why an emitted batch was not taken.
#[derive(Debug, Clone)]
pub enum EmitError {
    /// Downstream failed: the plugin should stop; the split fails.
    Soft(String),
    /// The plugin broke the contract (unknown output, bad IPC, wrong schema,
    /// too much output): stop it now.
    Fatal(String),
}

/// A skipped record reported by a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub location: String,
    pub reason: String,
}

/// Rejected records kept per split; the rest are only counted.
pub const MAX_REJECTS_KEPT: usize = 100;
/// Log lines kept per call before the rest are counted and dropped.
pub const MAX_LOG_LINES: usize = 200;
/// Log lines an instance may write in a burst...
pub const LOG_BURST: f64 = 200.0;
/// ...and per second after that, across calls.
pub const LOG_RATE: f64 = 20.0;
/// Bytes of stdout and of stderr kept per call; the rest is counted.
pub const OUTPUT_CAP: usize = 64 << 10;
/// Longest log line kept, in bytes.
pub const MAX_LOG_LINE: usize = 2000;

/// The context of the plugin call in progress.
#[derive(Default)]
pub struct CallContext {
    /// The split being read, for log lines.
    pub split: Option<Arc<str>>,
    pub emitter: Option<Box<dyn Emit>>,
    pub rejects: Vec<Reject>,
    pub rejected: u64,
    pub counters: BTreeMap<String, u64>,
    pub bytes_read: u64,
    pub bytes_emitted: u64,
    pub batches_emitted: u64,
    /// The host's own reason for stopping the plugin, when it did.
    pub failure: Option<String>,
    pub log_lines: usize,
    pub logs_dropped: usize,
    /// The last error-level line the plugin logged (a panic message, say).
    pub last_error: Option<String>,
}

/// Wall time spent inside the plugin during the current split, excluding the
/// time it waited on downstream stages (backpressure is not its fault).
#[derive(Debug, Clone)]
pub struct PluginClock {
    pub limit: Duration,
    used: Duration,
    entered: Option<Instant>,
}

impl PluginClock {
    fn new(limit: Duration) -> Self {
        PluginClock { limit, used: Duration::ZERO, entered: None }
    }
    /// Starts a new split: nothing used yet.
    pub fn reset(&mut self) {
        self.used = Duration::ZERO;
        self.entered = None;
    }
    /// The plugin starts running.
    pub fn enter(&mut self) {
        self.entered = Some(Instant::now());
    }
    /// The plugin stops running (returned, or called a blocking host function).
    pub fn exit(&mut self) {
        if let Some(t) = self.entered.take() {
            self.used += t.elapsed();
        }
    }
    pub fn used(&self) -> Duration {
        self.used + self.entered.map_or(Duration::ZERO, |t| t.elapsed())
    }
    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.used())
    }
    pub fn exceeded_message(&self) -> String {
        format!("time limit {} exceeded", Span(self.limit))
    }
}

/// A token bucket for log lines: [`LOG_BURST`] at once, [`LOG_RATE`] per
/// second sustained, so a plugin logging in a loop costs the run's log a few
/// lines a second however many splits it reads.
#[derive(Debug, Clone)]
pub struct LogBudget {
    tokens: f64,
    at: Instant,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget { tokens: LOG_BURST, at: Instant::now() }
    }
}

impl LogBudget {
    /// Takes one line's worth, if there is one.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * LOG_RATE;
        self.tokens = (self.tokens + refill).min(LOG_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Enforces the memory limit and remembers why it stopped the plugin.
pub struct Limiter {
    pub memory: u64,
    pub hit: Option<String>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory {
            let msg = format!("memory limit {} exceeded", ByteSize(self.memory));
            self.hit = Some(msg.clone());
            return Err(wasmtime::format_err!("{msg}"));
        }
        Ok(true)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any
        // real plugin and keeps a hostile one from eating host memory.
        Ok(desired <= 1_000_000)
    }
}

/// The data of a plugin's store.
pub struct HostState {
    /// The stage this instance serves (`source`, `transforms.labels`).
    pub stage: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub clock: PluginClock,
    pub limits: Limits,
    pub call: CallContext,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    pub log_budget: LogBudget,
    /// The WebAssembly stack limit in force: the engine's, which is the
    /// largest `stack` of any stage (wasmtime sets it per engine).
    pub wasm_stack: u64,
    /// Whether the engine meters fuel.
    pub metered: bool,
}

impl HostState {
    /// A sandbox for one plugin instance of `stage`, with its grants.
    pub fn new(stage: &str, limits: &Limits, grants: &Grants) -> Self {
        let stdout = CapturedOutput::new(OUTPUT_CAP);
        let stderr = CapturedOutput::new(OUTPUT_CAP);
        let mut b = WasiCtxBuilder::new();
        b.stdout(stdout.clone()).stderr(stderr.clone());
        for var in &grants.env {
            if let Ok(value) = std::env::var(var) {
                b.env(var, value);
            }
        }
        if !grants.network.is_empty() {
            let allowed: Arc<Vec<SocketAddr>> = Arc::new(resolve(&grants.network));
            b.allow_tcp(true);
            b.socket_addr_check(move |addr, usage| {
                use wasmtime_wasi::sockets::SocketAddrUse;
                let ok = match usage {
                    // Connecting binds an ephemeral local address first.
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    SocketAddrUse::TcpConnect => allowed.contains(&addr),
                    // Listening, accepting and all of UDP stay denied.
                    _ => false,
                };
                Box::pin(async move { ok })
            });
        }
        HostState {
            stage: stage.into(),
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: Limiter { memory: limits.memory, hit: None },
            clock: PluginClock::new(limits.time),
            limits: limits.clone(),
            call: CallContext::default(),
            stdout,
            stderr,
            log_budget: LogBudget::default(),
            wasm_stack: limits.stack,
            metered: false,
        }
    }

    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The view of the store that the time-bounded WASI functions use
    /// ([`super::blocking`]).
    pub fn bounded_io(&mut self) -> super::blocking::BoundedIo<'_> {
        super::blocking::BoundedIo {
            remaining: self.clock.remaining(),
            limit: self.clock.limit,
            table: &mut self.table,
            failure: &mut self.call.failure,
        }
    }

    /// Writes a plugin log line, rate-limited per call.
    pub fn log_line(&mut self, level: tracing::Level, message: &str) {
        let mut text = message.trim_end().to_string();
        if text.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        if level == tracing::Level::ERROR {
            self.call.last_error = Some(text.clone());
        }
        if self.call.log_lines >= MAX_LOG_LINES || !self.log_budget.take() {
            self.call.logs_dropped += 1;
            return;
        }
        self.call.log_lines += 1;
        let split = self.call.split.as_deref().unwrap_or("-");
        let stage = &*self.stage;
        match level {
            tracing::Level::ERROR => tracing::error!(target: "plugin", stage, split, "{text}"),
            tracing::Level::WARN => tracing::warn!(target: "plugin", stage, split, "{text}"),
            tracing::Level::INFO => tracing::info!(target: "plugin", stage, split, "{text}"),
            tracing::Level::DEBUG => tracing::debug!(target: "plugin", stage, split, "{text}"),
            tracing::Level::TRACE => tracing::trace!(target: "plugin", stage, split, "{text}"),
        }
    }

    /// Moves whatever the plugin printed to stdout/stderr into the log.
    pub fn drain_output(&mut self) {
        for (name, out) in [("stdout", self.stdout.clone()), ("stderr", self.stderr.clone())] {
            let (text, dropped) = out.take();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let level = if name == "stderr" { tracing::Level::WARN } else { tracing::Level::INFO };
                self.log_line(level, &format!("{name}: {line}"));
            }
            if name == "stderr"
                && let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty())
                && self.call.last_error.is_none()
            {
                self.call.last_error = Some(last.to_string());
            }
            if dropped > 0 {
                self.log_line(
                    tracing::Level::WARN,
                    &format!("{name}: {dropped} more bytes dropped (output cap)"),
                );
            }
        }
    }

    /// Starts the context of a new call (split).
    pub fn begin(&mut self, split: Option<Arc<str>>, emitter: Option<Box<dyn Emit>>) {
        self.call = CallContext { split, emitter, ..CallContext::default() };
        self.clock.reset();
        self.limiter.hit = None;
    }

    /// Ends the call, returning its context.
    pub fn end(&mut self) -> CallContext {
        self.drain_output();
        if self.call.logs_dropped > 0 {
            let n = self.call.logs_dropped;
            let split = self.call.split.as_deref().unwrap_or("-");
            let stage = &*self.stage;
            tracing::warn!(target: "plugin", stage, split, "{n} more log lines dropped (rate limit)");
        }
        std::mem::take(&mut self.call)
    }
}

/// Resolves `host:port` grants to socket addresses once, before the run.
fn resolve(grants: &[String]) -> Vec<SocketAddr> {
    use std::net::ToSocketAddrs;
    grants
        .iter()
        .flat_map(|g| match g.to_socket_addrs() {
            Ok(addrs) => addrs.collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!("network grant `{g}` does not resolve: {e}");
                Vec::new()
            }
        })
        .collect()
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_excludes_time_outside_the_plugin() {
        let mut c = PluginClock::new(Duration::from_secs(1));
        c.enter();
        std::thread::sleep(Duration::from_millis(20));
        c.exit();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            c.used() >= Duration::from_millis(20) && c.used() < Duration::from_millis(60),
            "{:?}",
            c.used()
        );
        c.reset();
        assert_eq!(c.used(), Duration::ZERO);
        assert_eq!(c.exceeded_message(), "time limit 1 s exceeded");
    }

    #[test]
    fn log_budget_allows_a_burst_then_a_rate() {
        let mut b = LogBudget::default();
        let burst = (0..1000).filter(|_| b.take()).count();
        assert_eq!(burst, LOG_BURST as usize);
        std::thread::sleep(Duration::from_millis(200));
        let refilled = (0..1000).filter(|_| b.take()).count();
        assert!((3..=20).contains(&refilled), "{refilled}");
    }

    #[test]
    fn logging_is_capped_per_call_and_counted() {
        let mut s = HostState::new("source", &Limits::default(), &Grants::default());
        s.begin(Some("a".into()), None);
        for i in 0..500 {
            s.log_line(tracing::Level::INFO, &format!("line {i}"));
        }
        s.log_line(tracing::Level::ERROR, &"x".repeat(10_000));
        assert_eq!(s.call.log_lines, MAX_LOG_LINES);
        assert_eq!(s.call.logs_dropped, 301);
        // The last error is kept even when the line itself is dropped, cut
        // to the longest line.
        assert_eq!(s.call.last_error.as_ref().unwrap().len(), MAX_LOG_LINE + "…".len());
        // The budget is the instance's: the next call starts with it spent.
        s.end();
        s.begin(Some("b".into()), None);
        for _ in 0..10 {
            s.log_line(tracing::Level::INFO, "after");
        }
        assert!(s.call.logs_dropped >= 5, "{}", s.call.logs_dropped);
    }

    #[test]
    fn the_resource_table_is_capped() {
        let engine = wasmtime::Engine::default();
        let stage = crate::config::StageCommon {
            id: "source".into(),
            plugin: crate::config::PluginRef::Named("x".into()),
            plugin_at: None,
            options: "{}".into(),
            options_at: None,
            limits: Limits::default(),
            grants: Grants::default(),
        };
        let mut store = super::super::instance::new_store(&engine, &stage, false);
        let table = store.data_mut().table();
        for _ in 0..super::super::instance::MAX_RESOURCES {
            table.push(0u8).unwrap();
        }
        assert!(table.push(0u8).is_err());
    }

    #[test]
    fn limiter_names_the_limit() {
        use wasmtime::ResourceLimiter;
        let mut l = Limiter { memory: 256 << 20, hit: None };
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(l.memory_growing(0, 300 << 20, None).is_err());
        assert_eq!(l.hit.as_deref(), Some("memory limit 256 MiB exceeded"));
    }
}
