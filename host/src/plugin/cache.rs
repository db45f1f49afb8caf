//! The compiled-component cache: compiling a component with Cranelift takes
//! seconds, loading a compiled one milliseconds.
//!
//! Entries live in `RUNTIME_CACHE_DIR` (default `$XDG_CACHE_HOME/runtime` or
//! `~/.cache/runtime`), named by the SHA-256 of the component bytes and the
//! engine's compatibility hash (wasmtime version and settings that affect
//! code), so a changed plugin or engine never loads a stale artifact. Files
//! are written to a temporary name and renamed, so concurrent runs are safe.
//!
//! The cache directory is trusted: compiled code in it is executed. Keep it
//! private to the user running the runtime (see SECURITY.md).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are cached, if anywhere.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RUNTIME_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("runtime"))
}

/// The SHA-256 of a component's bytes, in hex: what names it in the cache.
pub fn digest(wasm: &[u8]) -> String {
    hex(&Sha256::digest(wasm))
}

/// Loads a component, compiling it unless a cached artifact exists. Returns
/// the component and whether it came from the cache. `digest` is
/// [`digest`] of `wasm`.
pub fn load(
    engine: &Engine,
    dir: Option<&Path>,
    wasm: &[u8],
    digest: &str,
) -> wasmtime::Result<(Component, bool)> {
    let Some(dir) = dir else { return Ok((Component::new(engine, wasm)?, false)) };
    let path = dir.join(format!("{}.cwasm", key(engine, digest)));
    if path.is_file() {
        // SAFETY: the file was produced by `precompile_component` of an
        // engine with the same compatibility hash (it is in the name), and the
        // cache directory is trusted (module docs).
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, true)),
            Err(e) => tracing::warn!("ignoring unusable cache entry {}: {e}", path.display()),
        }
    }
    let compiled = engine.precompile_component(wasm)?;
    if let Err(e) = store(dir, &path, &compiled) {
        tracing::warn!("cannot write the component cache at {}: {e}", dir.display());
    }
    // SAFETY: the bytes were produced just above by this engine.
    let component = unsafe { Component::deserialize(engine, &compiled)? };
    Ok((component, false))
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp =
        dir.join(format!(".{}.{}.tmp", path.file_name().unwrap().to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn key(engine: &Engine, digest: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{}-{:016x}", &digest[..32], h.finish())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
