//! Progress while a run goes, on stderr, in one of three forms:
//!
//! - **a bar** when stderr is a terminal (indicatif): splits done of all,
//!   bytes read of all, rows/s, bytes/s and an ETA, redrawn in place; a line
//!   per failing split is printed above the bar as it happens;
//! - **plain lines** when stderr is not a terminal (CI logs, `2> file`): one
//!   line every `RUNTIME_PROGRESS_INTERVAL` seconds (default 10) and, after
//!   those, one at the end, plus a line per failing split; JSON objects instead of
//!   text with `--log-format json`;
//! - **nothing** with `--quiet`.
//!
//! Counters are atomics updated by the workers when a split ends; a ticker
//! thread redraws or prints, so workers never wait on the terminal.

use crate::report::{SplitRecord, SplitStatus, group};
use crate::units::ByteSize;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// stderr is a terminal: draw a bar.
    pub terminal: bool,
    /// Print nothing.
    pub quiet: bool,
    /// ANSI colors in the bar (off with `NO_COLOR`).
    pub color: bool,
    /// Plain lines as JSON objects (`--log-format json`).
    pub json: bool,
    /// Time between two plain lines.
    pub interval: Duration,
}

impl Settings {
    /// The default interval of plain lines, or `RUNTIME_PROGRESS_INTERVAL`
    /// (seconds, fractions allowed).
    pub fn interval_from_env() -> Duration {
        std::env::var("RUNTIME_PROGRESS_INTERVAL")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(Duration::from_secs(10), Duration::from_secs_f64)
    }
}

enum Display {
    Bar(ProgressBar),
    Lines { json: bool, interval: Duration },
    Quiet,
}

struct Shared {
    display: Display,
    started: Instant,
    splits_total: AtomicU64,
    bytes_total: AtomicU64,
    splits_done: AtomicU64,
    splits_failed: AtomicU64,
    /// Input files with splits, and those whose splits have all ended.
    files_total: AtomicU64,
    files_done: AtomicU64,
    /// Splits not yet ended, per input file index.
    splits_left: Mutex<Vec<u32>>,
    rows: AtomicU64,
    bytes: AtomicU64,
    /// Plain lines printed by the ticker.
    lines: AtomicU64,
    /// Set when the run is over; wakes the ticker.
    stop: (Mutex<bool>, Condvar),
}

/// Progress display of one run.
pub struct Progress {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

/// Counters at one moment, and the figures derived from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub splits_done: u64,
    pub splits_total: u64,
    pub splits_failed: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub rows: u64,
    pub bytes: u64,
    pub bytes_total: u64,
}

impl Snapshot {
    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-3)
    }
    pub fn rows_per_sec(&self) -> u64 {
        (self.rows as f64 / self.secs()) as u64
    }
    pub fn bytes_per_sec(&self) -> u64 {
        (self.bytes as f64 / self.secs()) as u64
    }
    /// Time left, by bytes read when the inputs have a size (files), else
    /// by splits; unknown until something is done.
    pub fn eta(&self) -> Option<Duration> {
        let fraction = if self.bytes_total > 0 {
            self.bytes as f64 / self.bytes_total as f64
        } else if self.splits_total > 0 {
            self.splits_done as f64 / self.splits_total as f64
        } else {
            return None;
        };
        if fraction <= 0.0 {
            return None;
        }
        let left = self.elapsed.as_secs_f64() * (1.0 - fraction.min(1.0)) / fraction;
        Some(Duration::from_secs_f64(left))
    }

    /// `1.1 MiB of 4.0 MiB  15,506 rows/s  6.7 MiB/s  eta 3s` (and the
    /// failures so far).
    pub fn rates(&self) -> String {
        let mut s = if self.bytes_total > 0 {
            format!("{} of {}", ByteSize(self.bytes), ByteSize(self.bytes_total))
        } else {
            ByteSize(self.bytes).to_string()
        };
        s.push_str(&format!(
            "  {} rows/s  {}/s  eta {}",
            group(self.rows_per_sec()),
            ByteSize(self.bytes_per_sec()),
            self.eta().map_or("?".to_string(), duration)
        ));
        if self.splits_failed > 0 {
            s.push_str(&format!("  {} failed", self.splits_failed));
        }
        s
    }

    /// One plain progress line.
    pub fn line(&self) -> String {
        format!(
            "progress: {}/{} splits  {}{}  elapsed {}",
            self.splits_done,
            self.splits_total,
            self.files(),
            self.rates(),
            duration(self.elapsed)
        )
    }

    /// What the progress bar shows beside the splits.
    fn bar_message(&self) -> String {
        format!("{}{}", self.files(), self.rates())
    }

    /// `3/400,000 files  ` when the run reads input files, else nothing.
    fn files(&self) -> String {
        match self.files_total {
            0 => String::new(),
            total => format!("{}/{} files  ", group(self.files_done), group(total)),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "progress": {
                "elapsed_seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                "splits_done": self.splits_done,
                "splits_total": self.splits_total,
                "splits_failed": self.splits_failed,
                "files_done": self.files_done,
                "files_total": self.files_total,
                "rows": self.rows,
                "bytes": self.bytes,
                "bytes_total": self.bytes_total,
                "rows_per_second": self.rows_per_sec(),
                "bytes_per_second": self.bytes_per_sec(),
                "eta_seconds": self.eta().map(|d| d.as_secs()),
            }
        })
    }
}

