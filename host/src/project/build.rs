//! `runtime plugins build DIR`: a plugin project into a component at
//! `DIR/build/NAME.wasm`, with the language's own tool.
//!
//! - Rust: `cargo build --release --target wasm32-wasip2`, asking cargo for
//!   JSON messages so the artifact is found wherever the target directory is
//!   (`CARGO_TARGET_DIR` is honoured), then a copy.
//! - Python: `componentize-py` with the project's copied WIT and SDK on its
//!   path, the world chosen by the project's kind.
//!
//! The tools' own messages go to stderr as they come; stdout is left to the
//! caller (which prints the component's path there).

use super::{Kind, Lang, Manifest, ProjectError, component_path};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the project in `dir`; returns the component's path.
pub fn build(dir: &Path) -> Result<(Manifest, PathBuf), ProjectError> {
    let manifest = Manifest::read(dir)?;
    let out = component_path(dir, &manifest);
    let out_dir = out.parent().expect("build/NAME.wasm has a parent");
    std::fs::create_dir_all(out_dir).map_err(ProjectError::io(out_dir))?;
    match manifest.language {
        Lang::Rust => build_rust(dir, &out)?,
        Lang::Python => build_python(dir, manifest.kind, &out)?,
    }
    Ok((manifest, out))
}

fn build_rust(dir: &Path, out: &Path) -> Result<(), ProjectError> {
    check_wasm_target()?;
    let mut child = Command::new(cargo())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format",
            "json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| missing_or_io("cargo", e, dir))?;
    // Read cargo's messages as they come (a pipe left unread would stall it).
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut artifact = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.map_err(ProjectError::io(dir))?;
        if let Some(path) = wasm_artifact(&line) {
            artifact = Some(path);
        }
    }
    let status = child.wait().map_err(ProjectError::io(dir))?;
    if !status.success() {
        return Err(ProjectError::ToolFailed { tool: "cargo", status });
    }
    let artifact = artifact.ok_or(ProjectError::NoArtifact { tool: "cargo", what: "cdylib .wasm" })?;
    std::fs::copy(&artifact, out).map_err(ProjectError::io(out))?;
    Ok(())
}

/// The `.wasm` of a `cdylib` in one line of cargo's JSON messages.
fn wasm_artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let kinds = message["target"]["kind"].as_array()?;
    if !kinds.iter().any(|k| k == "cdylib") {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

fn cargo() -> std::ffi::OsString {
    // Under `cargo run` or a cargo test, CARGO names the cargo in use.
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Fails early, with the fix, when rustup has no wasm32-wasip2 target
/// (cargo's own message, "can't find crate for `core`", does not say it).
fn check_wasm_target() -> Result<(), ProjectError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output().map_err(|_| {
        ProjectError::ToolMissing { tool: "rustc", fix: "install Rust with rustup (https://rustup.rs)" }
    })?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        Ok(())
    } else {
        Err(ProjectError::ToolMissing {
            tool: "the wasm32-wasip2 target",
            fix: "run `rustup target add wasm32-wasip2`",
        })
    }
}

fn build_python(dir: &Path, kind: Kind, out: &Path) -> Result<(), ProjectError> {
    let world = match kind {
        Kind::Reader => "reader-plugin",
        Kind::Transform => "transform-plugin",
    };
    let sdk = dir.join("sdk");
    let mut args: Vec<std::ffi::OsString> =
        vec!["-d".into(), sdk.join("wit").into(), "-w".into(), world.into()];
    args.extend(["componentize".into(), "-p".into(), dir.into(), "-p".into(), sdk.into_os_string()]);
    args.extend(["app".into(), "-o".into(), out.into()]);
    let mut command = componentize_py()?;
    let status = command
        .args(&args)
        // componentize-py reports on stdout; stdout is the caller's.
        .stdout(std::io::stderr())
        .stderr(Stdio::inherit())
        .status()
        .map_err(ProjectError::io(dir))?;
    if !status.success() {
        return Err(ProjectError::ToolFailed { tool: "componentize-py", status });
    }
    if !out.is_file() {
        return Err(ProjectError::NoArtifact { tool: "componentize-py", what: "component" });
    }
    Ok(())
}

/// componentize-py on PATH, else the module of the Python on PATH (pip may
/// put the script where PATH does not look, such as ~/.local/bin).
fn componentize_py() -> Result<Command, ProjectError> {
    const FIX: &str = "run `pip install componentize-py==0.25.1`";
    let on_path =
        Command::new("componentize-py").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if on_path.is_ok_and(|s| s.success()) {
        return Ok(Command::new("componentize-py"));
    }
    let module = Command::new("python3")
        .args(["-c", "import componentize_py"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if module.is_ok_and(|s| s.success()) {
        let mut command = Command::new("python3");
        command.args([
            "-c",
            "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()",
        ]);
        return Ok(command);
    }
    Err(ProjectError::ToolMissing { tool: "componentize-py", fix: FIX })
}

fn missing_or_io(tool: &'static str, e: std::io::Error, dir: &Path) -> ProjectError {
    if e.kind() == std::io::ErrorKind::NotFound {
        ProjectError::ToolMissing { tool, fix: "install Rust with rustup (https://rustup.rs)" }
    } else {
        ProjectError::io(dir)(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cdylib_in_cargo_messages() {
        let artifact = r#"{"reason":"compiler-artifact","target":{"kind":["cdylib"],"name":"kv"},
            "filenames":["/t/wasm32-wasip2/release/kv.wasm"]}"#
            .replace('\n', "");
        assert_eq!(wasm_artifact(&artifact), Some(PathBuf::from("/t/wasm32-wasip2/release/kv.wasm")));
        let dependency =
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"]},"filenames":["/t/libx.rlib"]}"#;
        assert_eq!(wasm_artifact(dependency), None);
        assert_eq!(wasm_artifact("not json"), None);
        assert_eq!(wasm_artifact(r#"{"reason":"build-finished","success":true}"#), None);
    }

    #[test]
    fn a_folder_without_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(build(dir.path()), Err(ProjectError::NoManifest(_))));
    }
}
