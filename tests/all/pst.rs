//! The `pst` reader end to end, through the real `runtime` binary: the
//! pst-mailboxes example compared with libpff, and a corpus of damaged
//! mailboxes under the error policy and the per-split limits.
//!
//! The reference is libpff itself, run live (`tests/pst/pypff_dump.py
//! --full`, Python binding `libpff-python`, installed by `scripts/setup`) on
//! the same files, so the comparison cannot go stale. Deliberate differences
//! with libpff, each asserted in its own form below:
//!
//! - Embedded messages: libpff's Python binding has no item for a message
//!   attached to a message; what it reads for such an attachment is the
//!   embedded message's own property context. The plugin makes the embedded
//!   message a `messages` row (`parent/attachment` key, `parent_message_key`
//!   set), so the test checks every string the plugin read for that row is
//!   in the bytes libpff read for the attachment.
//! - For the same reason an embedded message's attachment row has a null
//!   `sha256` and `content` (it is a message, not bytes), and its
//!   `size_bytes` is the size the file declares (`PidTagAttachSize`, the
//!   whole message), not the length of libpff's property-context bytes.
//! - `filename` falls back to the short name and then the display name
//!   (`Untitled`, the embedded subject) where libpff's `long_filename` is
//!   null; it is compared only where libpff has one.

use crate::util::{Case, read_parquet, repo};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One output row, its columns as JSON values (timestamps as ISO 8601 UTC
/// strings with microseconds, binary as its SHA-256 and length).
type Row = BTreeMap<String, Value>;

fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        for i in 0..batch.num_rows() {
            let mut row = Row::new();
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                row.insert(field.name().clone(), cell(column.as_ref(), i));
            }
            out.push(row);
        }
    }
    out
}

