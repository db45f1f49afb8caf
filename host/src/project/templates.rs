//! The files of a new plugin project, embedded in the binary.
//!
//! The templates live under `host/templates/plugin/` as ordinary files (so
//! they can be read and edited as code); the SDKs and the WIT contract are
//! the repository's own (`plugins/sdk`, `plugins/sdk-python`,
//! `wit/plugin.wit`), so a project gets exactly the SDK this runtime was
//! built and tested with. The Rust project also gets the plugins workspace's
//! `Cargo.lock`: its dependencies resolve to the versions the bundled
//! plugins build with, and cargo drops the entries it does not need.
//!
//! Placeholders are `{{key}}`; [`render`] fills every one (a test checks
//! that none is left).

use super::{Kind, Lang, Manifest};
use std::path::PathBuf;

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/plugin/", $path))
    };
}

macro_rules! repo_file {
    ($path:literal) => {
        ($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path)))
    };
}

/// The Rust SDK's sources, by path in the repository.
pub(crate) const RUST_SDK: &[(&str, &str)] = &[
    repo_file!("plugins/sdk/src/error.rs"),
    repo_file!("plugins/sdk/src/inferred.rs"),
    repo_file!("plugins/sdk/src/info.rs"),
    repo_file!("plugins/sdk/src/ipc.rs"),
    repo_file!("plugins/sdk/src/lib.rs"),
    repo_file!("plugins/sdk/src/log.rs"),
    repo_file!("plugins/sdk/src/options.rs"),
    repo_file!("plugins/sdk/src/reader.rs"),
    repo_file!("plugins/sdk/src/transform.rs"),
];

/// The Python SDK's modules, by path in the repository.
pub(crate) const PYTHON_SDK: &[(&str, &str)] = &[
    repo_file!("plugins/sdk-python/runtime_plugin/__init__.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/_wit.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/arrow.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/errors.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/info.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/log.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/reader.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/testing.py"),
    repo_file!("plugins/sdk-python/runtime_plugin/transform.py"),
];

const WIT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/plugin.wit"));
const CARGO_LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/Cargo.lock"));

/// `runtime:plugin@X.Y.Z`: the package the embedded WIT declares.
pub fn wit_package() -> &'static str {
    WIT.lines()
        .find_map(|l| l.trim().strip_prefix("package ").and_then(|p| p.strip_suffix(';')))
        .expect("wit/plugin.wit declares its package")
}

