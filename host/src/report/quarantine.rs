//! The quarantine folder (`run.quarantine`): after a run with failed
//! splits, it receives `failed-inputs.tsv` (input, split, reason) and a copy
//! of each input file that failed, so the bad files can be examined or
//! re-run on their own without searching the inputs for them.

use super::{SplitRecord, SplitStatus};
use crate::plan::PlannedFile;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// What went to the quarantine folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Quarantined {
    pub path: String,
    pub inputs: usize,
}

/// Why the quarantine folder could not be written: what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct QuarantineError {
    context: String,
    source: std::io::Error,
}

/// Writes the list and the copies. Files are copied under their path as
/// shown in the report (relative paths stay relative to the folder).
pub fn write(
    dir: &Path,
    records: &[SplitRecord],
    files: &[PlannedFile],
) -> Result<Quarantined, QuarantineError> {
    let failed: Vec<&SplitRecord> =
        records.iter().filter(|r| matches!(r.status, SplitStatus::Failed { .. })).collect();
    let fail = |context: String| move |source| QuarantineError { context, source };
    std::fs::create_dir_all(dir).map_err(fail(format!("cannot create {}", dir.display())))?;
    let list = dir.join("failed-inputs.tsv");
    let mut out = std::fs::File::create(&list).map_err(fail(format!("cannot write {}", list.display())))?;
    let io = |source| QuarantineError { context: format!("writing {}", list.display()), source };
    writeln!(out, "input\tsplit\treason").map_err(io)?;
    let mut copied = BTreeSet::new();
    for r in &failed {
        let SplitStatus::Failed { error, .. } = &r.status else { continue };
        // One line per failure, whatever the fields hold: tabs, newlines
        // and other controls are escaped (file names too).
        let field = |s: &str| crate::text::untrusted(s, crate::text::MAX_MESSAGE);
        let input = field(r.input.as_deref().unwrap_or("-"));
        writeln!(out, "{input}\t{}\t{}", field(&r.id), field(error)).map_err(io)?;
        let Some(file) = r.input_index.and_then(|i| files.get(i as usize)) else { continue };
        if file.error.is_some() || !copied.insert(file.shown.clone()) {
            continue;
        }
        let rel = Path::new(&file.shown);
        let rel = if rel.is_absolute() { Path::new(rel.file_name().unwrap_or_default()) } else { rel };
        let to = dir.join("files").join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(fail(format!("cannot create {}", parent.display())))?;
        }
        std::fs::copy(&file.path, &to).map_err(fail(format!("cannot copy {} to quarantine", file.shown)))?;
    }
    Ok(Quarantined { path: dir.display().to_string(), inputs: failed.len() })
}
