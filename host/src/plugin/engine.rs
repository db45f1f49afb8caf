//! The wasmtime engine of a run: configuration (pooling allocator with
//! copy-on-write memory images and warm slots, epoch interruption, optional
//! fuel) and the epoch ticker thread that makes wall-time limits work.
//!
//! Instantiation is the cost of a fresh instance (every worker's first
//! split, and every split after a trap): with the pooling allocator, memory
//! images and slots kept warm it is about 25 µs for the bundled `ndjson`
//! reader (`cargo bench -p runtime --bench sandbox`, bench/sandbox/README.md).

use super::instance::TICK;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// Bytes of each pooled linear memory kept resident between instances.
pub const KEEP_RESIDENT: usize = 2 << 20;

/// Engine-wide settings derived from the pipeline's stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Largest memory limit of any stage.
    pub max_memory: u64,
    /// Largest stack limit of any stage.
    pub max_stack: u64,
    /// Whether any stage sets a fuel limit.
    pub fuel: bool,
    /// Instances alive at once (pool size).
    pub instances: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings { max_memory: 1 << 30, max_stack: 1 << 20, fuel: false, instances: 64 }
    }
}

fn config(s: &EngineSettings, pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.consume_fuel(s.fuel);
    c.max_wasm_stack(s.max_stack as usize);
    // Wasmtime insists that the (unused, sync host) async stack be at least
    // as large as the WebAssembly stack limit.
    c.async_stack_size((s.max_stack as usize).max(2 << 20) + (64 << 10));
    c.cranelift_opt_level(OptLevel::Speed);
    c.parallel_compilation(true);
    c.memory_init_cow(true);
    if pooling {
        let mut p = PoolingAllocationConfig::default();
        let n = s.instances.max(8);
        p.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_memory_size(s.max_memory.next_multiple_of(1 << 16) as usize)
            .max_component_instance_size(1 << 20)
            .table_elements(100_000)
            // A reused slot is reset with memset (to the memory image, or to
            // zero past it) instead of being handed back to the kernel, so a
            // fresh instance does not page-fault its way through the stack
            // and heap its first call touches.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 << 10)
            .pagemap_scan(wasmtime::Enabled::Auto)
            // At most this many idle slots keep their pages: a bound on
            // the memory held for instances that may come back.
            .max_unused_warm_slots(32);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// Builds the engine; falls back to on-demand allocation when the pooling
/// allocator cannot reserve its address space (e.g. under `ulimit -v`).
pub fn build(s: &EngineSettings) -> wasmtime::Result<Engine> {
    match Engine::new(&config(s, true)) {
        Ok(e) => Ok(e),
        Err(err) => {
            tracing::warn!("pooling allocator unavailable ({err}); using on-demand allocation");
            Engine::new(&config(s, false))
        }
    }
}

/// Advances the engine's epoch every [`TICK`] until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker");
        Ticker { stop, thread: Some(thread) }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
