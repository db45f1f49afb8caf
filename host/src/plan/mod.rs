//! Planning: input globs become files, files become splits.
//!
//! - Globs resolve against the pipeline file's folder; every glob must match
//!   at least one file. Files are deduplicated and sorted by path.
//! - `whole-file` readers get one split per file.
//! - `delimited` readers (ndjson) get files cut into byte ranges of at most
//!   `max_split_bytes`, each cut moved forward to just after the next
//!   delimiter, so every split holds whole records.
//! - `plugin` readers (sql) plan their own splits.
//!
//! - `inputs_from` list files ([`list`]) add one path or glob per line.
//!
//! Splits run largest first, so the long ones start early and do not
//! straggle at the end. A file that cannot be read still becomes a split,
//! which fails with the reason: the run reports it by name and goes on.

pub mod list;

use crate::plugin::instance::CallError;
use crate::plugin::io::InputHandle;
use crate::plugin::reader::{Hints, InputFile, Split};
use crate::plugin::{LoadedPlugin, Planning, ReaderInstance};
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

/// The key that identifies a split across runs: its id, and for file
/// splits the file's size (a file that changed is not the same split).
/// Commits record these keys; `--resume` and `skip_committed` compare them.
pub fn split_key(id: &str, file_size: Option<u64>) -> String {
    match file_size {
        Some(size) => format!("{id}#{size}"),
        None => id.to_string(),
    }
}

/// The fingerprint of a plan: SHA-256 (hex) of the pipeline's name and its
/// splits' keys in order. Two plans with the same fingerprint run the same
/// splits over the same inputs, so a split list taken from `runtime plan
/// --json` can be checked against the plan a later run makes.
pub fn fingerprint(pipeline: &str, keys: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(pipeline.as_bytes());
    for k in keys {
        h.update(b"\n");
        h.update(k.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An input file found by the globs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    /// As shown to plugins and in reports (relative to the pipeline folder
    /// when the glob was relative).
    pub shown: String,
    pub size: u64,
    /// Why the file cannot be read, if it cannot.
    pub error: Option<String>,
}

impl PlannedFile {
    pub fn input_file(&self) -> InputFile {
        InputFile { path: self.shown.clone(), size: self.size }
    }
}

/// A split with its place in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSplit {
    pub split: Split,
    /// Set when the split is known to fail before it runs (unreadable file).
    pub error: Option<String>,
}

/// A glob of `inputs` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("`{glob}` is not a valid glob: {reason}")]
    InvalidGlob { glob: String, reason: String },
    #[error("`{glob}` matches no file (looked in {})", .dir.display())]
    NoMatch { glob: String, dir: PathBuf },
}

/// Expands globs into files. Errors name the glob that matched nothing.
pub fn expand_inputs(dir: &Path, globs: &[String]) -> Result<Vec<PlannedFile>, Vec<InputError>> {
    let (files, errors) = expand_inputs_partial(dir, globs);
    if errors.is_empty() { Ok(files) } else { Err(errors) }
}

/// Expands globs into files: what the globs that work matched, and a
/// problem per glob that is invalid or matched nothing.
pub fn expand_inputs_partial(dir: &Path, globs: &[String]) -> (Vec<PlannedFile>, Vec<InputError>) {
    let mut files = Files::new(dir);
    let mut errors = Vec::new();
    for g in globs {
        if let Err(e) = files.add_glob(dir, g) {
            errors.push(e);
        }
    }
    (files.finish(), errors)
}

/// Input files as they are found: deduplicated, then sorted by path.
pub struct Files {
    /// The pipeline's folder: paths under it are shown relative to it.
    root: PathBuf,
    seen: HashSet<PathBuf>,
    files: Vec<PlannedFile>,
}

impl Files {
    pub fn new(root: &Path) -> Self {
        Files { root: root.to_path_buf(), seen: HashSet::new(), files: Vec::new() }
    }

    /// Adds what glob `g` (relative to `base`) matches; fails when it is not
    /// a valid glob or matches no file.
    pub fn add_glob(&mut self, base: &Path, g: &str) -> Result<(), InputError> {
        let pattern = if Path::new(g).is_absolute() {
            g.to_string()
        } else {
            base.join(g).to_string_lossy().into_owned()
        };
        let paths = glob::glob(&pattern)
            .map_err(|e| InputError::InvalidGlob { glob: g.to_string(), reason: e.to_string() })?;
        let mut matched = 0;
        for entry in paths {
            let (path, err) = match entry {
                Ok(p) if p.is_dir() => continue,
                Ok(p) => (p, None),
                Err(e) => (e.path().to_path_buf(), Some(e.error().to_string())),
            };
            matched += 1;
            let (size, error) = match (err, std::fs::metadata(&path)) {
                (Some(e), _) => (0, Some(e)),
                (None, Ok(m)) => (m.len(), None),
                (None, Err(e)) => (0, Some(e.to_string())),
            };
            self.push(path, size, error, !Path::new(g).is_absolute());
        }
        // A literal path that does not exist is an error; so is a glob that
        // matches nothing.
        if matched == 0 {
            return Err(InputError::NoMatch { glob: g.to_string(), dir: base.to_path_buf() });
        }
        Ok(())
    }

