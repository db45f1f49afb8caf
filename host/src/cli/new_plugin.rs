//! `runtime new-plugin NAME --kind K --lang L [--dir DIR]` and
//! `runtime plugins build DIR`: start a plugin project, build it into a
//! component (the work is in [`crate::project`]; this module talks to the
//! user).

use super::output::Out;
use crate::config::PluginRef;
use crate::plugin::Runtime;
use crate::plugin::engine::EngineSettings;
use crate::project::{self, Manifest, ProjectError};
use crate::report::Exit;
use std::path::{Path, PathBuf};

fn report(out: &Out, e: &ProjectError) -> Exit {
    match e.hint() {
        Some(hint) => out.error_with_hint(&e.to_string(), hint),
        None => out.error(&e.to_string()),
    }
    match e {
        ProjectError::ToolFailed { .. } | ProjectError::NoArtifact { .. } | ProjectError::Io { .. } => {
            Exit::Failed
        }
        _ => Exit::Config,
    }
}

/// Shell-quotes a path for the commands printed as next steps, when needed.
fn shell(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:".contains(c)) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

pub fn new_plugin(out: &Out, manifest: Manifest, dir: Option<PathBuf>) -> Exit {
    let dir = dir.unwrap_or_else(|| PathBuf::from(&manifest.name));
    match project::create(&dir, &manifest) {
        Ok(files) => {
            eprintln!(
                "created the {} {} plugin `{}` in {} ({} files)",
                manifest.language,
                manifest.kind,
                manifest.name,
                dir.display(),
                files.len()
            );
            let code = match manifest.language {
                project::Lang::Rust => "src/lib.rs",
                project::Lang::Python => "plugin.py",
            };
            println!("Next:");
            println!("  runtime plugins build {}", shell(&dir));
            println!("  runtime run {}", shell(&dir.join("pipeline.toml")));
            println!(
                "Then edit {} (its opening comment walks through the lifecycle).",
                shell(&dir.join(code))
            );
            Exit::Ok
        }
        Err(e) => report(out, &e),
    }
}

pub fn build(out: &Out, dir: &Path) -> Exit {
    let (manifest, wasm) = match project::build::build(dir) {
        Ok(built) => built,
        Err(e) => return report(out, &e),
    };
    // Load what was built, as a run would: this checks that it is a
    // component of the right kind and compiles it into the cache, so the
    // first run does not pay for the compilation.
    let runtime = match Runtime::new(&EngineSettings::default()) {
        Ok(r) => r,
        Err(e) => {
            out.error(&format!("cannot start the WebAssembly engine: {e:#}"));
            return Exit::Internal;
        }
    };
    let loaded = match runtime.load(&PluginRef::File(wasm.clone())) {
        Ok(p) => p,
        Err(e) => {
            out.error(&format!("{} was built but does not load: {e}", wasm.display()));
            return Exit::Failed;
        }
    };
    let d = &loaded.description;
    let kind = d.kind;
    if kind != manifest.kind {
        out.error(&format!(
            "{} is a {kind}, but {} says {}",
            wasm.display(),
            dir.join(project::MANIFEST).display(),
            manifest.kind
        ));
        return Exit::Failed;
    }
    eprintln!(
        "built the {} `{}` {} ({}, {:.1} MB)",
        d.kind,
        d.name,
        d.version,
        d.wit_package,
        loaded.size as f64 / 1e6
    );
    println!("{}", wasm.display());
    Exit::Ok
}
