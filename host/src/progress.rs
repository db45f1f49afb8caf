//! Progress while a run goes: a bar on a terminal (splits, rows/s, bytes/s,
//! ETA, and a line per failing split as it happens), nothing when quiet.

use crate::config::units::ByteSize;
use crate::report::SplitRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Progress display of one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    rows: AtomicU64,
    bytes: AtomicU64,
    started: Instant,
}

impl Progress {
    /// `interactive`: draw a bar (stderr is a terminal). `quiet`: print
    /// nothing at all.
    pub fn new(interactive: bool, quiet: bool) -> Self {
        let bar = (interactive && !quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} splits  {msg}  eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(125));
            bar
        });
        Progress { bar, quiet, rows: AtomicU64::new(0), bytes: AtomicU64::new(0), started: Instant::now() }
    }

    pub fn start(&self, splits: u64, _bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_length(splits);
            b.set_position(0);
        }
    }

    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    pub fn failure(&self, split: &str, error: &str) {
        if self.quiet {
            return;
        }
        let line = format!("split failed: {split}: {error}");
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn split_done(&self, r: &SplitRecord) {
        let rows = self.rows.fetch_add(r.rows, Ordering::Relaxed) + r.rows;
        let bytes = self.bytes.fetch_add(r.bytes_read, Ordering::Relaxed) + r.bytes_read;
        if let Some(b) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            b.set_message(format!(
                "{} rows/s  {}/s",
                crate::report::group((rows as f64 / secs) as u64),
                ByteSize((bytes as f64 / secs) as u64)
            ));
            b.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
