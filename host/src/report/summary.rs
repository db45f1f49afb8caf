//! The one-screen summary a run ends with: how the splits ended, what was
//! read and written, the slowest splits, what went wrong, and where the
//! outputs, the quarantine and the report are.

use super::{RunReport, group};
use crate::units::ByteSize;
use std::fmt::Write as _;

impl RunReport {
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
        if let Some(run) = &self.nothing_to_resume {
            let _ = writeln!(
                s,
                "  resume   nothing to do: run {run} already completed; the outputs are as it left them"
            );
        }
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
                "  side     {}: {} rows, {} from {} file{}{}",
                t.name,
                group(t.rows),
                ByteSize(t.bytes),
                t.files,
                if t.files == 1 { "" } else { "s" },
                if t.cached { " (from the side-table cache)" } else { "" }
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
                "  rejected {} {}, kept out of the outputs ({})",
                group(self.rejected_records),
                if self.rejected_records == 1 { "record" } else { "records" },
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
