//! Host side of the WIT `log` interface, and what becomes of everything a
//! plugin writes: its log lines and its stdout and stderr go to the run's
//! log, tagged with stage and split, cut ([`MAX_LOG_LINE`]), capped per call
//! ([`MAX_LOG_LINES`]) and rate-limited per instance ([`LogBudget`]);
//! progress counters go to the split's statistics.

use super::bindings::{v1, v2};
use super::state::HostState;
use std::time::Instant;

/// Log lines kept per call before the rest are counted and dropped.
pub const MAX_LOG_LINES: usize = 200;
/// Log lines an instance may write in a burst...
pub const LOG_BURST: f64 = 200.0;
/// ...and per second after that, across calls.
pub const LOG_RATE: f64 = 20.0;
/// Longest log line kept, in bytes.
pub const MAX_LOG_LINE: usize = 2000;

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

impl HostState {
    /// Writes a plugin log line, rate-limited per call.
    pub fn log_line(&mut self, level: tracing::Level, message: &str) {
        let text = crate::text::untrusted(message.trim_end(), MAX_LOG_LINE);
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
                self.call.last_error = Some(crate::text::untrusted(last, MAX_LOG_LINE));
            }
            if dropped > 0 {
                self.log_line(
                    tracing::Level::WARN,
                    &format!("{name}: {dropped} more bytes dropped (output cap)"),
                );
            }
        }
    }
}

impl HostState {
    fn add_progress(&mut self, counter: String, delta: u64) {
        // A plugin could invent endless counter names; keep a bounded set.
        let counters = &mut self.call.counters;
        let name = crate::text::untrusted(&counter, 64);
        if counters.len() < 64 || counters.contains_key(&name) {
            let c = counters.entry(name).or_default();
            *c = c.saturating_add(delta);
        }
    }
}

/// The WIT `log` (and type-only `types`) traits of one version.
macro_rules! log_host {
    ($($plugin:ident)::+) => {
        impl $($plugin)::+::log::Host for HostState {
            fn log(&mut self, level: $($plugin)::+::log::Level, message: String) -> wasmtime::Result<()> {
                self.log_line(level.into(), &message);
                Ok(())
            }
            fn progress(&mut self, counter: String, delta: u64) -> wasmtime::Result<()> {
                self.add_progress(counter, delta);
                Ok(())
            }
        }

        impl $($plugin)::+::types::Host for HostState {}
    };
}

log_host!(v1::reader::runtime::plugin);
log_host!(v2::reader::runtime::plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Grants, Limits};
    use std::time::Duration;

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
        let last = s.call.last_error.as_ref().unwrap();
        assert!(last.len() < MAX_LOG_LINE + 40 && last.ends_with("… (8000 more bytes cut)"), "{last}");
        // The budget is the instance's: the next call starts with it spent.
        s.end();
        s.begin(Some("b".into()), None);
        for _ in 0..10 {
            s.log_line(tracing::Level::INFO, "after");
        }
        assert!(s.call.logs_dropped >= 5, "{}", s.call.logs_dropped);
    }
}
