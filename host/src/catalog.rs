//! Where plugins come from: the ones bundled into the binary at build time
//! (see `host/build.rs`: `ndjson`, `labels`, `aggregate`, `sql`, `pst`, ...)
//! and the `NAME.wasm` files in the folders of `RUNTIME_PLUGIN_PATH`.
//!
//! A leaf: configuration checks that a named plugin exists, the plugin host
//! loads its bytes, `plugins list` lists them; none of that belongs here.

use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The component bytes of a bundled plugin.
pub fn bundled(name: &str) -> Option<&'static [u8]> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Names of all bundled plugins, sorted.
pub fn bundled_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
    v.sort();
    v
}

/// Finds a plugin by name on `RUNTIME_PLUGIN_PATH` (`name.wasm` in any of
/// its folders).
pub fn search_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("RUNTIME_PLUGIN_PATH")?;
    std::env::split_paths(&path).map(|d| d.join(format!("{name}.wasm"))).find(|p| p.is_file())
}

/// The plugins on `RUNTIME_PLUGIN_PATH`, as (name, file); the first folder
/// that has a name wins.
pub fn search_path_plugins() -> Vec<(String, PathBuf)> {
    let Some(path) = std::env::var_os("RUNTIME_PLUGIN_PATH") else { return Vec::new() };
    let mut out = Vec::new();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, f));
            }
        }
    }
    out
}

/// Whether a plugin of this name can be found (bundled or on the path).
pub fn exists(name: &str) -> bool {
    bundled(name).is_some() || search_path(name).is_some()
}
