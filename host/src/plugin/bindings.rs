//! Host-side bindings of the `runtime:plugin@0.1.0` WIT package.
//!
//! One `bindgen!` per world. The transform world reuses the reader world's
//! `types` and `log` bindings, so both worlds share one Rust type per WIT
//! type. Every import may trap (`trappable`), which is how the host stops a
//! plugin that broke a limit or the contract.

/// The `reader-plugin` world.
pub mod reader {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "reader-plugin",
        imports: { default: trappable },
        with: {
            "runtime:plugin/io.input": crate::plugin::io::InputHandle,
        },
    });
}

/// The `transform-plugin` world.
pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform-plugin",
        imports: { default: trappable },
        with: {
            "runtime:plugin/types": super::reader::runtime::plugin::types,
            "runtime:plugin/log": super::reader::runtime::plugin::log,
        },
    });
}

pub use reader::runtime::plugin::types;
