//! The command line as users see it.
//!
//! - `ui_snapshots`: every case under `tests/ui/` (a pipeline `NAME.toml` or
//!   a command `NAME.cmd`) runs the real binary in a temporary folder; its
//!   stdout, stderr and exit status must match `NAME.stdout`,
//!   `NAME.stderr` and the case's `# exit:` line exactly, after volatile
//!   parts (the temporary folder, timings, rates, memory) are normalised.
//!   `UI_BLESS=1` rewrites the expected files instead (see tests/ui/README.md).
//! - `progress_in_a_terminal`: `runtime run` in a real pseudo-terminal
//!   (openpty): the bar is drawn and redrawn, a failing split is reported
//!   as it happens, and the summary after the bar is right.
//! - `progress_lines_without_a_terminal`: plain periodic lines in CI logs.
//! - `plugin_path_listing`: `plugins list` and `inspect` find a plugin on
//!   RUNTIME_PLUGIN_PATH.

use crate::util::{Case, copy_tree, repo, runtime};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// One snapshot case.
struct UiCase {
    name: String,
    file: PathBuf,
    args: Vec<String>,
    exit: i32,
    env: Vec<(String, String)>,
}

fn ui_dir() -> PathBuf {
    repo().join("tests/ui")
}

/// Splits a command line like a shell: whitespace separates, quotes group
/// and are removed.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn load_cases() -> Vec<UiCase> {
    let mut cases = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(ui_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml" || e == "cmd"))
        .collect();
    entries.sort();
    for file in entries {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut args = "validate {file}".to_string();
        let mut exit = 0;
        let mut env = Vec::new();
        for line in text.lines().take_while(|l| l.starts_with('#')) {
            let line = line.trim_start_matches('#').trim();
            if let Some(a) = line.strip_prefix("args:") {
                args = a.trim().to_string();
            } else if let Some(x) = line.strip_prefix("exit:") {
                exit = x.trim().parse().unwrap_or_else(|_| panic!("{name}: bad exit line"));
            } else if let Some(e) = line.strip_prefix("env:") {
                let (k, v) = e.trim().split_once('=').unwrap_or_else(|| panic!("{name}: bad env line"));
                env.push((k.to_string(), v.to_string()));
            }
        }
        let file_name = format!("{name}.toml");
        let args = shell_words(&args).into_iter().map(|a| a.replace("{file}", &file_name)).collect();
        cases.push(UiCase { name, file, args, exit, env });
    }
    cases
}

