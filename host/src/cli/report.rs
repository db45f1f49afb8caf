//! `runtime report RUN.json`: an existing JSON run report read back, shown
//! as the run's summary or written as the HTML page (`--html FILE.html`),
//! and the `--report-html` file of `runtime run`.

use super::output::Out;
use crate::report::{Exit, RunReport, html};
use std::path::Path;

/// Why a report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a run report (written by `runtime run --report`): {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Writes the HTML page of `report` to `path`.
pub fn write_html(report: &RunReport, path: &Path) -> Result<(), ReportFileError> {
    std::fs::write(path, html::render(report))
        .map_err(|source| ReportFileError::Write { path: path.display().to_string(), source })
}

/// Reads a JSON run report.
pub fn read(path: &Path) -> Result<RunReport, ReportFileError> {
    let shown = || path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| ReportFileError::Read { path: shown(), source })?;
    serde_json::from_str(&text).map_err(|source| ReportFileError::Parse { path: shown(), source })
}

pub fn report(out: &Out, path: &Path, html_path: Option<&Path>) -> Exit {
    let report = match read(path) {
        Ok(r) => r,
        Err(e) => {
            out.error(&e.to_string());
            return Exit::Config;
        }
    };
    match html_path {
        Some(h) => match write_html(&report, h) {
            Ok(()) => {
                println!("{}: written from {}", h.display(), path.display());
                Exit::Ok
            }
            Err(e) => {
                out.error(&e.to_string());
                Exit::Failed
            }
        },
        None => {
            print!("{}", report.summary(Some(&path.display().to_string())));
            Exit::Ok
        }
    }
}
