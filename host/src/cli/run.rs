//! `runtime run`: execute a pipeline, show progress, write the report,
//! print the summary.

use super::output::Out;
use crate::config::Override;
use crate::exec::{self, RunOptions};
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
