// Environment variables meant for the host's own build that must not reach
// a nested `cargo build` of plugins for wasm32-wasip2 (they would set the
// wrong target, target folder or compiler flags). One list, included by
// `host/build.rs` and by the test fixtures' builder
// (`tests/fixtures/build_plugin.rs`).
&[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTFLAGS",
]
