//! `runtime run`: execute a pipeline, show progress, write the report,
//! print the summary. With `--stage-only`, the run is one attempt of a
//! distributed run: it prints its manifest's path on stdout.

use super::output::Out;
use crate::config::Override;
use crate::exec::{self, RunOptions, SplitSelection};
use crate::prepare::load;
use crate::progress::{self, Progress};
use crate::report::Exit;
use crate::sink::manifest::valid_attempt_name;
use crate::sink::stage::StageTarget;
use std::io::IsTerminal;
use std::path::Path;

/// Where the run's report goes: `--report` (JSON), `--report-html`.
#[derive(Clone, Copy, Default)]
pub struct ReportFiles<'a> {
    pub json: Option<&'a Path>,
    pub html: Option<&'a Path>,
}

pub fn run(
    out: &Out,
    path: &Path,
    options: RunOptions,
    files: ReportFiles<'_>,
    overrides: &[Override],
    quiet: bool,
) -> Exit {
    let report_path = files.json;
    let named = [("--report", files.json), ("--report-html", files.html)];
    for (flag, r) in named.iter().filter_map(|(f, r)| r.map(|r| (f, r))) {
        let parent = r.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            out.error_with_hint(
                &format!(
                    "{flag} {}: the folder {} does not exist; nothing was run",
                    r.display(),
                    parent.display()
                ),
                &format!("create it first (`mkdir -p {}`) or write the report elsewhere", parent.display()),
            );
            return Exit::Config;
        }
    }
    let loaded = match load::load(path, overrides, options.workers) {
        Ok(x) => x,
        Err(e) => return out.load_error(&e),
    };
    let progress = Progress::new(progress::Settings {
        terminal: std::io::stderr().is_terminal(),
        quiet,
        color: out.color,
        json: out.json,
        interval: progress::Settings::interval_from_env(),
    });
    let report = exec::execute(loaded.prepared, loaded.runtime, &options, progress);
    let shown = report_path.map(|p| p.display().to_string());
    if let Some(p) = report_path {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        if let Err(e) = std::fs::write(p, json + "\n") {
            out.error(&format!("cannot write the report to {}: {e}", p.display()));
            eprint!("{}", report.summary(None));
            return Exit::Failed;
        }
    }
    if let Some(h) = files.html
        && let Err(e) = super::report::write_html(&report, h)
    {
        out.error(&e.to_string());
        eprint!("{}", report.summary(shown.as_deref()));
        return Exit::Failed;
    }
    if !quiet || report.exit_code != Exit::Ok {
        eprint!("{}", report.summary(shown.as_deref()));
    }
    if let Some(m) = &report.staged_manifest {
        // The one line on stdout of a staged attempt: what to commit (a
        // reader that went away is not an error of the run).
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{m}");
    }
    report.exit_code
}

/// `--stage-only DIR [--attempt NAME] [--run-id ID]` checked; a usage
/// error comes with its hint.
pub fn stage_target(
    dir: std::path::PathBuf,
    attempt: Option<String>,
    run_id: Option<String>,
    resume: bool,
) -> Result<StageTarget, (String, &'static str)> {
    if resume {
        return Err((
            "--resume cannot be used with --stage-only: a staged attempt commits nothing".into(),
            "stage the splits again; `runtime commit` skips attempts whose splits the table already holds",
        ));
    }
    let attempt = attempt.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if !valid_attempt_name(&attempt) {
        return Err((
            format!("--attempt `{attempt}` cannot name a folder"),
            "use letters, digits, `.`, `_` and `-` (not first `.`), e.g. task-3-attempt-1",
        ));
    }
    if let Some(id) = &run_id
        && (id.is_empty() || id.len() > 200 || id.chars().any(char::is_control))
    {
        return Err((
            "--run-id must be 1 to 200 printable characters".into(),
            "e.g. --run-id nightly-2026-12-02",
        ));
    }
    Ok(StageTarget { dir, attempt, run_id })
}

/// Reads a `--splits` file: the JSON of `runtime plan --json` (its split ids
/// and fingerprint) or a list of split ids, one per line (blank lines and
/// lines starting with `#` are skipped).
pub fn read_splits(path: &Path) -> Result<SplitSelection, String> {
    let source = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--splits {source}: cannot read it: {e}"))?;
    if text.trim_start().starts_with('{') {
        let plan: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("--splits {source}: not valid JSON: {e}"))?;
        let splits = plan["splits"].as_array().ok_or_else(|| {
            format!("--splits {source}: a JSON list needs a `splits` array, as `runtime plan --json` writes")
        })?;
        let ids = splits
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s["id"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("--splits {source}: splits[{i}] has no `id`"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let fingerprint = plan["fingerprint"].as_str().map(str::to_string);
        return Ok(SplitSelection { ids, fingerprint, source });
    }
    let ids: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Err(format!("--splits {source}: the list names no split"));
    }
    Ok(SplitSelection { ids, fingerprint: None, source })
}
