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

pub fn run(
    out: &Out,
    path: &Path,
    options: RunOptions,
    report_path: Option<&Path>,
    overrides: &[Override],
    quiet: bool,
) -> Exit {
    if let Some(r) = report_path {
        let parent = r.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            out.error_with_hint(
                &format!(
                    "--report {}: the folder {} does not exist; nothing was run",
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
    if !quiet || report.exit_code != Exit::Ok {
        eprint!("{}", report.summary(shown.as_deref()));
    }
    report.exit_code
}
