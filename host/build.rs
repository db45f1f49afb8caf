//! Builds the bundled plugins (the `plugins/` workspace, for wasm32-wasip2)
//! and embeds them in the `runtime` binary.
//!
//! The plugins are built by a nested `cargo build --release` in the plugins
//! workspace, with that workspace's own target directory (`plugins/target`,
//! shared with anyone building the plugins by hand), so it never waits on
//! the outer build's lock. Every workspace member that produces a `.wasm` component is
//! bundled under its crate name. `$OUT_DIR/bundled.rs` holds the table.
//!
//! Set `RUNTIME_PLUGINS_DIR` to a folder of prebuilt `.wasm` files to skip
//! the nested build (for packagers).

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
    for path in watched(&plugins) {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let members = members(&plugins);
    let wasm_dir = match env::var_os("RUNTIME_PLUGINS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => build_plugins(&plugins),
    };

    let mut table = String::from(
        "/// Plugins embedded in this binary: (name, component bytes).\npub static BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for name in &members {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        if file.is_file() {
            table.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
        }
    }
    table.push_str("];\n");
    fs::write(out_dir.join("bundled.rs"), table).unwrap();
}

/// The plugin crates: workspace members that are `cdylib`s.
fn members(plugins: &Path) -> Vec<String> {
    let manifest = fs::read_to_string(plugins.join("Cargo.toml")).expect("plugins/Cargo.toml");
    let list = manifest
        .split_once("members")
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("plugins/Cargo.toml lists its members");
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty())
        .filter(|m| {
            fs::read_to_string(plugins.join(m).join("Cargo.toml")).is_ok_and(|t| t.contains("cdylib"))
        })
        .map(|m| package_name(&plugins.join(&m)).unwrap_or(m))
        .collect()
}

fn package_name(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let pkg = text.split_once("[package]")?.1;
    let line = pkg.lines().find(|l| l.trim_start().starts_with("name"))?;
    Some(line.split_once('=')?.1.trim().trim_matches('"').to_string())
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
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
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
