//! List files: `[source] inputs_from = "files.txt"`, one path or glob per
//! line, for inputs too many to write in `pipeline.toml` (hundreds of
//! thousands of shards).
//!
//! Lines are read one at a time; `#` starts a comment line, blank lines are
//! skipped, surrounding whitespace is trimmed, and paths are relative to the
//! list file's folder. A line without glob characters is a literal path and
//! costs one `stat` (its size), nothing is opened: planning 400,000 inputs
//! stays a matter of seconds. A line that names nothing (or a folder, or is
//! not a valid glob) is a problem reported with the list file and its line
//! number; the first [`MAX_PROBLEMS`] are listed, the rest counted.

use super::{Files, InputError};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Problems of one list file listed one by one; more are only counted.
pub const MAX_PROBLEMS: usize = 20;

/// A line of a list file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list}:{line}: {reason}")]
pub struct LineProblem {
    /// The list file, as the pipeline names it.
    pub list: String,
    /// 1-based.
    pub line: usize,
    /// The line as written (without its newline).
    pub text: String,
    pub reason: String,
}

/// Why a list file gave no inputs.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read list file {list}: {reason}")]
    Unreadable { list: String, reason: String },
    #[error("list file {list} names no input (only comments and blank lines)")]
    Empty { list: String },
    /// Lines that name nothing usable (the first [`MAX_PROBLEMS`]), and how
    /// many more there were.
    #[error("{} line(s) of {} name no usable input", .problems.len() + .more, .problems.first().map_or("", |p| p.list.as_str()))]
    Lines { problems: Vec<LineProblem>, more: usize },
}

/// Adds the inputs listed in `list` (shown to users as `shown`) to `files`.
pub fn add_list(files: &mut Files, list: &Path, shown: &str) -> Result<(), ListError> {
    let unreadable =
        |e: std::io::Error| ListError::Unreadable { list: shown.to_string(), reason: e.to_string() };
    let file = std::fs::File::open(list).map_err(unreadable)?;
    let base = list.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut problems = Vec::new();
    let mut more = 0;
    let mut entries = 0;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut raw = Vec::new();
    let mut line = 0;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw).map_err(unreadable)? == 0 {
            break;
        }
        line += 1;
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim_end_matches(['\n', '\r']);
        let entry = text.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        entries += 1;
        let problem = if line == 1 && entry.starts_with('\u{feff}') {
            add_entry(files, &base, entry.trim_start_matches('\u{feff}'))
        } else {
            add_entry(files, &base, entry)
        };
        if let Err(reason) = problem {
            if problems.len() < MAX_PROBLEMS {
                problems.push(LineProblem { list: shown.to_string(), line, text: text.to_string(), reason });
            } else {
                more += 1;
            }
        }
    }
    if !problems.is_empty() {
        return Err(ListError::Lines { problems, more });
    }
    if entries == 0 {
        return Err(ListError::Empty { list: shown.to_string() });
    }
    Ok(())
}

/// One entry: a glob, or a literal path (one `stat`).
fn add_entry(files: &mut Files, base: &Path, entry: &str) -> Result<(), String> {
    let relative = !Path::new(entry).is_absolute();
    if entry.contains(['*', '?', '[']) {
        return files.add_glob(base, entry).map_err(|e| match e {
            InputError::InvalidGlob { reason, .. } => format!("`{entry}` is not a valid glob: {reason}"),
            InputError::NoMatch { .. } => format!("`{entry}` matches no file"),
        });
    }
    let path = base.join(entry);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => {
            Err(format!("`{entry}` is a folder; list files, or use a glob such as `{entry}/*`"))
        }
        Ok(m) => {
            files.push(path, m.len(), None, relative);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("`{entry}` does not exist")),
        // It exists but cannot be looked at: its split fails with the reason.
        Err(e) => {
            files.push(path, 0, Some(e.to_string()), relative);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(dir: &Path, name: &str, data: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn lines_comments_globs_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "data/a.parquet", "aa");
        write(root, "data/b.parquet", "b");
        write(root, "data/sub/c.parquet", "ccc");
        let list = write(
            root,
            "lists/files.txt",
            "# shards\n\n../data/a.parquet\r\n  ../data/./sub/c.parquet  \n../data/*.parquet\n",
        );
        let mut files = Files::new(root);
        add_list(&mut files, &list, "lists/files.txt").unwrap();
        let files = files.finish();
        let shown: Vec<(&str, u64)> = files.iter().map(|f| (f.shown.as_str(), f.size)).collect();
        assert_eq!(shown, [("data/a.parquet", 2), ("data/b.parquet", 1), ("data/sub/c.parquet", 3)]);
    }

    #[test]
    fn bad_lines_are_named_by_list_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "data/a.parquet", "a");
        let list =
            write(root, "files.txt", "data/a.parquet\ndata/missing.parquet\n# ok\ndata\nx/[*.parquet\n");
        let mut files = Files::new(root);
        let err = add_list(&mut files, &list, "files.txt").unwrap_err();
        let ListError::Lines { problems, more } = err else { panic!("{err}") };
        assert_eq!(more, 0);
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines[0], "files.txt:2: `data/missing.parquet` does not exist");
        assert!(lines[1].starts_with("files.txt:4: `data` is a folder"), "{}", lines[1]);
        assert!(lines[2].starts_with("files.txt:5: `x/[*.parquet` is not a valid glob"), "{}", lines[2]);
        let only_comments = write(root, "empty.txt", "# nothing\n\n");
        let err = add_list(&mut Files::new(root), &only_comments, "empty.txt").unwrap_err();
        assert!(matches!(err, ListError::Empty { .. }), "{err}");
    }

    #[test]
    fn many_literal_lines_plan_quickly() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut text = String::new();
        for i in 0..2000 {
            write(root, &format!("d/{i:05}.parquet"), "x");
            text.push_str(&format!("d/{i:05}.parquet\n"));
        }
        text.push_str("d/00007.parquet\n"); // listed twice: read once
        let list = write(root, "files.txt", &text);
        let mut files = Files::new(root);
        add_list(&mut files, &list, "files.txt").unwrap();
        assert_eq!(files.len(), 2000);
    }
}
