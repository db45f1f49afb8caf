//! Host-side bindings of the `runtime:plugin` WIT package, every released
//! version at once: 0.1.0 (frozen in `wit/released/0.1.0/`) and 0.2.0
//! (`wit/plugin.wit`).
//!
//! One `bindgen!` per world and version. Within a version the transform
//! world reuses the reader world's `types` and `log` bindings; each version
//! has Rust types of its own (wasmtime maps only interfaces and resources
//! across bindings, not records), converted to and from the host's types in
//! one place, [`super::convert`]. Every import may trap (`trappable`), which
//! is how the host stops a plugin that broke a limit or the contract.
//!
//! The rest of the host does not name these modules: [`super::reader`] and
//! [`super::transform`] wrap the worlds of both versions behind one API.

/// The 0.1.0 worlds, frozen.
pub mod v1 {
    /// The `reader-plugin` world.
    pub mod reader {
        wasmtime::component::bindgen!({
            path: "../wit/released/0.1.0",
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
            path: "../wit/released/0.1.0",
            world: "transform-plugin",
            imports: { default: trappable },
            with: {
                "runtime:plugin/types": super::reader::runtime::plugin::types,
                "runtime:plugin/log": super::reader::runtime::plugin::log,
            },
        });
    }
}

/// The 0.2.0 worlds.
pub mod v2 {
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
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// Every released WIT version and the SHA-256 of its text. A released
    /// contract never changes: plugins built against it must keep running.
    /// A change goes into a new version (copy the current one to
    /// `wit/released/X.Y.Z/`, bump `wit/plugin.wit`, link both here).
    const RELEASED: &[(&str, &str, &str)] = &[
        (
            "0.1.0",
            include_str!("../../../wit/released/0.1.0/plugin.wit"),
            "8def7c4d6fa8b088d1a05596fb95e044f29e8ec579e9fabb4af53685226af7a4",
        ),
        (
            "0.2.0",
            include_str!("../../../wit/plugin.wit"),
            "afd521552fbfc7ea953b5a5544d2d863297b025a8ea8e766e49f0c1d178862b2",
        ),
    ];

    #[test]
    fn released_wit_versions_never_change() {
        for (version, text, expected) in RELEASED {
            let actual = format!("{:x}", Sha256::digest(text.as_bytes()));
            assert_eq!(
                &actual, expected,
                "the text of the released WIT package runtime:plugin@{version} changed; \
                 released versions are frozen: put the change in a new version instead"
            );
            assert!(text.contains(&format!("package runtime:plugin@{version};")), "{version}");
        }
    }
}