    /// Adds a file already looked at (one `stat`: list files name many),
    /// shown relative to the pipeline's folder when `relative`.
    pub fn push(&mut self, path: PathBuf, size: u64, error: Option<String>, relative: bool) {
        let path = normalize(&path);
        if self.seen.contains(&path) {
            return;
        }
        let shown = match relative {
            true => path.strip_prefix(&self.root).unwrap_or(&path).display().to_string(),
            false => path.display().to_string(),
        };
        self.seen.insert(path.clone());
        self.files.push(PlannedFile { path, shown, size, error });
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files, sorted by the path shown.
    pub fn finish(mut self) -> Vec<PlannedFile> {
        self.files.sort_by(|a, b| a.shown.cmp(&b.shown));
        self.files
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system (`..` past the
/// start is kept): a file named twice, as `lists/../a` and `a`, is read once.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Views of whole input files for a plugin's `discover` and `plan`,
/// opened only when the plugin reads them.
pub fn lazy_inputs(files: &[PlannedFile]) -> (Vec<InputFile>, Vec<InputHandle>) {
    let infos = files.iter().map(PlannedFile::input_file).collect();
    let handles = files.iter().map(|f| InputHandle::lazy(&f.path, &f.shown, f.size)).collect();
    (infos, handles)
}

/// Why planning failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plugin's `plan` returned an error or trapped.
    #[error("planning failed: {0}")]
    Plugin(CallError),
    #[error("the plugin planned two splits with id `{0}`")]
    DuplicateSplit(String),
    #[error("split `{split}` names input {input}, which does not exist")]
    NoSuchInput { split: String, input: u32 },
    #[error("split `{split}` reaches past the end of {file}")]
    PastTheEnd { split: String, file: String },
}

/// Plans the splits of a reader over `files`, largest first: host planning
/// for `whole-file` and `delimited` readers, the plugin's `plan` (checked:
/// unique ids, inputs that exist, ranges inside them) for the others.
pub fn plan_splits(
    reader: &mut ReaderInstance,
    plugin: &LoadedPlugin,
    files: &[PlannedFile],
    hints: Hints,
) -> Result<Vec<PlannedSplit>, PlanError> {
    let mut splits = match plugin.description.planning {
        Planning::Plugin => {
            let (infos, inputs) = lazy_inputs(files);
            let splits = reader.plan(&infos, inputs, hints).map_err(PlanError::Plugin)?;
            let mut seen = HashSet::new();
            for s in &splits {
                if !seen.insert(s.id.clone()) {
                    return Err(PlanError::DuplicateSplit(s.id.clone()));
                }
                if let Some(i) = s.input {
                    let f = files
                        .get(i as usize)
                        .ok_or_else(|| PlanError::NoSuchInput { split: s.id.clone(), input: i })?;
                    if s.offset.checked_add(s.length).is_none_or(|end| end > f.size) {
                        return Err(PlanError::PastTheEnd { split: s.id.clone(), file: f.shown.clone() });
                    }
                }
            }
            splits.into_iter().map(|split| PlannedSplit { split, error: None }).collect()
        }
        p => plan_files(files, p, hints.max_split_bytes),
    };
    largest_first(&mut splits);
    Ok(splits)
}

/// Host planning for `whole-file` and `delimited` readers.
pub fn plan_files(files: &[PlannedFile], planning: Planning, max_split_bytes: u64) -> Vec<PlannedSplit> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let whole = |error: Option<String>| PlannedSplit {
            split: Split {
                id: f.shown.clone(),
                input: Some(i as u32),
                offset: 0,
                length: f.size,
                payload: String::new(),
                size_hint: f.size,
            },
            error,
        };
        if f.error.is_some() {
            out.push(whole(f.error.as_ref().map(|e| format!("cannot read {}: {e}", f.shown))));
            continue;
        }
        match planning {
            Planning::Delimited(delim) if f.size > max_split_bytes => {
                match cut(&f.path, f.size, max_split_bytes, delim) {
                    Ok(ranges) => {
                        for (start, end) in ranges {
                            out.push(PlannedSplit {
                                split: Split {
                                    id: format!("{}@{start}..{end}", f.shown),
                                    input: Some(i as u32),
                                    offset: start,
                                    length: end - start,
                                    payload: String::new(),
                                    size_hint: end - start,
                                },
                                error: None,
                            });
                        }
                    }
                    Err(e) => out.push(whole(Some(format!("cannot read {}: {e}", f.shown)))),
                }
            }
            _ => out.push(whole(None)),
        }
    }
    out
}

/// How evenly `sizes` (largest first) spread over `workers` when each split
/// goes to the least busy worker: the busiest worker's load over a fair
/// share (1.0 is perfect).
pub fn worker_imbalance(sizes: &[u64], workers: usize) -> f64 {
    let total: u64 = sizes.iter().sum();
    if total == 0 || workers == 0 {
        return 1.0;
    }
    let mut loads = vec![0u64; workers.min(sizes.len()).max(1)];
    for &s in sizes {
        let least = loads.iter_mut().min().expect("at least one worker");
        *least += s;
    }
    let busiest = *loads.iter().max().unwrap_or(&0) as f64;
    busiest / (total as f64 / workers.min(sizes.len()).max(1) as f64)
}

/// Orders splits largest first (stable: equal sizes keep plan order).
pub fn largest_first(splits: &mut [PlannedSplit]) {
    splits.sort_by_key(|s| std::cmp::Reverse(s.split.size_hint));
}

/// Cuts `[0, size)` into ranges of about `max` bytes that end just after a
/// delimiter (or at the end of the file).
pub fn cut(path: &Path, size: u64, max: u64, delim: u8) -> std::io::Result<Vec<(u64, u64)>> {
    let file = File::open(path)?;
    let mut ranges = Vec::new();
    let mut start = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    while start < size {
        let target = start + max;
        if target >= size {
            ranges.push((start, size));
            break;
        }
        // Find the first delimiter at or after target - 1.
        let mut pos = target - 1;
        let end = loop {
            if pos >= size {
                break size;
            }
            let n = file.read_at(&mut buf, pos)?;
            if n == 0 {
                break size;
            }
            match memchr::memchr(delim, &buf[..n]) {
                Some(i) => break pos + i as u64 + 1,
                None => pos += n as u64,
            }
        };
        ranges.push((start, end));
        start = end;
    }
    Ok(ranges)
}

/// Counts delimiters in `[0, offset)` of a file: turns split-relative line
/// numbers into file line numbers (only done for splits with rejects).
pub fn count_delimiters(path: &Path, offset: u64, delim: u8) -> std::io::Result<u64> {
    let file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    let mut count = 0u64;
    while pos < offset {
        let want = ((offset - pos) as usize).min(buf.len());
        let n = file.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            break;
        }
        count += memchr::memchr_iter(delim, &buf[..n]).count() as u64;
        pos += n as u64;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_over_workers() {
        assert_eq!(worker_imbalance(&[10, 10, 10, 10], 2), 1.0);
        // 9 + 1 vs 5 + 5: largest first to the least busy gives 9 | 5+1+... = 9 vs 6.
        assert!((worker_imbalance(&[9, 5, 1, 1], 2) - 9.0 / 8.0).abs() < 1e-9);
        assert_eq!(worker_imbalance(&[], 4), 1.0);
        // More workers than splits: the fair share is over the splits.
        assert_eq!(worker_imbalance(&[4, 4], 8), 1.0);
    }

    fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn cuts_land_after_delimiters_and_cover_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        for i in 0..1000 {
            data.extend_from_slice(format!("line number {i} with some padding\n").as_bytes());
        }
        let p = write(dir.path(), "f.ndjson", &data);
        for max in [1, 7, 100, 4096, 1 << 20] {
            let ranges = cut(&p, data.len() as u64, max, b'\n').unwrap();
            assert_eq!(ranges.first().unwrap().0, 0);
            assert_eq!(ranges.last().unwrap().1, data.len() as u64);
            for w in ranges.windows(2) {
                assert_eq!(w[0].1, w[1].0, "contiguous");
            }
            for (s, e) in &ranges {
                assert!(e > s);
                assert_eq!(data[*e as usize - 1], b'\n', "ends after a newline");
                if max >= 64 {
                    assert!(e - s <= max + 64, "close to max");
                }
            }
        }
    }