/// Replaces what changes from run to run: the case folder, and numbers that
/// are timings, rates, memory or compiled sizes.
fn normalize(text: &str, case_dir: &Path) -> String {
    let mut t = text.replace(&case_dir.display().to_string(), "[CASE]");
    t = t.replace(&repo().display().to_string(), "[REPO]");
    let mut lines: Vec<String> = t.lines().map(normalize_line).collect();
    sort_slowest(&mut lines);
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The summary's `slowest` lines are ordered by measured time: splits that
/// take about as long swap places from run to run. Their times are already
/// `[..]`; put the lines in a fixed order so that only what they say counts.
fn sort_slowest(lines: &mut [String]) {
    const LABEL: &str = "  slowest  ";
    const MORE: &str = "           ";
    let Some(start) = lines.iter().position(|l| l.starts_with(LABEL)) else { return };
    let end = start
        + 1
        + lines[start + 1..].iter().take_while(|l| l.starts_with(MORE) && l.contains(" s  ")).count();
    let mut entries: Vec<String> = lines[start..end].iter().map(|l| l[LABEL.len()..].to_string()).collect();
    entries.sort();
    for (i, e) in entries.into_iter().enumerate() {
        lines[start + i] = format!("{}{e}", if i == 0 { LABEL } else { MORE });
    }
}

fn normalize_line(line: &str) -> String {
    // Lines that are nothing but measurements.
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    if trimmed.starts_with("memory ") {
        return format!("{indent}memory   [..]");
    }
    // The component's size and whether it came from the compiled cache, in
    // `plugins inspect --json`: they depend on the compiler and on earlier runs.
    for key in ["\"bytes\": ", "\"from_cache\": "] {
        if trimmed.starts_with(key) {
            let comma = if trimmed.ends_with(',') { "," } else { "" };
            return format!("{indent}{key}[..]{comma}");
        }
    }
    if let Some(rest) = line.strip_prefix("progress: ") {
        let splits = rest.split("  ").next().unwrap_or("");
        return format!("progress: {splits}  [..]");
    }
    // Numbers followed by a unit that measures time or speed.
    // Seconds are timings only with a fraction (`0.16 s`): `10 s` in a help
    // text or a config value stays.
    let units = [" s", " B/s", " KiB/s", " MiB/s", " GiB/s", " rows/s", " bytes, compiled"];
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_number =
            chars[i].is_ascii_digit() && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if starts_number {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == ',' || chars[j] == '.') {
                j += 1;
            }
            // A number with a size unit before "/s": `6.7 MiB/s`.
            let rest: String = chars[j..].iter().collect();
            let has_fraction = chars[i..j].contains(&'.');
            let unit = units.iter().filter(|u| **u != " s" || has_fraction).find(|u| {
                rest.starts_with(**u) && rest[u.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
            });
            if let Some(u) = unit {
                let size_rate = u.ends_with("/s") && *u != " rows/s";
                out.push_str(if size_rate { "[..]/s" } else { "[..]" });
                if !size_rate {
                    out.push_str(u);
                }
                i = j + u.len();
                continue;
            }
            out.extend(&chars[i..j]);
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out.replace("compiled, from cache", "compiled").replace("compiled now", "compiled")
}

fn run_case(case: &UiCase) -> (i32, String, String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&ui_dir().join("data"), &dir.path().join("data"));
    if case.file.extension().is_some_and(|e| e == "toml") {
        std::fs::copy(&case.file, dir.path().join(format!("{}.toml", case.name))).unwrap();
    }
    let mut cmd = runtime();
    cmd.args(&case.args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("RUNTIME_LOG")
        .env_remove("RUNTIME_PROGRESS_INTERVAL")
        .stdin(Stdio::null());
    for (k, v) in &case.env {
        cmd.env(k, v.replace("{case}", &dir.path().display().to_string()));
    }
    let out = cmd.output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let stdout = normalize(&String::from_utf8_lossy(&out.stdout), dir.path());
    let stderr = normalize(&String::from_utf8_lossy(&out.stderr), dir.path());
    let path = dir.path().to_path_buf();
    (code, stdout, stderr, path, dir)
}

/// The first differing line of two texts, for a readable failure.
fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1);
        }
    }
    format!("lengths differ: expected {} lines, got {}", expected.lines().count(), actual.lines().count())
}

#[test]
fn ui_snapshots() {
    let bless = std::env::var_os("UI_BLESS").is_some();
    let only = std::env::var("UI_CASE").ok();
    let cases = load_cases();
    assert!(cases.len() >= 40, "only {} cases under tests/ui", cases.len());
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str()))) {
        let (code, stdout, stderr, dir, _keep) = run_case(case);
        let expected: BTreeMap<&str, (PathBuf, &String)> = [
            ("stdout", (ui_dir().join(format!("{}.stdout", case.name)), &stdout)),
            ("stderr", (ui_dir().join(format!("{}.stderr", case.name)), &stderr)),
        ]
        .into_iter()
        .collect();
        if code != case.exit {
            failures.push(format!(
                "{}: exit status {code}, expected {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
                case.name, case.exit
            ));
            continue;
        }
        for (stream, (file, actual)) in expected {
            if bless {
                if actual.is_empty() {
                    let _ = std::fs::remove_file(&file);
                } else {
                    std::fs::write(&file, actual).unwrap();
                }
                continue;
            }
            let want = std::fs::read_to_string(&file).unwrap_or_default();
            if &want != actual {
                failures.push(format!(
                    "{}: {stream} differs ({})\n{}\n--- actual {stream}\n{actual}",
                    case.name,
                    dir.display(),
                    first_difference(&want, actual)
                ));
            }
        }
        // The run cases leave what a run leaves.
        if case.name == "run-ok" {
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
            assert_eq!(report["status"], "ok");
            assert!(dir.join("out/teams.parquet").is_file() && dir.join("out/people.parquet").is_file());
        }
        if case.name.starts_with("run-") && case.exit == 2 {
            assert!(!dir.join("out").exists(), "{}: a refused run wrote output", case.name);
        }
    }
    assert!(failures.is_empty(), "{} snapshot(s) differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn normalisation_keeps_what_matters() {
    let dir = Path::new("/tmp/abc");
    let text = "people: ok in 0.16 s with 1 worker\n  in       6 rows, 449 B (6.7 MiB/s, 15,506 rows/s)\n  \
                memory   55.4 MiB peak\nprogress: 1/1 splits  449 B of 449 B  eta 0s\n  component  pst (1,400,753 bytes, compiled, from cache)\n/tmp/abc/x.toml:3:1\n";
    assert_eq!(
        normalize(text, dir),
        "people: ok in [..] s with 1 worker\n  in       6 rows, 449 B ([..]/s, [..] rows/s)\n  \
         memory   [..]\nprogress: 1/1 splits  [..]\n  component  pst ([..] bytes, compiled)\n[CASE]/x.toml:3:1\n"
    );
    // The slowest splits in any order of their (near-equal) times.
    let a = "  slowest  0.02 s  data/e.ndjson@4132..8258 (0 rows)\n           0.01 s  data/e.ndjson@0..4132 (0 rows)\n";
    let b = "  slowest  0.02 s  data/e.ndjson@0..4132 (0 rows)\n           0.01 s  data/e.ndjson@4132..8258 (0 rows)\n";
    assert_eq!(normalize(a, dir), normalize(b, dir));
    assert!(
        normalize(a, dir).starts_with("  slowest  [..] s  data/e.ndjson@0..4132"),
        "{}",
        normalize(a, dir)
    );
    assert_eq!(
        shell_words("validate {file} --set a=\"1 KiB\" 'b=\"x\"'"),
        vec!["validate", "{file}", "--set", "a=1 KiB", "b=\"x\""]
    );
}

