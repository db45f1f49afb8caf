//! The `pst` reader on mailboxes written by `tools/pst-synth`, checked
//! against what the synthesizer says it wrote rather than against another
//! reader: one file per layout (Unicode, ANSI) and block encoding (none,
//! compressible, cyclic), read whole and cut into ranges of messages.
//!
//! Each file is first checked with libpff (`tests/pst/synth_check.py`, the
//! synthesizer's own test, which also vouches for the encoding tables the
//! writer and the reader share); then the runtime's two Parquet outputs are
//! checked with pyarrow (`tests/pst/synth_runtime_check.py`): every count,
//! every folder's count and every message's digest, nested embedded
//! messages included, nothing twice.
//!
//! A second test reads a mailbox of a few hundred MB holding one 100 MiB
//! attachment under a 64 MiB plugin memory limit, with 1 and 2 workers; a
//! third damages mailboxes one object at a time and checks that no message
//! comes out changed where the format can tell, and that every lost one is
//! counted.

use crate::util::{Case, read_parquet, repo};
use arrow_array::Array;
use arrow_array::cast::AsArray;
use pst_synth::{Amount, Encryption, Format, Options};
use serde_json::Value;
use std::process::Command;

fn python(script: &str, args: &[String]) -> String {
    let out = Command::new("python3").arg(repo().join("tests/pst").join(script)).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} {args:?}:\n{text}");
    text
}