    #[test]
    fn no_trailing_newline_and_long_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "f", b"a\nb\ncccccccccccccccccc");
        assert_eq!(cut(&p, 22, 2, b'\n').unwrap(), vec![(0, 2), (2, 4), (4, 22)]);
        // A cut with no newline after it runs to the end of the file.
        assert_eq!(cut(&p, 22, 5, b'\n').unwrap(), vec![(0, 22)]);
    }

    #[test]
    fn globs_and_missing_inputs() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "data/b.json", b"12");
        write(dir.path(), "data/a.json", b"1");
        let files = expand_inputs(dir.path(), &["data/*.json".into(), "data/a.json".into()]).unwrap();
        let shown: Vec<&str> = files.iter().map(|f| f.shown.as_str()).collect();
        assert_eq!(shown, vec!["data/a.json", "data/b.json"]);
        let err = expand_inputs(dir.path(), &["nope/*.json".into()]).unwrap_err();
        assert!(err[0].to_string().starts_with("`nope/*.json` matches no file"), "{err:?}");
    }

    #[test]
    fn plan_orders_largest_first() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "small", b"x\n");
        let mut big = Vec::new();
        for _ in 0..100 {
            big.extend_from_slice(b"0123456789\n");
        }
        write(dir.path(), "big", &big);
        let files = expand_inputs(dir.path(), &["*".into()]).unwrap();
        let mut splits = plan_files(&files, Planning::Delimited(b'\n'), 500);
        largest_first(&mut splits);
        let ids: Vec<&str> = splits.iter().map(|s| s.split.id.as_str()).collect();
        assert_eq!(ids, vec!["big@0..506", "big@506..1012", "big@1012..1100", "small"]);
        assert_eq!(count_delimiters(&dir.path().join("big"), 506, b'\n').unwrap(), 46);
    }
}
