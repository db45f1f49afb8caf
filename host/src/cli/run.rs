//! `runtime run`: execute a pipeline, show progress, write the report,
//! print the summary.

use super::output::Out;
use crate::config::Override;
use crate::exec::{self, RunOptions, SplitSelection};
use crate::prepare::load;
use crate::progress::{self, Progress};
use crate::report::Exit;
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
    report.exit_code
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
