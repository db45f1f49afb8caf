//! Runs the parser over a corpus of damaged PSTs generated from the real
//! ones by `tests/pst/make_damaged.py` (truncated, bit-flipped, zeroed
//! pages, random bytes after a valid magic, zero length, absurd header
//! sizes, and structural damage with checksums recomputed so it reaches the
//! parsers).
//!
//! Every file must end in bounded time without a panic, with the policy's
//! outcome: complete, partial (rows kept) or a clean error; and no file may
//! make the parser allocate more than a fixed budget. Each file is read
//! twice: with checksum verification (the default) and without, so damage
//! also reaches the structure parsers. The test prints a summary by
//! outcome.
//!
//! This file holds a single test because it measures allocation with a
//! counting global allocator, which parallel tests would disturb.

use pst::extract::{MemorySink, read_pst};
use pst::options::Options;
use pst::source::SeekSource;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let now =
                    CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Longest a single file may take (real files take milliseconds).
const TIME_LIMIT: Duration = Duration::from_secs(20);
/// Most memory one file may make the parser hold at once, beyond the
/// file's own bytes held by the test (the inputs are 265 KiB).
const MEMORY_BUDGET: usize = 32 << 20;

/// Generates the corpus in a temporary folder. `PST_DAMAGED_SEED` picks
/// another seed than the generator's default, to explore further.
fn generate() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("pst-damaged-{}", std::process::id()));
    let mut command = std::process::Command::new("python3");
    command.arg(repo.join("tests/pst/make_damaged.py"));
    if let Ok(seed) = std::env::var("PST_DAMAGED_SEED") {
        command.args(["--seed", &seed]);
    }
    let status = command
        .arg(repo.join("tests/fixtures/pst"))
        .arg(&out)
        .status()
        .expect("python3 runs tests/pst/make_damaged.py");
    assert!(status.success());
    out
}

#[derive(Debug)]
enum Ending {
    /// Rows emitted and items rejected.
    Complete(u64, usize),
    Partial(u64),
    Failed(String),
    Panicked(String),
}

fn run(bytes: Vec<u8>, name: String, verify: bool) -> Ending {
    let options = Options { verify_checksums: verify, ..Options::default() };
    let r = std::panic::catch_unwind(move || {
        let mut sink = MemorySink::default();
        let r = read_pst(SeekSource::new(std::io::Cursor::new(bytes)).unwrap(), &name, &options, &mut sink);
        (r, sink.rows("messages") as u64, sink.rejects.len())
    });
    match r {
        Ok((Ok((outcome, _)), rows, _)) if outcome.partial.is_some() => Ending::Partial(rows),
        Ok((Ok(_), rows, rejects)) => Ending::Complete(rows, rejects),
        Ok((Err(e), _, _)) => Ending::Failed(format!("{:?}", e.kind)),
        Err(p) => Ending::Panicked(
            p.downcast_ref::<String>()
                .cloned()
                .or(p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

#[test]
fn damaged_files_end_cleanly_within_bounds() {
    let dir = generate();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pst"))
        .collect();
    files.sort();
    assert!(files.len() > 200, "the generator wrote {} files", files.len());
    // Messages (embedded ones included) in each undamaged source file.
    let mut baseline: BTreeMap<String, u64> = BTreeMap::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pst");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pst") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            match run(std::fs::read(&path).unwrap(), stem.clone(), true) {
                Ending::Complete(rows, 0) => baseline.insert(stem, rows),
                other => panic!("{stem}: the undamaged file reads as {other:?}"),
            };
        }
    }
    std::panic::set_hook(Box::new(|_| {}));
    let mut summary: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_family: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut partial_rows = 0;
    let mut silent = 0;
    let mut problems = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut hungriest = (0usize, String::new());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for verify in [true, false] {
            let bytes = std::fs::read(path).unwrap();
            let base = CURRENT.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let (tx, rx) = mpsc::channel();
            let n = name.clone();
            let started = Instant::now();
            std::thread::spawn(move || {
                let _ = tx.send(run(bytes, n, verify));
            });
            let label = format!("{name} (checksums {})", if verify { "on" } else { "off" });
            let ending = match rx.recv_timeout(TIME_LIMIT) {
                Ok(e) => e,
                Err(_) => {
                    problems.push(format!("{label}: no result within {TIME_LIMIT:?}"));
                    continue;
                }
            };
            let took = started.elapsed();
            let used = PEAK.load(Ordering::Relaxed).saturating_sub(base);
            if took > slowest.0 {
                slowest = (took, label.clone());
            }
            if used > hungriest.0 {
                hungriest = (used, label.clone());
            }
            if used > MEMORY_BUDGET {
                problems.push(format!("{label}: allocated {used} bytes at peak"));
            }
            let key = match &ending {
                Ending::Complete(_, 0) => "complete".to_string(),
                Ending::Complete(..) => "complete, items rejected".to_string(),
                Ending::Partial(rows) => {
                    partial_rows += rows;
                    "partial".to_string()
                }
                Ending::Failed(kind) => format!("failed ({kind})"),
                Ending::Panicked(msg) => {
                    problems.push(format!("{label}: panicked: {msg}"));
                    "panicked".to_string()
                }
            };
            let variant = name.split('.').nth(1).unwrap_or("empty");
            // Files with nothing readable must fail, not pass as empty.
            let hopeless = name == "empty.pst"
                || variant.starts_with("magic-then-random")
                || ["trunc-1", "trunc-100", "trunc-563"].contains(&variant);
            if hopeless && !matches!(ending, Ending::Failed(_)) {
                problems.push(format!("{label}: expected a failure, got {ending:?}"));
            }
            // The JPEG attachments of sample1/sample2 are the only data trees;
            // claiming 4 GiB must reject the attachment, not the message.
            if variant == "huge-xblock"
                && name.starts_with("sample")
                && !matches!(ending, Ending::Complete(1, 1))
            {
                problems.push(format!("{label}: expected the attachment rejected, got {ending:?}"));
            }
            // With checksums verified, damage the generator did not disguise
            // (by recomputing checksums) is either noticed or it missed
            // everything the walk reads: a clean read yields every message.
            // Without checksums, or with disguised damage, a changed byte can
            // silently turn a folder row into a search-folder row; those
            // cases are only counted.
            let stem = name.split('.').next().unwrap_or_default();
            let disguised =
                variant.starts_with("fuzz") || variant == "huge-xblock" || variant == "btree-self-loop";
            if let Ending::Complete(rows, 0) = &ending
                && baseline.get(stem).is_some_and(|b| b != rows)
            {
                if verify && !disguised {
                    problems.push(format!(
                        "{label}: complete with {rows} messages, the source has {}",
                        baseline[stem]
                    ));
                } else {
                    silent += 1;
                }
            }
            let family = variant.split('-').next().unwrap_or(variant).to_string();
            *by_family.entry(family).or_default().entry(key.clone()).or_default() += 1;
            *summary.entry(key).or_default() += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::panic::take_hook();
    eprintln!("damaged corpus: {} files, read twice each", files.len());
    for (k, v) in &summary {
        eprintln!("  {k}: {v}");
    }
    eprintln!("  rows kept by partial reads: {partial_rows}");
    eprintln!("  clean reads with another message count (disguised or unverified damage): {silent}");
    for (family, counts) in &by_family {
        eprintln!("  {family}: {counts:?}");
    }
    eprintln!("  slowest: {:?} ({})", slowest.0, slowest.1);
    eprintln!("  most memory: {} KiB ({})", hungriest.0 >> 10, hungriest.1);
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
