//! What a run did: per-split records, the JSON run report (`--report`), the
//! one-screen summary, and the exit status.
//!
//! Exit statuses: 0 the run succeeded (failed splits, if any, stayed within
//! `run.max_failed_splits`); 1 the run failed (too many failed splits, a
//! side table or the writer failed); 2 bad configuration or usage; 3 an
//! internal error.

use crate::exec::side_tables::SideTableData;
use crate::plan::{PlannedFile, count_delimiters};
use crate::plugin::Planning;
use crate::plugin::reader::Split;
use crate::plugin::state::Reject;
use crate::prepare::Prepared;
use crate::sink::{SinkResult, WriterReport};
use crate::units::ByteSize;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_CONFIG: i32 = 2;
pub const EXIT_INTERNAL: i32 = 3;

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
}

impl SplitRecord {
    pub fn new(index: usize, split: &Split, input: Option<String>) -> Self {
        SplitRecord {
            index,
            id: split.id.clone(),
            input,
            input_index: split.input,
            offset: split.offset,
            status: SplitStatus::Skipped,
            attempts: 0,
            rows: 0,
            sink_rows: Vec::new(),
            bytes_read: 0,
            rejected: 0,
            rejects: Vec::new(),
            counters: BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }
    pub fn skipped(index: usize, split: &Split) -> Self {
        Self::new(index, split, None)
    }
    pub fn committed_earlier(index: usize, split: &Split) -> Self {
        SplitRecord { status: SplitStatus::Committed, ..Self::new(index, split, None) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailureEntry {
    pub split: String,
    pub input: Option<String>,
    pub error: String,
    pub kind: String,
    pub attempts: u32,
}

/// A split that succeeded (or ended partial) after more than one attempt.
#[derive(Debug, Clone, Serialize)]
pub struct RetriedEntry {
    pub split: String,
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartialEntry {
    pub split: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RejectEntry {
    pub split: String,
    pub file: Option<String>,
    pub location: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginRecord {
    pub stage: String,
    pub plugin: String,
    pub version: String,
    pub load_ms: f64,
    pub cached: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlowSplit {
    pub split: String,
    pub seconds: f64,
    pub rows: u64,
}

/// The run report (`--report FILE.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub pipeline: String,
    pub name: String,
    pub status: String,
    pub exit_code: i32,
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
    pub quarantine: Option<crate::exec::quarantine::Quarantined>,
    /// Peak resident memory of the process (Linux `VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
    /// Why the run failed, when it failed as a whole.
    pub error: Option<String>,
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
            exit_code: EXIT_OK,
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
        }
    }

    /// The run failed as a whole before or outside the splits.
    pub fn fatal(mut self, error: String, started: Instant) -> Self {
        self.error = Some(error);
        self.status = "failed".into();
        self.exit_code = EXIT_FAILED;
        self.elapsed_seconds = started.elapsed().as_secs_f64();
        self.peak_rss_bytes = peak_rss();
        self
    }

    /// Fills the report from the splits and the writer.
    pub fn complete(
        mut self,
        mut records: Vec<SplitRecord>,
        files: &[PlannedFile],
        writer: WriterReport,
        final_result: Option<Result<crate::exec::final_stage::FinalReport, String>>,
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
        self.exit_code = if self.error.is_some() { EXIT_FAILED } else { EXIT_OK };
        self.status = if self.exit_code == EXIT_OK { "ok".into() } else { "failed".into() };
        self.elapsed_seconds = started.elapsed().as_secs_f64();
        self.peak_rss_bytes = peak_rss();
        self
    }

    /// The end-of-run summary, one screen: how the splits ended, what was
    /// read and written (rows per output, bytes in and out, throughput),
    /// the slowest splits, what went wrong, and where the outputs, the
    /// quarantine and the report are. Lists are capped so the summary stays
    /// short whatever the run; the report has everything.
    pub fn summary(&self, report_path: Option<&str>) -> String {
        /// The first line of `text`, cut to `max` characters.
        fn first_line(text: &str, max: usize) -> String {
            let line = text.lines().next().unwrap_or("");
            if line.chars().count() <= max && !text.contains('\n') {
                return line.to_string();
            }
            let cut: String = line.chars().take(max).collect();
            format!("{cut} ...")
        }
        let mut s = String::new();
        let secs = self.elapsed_seconds.max(1e-9);
        let _ = writeln!(
            s,
            "{}: {}{} in {:.2} s with {} worker{}",
            self.name,
            self.status,
            if self.resumed { " (resumed)" } else { "" },
            self.elapsed_seconds,
            self.workers,
            if self.workers == 1 { "" } else { "s" }
        );
        let mut splits = format!(
            "{} total: {} ok, {} partial, {} failed",
            group(self.splits_total),
            group(self.splits_ok),
            group(self.splits_partial),
            group(self.splits_failed)
        );
        if self.splits_skipped > 0 {
            splits.push_str(&format!(", {} not run", group(self.splits_skipped)));
        }
        if self.splits_already_committed > 0 {
            splits.push_str(&format!(", {} already committed", group(self.splits_already_committed)));
        }
        if !self.retried.is_empty() {
            splits.push_str(&format!(" ({} after retries)", group(self.retried.len() as u64)));
        }
        let _ = writeln!(s, "  splits   {splits}");
        let _ = writeln!(
            s,
            "  in       {} rows, {} ({}/s, {} rows/s)",
            group(self.rows_read),
            ByteSize(self.bytes_read),
            ByteSize((self.bytes_read as f64 / secs) as u64),
            group((self.rows_read as f64 / secs) as u64)
        );
        for t in &self.side_tables {
            let _ = writeln!(
                s,
                "  side     {}: {} rows, {} from {} file{}",
                t.name,
                group(t.rows),
                ByteSize(t.bytes),
                t.files,
                if t.files == 1 { "" } else { "s" }
            );
        }
        let written: u64 = self.outputs.iter().filter(|o| o.committed).map(|o| o.bytes).sum();
        for (i, o) in self.outputs.iter().enumerate() {
            let label = if i == 0 { "out" } else { "" };
            let versions = match o.versions.as_slice() {
                [] => String::new(),
                [v] => format!(", {} version {v}", o.format),
                [first, .., last] => format!(", {} versions {first}..{last}", o.format),
            };
            let state = if o.committed {
                format!("{} rows, {}{versions}", group(o.rows), ByteSize(o.bytes))
            } else if !o.versions.is_empty() {
                format!(
                    "{} rows committed{versions}; the rest not written (resume with --resume)",
                    group(o.rows)
                )
            } else {
                "not written".into()
            };
            let _ = writeln!(s, "  {label:<8} {}: {state} -> {}", o.name, o.path);
        }
        if self.outputs.len() > 1 && written > 0 {
            let _ = writeln!(s, "           {} written in all", ByteSize(written));
        }
        if self.rejected_records > 0 {
            let _ = writeln!(
                s,
                "  rejected {} records, kept out of the outputs ({})",
                group(self.rejected_records),
                if report_path.is_some() { "listed in the report" } else { "--report lists them" }
            );
        }
        if self.peak_rss_bytes > 0 {
            let spilled = if self.spilled_bytes > 0 {
                format!(", {} spilled to disk", ByteSize(self.spilled_bytes))
            } else {
                String::new()
            };
            let _ = writeln!(s, "  memory   {} peak{spilled}", ByteSize(self.peak_rss_bytes));
        }
        if !self.slowest_splits.is_empty() && self.splits_total > 1 {
            for (i, x) in self.slowest_splits.iter().enumerate() {
                let label = if i == 0 { "slowest" } else { "" };
                let _ = writeln!(s, "  {label:<8} {:.2} s  {} ({} rows)", x.seconds, x.split, group(x.rows));
            }
        }
        const PARTIALS: usize = 3;
        for p in self.partials.iter().take(PARTIALS) {
            let _ = writeln!(s, "  partial  {}: {}", p.split, p.reason);
        }
        if self.partials.len() > PARTIALS {
            let _ = writeln!(s, "  ... and {} more partial splits", self.partials.len() - PARTIALS);
        }
        const FAILURES: usize = 5;
        for f in self.failures.iter().take(FAILURES) {
            let attempts = if f.attempts > 1 { format!(" ({} attempts)", f.attempts) } else { String::new() };
            let _ = writeln!(s, "  FAILED   {}: {}{attempts}", f.split, first_line(&f.error, 160));
        }
        if self.failures.len() > FAILURES {
            let _ =
                writeln!(s, "  ... and {} more failures (see the report)", self.failures.len() - FAILURES);
        }
        if let Some(e) = &self.error {
            let _ = writeln!(s, "  error    {e}");
        }
        if let Some(q) = &self.quarantine {
            let _ =
                writeln!(s, "  quarantine {} failed inputs listed in {}/failed-inputs.tsv", q.inputs, q.path);
        }
        if let Some(r) = report_path {
            let _ = writeln!(s, "  report   {r}");
        }
        s
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