/// Writes `lines` NDJSON lines of ~100 bytes each.
fn events(case: &Case, rel: &str, lines: usize) {
    let mut s = String::with_capacity(lines * 100);
    for i in 0..lines {
        s.push_str(&format!(
            "{{\"id\":{i},\"kind\":\"{}\",\"text\":\"event number {i} with a little padding text\"}}\n",
            ["click", "view", "buy"][i % 3]
        ));
    }
    case.write(rel, s);
}

const PROGRESS_PIPELINE: &str = r#"version = 1
name = "events"
[source]
plugin = "ndjson"
inputs = "data/*.ndjson"
max_split_bytes = "64 KiB"
options.fields = [{ name = "id", type = "int64", nullable = false }, { name = "kind", type = "string" }, { name = "text", type = "string" }]

[[transforms]]
name = "kinds"
plugin = "aggregate"
options.group_by = ["kind"]
options.aggregates = [{ name = "n", function = "count" }]

[sinks.kinds]
format = "parquet"
path = "out/kinds.parquet"

[run]
max_failed_splits = 1
"#;

/// A pseudo-terminal: the child gets the slave as stdin/stdout/stderr,
/// the test reads the master.
struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

fn openpty(cols: u16, rows: u16) -> Pty {
    let mut master = -1;
    let mut slave = -1;
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two file descriptors; name and termios may be null.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here.
    unsafe { Pty { master: std::fs::File::from_raw_fd(master), slave: OwnedFd::from_raw_fd(slave) } }
}

/// Text with ANSI escape sequences removed and `\r` kept.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&n) = chars.peek() {
                    chars.next();
                    if n.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[test]
fn progress_in_a_terminal() {
    let case = Case::new();
    // 24 files of ~500 KiB, in splits of 64 KiB: long enough for several frames.
    for f in 0..24 {
        events(&case, &format!("data/e{f:02}.ndjson"), 6_000);
    }
    // One input that cannot be read: its split fails, within the policy.
    std::os::unix::fs::symlink(case.path("data/gone"), case.path("data/broken.ndjson")).unwrap();
    case.write("pipeline.toml", PROGRESS_PIPELINE);

    let plan =
        runtime().args(["plan", "pipeline.toml", "--json"]).current_dir(case.dir.path()).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let total = plan["splits_total"].as_u64().unwrap();
    assert!(total > 100, "{total} splits");

    let pty = openpty(120, 40);
    let mut cmd = runtime();
    cmd.args(["run", "pipeline.toml", "--workers", "2", "--report", "report.json"])
        .current_dir(case.dir.path())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    let mut child = cmd.spawn().unwrap();
    drop(pty.slave);
    drop(cmd);
    // Read until the child closes the terminal (EIO on Linux).
    let mut master = pty.master;
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(300) {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        all
    });
    let status = child.wait().unwrap();
    let raw = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let text = strip_ansi(&raw);
    assert_eq!(status.code(), Some(0), "{text}");

    // The bar was drawn several times with growing counts.
    let splits_total = total.to_string();
    let mut positions: Vec<u64> = Vec::new();
    for frame in text.split(['\r', '\n']) {
        if let Some(i) = frame.find(" splits") {
            let head = &frame[..i];
            if let Some((done, total)) = head.rsplit(' ').next().and_then(|w| w.split_once('/'))
                && total == splits_total
            {
                positions.push(done.parse().unwrap());
            }
        }
    }
    assert!(positions.len() >= 3, "too few progress frames: {positions:?}\n{text}");
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "progress went back: {positions:?}");
    assert!(positions.iter().any(|p| *p > 0 && *p < total), "no intermediate frame: {positions:?}");
    assert!(text.contains("rows/s") && text.contains("eta "), "{text}");
    // Colors on a terminal without NO_COLOR.
    assert!(raw.contains("\x1b["), "no escape sequences on a terminal");
    // The failing split was reported as it happened, before the summary.
    let failed_at = text.find("split failed: data/broken.ndjson").expect("failure line");
    let summary_at = text.find("events: ok in").expect("summary");
    assert!(failed_at < summary_at);

    // The summary is right.
    let summary = &text[summary_at..];
    let counts = format!("{total} total: {} ok, 0 partial, 1 failed", total - 1);
    assert!(summary.contains(&counts), "{summary}");
    assert!(summary.contains("kinds: 3 rows"), "{summary}");
    assert!(summary.contains("144,000 rows"), "{summary}");
    assert!(summary.contains("-> out/kinds.parquet"), "{summary}");
    assert!(summary.contains("report.json"), "{summary}");
    assert!(summary.contains("FAILED"), "{summary}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.path("report.json")).unwrap()).unwrap();
    assert_eq!(report["splits_ok"], total - 1);
    assert_eq!(report["rows_read"], 144_000);
}