/// `42s`, `3m 05s`, `1h 02m`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

impl Progress {
    pub fn new(settings: Settings) -> Self {
        let display = if settings.quiet {
            Display::Quiet
        } else if settings.terminal {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
            let template = if settings.color {
                "{spinner:.green} {elapsed:>4} [{bar:28.cyan/blue}] {pos}/{len} splits  {msg}"
            } else {
                "{spinner} {elapsed:>4} [{bar:28}] {pos}/{len} splits  {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(125));
            Display::Bar(bar)
        } else {
            Display::Lines { json: settings.json, interval: settings.interval }
        };
        Progress {
            shared: Arc::new(Shared {
                display,
                started: Instant::now(),
                splits_total: AtomicU64::new(0),
                bytes_total: AtomicU64::new(0),
                splits_done: AtomicU64::new(0),
                splits_failed: AtomicU64::new(0),
                files_total: AtomicU64::new(0),
                files_done: AtomicU64::new(0),
                splits_left: Mutex::new(Vec::new()),
                rows: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                lines: AtomicU64::new(0),
                stop: (Mutex::new(false), Condvar::new()),
            }),
            ticker: Mutex::new(None),
        }
    }

    /// No display at all (library users, benchmarks).
    pub fn hidden() -> Self {
        Self::new(Settings {
            terminal: false,
            quiet: true,
            color: false,
            json: false,
            interval: Duration::from_secs(10),
        })
    }

    /// The splits are planned: `splits` of them over `bytes` of input,
    /// reading the input files `inputs` (a split's input file index).
    pub fn start(&self, splits: u64, bytes: u64, inputs: impl Iterator<Item = Option<u32>>) {
        let sh = &self.shared;
        {
            let mut left = sh.splits_left.lock().unwrap();
            for i in inputs.flatten() {
                let i = i as usize;
                if left.len() <= i {
                    left.resize(i + 1, 0);
                }
                left[i] += 1;
            }
            sh.files_total.store(left.iter().filter(|n| **n > 0).count() as u64, Ordering::Relaxed);
        }
        sh.splits_total.store(splits, Ordering::Relaxed);
        sh.bytes_total.store(bytes, Ordering::Relaxed);
        if let Display::Bar(b) = &sh.display {
            b.set_length(splits);
            b.set_position(0);
            b.set_message(sh.snapshot().bar_message());
        }
        if matches!(sh.display, Display::Quiet) {
            return;
        }
        let shared = self.shared.clone();
        let ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || shared.tick_until_stopped())
            .expect("spawn the progress thread");
        *self.ticker.lock().unwrap() = Some(ticker);
    }

    /// What the run is doing before splits start (side tables).
    pub fn message(&self, msg: &str) {
        if let Display::Bar(b) = &self.shared.display {
            b.set_message(msg.to_string());
        }
    }

    /// A split failed (after its retries): say so at once.
    pub fn failure(&self, split: &str, error: &str) {
        let sh = &self.shared;
        sh.splits_failed.fetch_add(1, Ordering::Relaxed);
        match &sh.display {
            Display::Quiet => {}
            Display::Bar(b) => b.println(format!("split failed: {split}: {error}")),
            Display::Lines { json: false, .. } => eprintln!("split failed: {split}: {error}"),
            Display::Lines { json: true, .. } => {
                eprintln!("{}", serde_json::json!({ "split_failed": { "split": split, "error": error } }))
            }
        }
    }

