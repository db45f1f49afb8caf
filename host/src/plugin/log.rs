//! Host side of the WIT `log` interface: plugin log lines go to the run's
//! log (rate-limited, capped, tagged with stage and split), progress
//! counters to the split's statistics.

use super::bindings::reader::runtime::plugin::log::{Host, Level};
use super::state::HostState;

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        self.log_line(level, &message);
        Ok(())
    }

    fn progress(&mut self, counter: String, delta: u64) -> wasmtime::Result<()> {
        // A plugin could invent endless counter names; keep a bounded set.
        let counters = &mut self.call.counters;
        if counters.len() < 64 || counters.contains_key(&counter) {
            let name: String = counter.chars().take(64).collect();
            let c = counters.entry(name).or_default();
            *c = c.saturating_add(delta);
        }
        Ok(())
    }
}

impl super::bindings::reader::runtime::plugin::types::Host for HostState {}
