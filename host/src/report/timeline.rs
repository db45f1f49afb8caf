//! When and where the work of a run happened, in the JSON run report
//! (`timeline`) and drawn by the HTML report ([`super::html`]): per split
//! its worker, start and end (seconds from the start of the run), size,
//! rows, attempts and outcome; where time went (each plugin, backpressure,
//! the writer, each commit); and the plan's balance beside the measured one.
//!
//! Bounded: up to [`MAX_TIMED_SPLITS`] splits are kept one by one. Beyond
//! that the report keeps every failed or partial split, the slowest and the
//! largest (half the budget each), and counts the rest in duration buckets
//! ([`DurationBucket`], powers of two of a millisecond); totals (worker
//! loads, where time went) always cover every split.

use super::{FinalReport, SplitRecord, SplitStatus};
use crate::plan::worker_imbalance;
use crate::prepare::Prepared;
use crate::sink::WriterReport;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Splits kept one by one in the report; the rest are bucketed.
pub const MAX_TIMED_SPLITS: usize = 20_000;

/// The run's timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// Splits that ran, kept one by one, in the order they started.
    pub splits: Vec<TimedSplit>,
    /// Splits that ran but are not in `splits`, by duration.
    #[serde(default)]
    pub others: Vec<DurationBucket>,
    /// Per worker (pool thread): splits run and seconds busy, every split.
    pub workers: Vec<WorkerLoad>,
    /// Where the time went, summed over every split and the writer.
    pub time: TimeSpent,
    /// Every commit the writer made, in order.
    pub commits: Vec<CommitEntry>,
    pub balance: Balance,
}

/// One split that ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimedSplit {
    /// Its place in the plan (0 is the largest).
    pub index: usize,
    pub id: String,
    pub input: Option<String>,
    pub worker: usize,
    /// Seconds from the start of the run.
    pub start: f64,
    pub end: f64,
    /// Planned size in bytes.
    pub size: u64,
    pub bytes_read: u64,
    pub rows: u64,
    pub attempts: u32,
    /// `ok`, `partial` or `failed`.
    pub outcome: String,
    /// Why it failed or ended partial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds inside the reader, each transform, and blocked on the writer.
    pub reader: f64,
    pub transforms: Vec<f64>,
    pub backpressure: f64,
}

/// Splits of about the same duration, counted rather than listed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DurationBucket {
    /// Splits here took less than this (and at least half of it).
    pub under_seconds: f64,
    pub splits: u64,
    pub seconds: f64,
    pub rows: u64,
    pub bytes: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerLoad {
    pub worker: usize,
    pub splits: u64,
    pub busy_seconds: f64,
}