    /// A split ended, whatever its status.
    pub fn split_done(&self, r: &SplitRecord) {
        let sh = &self.shared;
        sh.splits_done.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = r.input_index {
            let mut left = sh.splits_left.lock().unwrap();
            if let Some(n) = left.get_mut(i as usize).filter(|n| **n > 0) {
                *n -= 1;
                if *n == 0 {
                    sh.files_done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if !matches!(r.status, SplitStatus::Failed { .. } | SplitStatus::Skipped) {
            sh.rows.fetch_add(r.rows, Ordering::Relaxed);
        }
        // A split counts for at most its planned size: a reader that reads
        // around its range (a footer, an index) does not push the total past
        // 100%.
        sh.bytes.fetch_add(r.bytes_read.min(r.size), Ordering::Relaxed);
        if let Display::Bar(b) = &sh.display {
            b.set_message(sh.snapshot().bar_message());
            b.inc(1);
        }
    }

    /// Counters now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// The run is over: clear the bar, or print the last plain line.
    pub fn finish(&self) {
        let sh = &self.shared;
        {
            let (lock, cvar) = &sh.stop;
            *lock.lock().unwrap() = true;
            cvar.notify_all();
        }
        let ticker = self.ticker.lock().unwrap().take();
        if let Some(t) = ticker {
            let _ = t.join();
        }
        match &sh.display {
            Display::Bar(b) => b.finish_and_clear(),
            // The last line, when there were periodic ones: a short run
            // has just its summary.
            Display::Lines { .. } if sh.lines.load(Ordering::Relaxed) > 0 => sh.print_line(),
            _ => {}
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let (lock, cvar) = &self.shared.stop;
        *lock.lock().unwrap() = true;
        cvar.notify_all();
    }
}

impl Shared {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            elapsed: self.started.elapsed(),
            splits_done: self.splits_done.load(Ordering::Relaxed),
            splits_total: self.splits_total.load(Ordering::Relaxed),
            splits_failed: self.splits_failed.load(Ordering::Relaxed),
            files_done: self.files_done.load(Ordering::Relaxed),
            files_total: self.files_total.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            bytes: match self.bytes_total.load(Ordering::Relaxed) {
                0 => self.bytes.load(Ordering::Relaxed),
                total => self.bytes.load(Ordering::Relaxed).min(total),
            },
            bytes_total: self.bytes_total.load(Ordering::Relaxed),
        }
    }

    fn print_line(&self) {
        let snap = self.snapshot();
        match &self.display {
            Display::Lines { json: true, .. } => eprintln!("{}", snap.json()),
            Display::Lines { json: false, .. } => eprintln!("{}", snap.line()),
            _ => {}
        }
    }

    /// Redraws the bar's figures (rates and ETA change while splits run)
    /// or prints a plain line every interval, until the run is over.
    fn tick_until_stopped(&self) {
        let every = match &self.display {
            Display::Bar(_) => Duration::from_millis(500),
            Display::Lines { interval, .. } => *interval,
            Display::Quiet => return,
        };
        let (lock, cvar) = &self.stop;
        let mut stopped = lock.lock().unwrap();
        let mut next = Instant::now() + every;
        loop {
            let now = Instant::now();
            if !*stopped && now < next {
                stopped = cvar.wait_timeout(stopped, next - now).unwrap().0;
                continue;
            }
            if *stopped {
                return;
            }
            next += every;
            match &self.display {
                Display::Bar(b) => b.set_message(self.snapshot().rates()),
                _ => {
                    self.print_line();
                    self.lines.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(elapsed: u64, bytes: u64, bytes_total: u64, done: u64) -> Snapshot {
        Snapshot {
            elapsed: Duration::from_secs(elapsed),
            splits_done: done,
            splits_total: 10,
            splits_failed: 0,
            files_done: 0,
            files_total: 0,
            rows: 1000 * elapsed,
            bytes,
            bytes_total,
        }
    }

    #[test]
    fn eta_by_bytes_then_by_splits() {
        assert_eq!(snap(10, 25, 100, 1).eta(), Some(Duration::from_secs(30)));
        assert_eq!(snap(10, 0, 0, 5).eta(), Some(Duration::from_secs(10)));
        assert_eq!(snap(10, 0, 100, 0).eta(), None);
    }

    #[test]
    fn plain_line() {
        let s = snap(4, 1 << 20, 4 << 20, 3);
        assert_eq!(
            s.line(),
            "progress: 3/10 splits  1 MiB of 4 MiB  1,000 rows/s  256 KiB/s  eta 12s  elapsed 4s"
        );
        let files = Snapshot { files_done: 1200, files_total: 400_000, ..s };
        assert!(
            files.line().starts_with("progress: 3/10 splits  1,200/400,000 files  1 MiB of 4 MiB"),
            "{}",
            files.line()
        );
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
    }
}
