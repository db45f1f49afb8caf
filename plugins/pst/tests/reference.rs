//! Compares the parser with libpff, the independent reference, on every PST
//! in `tests/fixtures/pst/`.
//!
//! `tests/fixtures/pst/reference/pypff.jsonl` holds what
//! `tests/pst/pypff_dump.py` printed for those files (one JSON object per
//! top-level message). This test dumps the same files with the parser in
//! the same shape (`pst::dump`) and requires, per file, the same messages
//! (by key) in the same order, and per message the same folder path,
//! subject, sender name, plain-text body, message class and attachment
//! count.
//!
//! Deliberate differences: none on this corpus. (Embedded messages are rows
//! of their own in the plugin's output; libpff lists only top-level
//! messages, so the comparison leaves embedded rows out, as the dump does by
//! default.)
//!
//! When pypff is installed, `reference_dump_is_current` also re-runs the
//! Python script and checks the committed dump is what libpff says today.

use pst::source::SeekSource;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/pst")
}

fn pst_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pst"))
        .collect();
    files.sort();
    files
}

fn reference() -> BTreeMap<String, Vec<Value>> {
    let text = std::fs::read_to_string(fixtures().join("reference/pypff.jsonl")).unwrap();
    let mut by_file: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        by_file.entry(v["file"].as_str().unwrap().to_string()).or_default().push(v);
    }
    by_file
}

const FIELDS: [&str; 7] = [
    "message_key",
    "folder_path",
    "subject",
    "sender_name",
    "body_text",
    "message_class",
    "attachment_count",
];

#[test]
fn parser_agrees_with_libpff() {
    let reference = reference();
    let files = pst_files();
    assert_eq!(files.len(), 7, "the seven fixture PSTs");
    let mut total = 0;
    let mut report = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let src = SeekSource::new(std::fs::File::open(path).unwrap()).unwrap();
        let dump = pst::dump::dump(src, name, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(dump.issues.is_empty(), "{name}: {:?}", dump.issues);
        assert!(dump.walk.damage.is_empty(), "{name}: {:?}", dump.walk.damage);
        let expected = reference.get(name).cloned().unwrap_or_default();
        assert_eq!(dump.records.len(), expected.len(), "{name}: number of top-level messages");
        for (mine, theirs) in dump.records.iter().zip(&expected) {
            for field in FIELDS {
                assert_eq!(
                    mine[field], theirs[field],
                    "{name}: message {}: field {field}",
                    theirs["message_key"]
                );
            }
        }
        report.push(format!("{name}: {} messages", dump.records.len()));
        total += dump.records.len();
    }
    eprintln!("{}", report.join("\n"));
    assert_eq!(total, 13, "13 top-level messages in all, as libpff counts them");
}

#[test]
fn reference_dump_is_current() {
    let script = repo().join("tests/pst/pypff_dump.py");
    let has_pypff = std::process::Command::new("python3")
        .args(["-c", "import pypff"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pypff {
        eprintln!("pypff is not installed (pip install libpff-python): skipping the re-run of {script:?}");
        return;
    }
    let out = std::process::Command::new("python3").arg(&script).args(pst_files()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fresh: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let committed: Vec<Value> = reference().into_values().flatten().collect();
    assert_eq!(fresh, committed, "tests/fixtures/pst/reference/pypff.jsonl is stale: regenerate it");
}