/// Every file of a new project for `m`: (path relative to the project, text).
pub fn render(m: &Manifest) -> Vec<(PathBuf, String)> {
    let what = match m.kind {
        Kind::Reader => "reads `key = value` lines, one row per line",
        Kind::Transform => "passes every batch through unchanged, a starting point to edit",
    };
    let (sdk_what, export) = match (m.language, m.kind) {
        (Lang::Rust, _) => ("the `runtime-plugin-sdk` crate", ""),
        (Lang::Python, Kind::Reader) => {
            ("the `runtime_plugin` package", "Reader = rp.export_reader(plugin.Plugin)")
        }
        (Lang::Python, Kind::Transform) => {
            ("the `runtime_plugin` package", "Transform = rp.export_transform(plugin.Plugin)")
        }
    };
    let vars: [(&str, &str); 7] = [
        ("name", &m.name),
        ("kind", m.kind.as_str()),
        ("what", what),
        ("runtime_version", env!("CARGO_PKG_VERSION")),
        ("wit_package", wit_package()),
        ("sdk_what", sdk_what),
        ("export", export),
    ];
    let fill = |text: &str| {
        let mut out = text.to_string();
        for (key, value) in vars {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out
    };
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut add = |path: &str, text: &str| files.push((PathBuf::from(path), fill(text)));
    add("plugin.toml", &m.to_toml());
    match m.kind {
        Kind::Reader => {
            add("pipeline.toml", template!("common/reader/pipeline.toml"));
            add("data/sample.txt", template!("common/reader/data/sample.txt"));
        }
        Kind::Transform => {
            add("pipeline.toml", template!("common/transform/pipeline.toml"));
            add("data/sample.ndjson", template!("common/transform/data/sample.ndjson"));
        }
    }
    add("sdk/README.md", template!("common/sdk-README.md"));
    add("sdk/wit/plugin.wit", WIT);
    match m.language {
        Lang::Rust => {
            add("Cargo.toml", template!("rust/Cargo.toml"));
            add("Cargo.lock", CARGO_LOCK);
            add("README.md", template!("rust/README.md"));
            add(".gitignore", template!("common/gitignore-rust"));
            add(
                "src/lib.rs",
                match m.kind {
                    Kind::Reader => template!("rust/reader/lib.rs"),
                    Kind::Transform => template!("rust/transform/lib.rs"),
                },
            );
            add("sdk/Cargo.toml", template!("common/sdk-Cargo.toml"));
            for (path, text) in RUST_SDK {
                // The SDK's own sources are copied as they are, not filled.
                let relative = path.strip_prefix("plugins/").expect("SDK paths start with plugins/");
                files.push((PathBuf::from(relative), text.to_string()));
            }
        }
        Lang::Python => {
            add("app.py", template!("python/app.py"));
            add("README.md", template!("python/README.md"));
            add(".gitignore", template!("common/gitignore-python"));
            match m.kind {
                Kind::Reader => {
                    add("plugin.py", template!("python/reader/plugin.py"));
                    add("test_plugin.py", template!("python/reader/test_plugin.py"));
                }
                Kind::Transform => {
                    add("plugin.py", template!("python/transform/plugin.py"));
                    add("test_plugin.py", template!("python/transform/test_plugin.py"));
                }
            }
            for (path, text) in PYTHON_SDK {
                let relative = path.strip_prefix("plugins/sdk-python/").expect("SDK paths");
                files.push((PathBuf::from("sdk").join(relative), text.to_string()));
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn all() -> Vec<Manifest> {
        let mut out = Vec::new();
        for kind in [Kind::Reader, Kind::Transform] {
            for language in [Lang::Rust, Lang::Python] {
                out.push(Manifest { name: "my-plugin".into(), kind, language });
            }
        }
        out
    }

    #[test]
    fn every_placeholder_is_filled() {
        for m in all() {
            for (path, text) in render(&m) {
                let is_sdk_source = path.starts_with("sdk/src") || path.starts_with("sdk/runtime_plugin");
                if !is_sdk_source {
                    assert!(!text.contains("{{"), "{path:?} of {m:?} keeps a placeholder");
                }
            }
        }
    }

    /// A file added to an SDK must be added to the embedded list, or new
    /// projects would not build.
    #[test]
    fn the_embedded_sdks_are_complete() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (folder, ext, list) in
            [("plugins/sdk/src", "rs", RUST_SDK), ("plugins/sdk-python/runtime_plugin", "py", PYTHON_SDK)]
        {
            let on_disk: BTreeSet<String> = std::fs::read_dir(root.join(folder))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(&format!(".{ext}")))
                .map(|n| format!("{folder}/{n}"))
                .collect();
            let embedded: BTreeSet<String> = list.iter().map(|(p, _)| p.to_string()).collect();
            assert_eq!(on_disk, embedded, "update the list in project/templates.rs");
        }
    }

    /// The copied SDK's manifest must ask for the versions the plugins
    /// workspace builds the SDK with.
    #[test]
    fn the_sdk_manifest_matches_the_workspace() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let workspace: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("plugins/Cargo.toml")).unwrap()).unwrap();
        let sdk: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("plugins/sdk/Cargo.toml")).unwrap()).unwrap();
        let copied: toml::Table = toml::from_str(template!("common/sdk-Cargo.toml")).unwrap();
        let versions = &workspace["workspace"]["dependencies"];
        let wanted: BTreeSet<String> = sdk["dependencies"].as_table().unwrap().keys().cloned().collect();
        let got = copied["dependencies"].as_table().unwrap();
        assert_eq!(wanted, got.keys().cloned().collect::<BTreeSet<_>>());
        for name in &wanted {
            assert_eq!(&versions[name.as_str()], &got[name.as_str()], "dependency {name}");
        }
    }

    #[test]
    fn the_wit_package_is_the_development_version() {
        assert!(wit_package().starts_with("runtime:plugin@"), "{}", wit_package());
    }
}