// The interval is far shorter than the run (about 0.03 s with warm plugins):
// a run shorter than one interval prints no progress lines, by design.
#[test]
fn progress_lines_without_a_terminal() {
    let case = Case::new();
    for f in 0..6 {
        events(&case, &format!("data/e{f}.ndjson"), 6_000);
    }
    case.write("pipeline.toml", PROGRESS_PIPELINE);
    let out = runtime()
        .args(["run", "pipeline.toml", "--workers", "1"])
        .current_dir(case.dir.path())
        .env("RUNTIME_PROGRESS_INTERVAL", "0.002")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains('\r') && !stderr.contains('\x1b'), "terminal codes in a log: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("progress: ")).collect();
    assert!(lines.len() >= 2, "{stderr}");
    let last = lines.last().unwrap();
    let counts = last["progress: ".len()..].split(' ').next().unwrap();
    let (done, total) = counts.split_once('/').unwrap();
    assert_eq!(done, total, "the last line is not the end: {last}");
    assert!(last.contains(" rows/s ") && last.contains("/s  eta "), "{last}");

    // JSON logs: progress lines are JSON objects.
    let out = runtime()
        .args(["--log-format", "json", "run", "pipeline.toml", "--workers", "1"])
        .current_dir(case.dir.path())
        .env("RUNTIME_PROGRESS_INTERVAL", "0.002")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rfind(|l| l.starts_with("{\"progress\"")).expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["progress"]["splits_done"], v["progress"]["splits_total"]);
    assert_eq!(v["progress"]["rows"], 36_000);

    // --quiet: nothing at all.
    let out = runtime().args(["run", "pipeline.toml", "-q"]).current_dir(case.dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn plugin_path_listing() {
    let built = crate::util::fixture_plugins("upper");
    let case = Case::new();
    std::fs::create_dir_all(case.path("plugins")).unwrap();
    std::fs::copy(built.join("upper.wasm"), case.path("plugins/upper.wasm")).unwrap();
    let list = runtime()
        .args(["plugins", "list"])
        .env("RUNTIME_PLUGIN_PATH", case.path("plugins"))
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&list.stdout);
    assert_eq!(list.status.code(), Some(0), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with("upper ")).expect("upper listed");
    assert!(row.contains("transform") && row.contains(" path "), "{row}");
    assert!(stdout.contains(" bundled, 1 on RUNTIME_PLUGIN_PATH="), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 100), "a line wider than 100 columns:\n{stdout}");

    // By name through the path, as a pipeline would name it.
    let inspect = runtime()
        .args(["plugins", "inspect", "upper"])
        .env("RUNTIME_PLUGIN_PATH", case.path("plugins"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&inspect.stdout);
    assert_eq!(inspect.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("upper 0.1.0 (transform, runtime:plugin@0.2.0)"), "{stdout}");
    assert!(stdout.contains("column  string  (required)"), "{stdout}");
    assert!(stdout.contains("depends on the input stream"), "{stdout}");
}
