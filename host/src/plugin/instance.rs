//! One plugin instance in its own store, and the discipline every call into
//! it follows: set the time budget, run, classify what went wrong.
//!
//! A call either returns, returns a plugin error (the instance stays
//! usable), or traps (a panic, a limit, a contract violation): then the
//! instance is *poisoned* and its owner builds a fresh one. Trap reasons are
//! precise: `memory limit 256 MiB exceeded`, `time limit 30 s exceeded`,
//! `plugin panicked at src/lib.rs:12: index out of bounds`,
//! `trap: unreachable at parse_header`.

use super::bindings::types::{ErrorKind, PluginError};
use super::state::HostState;
use crate::config::StageCommon;
use std::fmt;
use std::time::Duration;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};

/// How often the engine's epoch advances (see [`super::engine`]).
pub const TICK: Duration = Duration::from_millis(10);

/// Why a call into a plugin did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The plugin returned an error; the instance is still usable.
    Plugin { kind: ErrorKind, message: String, retryable: bool },
    /// The instance trapped or broke a limit; it has been discarded.
    Trap(String),
}

impl CallError {
    pub fn retryable(&self) -> bool {
        matches!(self, CallError::Plugin { retryable: true, .. })
    }
    pub fn kind_name(&self) -> &'static str {
        match self {
            CallError::Plugin { kind, .. } => match kind {
                ErrorKind::InvalidOptions => "invalid-options",
                ErrorKind::InvalidInput => "invalid-input",
                ErrorKind::Unsupported => "unsupported",
                ErrorKind::Io => "io",
                ErrorKind::Internal => "internal",
            },
            CallError::Trap(_) => "trap",
        }
    }
    pub fn message(&self) -> &str {
        match self {
            CallError::Plugin { message, .. } | CallError::Trap(message) => message,
        }
    }
}

impl From<PluginError> for CallError {
    fn from(e: PluginError) -> Self {
        CallError::Plugin { kind: e.kind, message: e.message, retryable: e.retryable }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A store plus the bindings of one instantiated component.
pub struct Instance<B> {
    pub store: Store<HostState>,
    pub bindings: B,
    /// Set after a trap: the instance must not be called again.
    pub poisoned: bool,
}

/// Builds a store for one instance of `stage`, with its limits wired in.
pub fn new_store(engine: &wasmtime::Engine, stage: &StageCommon) -> Store<HostState> {
    let mut store = Store::new(engine, HostState::new(&stage.id, &stage.limits, &stage.grants));
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(|ctx| {
        let clock = &ctx.data().clock;
        let remaining = clock.remaining();
        if remaining.is_zero() {
            Err(wasmtime::format_err!("{}", clock.exceeded_message()))
        } else {
            Ok(UpdateDeadline::Continue(ticks(remaining)))
        }
    });
    store
}

fn ticks(d: Duration) -> u64 {
    (d.as_nanos() / TICK.as_nanos()).max(1) as u64
}

impl<B> Instance<B> {
    /// Runs one call into the plugin within the stage's time budget for the
    /// current split, turning traps into precise reasons.
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &B) -> wasmtime::Result<Result<R, PluginError>>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Trap("instance was discarded after an earlier trap".into()));
        }
        let remaining = self.store.data().clock.remaining();
        if remaining.is_zero() {
            return Err(CallError::Trap(self.store.data().clock.exceeded_message()));
        }
        self.store.set_epoch_deadline(ticks(remaining));
        self.store.data_mut().clock.enter();
        let result = f(&mut self.store, &self.bindings);
        self.store.data_mut().clock.exit();
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.into()),
            Err(trap) => {
                self.poisoned = true;
                self.store.data_mut().drain_output();
                Err(CallError::Trap(describe_trap(&trap, self.store.data())))
            }
        }
    }

    /// Refills fuel for a new split (when a fuel limit is set).
    pub fn refuel(&mut self) {
        if let Some(fuel) = self.store.data().limits.fuel {
            let _ = self.store.set_fuel(fuel);
        }
    }
}

/// The most precise reason for a trap: what the host recorded, else what the
/// trap itself says.
pub fn describe_trap(err: &wasmtime::Error, state: &HostState) -> String {
    if let Some(reason) = &state.call.failure {
        return reason.clone();
    }
    if let Some(reason) = &state.limiter.hit {
        return reason.clone();
    }
    let at = err
        .downcast_ref::<WasmBacktrace>()
        .and_then(|bt| bt.frames().iter().find_map(|f| f.func_name().map(short_name)))
        .map(|n| format!(" at {n}"))
        .unwrap_or_default();
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!("fuel limit {} exhausted", state.limits.fuel.unwrap_or(0)),
        Some(Trap::StackOverflow) => {
            format!("stack overflow (limit {})", crate::config::units::ByteSize(state.limits.stack))
        }
        Some(Trap::Interrupt) => state.clock.exceeded_message(),
        Some(Trap::UnreachableCodeReached) => match &state.call.last_error {
            Some(msg) if msg.starts_with("panicked") => format!("plugin {msg}"),
            Some(msg) => format!("trap: unreachable{at} (last error: {msg})"),
            None => format!("trap: unreachable{at}"),
        },
        Some(trap) => format!("trap: {trap}{at}"),
        None => {
            // Errors raised by the host (epoch callback, limiter) carry their
            // own message as the root cause.
            let root = err.root_cause().to_string();
            if root.contains("time limit") { root } else { format!("{err:#}") }
        }
    }
}

/// `ndjson::read_lines::h1234` → `ndjson::read_lines`.
fn short_name(name: &str) -> String {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head.to_string()
        }
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_hashes() {
        assert_eq!(short_name("ndjson::read_lines::h0123456789abcdef"), "ndjson::read_lines");
        assert_eq!(short_name("main"), "main");
    }

    #[test]
    fn ticks_round_up_to_one() {
        assert_eq!(ticks(Duration::from_millis(1)), 1);
        assert_eq!(ticks(Duration::from_secs(1)), 100);
    }
}
