//! Builds the bundled plugins (the `plugins/` workspace, for wasm32-wasip2)
//! and embeds them in the `runtime` binary.
//!
//! The plugins are built by a nested `cargo build --release` in the plugins
//! workspace, with that workspace's own target directory (`plugins/target`,
//! shared with anyone building the plugins by hand), so it never waits on
//! the outer build's lock. Every workspace member whose library is a
//! `cdylib` is bundled under its package name; the manifests are read with
//! a TOML parser. `$OUT_DIR/bundled.rs` holds the table.
//!
//! Set `RUNTIME_PLUGINS_DIR` to a folder of prebuilt `.wasm` files to skip
//! the nested build (for packagers); every bundled plugin must be there.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-env-changed=RUNTIME_PLUGINS_DIR");
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", manifest_dir.join("build/cleared_env.rs").display());
    for path in watched(&plugins) {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let members = members(&plugins).unwrap_or_else(|e| panic!("reading the plugins workspace: {e}"));
    let wasm_dir = match env::var_os("RUNTIME_PLUGINS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => build_plugins(&plugins),
    };

    let mut table = String::from(
        "/// Plugins embedded in this binary: (name, component bytes).\npub static BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    let mut missing = Vec::new();
    for name in &members {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        if file.is_file() {
            table.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
        } else {
            missing.push(file.display().to_string());
        }
    }
    if !missing.is_empty() {
        panic!(
            "bundled plugin(s) missing after the build: {}.\n\
             With RUNTIME_PLUGINS_DIR set, that folder must hold every bundled plugin's .wasm; \
             unset it to build them from `plugins/`.",
            missing.join(", ")
        );
    }
    table.push_str("];\n");
    fs::write(out_dir.join("bundled.rs"), table).unwrap();
}

/// The plugin crates: members of the plugins workspace whose library is a
/// `cdylib`, by package name.
fn members(plugins: &Path) -> Result<Vec<String>, String> {
    let workspace = manifest(&plugins.join("Cargo.toml"))?;
    let list = workspace
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .ok_or("plugins/Cargo.toml has no [workspace] members list")?;
    let mut out = Vec::new();
    for member in list {
        let dir = member.as_str().ok_or("a workspace member is not a string")?;
        let crate_manifest = manifest(&plugins.join(dir).join("Cargo.toml"))?;
        let cdylib = crate_manifest
            .get("lib")
            .and_then(|l| l.get("crate-type"))
            .and_then(|t| t.as_array())
            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
        if !cdylib {
            continue;
        }
        let name = crate_manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .ok_or_else(|| format!("plugins/{dir}/Cargo.toml has no package name"))?;
        out.push(name.to_string());
    }
    Ok(out)
}

fn manifest(path: &Path) -> Result<toml::Table, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| format!("{}: {e}", path.display()))
}

/// Files whose change must rebuild the plugins: manifests, sources, build
/// scripts (not target directories).
fn watched(plugins: &Path) -> Vec<PathBuf> {
    let mut out =
        vec![plugins.join("Cargo.toml"), plugins.join("Cargo.lock"), plugins.join(".cargo/config.toml")];
    if let Ok(entries) = fs::read_dir(plugins) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && p.join("Cargo.toml").is_file() {
                for f in ["Cargo.toml", "build.rs", "src"] {
                    if p.join(f).exists() {
                        out.push(p.join(f));
                    }
                }
            }
        }
    }
    out
}

fn build_plugins(plugins: &Path) -> PathBuf {
    let target_dir = plugins.join("target");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins)
        .args(["build", "--release", "--workspace", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the wasm build.
    let cleared: &[&str] = include!("build/cleared_env.rs");
    for var in cleared {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build the plugins");
    if !status.success() {
        panic!(
            "building the bundled plugins failed (see above).\n\
             They need the wasm32-wasip2 target (`rustup target add wasm32-wasip2`) and, for the \
             `sql` plugin's SQLite, clang and Debian's wasi-libc (`apt-get install clang wasi-libc`). \
             `scripts/setup` installs all of this."
        );
    }
    target_dir.join("wasm32-wasip2").join("release")
}