fn cell(column: &dyn Array, i: usize) -> Value {
    use arrow_schema::DataType;
    if column.is_null(i) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Utf8 => Value::from(column.as_string::<i32>().value(i)),
        DataType::Int32 => Value::from(column.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => Value::from(column.as_primitive::<Int64Type>().value(i)),
        DataType::Timestamp(_, _) => {
            Value::from(iso_micros(column.as_primitive::<TimestampMicrosecondType>().value(i)))
        }
        DataType::Binary => {
            let bytes = column.as_binary::<i32>().value(i);
            serde_json::json!({ "len": bytes.len(), "sha256": sha256_hex(bytes) })
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>().value(i);
            let people = list.as_struct();
            Value::Array(
                (0..people.len())
                    .map(|j| {
                        let mut person = serde_json::Map::new();
                        for (f, c) in people.fields().iter().zip(people.columns()) {
                            person.insert(f.name().clone(), cell(c.as_ref(), j));
                        }
                        Value::Object(person)
                    })
                    .collect(),
            )
        }
        other => panic!("unexpected column type {other}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Microseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the
/// form `pypff_dump.py` prints libpff's times in.
fn iso_micros(us: i64) -> String {
    let (days, rem) = (us.div_euclid(86_400_000_000), us.rem_euclid(86_400_000_000));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = rem / 1_000_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rem % 1_000_000
    )
}

/// libpff's view of `files` (`pypff_dump.py --full`): message and
/// attachment records, in libpff's walk order.
fn libpff(files: &[PathBuf]) -> Vec<Value> {
    let script = repo().join("tests/pst/pypff_dump.py");
    let out = Command::new("python3").arg(&script).arg("--full").args(files).output().expect("python3");
    assert!(
        out.status.success(),
        "{} failed (libpff is the reference: `pip install libpff-python`, or run scripts/setup):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn str_of<'a>(row: &'a Row, key: &str) -> Option<&'a str> {
    row.get(key).unwrap_or_else(|| panic!("no column {key}")).as_str()
}

fn file_name(source_path: &str) -> &str {
    Path::new(source_path).file_name().unwrap().to_str().unwrap()
}

/// Whether `text` is in `bytes` as UTF-16LE (Unicode PSTs) or as its own
/// bytes (8-bit strings of ANSI PSTs, ASCII here).
fn holds_string(bytes: &[u8], text: &str) -> bool {
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let find = |needle: &[u8]| needle.is_empty() || bytes.windows(needle.len()).any(|w| w == needle);
    find(&utf16) || find(text.as_bytes())
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn mailboxes_example_agrees_with_libpff() {
    let case = Case::new();
    case.copy("examples/pst-mailboxes/pipeline.toml", "pipeline.toml");
    case.copy("examples/pst-mailboxes/mailboxes", "mailboxes");
    let (run, report) = case.run_pipeline("pipeline.toml", &["-q"]);
    run.expect_code(0);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["splits_total"], 7);
    assert_eq!(report["splits_ok"], 7, "{report}");

    // Both outputs are in the report, committed, with the rows they hold.
    let outputs = report["outputs"].as_array().unwrap();
    let names: Vec<&str> = outputs.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["messages", "attachments"]);
    let mut tables = BTreeMap::new();
    for o in outputs {
        assert_eq!(o["committed"], true, "{o}");
        let path = case.path(o["path"].as_str().unwrap());
        let table = rows(&read_parquet(&path));
        assert_eq!(o["rows"], table.len(), "{o}");
        assert!(o["bytes"].as_u64().unwrap() > 0);
        tables.insert(o["name"].as_str().unwrap().to_string(), table);
    }
    let (messages, attachments) = (&tables["messages"], &tables["attachments"]);

    let mut files: Vec<PathBuf> = std::fs::read_dir(case.path("mailboxes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pst"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "the seven real PSTs");
    let reference = libpff(&files);

    // Top-level messages: per file the same messages, in libpff's order,
    // with the same fields.
    const FIELDS: [&str; 10] = [
        "folder_path",
        "message_class",
        "subject",
        "sender_name",
        "body_text",
        "attachment_count",
        "conversation_topic",
        "transport_headers",
        "sent_at",
        "received_at",
    ];
    let mut top_level = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let theirs: Vec<&Value> =
            reference.iter().filter(|r| r["record"] == "message" && r["file"] == name).collect();
        let mine: Vec<&Row> = messages
            .iter()
            .filter(|m| {
                file_name(str_of(m, "source_path").unwrap()) == name && m["parent_message_key"].is_null()
            })
            .collect();
        assert_eq!(mine.len(), theirs.len(), "{name}: number of top-level messages");
        for (m, r) in mine.iter().zip(&theirs) {
            assert_eq!(m["message_key"], r["message_key"], "{name}: message order");
            assert_eq!(str_of(m, "source_path"), Some(format!("mailboxes/{name}").as_str()));
            for field in FIELDS {
                assert_eq!(m[field], r[field], "{name}: message {}: {field}", r["message_key"]);
            }
        }
        top_level += mine.len();
    }
    assert_eq!(top_level, 13, "13 top-level messages in all, as libpff counts them");

    // Attachments of top-level messages: the same ones; bytes, sizes and
    // hashes agree with what libpff reads.
    let key = |file: &str, message: &str, attachment: &str| {
        (file.to_string(), message.to_string(), attachment.to_string())
    };
    let theirs: BTreeMap<_, &Value> = reference
        .iter()
        .filter(|r| r["record"] == "attachment")
        .map(|r| {
            let k = key(
                r["file"].as_str().unwrap(),
                r["message_key"].as_str().unwrap(),
                r["attachment_key"].as_str().unwrap(),
            );
            (k, r)
        })
        .collect();
    let mine: BTreeMap<_, &Row> = attachments
        .iter()
        .map(|a| {
            let k = key(
                file_name(str_of(a, "source_path").unwrap()),
                str_of(a, "message_key").unwrap(),
                str_of(a, "attachment_key").unwrap(),
            );
            (k, a)
        })
        .collect();
    assert_eq!(mine.len(), attachments.len(), "attachment keys are unique");
    assert_eq!(mine.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>(), "the same attachments");
    let mut by_value = 0;
    let mut embedded = Vec::new();
    for (k, a) in &mine {
        let r = theirs[k];
        assert_eq!(a["attach_method"], r["attach_method"], "{k:?}");
        if r["long_filename"].is_string() {
            assert_eq!(a["filename"], r["long_filename"], "{k:?}");
        }
        if r["attach_method"] == 5 {
            // Deliberate difference (module docs): a message, not bytes.
            assert!(a["sha256"].is_null() && a["content"].is_null(), "{k:?}: {a:?}");
            assert!(a["size_bytes"].as_i64().unwrap() > 0, "{k:?}");
            embedded.push((k.clone(), *a, r));
        } else {
            assert_eq!(a["sha256"], r["sha256"], "{k:?}: sha256 of the bytes");
            assert_eq!(a["size_bytes"], r["size"], "{k:?}");
            assert_eq!(a["content"]["sha256"], r["sha256"], "{k:?}: content");
            assert_eq!(a["content"]["len"], r["size"], "{k:?}: content");
            by_value += 1;
        }
    }
    assert_eq!(by_value, 2, "the two JPEG attachments (sample1, sample2)");

    // Embedded messages: one row per embedded-message attachment, keyed
    // under its parent, with every string it holds found in the bytes
    // libpff reads for that attachment.
    let embedded_rows: Vec<&Row> = messages.iter().filter(|m| !m["parent_message_key"].is_null()).collect();
    assert_eq!(embedded_rows.len(), embedded.len(), "one row per embedded message");
    assert_eq!(embedded.len(), 3, "submessage.pst has one, dist-list.pst's appointment two");
    for ((file, parent, attachment), a, r) in embedded {
        let row_key = format!("{parent}/{attachment}");
        assert_eq!(a["embedded_message_key"], row_key.as_str());
        let m = embedded_rows
            .iter()
            .find(|m| {
                file_name(str_of(m, "source_path").unwrap()) == file && m["message_key"] == row_key.as_str()
            })
            .unwrap_or_else(|| panic!("{file}: no messages row {row_key}"));
        assert_eq!(m["parent_message_key"], parent.as_str());
        let parent_row = messages
            .iter()
            .find(|p| {
                file_name(str_of(p, "source_path").unwrap()) == file && p["message_key"] == parent.as_str()
            })
            .unwrap();
        assert_eq!(m["folder_path"], parent_row["folder_path"]);
        let object = unhex(r["object_hex"].as_str().unwrap());
        let mut strings = 0;
        for field in ["message_class", "subject", "sender_name", "body_text", "conversation_topic"] {
            if let Some(text) = str_of(m, field) {
                assert!(
                    holds_string(&object, text),
                    "{file} {row_key}: {field} {text:?} not in libpff's bytes"
                );
                strings += 1;
            }
        }
        assert!(strings > 0, "{file} {row_key}: the embedded message has no strings");
    }
    let submessage = messages.iter().find(|m| m["message_key"] == "2097188/32805").unwrap();
    assert_eq!(submessage["subject"], "This is an embedded message");
}

/// The damaged-corpus pipeline: every file of `damaged/`, a small time
/// limit, a tolerant error policy and a quarantine folder (also used by
/// `pst_synth`).
pub(crate) const DAMAGED: &str = r#"version = 1
name = "pst-damaged"

[source]
plugin = "pst"
inputs = ["damaged/*.pst"]

[source.limits]
memory = "256 MiB"
time = "5 s"

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
quarantine = "quarantine"
"#;

/// Generates the damaged corpus (`tests/pst/make_damaged.py`, its default
/// seed unless `PST_DAMAGED_SEED` is set) into `damaged/` of the case and
/// returns the files' names.
fn damaged_corpus(case: &Case) -> Vec<String> {
    let mut command = Command::new("python3");
    command.arg(repo().join("tests/pst/make_damaged.py"));
    if let Ok(seed) = std::env::var("PST_DAMAGED_SEED") {
        command.args(["--seed", &seed]);
    }
    let out = command.arg(repo().join("tests/fixtures/pst")).arg(case.path("damaged")).output().unwrap();
    assert!(out.status.success(), "make_damaged.py: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(case.path("damaged"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pst"))
        .collect();
    names.sort();
    names
}

#[test]
fn damaged_mailboxes_fail_alone_within_their_limits() {
    let case = Case::new();
    let names = damaged_corpus(&case);
    assert!(names.len() > 200, "{} damaged files", names.len());
    case.write("pipeline.toml", DAMAGED);

    // Tolerant policy: the run completes and succeeds.
    let (run, report) = case.run_pipeline("pipeline.toml", &["-q"]);
    run.expect_code(0);
    assert_eq!(report["status"], "ok", "{}", report["error"]);
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    let total = names.len() as u64;
    assert_eq!(report["splits_total"], total);
    assert_eq!(report["splits_skipped"], 0);
    let (ok, partial, failed) = (
        report["splits_ok"].as_u64().unwrap(),
        report["splits_partial"].as_u64().unwrap(),
        report["splits_failed"].as_u64().unwrap(),
    );
    assert_eq!(ok + partial + failed, total);

    // Every split stayed within its time limit: none was stopped by it, and
    // the slowest took less.
    let slowest = report["slowest_splits"][0]["seconds"].as_f64().unwrap();
    assert!(slowest < 5.0, "slowest split {slowest} s");
    let peak = report["peak_rss_bytes"].as_u64().unwrap();
    assert!(peak < 512 << 20, "peak RSS {peak} bytes");

    // Failed: a reason each, no rows written.
    let mut failed_files = BTreeSet::new();
    for f in report["failures"].as_array().unwrap() {
        let error = f["error"].as_str().unwrap();
        assert!(!error.is_empty() && f["kind"].is_string(), "{f}");
        assert!(!error.contains("time limit") && !error.contains("memory limit"), "{f}");
        assert!(!error.contains("panicked") && !error.contains("trap"), "a plugin crash: {f}");
        failed_files.insert(file_name(f["input"].as_str().unwrap()).to_string());
    }
    assert_eq!(failed_files.len() as u64, failed, "one failure per failed split");
    // Partial: a reason each.
    let mut partial_files = BTreeSet::new();
    for p in report["partials"].as_array().unwrap() {
        assert!(!p["reason"].as_str().unwrap().is_empty(), "{p}");
        partial_files.insert(file_name(p["split"].as_str().unwrap()).to_string());
    }
    assert_eq!(partial_files.len() as u64, partial);
    assert!(failed_files.is_disjoint(&partial_files));

    // Every other file yields messages; a failed one none; message keys
    // are unique per file (each message is read once).
    let messages = rows(&read_parquet(&case.path("out/messages.parquet")));
    let attachments = rows(&read_parquet(&case.path("out/attachments.parquet")));
    let mut per_file: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &messages {
        let file = file_name(str_of(m, "source_path").unwrap()).to_string();
        let key = str_of(m, "message_key").unwrap().to_string();
        assert!(per_file.entry(file.clone()).or_default().insert(key.clone()), "{file}: {key} twice");
    }
    for a in &attachments {
        let file = file_name(str_of(a, "source_path").unwrap());
        assert!(!failed_files.contains(file), "{file} failed but has attachment rows");
    }
    for name in &names {
        let yielded = per_file.get(name).map_or(0, |k| k.len());
        if failed_files.contains(name) {
            assert_eq!(yielded, 0, "{name} failed but has message rows");
        } else {
            assert!(yielded > 0, "{name}: neither failed nor any message");
        }
    }
    assert_eq!(report["outputs"][0]["rows"], messages.len());
    for p in ["empty.pst", "sample1.magic-then-random.pst", "test_ansi.absurd-nbt-root.pst"] {
        assert!(failed_files.contains(p), "{p} cannot be read at all, yet did not fail");
    }

    // Failed files are in the quarantine folder, listed with their reason.
    assert_eq!(report["quarantine"]["inputs"], failed);
    let list = std::fs::read_to_string(case.path("quarantine/failed-inputs.tsv")).unwrap();
    let listed: BTreeSet<String> =
        list.lines().skip(1).map(|l| file_name(l.split('\t').next().unwrap()).to_string()).collect();
    assert_eq!(listed, failed_files);
    for name in &failed_files {
        // Copied under the input's path as the report shows it.
        let copy = std::fs::read(case.path(&format!("quarantine/files/damaged/{name}")))
            .unwrap_or_else(|e| panic!("quarantine/files/damaged/{name}: {e}"));
        assert_eq!(copy, std::fs::read(case.path(&format!("damaged/{name}"))).unwrap(), "{name}");
    }
    eprintln!(
        "{total} damaged files: {ok} ok, {partial} partial, {failed} failed; slowest split {slowest:.3} s, peak RSS {} MiB",
        peak >> 20
    );

    // Strict policy: the first failure fails the run; nothing is written.
    let (run, report) = case.run_pipeline("pipeline.toml", &["-q", "--set", "run.max_failed_splits=0"]);
    run.expect_code(1);
    assert_eq!(report["status"], "failed");
    assert!(
        report["error"].as_str().unwrap().contains("more than run.max_failed_splits (0)"),
        "{}",
        report["error"]
    );
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    for o in report["outputs"].as_array().unwrap() {
        assert_eq!(o["committed"], false, "{o}");
    }
    assert!(!case.path("out/messages.parquet").exists() || messages_unchanged(&case, messages.len()));
}

/// After a failed run, a previous output is left as it was.
fn messages_unchanged(case: &Case, rows: usize) -> bool {
    crate::util::row_count(&read_parquet(&case.path("out/messages.parquet"))) == rows
}

/// A mailbox larger than `max_split_bytes` is planned into several splits
/// (ranges of message node ids, `runtime plan` lists them) that together
/// give exactly the rows of one split per file: none lost, none twice.
#[test]
fn splits_inside_a_mailbox_give_the_whole_file_rows() {
    let case = Case::new();
    case.copy("examples/pst-mailboxes/pipeline.toml", "pipeline.toml");
    case.copy("examples/pst-mailboxes/mailboxes", "mailboxes");
    let small = ["--set", "source.max_split_bytes=\"16 KiB\""];
    let plan = case.run(&["plan", "pipeline.toml", "--json", small[0], small[1]]);
    plan.expect_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout()).unwrap();
    let ids: Vec<&str> =
        plan["splits"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    let cut: BTreeSet<&str> =
        ids.iter().filter_map(|id| id.split_once("@messages=").map(|(file, _)| file)).collect();
    assert!(cut.len() >= 2, "several mailboxes are cut into splits: {ids:?}");
    assert!(ids.len() >= 7 + cut.len(), "one more split per file cut, at least: {ids:?}");
    let whole = case.run(&["plan", "pipeline.toml", "--json"]);
    let whole: Value = serde_json::from_str(&whole.stdout()).unwrap();
    assert_eq!(whole["splits"].as_array().unwrap().len(), 7, "one split per file by default");

    let sorted = |dir: &str, sink: &str| {
        let mut r = rows(&read_parquet(&case.path(&format!("{dir}/{sink}.parquet"))));
        r.sort_by_key(|row| serde_json::to_string(row).unwrap());
        r
    };
    let set_paths = |dir: &str| {
        ["messages", "attachments"]
            .iter()
            .flat_map(|s| ["--set".to_string(), format!("sinks.{s}.path=\"{dir}/{s}.parquet\"")])
            .collect::<Vec<_>>()
    };
    let mut args: Vec<String> =
        vec!["run".into(), "pipeline.toml".into(), "--quiet".into(), "-w".into(), "2".into()];
    args.extend(set_paths("one"));
    case.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect_code(0);
    args.truncate(5);
    args.extend(set_paths("many"));
    args.extend(small.iter().map(|s| s.to_string()));
    case.run(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect_code(0);
    for sink in ["messages", "attachments"] {
        let (one, many) = (sorted("one", sink), sorted("many", sink));
        assert!(!one.is_empty(), "{sink}");
        assert_eq!(one.len(), many.len(), "{sink}: the same number of rows");
        assert!(one == many, "{sink}: split reads hold exactly the whole-file rows");
    }
}