/// Seconds, summed over splits (so above the run's wall time with more
/// than one worker).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TimeSpent {
    /// Inside the reader plugin.
    pub reader: f64,
    /// Inside each transform (split and final phase), in pipeline order.
    pub transforms: Vec<StageSeconds>,
    /// Workers blocked handing batches to the writer.
    pub backpressure: f64,
    /// The rest of the splits' time: the host decoding and routing batches,
    /// creating instances, retry back-off.
    pub host: f64,
    /// The writer staging and writing data files.
    pub writer: f64,
    /// The writer committing (all commits).
    pub commit: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StageSeconds {
    pub stage: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitEntry {
    pub sink: String,
    /// Seconds from the start of the run.
    pub start: f64,
    pub seconds: f64,
    pub version: Option<i64>,
    /// The sink's final commit of the run.
    pub complete: bool,
    pub ok: bool,
}

/// How evenly the work spread: planned (sizes, largest first to the least
/// busy worker) and measured (seconds busy). 1.00 is perfect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Balance {
    /// Largest planned split over the mean.
    pub planned_largest_over_mean: f64,
    /// The busiest worker's planned bytes over a fair share.
    pub planned_busiest_over_fair: f64,
    /// The busiest worker's measured seconds over a fair share.
    pub measured_busiest_over_fair: f64,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn since(at: Instant, started: Instant) -> f64 {
    secs(at.saturating_duration_since(started))
}

impl Timeline {
    /// Builds the timeline from the split records (in plan order), the
    /// writer and the final phase.
    pub fn build(
        records: &[SplitRecord],
        writer: &WriterReport,
        final_report: Option<&FinalReport>,
        workers: usize,
        started: Instant,
        prepared: &Prepared,
    ) -> Timeline {
        let ran: Vec<&SplitRecord> = records.iter().filter(|r| r.times.worker.is_some()).collect();
        let kept = keep(&ran);
        let mut others = Vec::new();
        for (r, keep) in ran.iter().zip(&kept) {
            if !keep {
                add_to_bucket(&mut others, r);
            }
        }
        let mut splits: Vec<TimedSplit> =
            ran.iter().zip(&kept).filter(|(_, k)| **k).map(|(r, _)| timed(r)).collect();
        splits.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.index.cmp(&b.index)));

        let mut loads: Vec<WorkerLoad> =
            (0..workers).map(|w| WorkerLoad { worker: w, ..Default::default() }).collect();
        let names: Vec<String> = prepared.transforms.iter().map(|t| t.stage.common.id.clone()).collect();
        let mut time = TimeSpent {
            transforms: names.iter().map(|n| StageSeconds { stage: n.clone(), seconds: 0.0 }).collect(),
            ..Default::default()
        };
        for r in &ran {
            let w = r.times.worker.expect("ran");
            if w >= loads.len() {
                loads.resize_with(w + 1, Default::default);
                loads[w].worker = w;
            }
            loads[w].splits += 1;
            loads[w].busy_seconds += secs(r.elapsed);
            time.reader += secs(r.times.reader);
            time.backpressure += secs(r.times.backpressure);
            let mut accounted = r.times.reader + r.times.backpressure;
            for (t, d) in r.times.transforms.iter().enumerate() {
                if let Some(s) = time.transforms.get_mut(t) {
                    s.seconds += secs(*d);
                }
                accounted += *d;
            }
            time.host += secs(r.elapsed.saturating_sub(accounted));
        }
        if let Some(f) = final_report {
            for (t, d) in f.transform_time.iter().enumerate() {
                if let Some(s) = time.transforms.get_mut(t) {
                    s.seconds += secs(*d);
                }
            }
            time.backpressure += secs(f.send_wait);
        }
        time.writer = secs(writer.writing);
        time.commit = writer.commits.iter().map(|c| secs(c.took)).sum();
        let commits = writer
            .commits
            .iter()
            .map(|c| CommitEntry {
                sink: c.sink.clone(),
                start: since(c.at, started),
                seconds: secs(c.took),
                version: c.version,
                complete: c.complete,
                ok: c.ok,
            })
            .collect();

        let sizes: Vec<u64> = records.iter().map(|r| r.size).collect();
        let total: u64 = sizes.iter().sum();
        let largest = sizes.iter().copied().max().unwrap_or(0);
        let mean = if sizes.is_empty() { 0.0 } else { total as f64 / sizes.len() as f64 };
        let busy: f64 = loads.iter().map(|l| l.busy_seconds).sum();
        let busiest = loads.iter().map(|l| l.busy_seconds).fold(0.0, f64::max);
        let lanes = workers.min(ran.len()).max(1);
        let balance = Balance {
            planned_largest_over_mean: if mean > 0.0 { largest as f64 / mean } else { 1.0 },
            planned_busiest_over_fair: worker_imbalance(&sizes, workers),
            measured_busiest_over_fair: if busy > 0.0 { busiest / (busy / lanes as f64) } else { 1.0 },
        };
        Timeline { splits, others, workers: loads, time, commits, balance }
    }
}

/// Which of `ran` to keep one by one: all of them up to the bound, else
/// the failed and partial ones, the slowest and the largest.
fn keep(ran: &[&SplitRecord]) -> Vec<bool> {
    if ran.len() <= MAX_TIMED_SPLITS {
        return vec![true; ran.len()];
    }
    let mut kept = vec![false; ran.len()];
    let mut n = 0;
    for (i, r) in ran.iter().enumerate() {
        if n < MAX_TIMED_SPLITS / 2 && !matches!(r.status, SplitStatus::Ok) {
            kept[i] = true;
            n += 1;
        }
    }
    let mut order: Vec<usize> = (0..ran.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ran[i].elapsed));
    let slowest = n + (MAX_TIMED_SPLITS - n) / 2;
    for &i in &order {
        if n >= slowest {
            break;
        }
        if !kept[i] {
            kept[i] = true;
            n += 1;
        }
    }
    order.sort_by_key(|&i| std::cmp::Reverse(ran[i].size));
    for &i in &order {
        if n >= MAX_TIMED_SPLITS {
            break;
        }
        if !kept[i] {
            kept[i] = true;
            n += 1;
        }
    }
    kept
}

