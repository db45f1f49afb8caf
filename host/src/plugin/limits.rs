//! The limits a plugin instance runs under, enforced by the store: its
//! linear memory ([`Limiter`], a wasmtime `ResourceLimiter`) and the wall
//! time it spends inside the plugin per split ([`PluginClock`], read by the
//! epoch callback of [`super::instance::new_store`]; time blocked on the
//! host, such as backpressure, does not count). Fuel, when a stage sets it,
//! is the store's own meter (`Instance::refuel`).

use crate::units::{ByteSize, Span};
use std::time::{Duration, Instant};

/// Wall time spent inside the plugin during the current split, excluding the
/// time it waited on downstream stages (backpressure is not its fault).
#[derive(Debug, Clone)]
pub struct PluginClock {
    pub limit: Duration,
    used: Duration,
    entered: Option<Instant>,
}

impl PluginClock {
    pub fn new(limit: Duration) -> Self {
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
    fn limiter_names_the_limit() {
        use wasmtime::ResourceLimiter;
        let mut l = Limiter { memory: 256 << 20, hit: None };
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(l.memory_growing(0, 300 << 20, None).is_err());
        assert_eq!(l.hit.as_deref(), Some("memory limit 256 MiB exceeded"));
    }
}
