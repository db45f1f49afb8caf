//! One plugin instance in its own store, and the discipline every call into
//! it follows: set the time budget, run, classify what went wrong.
//!
//! A call either returns, returns a plugin error (the instance stays
//! usable), or traps (a panic, a limit, a contract violation): then the
//! instance is *poisoned* and its owner builds a fresh one. Trap reasons are
//! precise: `memory limit 256 MiB exceeded`, `time limit 30 s exceeded`,
//! `plugin panicked at src/lib.rs:12: index out of bounds`,
//! `trap: unreachable at parse_header`, `the plugin called exit (status 1)`.
//!
//! A call is refused when the thread has too little native stack left for
//! the WebAssembly stack limit (a transform called from inside a reader's
//! `emit` runs on the reader's thread, below the reader's frames): running
//! out would abort the whole process, refusing fails one split.

use super::state::HostState;
use crate::config::StageCommon;
use crate::units::ByteSize;
use std::fmt;
use std::time::Duration;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};

/// How often the engine's epoch advances (see [`super::engine`]).
pub const TICK: Duration = Duration::from_millis(10);

/// What kind of failure a plugin reported (WIT `error-kind`, the same in
/// every version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidOptions,
    InvalidInput,
    Unsupported,
    Io,
    Internal,
}

/// An error the host returns to a plugin from an import (WIT
/// `plugin-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub kind: ErrorKind,
    pub message: String,
    pub retryable: bool,
}

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

/// Most host resources (WASI streams, pollables, sockets, input views) one
/// instance may hold at once: far above what a plugin needs, low enough that
/// a plugin leaking handles in a loop cannot grow the host's memory by more
/// than a few megabytes. `plan` raises it by the number of input files.
pub const MAX_RESOURCES: usize = 1 << 16;

/// wasmtime's default cap on a store's live component handles; `discover`
/// and `plan` raise it by the number of input files.
pub const MAX_COMPONENT_HANDLES: usize = 100_000;

/// Builds a store for one instance of `stage`, with its limits wired in.
pub fn new_store(engine: &wasmtime::Engine, stage: &StageCommon, metered: bool) -> Store<HostState> {
    let mut state = HostState::new(&stage.id, &stage.limits, &stage.grants);
    state.metered = metered;
    state.table().set_max_capacity(MAX_RESOURCES);
    let mut store = Store::new(engine, state);
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
    // When any stage of the run has a fuel limit the engine meters fuel for
    // every store, and a store starts with none: stages without a limit get
    // an unlimited tank.
    if metered {
        let _ = store.set_fuel(stage.limits.fuel.unwrap_or(u64::MAX));
    }
    store
}

fn ticks(d: Duration) -> u64 {
    (d.as_nanos() / TICK.as_nanos()).max(1) as u64
}

impl<B> Instance<B> {
    /// Runs one call into the plugin within the stage's time budget for the
    /// current split, turning traps into precise reasons.
    pub fn call<R, E: Into<CallError>>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &B) -> wasmtime::Result<Result<R, E>>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Trap("instance was discarded after an earlier trap".into()));
        }
        let remaining = self.store.data().clock.remaining();
        if remaining.is_zero() {
            return Err(CallError::Trap(self.store.data().clock.exceeded_message()));
        }
        // Enter only with room for the whole WebAssembly stack on this
        // thread; running out of native stack would abort the host.
        let need = self.store.data().wasm_stack as usize + HOST_STACK_MARGIN;
        if let Some(left) = native_stack_left()
            && left < need
        {
            return Err(CallError::Trap(format!(
                "not enough native stack to call the plugin: {} left on this thread, {} needed \
                     (the WebAssembly stack limit {} plus {} for the host)",
                ByteSize(left as u64),
                ByteSize(need as u64),
                ByteSize(self.store.data().wasm_stack),
                ByteSize(HOST_STACK_MARGIN as u64)
            )));
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
                // The reason may quote the plugin (a panic message, a name).
                let reason = describe_trap(&trap, self.store.data());
                Err(CallError::Trap(crate::text::untrusted(&reason, crate::text::MAX_MESSAGE)))
            }
        }
    }

    /// Refills fuel for a new split (when the engine meters fuel: the
    /// stage's limit, or unlimited for stages without one).
    pub fn refuel(&mut self) {
        // Without metering `set_fuel` only builds an error (and a backtrace).
        if self.store.data().metered {
            let fuel = self.store.data().limits.fuel.unwrap_or(u64::MAX);
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
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return format!("the plugin called exit (status {})", exit.0);
    }
    let at = err
        .downcast_ref::<WasmBacktrace>()
        .and_then(|bt| bt.frames().iter().find_map(|f| f.func_name().map(short_name)))
        .map(|n| format!(" at {n}"))
        .unwrap_or_default();
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!("fuel limit {} exhausted", state.limits.fuel.unwrap_or(0)),
        Some(Trap::StackOverflow) => format!("stack overflow (limit {})", ByteSize(state.wasm_stack)),
        Some(Trap::Interrupt) => state.clock.exceeded_message(),
        Some(Trap::UnreachableCodeReached) => match &state.call.last_error {
            Some(msg) if msg.starts_with("panicked") => format!("plugin {msg}"),
            Some(msg) => format!("trap: unreachable{at} (last error: {msg})"),
            None => format!("trap: unreachable{at}"),
        },
        Some(trap) => {
            let text = trap.to_string();
            format!("trap: {}{at}", text.strip_prefix("wasm trap: ").unwrap_or(&text))
        }
        None => {
            // Errors raised by the host (epoch callback, limiter, WASI)
            // carry their own message as the root cause; the backtrace is
            // for debugging, not for the report.
            let root = err.root_cause().to_string();
            if root.contains("time limit") { root } else { format!("trap: {root}{at}") }
        }
    }
}

