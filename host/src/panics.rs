//! Panics in the host's own handling of plugin output, turned into errors.
//!
//! Plugin-supplied bytes reach dependencies that may still panic on input
//! they do not expect (arrow-ipc on a `List` field without a child, say).
//! [`catch`] runs such code and returns the panic as an error, so it fails
//! the split (or, at validation, the plugin) with a reason instead of
//! unwinding through the run; the panic hook ([`install_hook`]) does not
//! print panics that are caught this way.
//!
//! `RUNTIME_TEST_PANIC` names places that panic on purpose, so tests can
//! show that a panic there still ends the run cleanly (like
//! `RUNTIME_WRITER_DELAY_MS`, a testing knob): `route` (the host's
//! routing of a batch), `writer` (the writer thread), `final` (the final
//! stage).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Once, OnceLock};

thread_local! {
    /// Depth of [`catch`] calls on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// A caught panic: its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Panic(pub String);

/// Runs `f`; a panic becomes `Err` with its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    result.map_err(|payload| Panic(message(payload.as_ref())))
}

/// The message of a panic payload.
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Keeps the default panic report for panics nobody catches.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) == 0 {
                default(info);
            }
        }));
    });
}

/// Panics when `RUNTIME_TEST_PANIC` names `place` (a testing knob).
pub fn injected(place: &str) {
    static PLACES: OnceLock<Vec<String>> = OnceLock::new();
    let places = PLACES.get_or_init(|| {
        std::env::var("RUNTIME_TEST_PANIC")
            .map(|v| v.split(',').map(|p| p.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if places.iter().any(|p| p == place) {
        panic!("RUNTIME_TEST_PANIC={place}: a panic on purpose");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error() {
        install_hook();
        assert_eq!(catch(|| 7), Ok(7));
        assert_eq!(catch(|| -> u8 { panic!("boom {}", 1) }), Err(Panic("boom 1".to_string())));
        assert_eq!(
            catch(|| -> u8 { std::panic::panic_any(3u8) }),
            Err(Panic("a panic without a message".into()))
        );
    }
}
