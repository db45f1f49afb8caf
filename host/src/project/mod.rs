//! Plugin projects: `runtime new-plugin` writes one, `runtime plugins build`
//! builds one into a component.
//!
//! A user who has only the `runtime` binary must get a plugin running, so a
//! new project carries everything its build needs besides the package
//! registries: the templates ([`templates`]) and a copy of the SDK and the WIT
//! contract, embedded in the binary when it was built. Building
//! ([`build`]) runs the language's own tool (cargo for Rust, componentize-py
//! for Python, as `spin build` does) and puts the component at
//! `build/NAME.wasm` in the project, whatever the language, so the project's
//! `pipeline.toml` names one path.
//!
//! `plugin.toml` at the project's root says what the project is (name, kind,
//! language); [`Manifest`] reads it.

pub mod build;
pub mod templates;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The file at a project's root that says what it is.
pub const MANIFEST: &str = "plugin.toml";

pub use crate::plugin::Kind;

/// The language a project is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
        })
    }
}

/// `plugin.toml`: what `runtime plugins build` needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: `build/NAME.wasm`, and the name it describes itself with.
    pub name: String,
    pub kind: Kind,
    pub language: Lang,
}

/// Why a project could not be made, read or built.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("`{0}` is not a usable plugin name: {1}")]
    BadName(String, &'static str),
    #[error("{} already exists and is not empty", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no {MANIFEST} here (a folder made by `runtime new-plugin` has one)", .0.display())]
    NoManifest(PathBuf),
    #[error("{}: {message}", .path.display())]
    BadManifest { path: PathBuf, message: String },
    #[error("{tool} is not installed: {fix}")]
    ToolMissing { tool: &'static str, fix: &'static str },
    #[error("{tool} failed ({status}); its messages are above")]
    ToolFailed { tool: &'static str, status: std::process::ExitStatus },
    #[error("{tool} finished but produced no {what}")]
    NoArtifact { tool: &'static str, what: &'static str },
}

impl ProjectError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError + '_ {
        move |source| ProjectError::Io { path: path.to_path_buf(), source }
    }

    /// A hint on how to fix it, where there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ProjectError::BadName(..) => Some(
                "use lowercase letters, digits and `-`, starting with a letter (for example `my-reader`)",
            ),
            ProjectError::Exists(_) => Some("choose another --dir, or remove the folder"),
            ProjectError::NoManifest(_) => Some("pass the folder `runtime new-plugin` made"),
            _ => None,
        }
    }
}

/// Names Cargo or Rust would refuse or treat specially as a package name.
const RESERVED: &[&str] = &["std", "core", "alloc", "test", "proc-macro", "self", "super", "crate"];

/// Checks a plugin name: lowercase ASCII letters, digits and `-`, starting
/// with a letter, at most 64 bytes: valid as a Cargo package, a file name and
/// a pipeline's `plugin = "NAME"` on every platform.
pub fn check_name(name: &str) -> Result<(), ProjectError> {
    let bad = |why| Err(ProjectError::BadName(name.to_string(), why));
    if name.is_empty() || name.len() > 64 {
        return bad("it must be 1 to 64 characters long");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it must start with a lowercase letter");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return bad("it may hold only lowercase letters, digits and `-`");
    }
    if name.ends_with('-') || name.contains("--") {
        return bad("`-` must separate words");
    }
    if RESERVED.contains(&name) {
        return bad("Rust reserves it");
    }
    Ok(())
}

impl Manifest {
    /// Reads `DIR/plugin.toml`.
    pub fn read(dir: &Path) -> Result<Manifest, ProjectError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProjectError::NoManifest(dir.to_path_buf()));
            }
            Err(e) => return Err(ProjectError::io(&path)(e)),
        };
        let manifest: Manifest = toml::from_str(&text)
            .map_err(|e| ProjectError::BadManifest { path: path.clone(), message: e.to_string() })?;
        check_name(&manifest.name)
            .map_err(|e| ProjectError::BadManifest { path: path.clone(), message: format!("name: {e}") })?;
        Ok(manifest)
    }

    /// The text of `plugin.toml`.
    pub fn to_toml(&self) -> String {
        format!(
            "# What this plugin project is; read by `runtime plugins build`.\n{}",
            toml::to_string(self).expect("a manifest always serializes")
        )
    }
}

/// Where `runtime plugins build` puts the component of project `dir`.
pub fn component_path(dir: &Path, manifest: &Manifest) -> PathBuf {
    dir.join("build").join(format!("{}.wasm", manifest.name))
}

/// Writes a new project for `manifest` into `dir` (created; it must not
/// exist or be empty). Returns the files written, relative to `dir`.
pub fn create(dir: &Path, manifest: &Manifest) -> Result<Vec<PathBuf>, ProjectError> {
    check_name(&manifest.name)?;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ProjectError::Exists(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ProjectError::io(dir)(e)),
    }
    let files = templates::render(manifest);
    for (relative, text) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
        }
        std::fs::write(&path, text).map_err(ProjectError::io(&path))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["kv", "my-reader", "a1", "access-log-2"] {
            check_name(good).unwrap();
        }
        for bad in ["", "Kv", "1kv", "my_reader", "my--reader", "kv-", "std", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn manifest_round_trips_and_names_bad_keys() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest { name: "kv".into(), kind: Kind::Reader, language: Lang::Python };
        std::fs::write(dir.path().join(MANIFEST), m.to_toml()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m);
        std::fs::write(dir.path().join(MANIFEST), "name = \"kv\"\nkind = \"reader\"\nlanguage = \"go\"\n")
            .unwrap();
        let e = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("plugin.toml") && e.contains("line 3") && e.contains("go"), "{e}");
        assert!(matches!(Manifest::read(&dir.path().join("none")), Err(ProjectError::NoManifest(_))));
    }

    #[test]
    fn create_refuses_a_folder_in_use() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let m = Manifest { name: "kv".into(), kind: Kind::Reader, language: Lang::Rust };
        assert!(matches!(create(dir.path(), &m), Err(ProjectError::Exists(_))));
        assert_eq!(std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(), "mine");
        let written = create(&dir.path().join("kv"), &m).unwrap();
        assert!(written.contains(&PathBuf::from("src/lib.rs")), "{written:?}");
        assert_eq!(Manifest::read(&dir.path().join("kv")).unwrap(), m);
    }
}