/// Native stack kept free, beyond the WebAssembly stack limit, for the host
/// functions a plugin calls (emit, and the routing and decoding behind it).
pub const HOST_STACK_MARGIN: usize = 256 << 10;

/// Bytes of native stack left below the current frame of this thread, where
/// the platform says.
pub fn native_stack_left() -> Option<usize> {
    thread_local! {
        static LOW: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }
    let low = LOW.with(|c| {
        if c.get().is_none() {
            c.set(stack_low());
        }
        c.get()
    })?;
    let here = &low as *const usize as usize;
    Some(here.saturating_sub(low))
}

/// The lowest usable address of this thread's stack (above its guard page).
#[cfg(target_os = "linux")]
fn stack_low() -> Option<usize> {
    // SAFETY: plain libc calls on this thread's own attributes, which are
    // initialised by pthread_getattr_np and destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let mut guard: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0
            && libc::pthread_attr_getguardsize(&attr, &mut guard) == 0;
        libc::pthread_attr_destroy(&mut attr);
        ok.then(|| addr as usize + guard)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_low() -> Option<usize> {
    None
}

/// A function name as compiled into the plugin, readable:
/// `_ZN6ndjson10read_lines17h0123456789abcdefE` and
/// `ndjson::read_lines::h0123456789abcdef` → `ndjson::read_lines`.
fn short_name(name: &str) -> String {
    let name = demangle_legacy(name).unwrap_or_else(|| name.to_string());
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head.to_string()
        }
        _ => name,
    }
}

/// Rust's legacy symbol mangling (`_ZN` + length-prefixed segments + `E`),
/// with the common escapes; `None` for anything else.
fn demangle_legacy(name: &str) -> Option<String> {
    let mut rest = name.strip_prefix("_ZN")?;
    let mut parts = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let len: usize = rest[..digits].parse().ok()?;
        let part = rest.get(digits..digits + len)?;
        rest = &rest[digits + len..];
        let mut part = part.strip_prefix('_').filter(|p| p.starts_with('$')).unwrap_or(part).to_string();
        for (from, to) in [
            ("$LT$", "<"),
            ("$GT$", ">"),
            ("$RF$", "&"),
            ("$BP$", "*"),
            ("$C$", ","),
            ("$u20$", " "),
            ("$u27$", "'"),
            ("$u5b$", "["),
            ("$u5d$", "]"),
            ("$u7b$", "{"),
            ("$u7d$", "}"),
            ("$u7e$", "~"),
            ("..", "::"),
        ] {
            part = part.replace(from, to);
        }
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_hashes() {
        assert_eq!(short_name("ndjson::read_lines::h0123456789abcdef"), "ndjson::read_lines");
        assert_eq!(short_name("main"), "main");
        assert_eq!(
            short_name("_ZN14hostile_reader14recurse_frames17h2c02c6f1df5c5c65E"),
            "hostile_reader::recurse_frames"
        );
        assert_eq!(
            short_name(
                "_ZN70_$LT$hostile_reader..Hostile$u20$as$u20$runtime_plugin_sdk..Reader$GT$4read17hdf448551c064c6f0E"
            ),
            "<hostile_reader::Hostile as runtime_plugin_sdk::Reader>::read"
        );
        assert_eq!(short_name("_ZN3fooX"), "_ZN3fooX");
    }

    #[test]
    fn this_thread_knows_its_stack() {
        let main = native_stack_left().expect("linux threads report their stack");
        assert!(main > 64 << 10, "{main}");
        let small = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| native_stack_left().unwrap())
            .unwrap()
            .join()
            .unwrap();
        // The C library may hand out a cached stack of up to four times the
        // size asked for.
        assert!(small < 1 << 20 && small > 128 << 10, "{small}");
    }

    #[test]
    fn ticks_round_up_to_one() {
        assert_eq!(ticks(Duration::from_millis(1)), 1);
        assert_eq!(ticks(Duration::from_secs(1)), 100);
    }
}
