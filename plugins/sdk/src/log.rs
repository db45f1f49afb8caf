//! Logging and progress counters, written to the run's log by the host.
//!
//! Lines are attributed to the plugin and the split being processed. The host
//! rate-limits and caps them, so logging in a hot loop only costs time.

use crate::bindings::log_world::runtime::plugin::log as wit;

/// Severity of a log line.
pub use wit::Level;

/// Writes one line to the run's log.
pub fn log(level: Level, message: &str) {
    wit::log(level, message);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Adds `delta` to a named progress counter of the current split.
pub fn progress(counter: &str, delta: u64) {
    wit::progress(counter, delta);
}

/// Routes panics to the run's log before the instance traps, so the host can
/// say why the split failed.
pub(crate) fn install_panic_hook() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = match info.payload() {
                p if p.is::<&str>() => p.downcast_ref::<&str>().unwrap().to_string(),
                p if p.is::<String>() => p.downcast_ref::<String>().unwrap().clone(),
                _ => "(no message)".to_string(),
            };
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            error(&format!("panicked{at}: {message}"));
        }));
    });
}