/// `runtime run pipeline.toml` writing both sinks under `dir`, with `extra`
/// arguments; then the runtime check of that output against `files`.
fn run_and_check(case: &Case, dir: &str, extra: &[&str], files: &[String]) -> String {
    let mut args = vec!["run".to_string(), "pipeline.toml".into()];
    for sink in ["messages", "attachments"] {
        args.extend(["--set".into(), format!("sinks.{sink}.path=\"{dir}/{sink}.parquet\"")]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = case.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    run.expect_code(0);
    let mut check = [format!("{dir}/messages.parquet"), format!("{dir}/attachments.parquet")]
        .iter()
        .map(|p| case.path(p).display().to_string())
        .collect::<Vec<_>>();
    check.extend(files.iter().cloned());
    python("synth_runtime_check.py", &check);
    run.stderr()
}

#[test]
fn synthesized_mailboxes_of_every_layout_and_encoding_read_exactly() {
    let case = Case::new();
    std::fs::create_dir_all(case.path("mailboxes")).unwrap();
    let mut files = Vec::new();
    for (i, format) in [Format::Unicode, Format::Ansi].into_iter().enumerate() {
        for (j, encryption) in
            [Encryption::None, Encryption::Compressible, Encryption::Cyclic].into_iter().enumerate()
        {
            let name = format!(
                "{}-{}.pst",
                if format == Format::Ansi { "ansi" } else { "unicode" },
                encryption.name()
            );
            let out = case.path(&format!("mailboxes/{name}"));
            let opts = Options {
                out: out.clone(),
                amount: Amount::Messages(30),
                seed: 100 + (i * 3 + j) as u64,
                format,
                encryption,
                max_attachment: 600 << 10,
                large_attachment: None,
            };
            let written = pst_synth::synthesize(&opts).unwrap();
            assert!(
                written.expected["embedded_messages"].as_u64().unwrap() > 0,
                "{name}: has embedded messages"
            );
            python("synth_check.py", &[out.display().to_string()]);
            files.push(out.display().to_string());
        }
    }

    case.copy("examples/pst-mailboxes/pipeline.toml", "pipeline.toml");
    let small = "source.max_split_bytes=\"512 KiB\"";
    let plan = case.run(&["plan", "pipeline.toml", "--json", "--set", small]);
    plan.expect_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout()).unwrap();
    for f in &files {
        let name = std::path::Path::new(f).file_name().unwrap().to_str().unwrap();
        let cut = plan["splits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["id"].as_str().unwrap().contains(&format!("{name}@messages=")))
            .count();
        assert!(cut >= 2, "{name} is cut into ranges of messages: {}", plan["splits"]);
    }

    run_and_check(&case, "whole", &["--quiet", "-w", "2"], &files);
    run_and_check(&case, "cut", &["--quiet", "-w", "2", "--set", small], &files);
}

#[test]
fn an_attachment_larger_than_the_memory_limit_is_streamed() {
    let case = Case::new();
    std::fs::create_dir_all(case.path("mailboxes")).unwrap();
    let out = case.path("mailboxes/large.pst");
    let written = pst_synth::synthesize(&Options {
        out: out.clone(),
        amount: Amount::Messages(300),
        seed: 42,
        format: Format::Unicode,
        encryption: Encryption::Compressible,
        max_attachment: 4 << 20,
        large_attachment: Some(100 << 20),
    })
    .unwrap();
    assert!(written.size > 150 << 20, "a mailbox of a few hundred MB: {} bytes", written.size);
    let files = vec![out.display().to_string()];
    python("synth_check.py", &files);

    case.copy("examples/pst-mailboxes/pipeline.toml", "pipeline.toml");
    let limits = [
        "--set",
        "source.limits.memory=\"64 MiB\"",
        "--set",
        "source.options.max_attachment_bytes=4194304",
        "--set",
        "source.options.batch_bytes=4194304",
    ];
    let plan = case.run(&["plan", "pipeline.toml", "--json"]);
    plan.expect_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert!(
        plan["splits"].as_array().unwrap().len() >= 2,
        "cut by the default max_split_bytes: {}",
        plan["splits"]
    );
    for workers in ["1", "2"] {
        let dir = format!("w{workers}");
        let mut extra = vec!["-w", workers];
        extra.extend(limits);
        let stderr = run_and_check(&case, &dir, &extra, &files);
        assert!(
            stderr.contains("content left null: 104857600 bytes is above max_attachment_bytes (4194304)"),
            "the big attachment's content is left out with a reason:\n{stderr}"
        );
        let table = read_parquet(&case.path(&format!("{dir}/attachments.parquet")));
        let (mut kept, mut left_out) = (0, Vec::new());
        for batch in &table {
            let names = batch.column_by_name("filename").unwrap().as_string::<i32>();
            let content = batch.column_by_name("content").unwrap();
            let embedded = batch.column_by_name("embedded_message_key").unwrap();
            for i in 0..batch.num_rows() {
                if embedded.is_valid(i) {
                    continue;
                }
                if content.is_null(i) { left_out.push(names.value(i).to_string()) } else { kept += 1 }
            }
        }
        assert_eq!(left_out, ["large-attachment.bin"], "only the attachment above the limit has no content");
        assert!(kept > 50, "the other attachments keep their bytes ({kept})");
    }
}

/// The "no silent damage" pipeline: every file of `damaged/`, all failures
/// tolerated (each file's outcome is checked one by one).
const DAMAGED: &str = r#"
version = 1
name = "pst-damage"

[source]
plugin = "pst"
inputs = ["damaged/*.pst"]

[source.limits]
memory = "512 MiB"
time = "1 min"

[sinks.messages]
input = "messages"
format = "parquet"
path = "out/messages.parquet"

[sinks.attachments]
input = "attachments"
format = "parquet"
path = "out/attachments.parquet"

[run]
max_failed_splits = "100%"
"#;

/// Damage aimed at one object at a time (a body or attachment block with
/// and without its checksum recomputed, a subnode tree, a message's
/// properties, one folder's contents table; `tests/pst/damage_targeted.py`)
/// in a Unicode and an ANSI mailbox: every message read from a damaged copy
/// equals the clean file's, except where the checksum was recomputed over
/// one message's changed bytes (the format cannot tell), and every message
/// missing is accounted for by a reject or by the split's count of messages
/// lost (`tests/pst/damage_compare.py`).
#[test]
fn damage_never_changes_a_message_silently() {
    let case = Case::new();
    std::fs::create_dir_all(case.path("clean")).unwrap();
    let mut cleans = Vec::new();
    for (format, name, seed) in [(Format::Unicode, "unicode", 5), (Format::Ansi, "ansi", 6)] {
        let out = case.path(&format!("clean/{name}.pst"));
        pst_synth::synthesize(&Options {
            out: out.clone(),
            amount: Amount::Messages(60),
            seed,
            format,
            encryption: Encryption::Compressible,
            max_attachment: 200 << 10,
            large_attachment: None,
        })
        .unwrap();
        let dir = case.path(&format!("damaged-{name}"));
        python(
            "damage_targeted.py",
            &["--count".into(), "4".into(), out.display().to_string(), dir.display().to_string()],
        );
        std::fs::create_dir_all(case.path("damaged")).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "MANIFEST" {
                std::fs::copy(e.path(), case.path("damaged").join(e.file_name())).unwrap();
            }
        }
        std::fs::copy(&out, case.path(&format!("damaged/{name}.pst"))).unwrap();
        cleans.push((name, dir.join("MANIFEST")));
    }
    case.write("pipeline.toml", DAMAGED);
    let (run, _) = case.run_pipeline("pipeline.toml", &["-q"]);
    run.expect_code(0);
    for (name, manifest) in cleans {
        let text = python(
            "damage_compare.py",
            &[
                case.path("out/messages.parquet").display().to_string(),
                case.path("out/attachments.parquet").display().to_string(),
                case.path("report.json").display().to_string(),
                manifest.display().to_string(),
                case.path(&format!("damaged/{name}.pst")).display().to_string(),
            ],
        );
        eprintln!("{name}: {}", text.lines().last().unwrap_or_default());
    }
}
