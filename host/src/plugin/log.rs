//! Host side of the WIT `log` interface: plugin log lines go to the run's
//! log (rate-limited, capped, tagged with stage and split), progress
//! counters to the split's statistics.

use super::bindings::{v1, v2};
use super::state::HostState;

impl HostState {
    fn add_progress(&mut self, counter: String, delta: u64) {
        // A plugin could invent endless counter names; keep a bounded set.
        let counters = &mut self.call.counters;
        if counters.len() < 64 || counters.contains_key(&counter) {
            let name: String = counter.chars().take(64).collect();
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
