//! What a run did: per-split records, the JSON run report (`--report`),
//! the exit status, and (in their own modules) the one-screen [`summary`],
//! the [`timeline`] of splits, workers and commits, the [`html`] page drawn
//! from it and the [`quarantine`] folder.
//!
//! The report owns every result type it shows, so the layers that produce
//! them (`exec`, `sink`) depend on it, never the other way round.

pub mod html;
pub mod quarantine;
pub mod summary;
pub mod timeline;

use crate::plan::{PlannedFile, count_delimiters};
use crate::plugin::Planning;
use crate::plugin::reader::Split;
use crate::plugin::state::Reject;
use crate::prepare::Prepared;
use crate::sink::{SinkResult, WriterReport};
pub use quarantine::Quarantined;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// How the process ends (its exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "i32", try_from = "i32")]
pub enum Exit {
    /// The run succeeded: failed splits, if any, stayed within
    /// `run.max_failed_splits`.
    Ok = 0,
    /// The run failed: too many failed splits, a side table, the final
    /// stage or the writer failed.
    Failed = 1,
    /// Bad configuration or usage.
    Config = 2,
    /// An internal error.
    Internal = 3,
}

impl From<Exit> for i32 {
    fn from(e: Exit) -> i32 {
        e as i32
    }
}

impl TryFrom<i32> for Exit {
    type Error = String;
    fn try_from(code: i32) -> Result<Exit, String> {
        [Exit::Ok, Exit::Failed, Exit::Config, Exit::Internal]
            .into_iter()
            .find(|e| *e as i32 == code)
            .ok_or_else(|| format!("unknown exit code {code}"))
    }
}

/// A side table, read: what transforms get, and what the report shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SideTableData {
    pub name: String,
    #[serde(skip)]
    pub buffers: Vec<Vec<u8>>,
    pub rows: u64,
    pub bytes: u64,
    pub files: usize,
    #[serde(skip)]
    pub rejects: Vec<(String, Reject)>,
    pub rejected: u64,
    /// Loaded from the side-table cache (`--side-table-cache`), not read.
    #[serde(default)]
    pub cached: bool,
}

/// What the final phase of aggregations produced.
#[derive(Debug, Default)]
pub struct FinalReport {
    pub sink_rows: Vec<u64>,
    pub states_merged: u64,
    /// Time inside each final transformer's calls (merge, finish), by transform.
    pub transform_time: Vec<Duration>,
    /// Time the final phase was blocked handing batches to the writer.
    pub send_wait: Duration,
}

/// How a split ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum SplitStatus {
    Ok,
    Partial {
        reason: String,
    },
    Failed {
        error: String,
        kind: String,
    },
    /// Not run: the run stopped first.
    Skipped,
    /// Not run: every sink already holds its rows (resume, skip_committed).
    Committed,
}

/// One split's story.
#[derive(Debug, Clone)]
pub struct SplitRecord {
    pub index: usize,
    pub id: String,
    pub input: Option<String>,
    pub input_index: Option<u32>,
    pub offset: u64,
    /// Its planned size (bytes of input, or the plugin's estimate).
    pub size: u64,
    pub status: SplitStatus,
    pub attempts: u32,
    /// Rows the reader emitted.
    pub rows: u64,
    pub sink_rows: Vec<u64>,
    pub bytes_read: u64,
    pub rejected: u64,
    pub rejects: Vec<Reject>,
    pub counters: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// When, where and in what its time went ([`timeline`]).
    pub times: SplitTimes,
}

/// When and on which worker a split ran, and where its time went. Summed
/// over its attempts; what is not in a field (instances created, batches
/// decoded and routed, retry back-off) is the rest of `elapsed`.
#[derive(Debug, Clone, Default)]
pub struct SplitTimes {
    /// The worker (pool thread) that ran it; `None` when it did not run.
    pub worker: Option<usize>,
    /// When it started, from the start of the run.
    pub start: Duration,
    /// Inside the reader's `read`, less the time its emits spent downstream.
    pub reader: Duration,
    /// Inside each transform's calls, by transform.
    pub transforms: Vec<Duration>,
    /// Blocked handing batches to the writer (backpressure).
    pub backpressure: Duration,
}