fn add_to_bucket(buckets: &mut Vec<DurationBucket>, r: &SplitRecord) {
    let ms = r.elapsed.as_millis() as u64;
    // Bucket k holds [2^(k-1), 2^k) ms; bucket 0 under 1 ms.
    let k = (u64::BITS - ms.leading_zeros()) as usize;
    let under = (1u64 << k) as f64 / 1000.0;
    let i = match buckets.iter().position(|b| b.under_seconds >= under) {
        Some(i) if buckets[i].under_seconds == under => i,
        Some(i) => {
            buckets.insert(i, DurationBucket { under_seconds: under, ..Default::default() });
            i
        }
        None => {
            buckets.push(DurationBucket { under_seconds: under, ..Default::default() });
            buckets.len() - 1
        }
    };
    let b = &mut buckets[i];
    b.splits += 1;
    b.seconds += secs(r.elapsed);
    b.rows += r.rows;
    b.bytes += r.bytes_read;
    b.failed += u64::from(matches!(r.status, SplitStatus::Failed { .. }));
}

fn timed(r: &SplitRecord) -> TimedSplit {
    let (outcome, reason) = match &r.status {
        SplitStatus::Ok => ("ok", None),
        SplitStatus::Partial { reason } => ("partial", Some(reason.clone())),
        SplitStatus::Failed { error, .. } => ("failed", Some(error.clone())),
        SplitStatus::Skipped => ("skipped", None),
        SplitStatus::Committed => ("committed", None),
    };
    TimedSplit {
        index: r.index,
        id: r.id.clone(),
        input: r.input.clone(),
        worker: r.times.worker.unwrap_or(0),
        start: secs(r.times.start),
        end: secs(r.times.start + r.elapsed),
        size: r.size,
        bytes_read: r.bytes_read,
        rows: r.rows,
        attempts: r.attempts,
        outcome: outcome.into(),
        reason,
        reader: secs(r.times.reader),
        transforms: r.times.transforms.iter().map(|d| secs(*d)).collect(),
        backpressure: secs(r.times.backpressure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::reader::Split;

    fn record(index: usize, millis: u64, status: SplitStatus) -> SplitRecord {
        let split = Split {
            id: format!("s{index}"),
            input: None,
            offset: 0,
            length: 0,
            payload: String::new(),
            size_hint: index as u64,
        };
        let mut r = SplitRecord::new(index, &split, None);
        r.status = status;
        r.attempts = 1;
        r.elapsed = Duration::from_millis(millis);
        r.times.worker = Some(index % 4);
        r
    }

    #[test]
    fn a_large_run_keeps_a_bounded_list_and_counts_the_rest() {
        let n = MAX_TIMED_SPLITS + 5_000;
        let records: Vec<SplitRecord> = (0..n)
            .map(|i| {
                let status = if i == 7 {
                    SplitStatus::Failed { error: "bad".into(), kind: "io".into() }
                } else {
                    SplitStatus::Ok
                };
                record(i, (i % 100) as u64, status)
            })
            .collect();
        let ran: Vec<&SplitRecord> = records.iter().collect();
        let kept = keep(&ran);
        assert_eq!(kept.iter().filter(|k| **k).count(), MAX_TIMED_SPLITS);
        assert!(kept[7], "the failed split is kept");
        assert!(kept[n - 1], "the largest split is kept");
        let mut buckets = Vec::new();
        for (r, k) in ran.iter().zip(&kept) {
            if !k {
                add_to_bucket(&mut buckets, r);
            }
        }
        assert_eq!(buckets.iter().map(|b| b.splits).sum::<u64>(), 5_000);
        assert!(buckets.windows(2).all(|w| w[0].under_seconds < w[1].under_seconds));
        for b in &buckets {
            assert!(b.seconds <= b.splits as f64 * b.under_seconds, "{b:?}");
        }
    }
}