impl SplitRecord {
    pub fn new(index: usize, split: &Split, input: Option<String>) -> Self {
        SplitRecord {
            index,
            id: split.id.clone(),
            input,
            input_index: split.input,
            offset: split.offset,
            size: split.size_hint,
            status: SplitStatus::Skipped,
            attempts: 0,
            rows: 0,
            sink_rows: Vec::new(),
            bytes_read: 0,
            rejected: 0,
            rejects: Vec::new(),
            counters: BTreeMap::new(),
            elapsed: Duration::ZERO,
            times: SplitTimes::default(),
        }
    }
    pub fn skipped(index: usize, split: &Split) -> Self {
        Self::new(index, split, None)
    }
    /// A split whose handling panicked in the host: failed, its output
    /// discarded.
    pub fn panicked(index: usize, split: &Split, message: &str) -> Self {
        SplitRecord {
            status: SplitStatus::Failed {
                error: format!(
                    "the runtime panicked while running this split: {message} (its output was discarded)"
                ),
                kind: "internal".into(),
            },
            attempts: 1,
            ..Self::new(index, split, None)
        }
    }
    pub fn committed_earlier(index: usize, split: &Split) -> Self {
        SplitRecord { status: SplitStatus::Committed, ..Self::new(index, split, None) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureEntry {
    pub split: String,
    pub input: Option<String>,
    pub error: String,
    pub kind: String,
    pub attempts: u32,
}

/// A split that succeeded (or ended partial) after more than one attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetriedEntry {
    pub split: String,
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialEntry {
    pub split: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectEntry {
    pub split: String,
    pub file: Option<String>,
    pub location: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRecord {
    pub stage: String,
    pub plugin: String,
    pub version: String,
    pub load_ms: f64,
    pub cached: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlowSplit {
    pub split: String,
    pub seconds: f64,
    pub rows: u64,
}

/// The run report (`--report FILE.json`); read back by `runtime report`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub pipeline: String,
    pub name: String,
    pub status: String,
    pub exit_code: Exit,
    pub started_at_unix: u64,
    pub elapsed_seconds: f64,
    pub workers: usize,
    pub outputs: Vec<SinkResult>,
    pub splits_total: u64,
    pub splits_ok: u64,
    pub splits_partial: u64,
    pub splits_failed: u64,
    pub splits_skipped: u64,
    /// Splits not run because the sinks already held them (resume).
    pub splits_already_committed: u64,
    pub max_failed_splits: String,
    /// This run's id, recorded with every table commit.
    pub run_id: String,
    /// Whether this run continued an earlier, interrupted one.
    pub resumed: bool,
    /// `--resume` found the run it continues already complete in every
    /// output: nothing was run or written. Says which run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nothing_to_resume: Option<String>,
    /// `--stage-only`: the attempt's manifest, for `runtime commit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged_manifest: Option<String>,
    pub rows_read: u64,
    pub bytes_read: u64,
    pub rejected_records: u64,
    pub rejects: Vec<RejectEntry>,
    pub failures: Vec<FailureEntry>,
    /// Splits that needed retries and then succeeded.
    pub retried: Vec<RetriedEntry>,
    pub partials: Vec<PartialEntry>,
    pub side_tables: Vec<SideTableData>,
    pub counters: BTreeMap<String, u64>,
    pub plugins: Vec<PluginRecord>,
    pub slowest_splits: Vec<SlowSplit>,
    pub spilled_bytes: u64,
    /// Where failed inputs were listed and copied (`run.quarantine`).
    pub quarantine: Option<Quarantined>,
    /// Peak resident memory of the process (Linux `VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
    /// Why the run failed, when it failed as a whole.
    pub error: Option<String>,
    /// When and where each split ran, where time went, the commits.
    #[serde(default)]
    pub timeline: timeline::Timeline,
}

/// Rejects listed in the report; the rest are only counted.
const MAX_REJECTS_REPORTED: usize = 1000;

pub fn plugin_records(p: &Prepared) -> Vec<PluginRecord> {
    let mut out = vec![record("source", &p.source)];
    out.extend(p.side_tables.iter().map(|s| record(&s.stage.common.id, &s.plugin)));
    out.extend(p.transforms.iter().map(|t| record(&t.stage.common.id, &t.plugin)));
    out
}

fn record(stage: &str, p: &crate::plugin::LoadedPlugin) -> PluginRecord {
    PluginRecord {
        stage: stage.into(),
        plugin: p.reference.to_string(),
        version: p.description.version.clone(),
        load_ms: p.load_time.as_secs_f64() * 1000.0,
        cached: p.from_cache,
    }
}

impl RunReport {
    pub fn new(p: &Prepared, workers: usize) -> Self {
        RunReport {
            pipeline: p.pipeline.file.display().to_string(),
            name: p.pipeline.name.clone(),
            status: "running".into(),
            exit_code: Exit::Ok,
            started_at_unix: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            elapsed_seconds: 0.0,
            workers,
            outputs: Vec::new(),
            splits_total: 0,
            splits_ok: 0,
            splits_partial: 0,
            splits_failed: 0,
            splits_skipped: 0,
            splits_already_committed: 0,
            run_id: String::new(),
            resumed: false,
            nothing_to_resume: None,
            staged_manifest: None,
            max_failed_splits: p.pipeline.run.max_failed_splits.to_string(),
            rows_read: 0,
            bytes_read: 0,
            rejected_records: 0,
            rejects: Vec::new(),
            failures: Vec::new(),
            retried: Vec::new(),
            partials: Vec::new(),
            side_tables: Vec::new(),
            counters: BTreeMap::new(),
            plugins: Vec::new(),
            slowest_splits: Vec::new(),
            spilled_bytes: 0,
            peak_rss_bytes: 0,
            quarantine: None,
            error: None,
            timeline: timeline::Timeline::default(),
        }
    }

    /// The run failed as a whole before or outside the splits.
    pub fn fatal(mut self, error: String, started: Instant) -> Self {
        self.error = Some(error);
        self.status = "failed".into();
        self.exit_code = Exit::Failed;
        self.elapsed_seconds = started.elapsed().as_secs_f64();
        self.peak_rss_bytes = peak_rss();
        self
    }

    /// The run was refused before anything ran, for a usage mistake (a
    /// `--splits` list that does not fit the plan, a `--resume` that cannot
    /// mean anything): exit status 2, like a configuration error.
    pub fn refused(self, error: String, started: Instant) -> Self {
        let mut r = self.fatal(error, started);
        r.exit_code = Exit::Config;
        r
    }

    /// Fills the report from the splits and the writer.
    pub fn complete(
        mut self,
        mut records: Vec<SplitRecord>,
        files: &[PlannedFile],
        writer: WriterReport,
        final_result: Option<Result<FinalReport, String>>,
        started: Instant,
        prepared: &Prepared,
    ) -> Self {
        records.sort_by_key(|r| r.index);
        if let Planning::Delimited(d) = prepared.source.description.planning {
            file_line_numbers(&mut records, files, d);
        }
        for t in &self.side_tables {
            self.rejected_records += t.rejected;
            for (split, rej) in &t.rejects {
                if self.rejects.len() < MAX_REJECTS_REPORTED {
                    self.rejects.push(RejectEntry {
                        split: format!("side_tables.{}: {split}", t.name),
                        file: None,
                        location: rej.location.clone(),
                        reason: rej.reason.clone(),
                    });
                }
            }
        }
        for r in &records {
            match &r.status {
                SplitStatus::Ok => self.splits_ok += 1,
                SplitStatus::Partial { reason } => {
                    self.splits_partial += 1;
                    self.partials.push(PartialEntry { split: r.id.clone(), reason: reason.clone() });
                }
                SplitStatus::Failed { error, kind } => {
                    self.splits_failed += 1;
                    self.failures.push(FailureEntry {
                        split: r.id.clone(),
                        input: r.input.clone(),
                        error: error.clone(),
                        kind: kind.clone(),
                        attempts: r.attempts,
                    });
                }
                SplitStatus::Skipped => self.splits_skipped += 1,
                SplitStatus::Committed => self.splits_already_committed += 1,
            }
            if !matches!(r.status, SplitStatus::Failed { .. } | SplitStatus::Skipped | SplitStatus::Committed)
            {
                if r.attempts > 1 {
                    self.retried.push(RetriedEntry { split: r.id.clone(), attempts: r.attempts });
                }
                self.rows_read += r.rows;
                self.rejected_records += r.rejected;
                for rej in &r.rejects {
                    if self.rejects.len() < MAX_REJECTS_REPORTED {
                        self.rejects.push(RejectEntry {
                            split: r.id.clone(),
                            file: r.input.clone(),
                            location: rej.location.clone(),
                            reason: rej.reason.clone(),
                        });
                    }
                }
            }
            self.bytes_read += r.bytes_read;
            for (k, v) in &r.counters {
                *self.counters.entry(k.clone()).or_default() += v;
            }
        }
        let mut slow: Vec<&SplitRecord> = records.iter().filter(|r| r.attempts > 0).collect();
        slow.sort_by_key(|s| std::cmp::Reverse(s.elapsed));
        self.slowest_splits = slow
            .iter()
            .take(3)
            .map(|r| SlowSplit { split: r.id.clone(), seconds: r.elapsed.as_secs_f64(), rows: r.rows })
            .collect();
        let final_report = final_result.as_ref().and_then(|r| r.as_ref().ok());
        self.timeline =
            timeline::Timeline::build(&records, &writer, final_report, self.workers, started, prepared);
        self.outputs = writer.sinks;
        self.spilled_bytes = writer.spilled_bytes;
        let policy = prepared.pipeline.run.max_failed_splits;
        if policy.exceeded(self.splits_failed, self.splits_total) {
            self.error = Some(format!(
                "{} of {} splits failed, more than run.max_failed_splits ({policy}) allows; outputs were not written",
                self.splits_failed, self.splits_total
            ));
        } else if let Some(Err(e)) = final_result {
            self.error = Some(format!("final stage: {e}"));
        } else if let Some(e) = writer.error {
            self.error = Some(format!("writing outputs: {e}"));
        }
        self.exit_code = if self.error.is_some() { Exit::Failed } else { Exit::Ok };
        self.status = if self.exit_code == Exit::Ok { "ok".into() } else { "failed".into() };
        self.elapsed_seconds = started.elapsed().as_secs_f64();
        self.peak_rss_bytes = peak_rss();
        self
    }
}

/// Turns split-relative `line N` locations into file line numbers for
/// splits that start inside a file.
fn file_line_numbers(records: &mut [SplitRecord], files: &[PlannedFile], delim: u8) {
    for r in records.iter_mut().filter(|r| r.offset > 0 && !r.rejects.is_empty()) {
        let Some(file) = r.input_index.and_then(|i| files.get(i as usize)) else { continue };
        let Ok(before) = count_delimiters(&file.path, r.offset, delim) else { continue };
        for rej in &mut r.rejects {
            if let Some(n) = rej.location.strip_prefix("line ").and_then(|n| n.parse::<u64>().ok()) {
                rej.location = format!("line {}", n + before);
            }
        }
    }
}

/// Peak resident set size of this process, from /proc (0 where unknown).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

/// 1234567 → "1,234,567".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(61_070), "61,070");
        assert_eq!(group(1_234_567), "1,234,567");
    }
}
