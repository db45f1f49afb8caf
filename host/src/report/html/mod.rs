//! The run report as one self-contained HTML page (`run --report-html`,
//! `runtime report RUN.json --html`): what a Spark user reads in the Spark
//! UI, for one run. The figures are SVG drawn here ([`svg`]), so the page
//! reads without JavaScript and loads nothing: a Content-Security-Policy
//! forbids every fetch, and the only script (optional) moves a tooltip.
//! Every text that came from a plugin or an input (split ids, reasons, file
//! names) is HTML-escaped; it was bounded when it entered the host
//! ([`crate::text`]).

mod svg;

use super::{RunReport, group};
use crate::units::ByteSize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The page's policy: nothing may be fetched; inline style and script only.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1060px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}.figure{max-width:100%;height:auto;font-size:11px}
.label{font-size:12px}.tick{fill:#555;font-size:11px}
.ok{fill:#3a8d3a}.partial{fill:#e0a000}.failed{fill:#c62828}.commit{fill:#3366cc}.commit.failed{fill:#c62828}
.time{fill:#5a7fb0}rect.bar{stroke:#fff;stroke-width:.5}rect.bar:hover,circle.point:hover{stroke:#000;stroke-width:1.5}
.status-ok{color:#3a8d3a}.status-failed{color:#c62828}.reason{font-family:monospace;white-space:pre-wrap;word-break:break-all}
#tip{position:fixed;display:none;background:#fffbe6;border:1px solid #999;padding:4px 8px;white-space:pre;font-size:12px;pointer-events:none}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}";

/// Optional: shows a bar's `<title>` at once, beside the pointer.
const SCRIPT: &str = "(function(){var tip=document.getElementById('tip');
document.addEventListener('mousemove',function(e){var t=e.target.closest&&e.target.closest('rect,circle');
var title=t&&t.querySelector('title');if(!title){tip.style.display='none';return;}
tip.textContent=title.textContent;tip.style.display='block';tip.style.left=(e.clientX+14)+'px';tip.style.top=(e.clientY+14)+'px';});})();";

/// HTML-escapes `text` for element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 { format!("{:.1}%", part / whole * 100.0) } else { "-".into() }
}

/// The whole page.
pub fn render(r: &RunReport) -> String {
    let mut s = String::with_capacity(64 * 1024 + r.timeline.splits.len() * 600);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>{}: run report</title><style>{STYLE}</style></head><body>",
        esc(&r.name)
    );
    header(&mut s, r);
    timeline(&mut s, r);
    scatter(&mut s, r);
    balance(&mut s, r);
    time_went(&mut s, r);
    failures(&mut s, r);
    rejects(&mut s, r);
    outputs(&mut s, r);
    let _ = writeln!(s, "<div id=\"tip\"></div><script>{SCRIPT}</script></body></html>");
    s
}

/// The page of `runtime plan --html`: the planned splits on the lanes a
/// run would give them (largest first, each to the least loaded worker),
/// with the plan's balance figures. `splits` are `(id, input, size, error)`.
pub fn render_plan(
    pipeline: &str,
    splits: &[(String, Option<String>, u64, Option<String>)],
    workers: usize,
    imbalance: f64,
    spread: f64,
) -> String {
    let total: u64 = splits.iter().map(|s| s.2).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"><title>{}: plan</title><style>{STYLE}</style></head><body>\
<h1>Plan of {}</h1><p>{} splits, {} in all, over {} worker{}; bars are the splits in plan order (largest first), each on the \
worker that would be least loaded when it starts (hover for its name and size).</p>\
<table id=\"balance\"><tr><td>largest split over the mean</td><td class=\"n\" id=\"planned-imbalance\">{imbalance:.2}</td></tr>\
<tr><td>busiest worker's bytes over a fair share</td><td class=\"n\" id=\"planned-spread\">{spread:.2}</td></tr></table>",
        esc(pipeline),
        esc(pipeline),
        group(splits.len() as u64),
        ByteSize(total),
        workers,
        if workers == 1 { "" } else { "s" }
    );
    s.push_str(&svg::plan(splits, workers));
    let _ = writeln!(s, "<div id=\"tip\"></div><script>{SCRIPT}</script></body></html>");
    s
}

fn header(s: &mut String, r: &RunReport) {
    let _ = write!(
        s,
        "<h1>{} <span class=\"status-{}\">{}</span></h1><p>{} &middot; {:.2} s with {} worker{} &middot; run {}{}</p>",
        esc(&r.name),
        if r.status == "ok" { "ok" } else { "failed" },
        esc(&r.status),
        esc(&r.pipeline),
        r.elapsed_seconds,
        r.workers,
        if r.workers == 1 { "" } else { "s" },
        esc(&r.run_id),
        if r.resumed { " (resumed)" } else { "" }
    );
    let _ = write!(
        s,
        "<table id=\"totals\"><tr><th>splits</th><td>{} total: {} ok, {} partial, {} failed, {} not run, {} already committed</td></tr>\
<tr><th>read</th><td>{} rows, {} ({} rejected records)</td></tr><tr><th>memory</th><td>{} peak</td></tr>",
        group(r.splits_total),
        group(r.splits_ok),
        group(r.splits_partial),
        group(r.splits_failed),
        group(r.splits_skipped),
        group(r.splits_already_committed),
        group(r.rows_read),
        ByteSize(r.bytes_read),
        group(r.rejected_records),
        ByteSize(r.peak_rss_bytes)
    );
    if let Some(e) = &r.error {
        let _ = write!(s, "<tr><th>error</th><td class=\"reason\">{}</td></tr>", esc(e));
    }
    s.push_str("</table>");
}

fn timeline(s: &mut String, r: &RunReport) {
    let t = &r.timeline;
    s.push_str("<section id=\"timeline\"><h2>Timeline</h2><p class=\"legend\">One lane per worker, one bar per split (hover for its name, size, rows and duration);<span class=\"ok\" style=\"background:#3a8d3a\"></span>ok<span style=\"background:#e0a000\"></span>partial<span style=\"background:#c62828\"></span>failed<span style=\"background:#3366cc\"></span>commit</p>");
    s.push_str(&svg::timeline(t, r.elapsed_seconds));
    if !t.others.is_empty() {
        let n: u64 = t.others.iter().map(|b| b.splits).sum();
        let _ = write!(
            s,
            "<p id=\"others\">{} more splits ran but are not drawn one by one (the report keeps at most {} individually: \
every failed or partial one, the slowest and the largest); by duration:</p><table><tr><th class=\"n\">under</th><th class=\"n\">splits</th>\
<th class=\"n\">seconds</th><th class=\"n\">rows</th><th class=\"n\">bytes</th><th class=\"n\">failed</th></tr>",
            group(n),
            group(super::timeline::MAX_TIMED_SPLITS as u64)
        );
        for b in &t.others {
            let _ = write!(
                s,
                "<tr><td class=\"n\">{:.3} s</td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                b.under_seconds,
                group(b.splits),
                b.seconds,
                group(b.rows),
                ByteSize(b.bytes),
                group(b.failed)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
}

fn scatter(s: &mut String, r: &RunReport) {
    s.push_str("<section id=\"scatter\"><h2>Split size against duration</h2><p>A point well above the others of its size is slow for its size.</p>");
    s.push_str(&svg::scatter(&r.timeline.splits));
    s.push_str("</section>");
}

fn balance(s: &mut String, r: &RunReport) {
    let b = &r.timeline.balance;
    let _ = write!(
        s,
        "<section id=\"balance\"><h2>Balance</h2><table><tr><th></th><th class=\"n\">ratio</th><th>what (1.00 is perfect)</th></tr>\
<tr><td>planned</td><td class=\"n\" id=\"planned-imbalance\">{:.2}</td><td>largest split over the mean</td></tr>\
<tr><td>planned</td><td class=\"n\" id=\"planned-spread\">{:.2}</td><td>busiest worker's bytes over a fair share (largest first to the least busy)</td></tr>\
<tr><td>measured</td><td class=\"n\" id=\"measured-spread\">{:.2}</td><td>busiest worker's seconds over a fair share</td></tr></table>",
        b.planned_largest_over_mean, b.planned_busiest_over_fair, b.measured_busiest_over_fair
    );
    let items: Vec<(String, f64, String)> = r
        .timeline
        .workers
        .iter()
        .map(|w| {
            (
                format!("worker {}", w.worker),
                w.busy_seconds,
                format!("{:.3} s, {} splits", w.busy_seconds, group(w.splits)),
            )
        })
        .collect();
    s.push_str(&svg::bars("workers-svg", &items));
    s.push_str("</section>");
}

fn time_went(s: &mut String, r: &RunReport) {
    let t = &r.timeline.time;
    let mut items = vec![("reader".to_string(), t.reader)];
    items.extend(t.transforms.iter().map(|x| (x.stage.clone(), x.seconds)));
    items.push(("host (decode, route, set up)".into(), t.host));
    items.push(("backpressure wait".into(), t.backpressure));
    items.push(("writer (stage, write)".into(), t.writer));
    items.push(("commit".into(), t.commit));
    let whole: f64 = items.iter().map(|i| i.1).sum();
    let shown: Vec<(String, f64, String)> =
        items.into_iter().map(|(n, v)| (n, v, format!("{v:.3} s ({})", pct(v, whole)))).collect();
    s.push_str("<section id=\"time\"><h2>Where time went</h2><p>Seconds summed over the splits (workers run at once, so the sum may pass the run's wall time); the writer runs on its own thread.</p>");
    s.push_str(&svg::bars("time-svg", &shown));
    s.push_str("</section>");
}

fn failures(s: &mut String, r: &RunReport) {
    s.push_str("<section id=\"failures\"><h2>Failures and partial splits</h2>");
    if r.failures.is_empty() && r.partials.is_empty() {
        s.push_str("<p>None: every split that ran succeeded.</p>");
    }
    s.push_str("<ul id=\"failure-list\">");
    for f in &r.failures {
        let _ = write!(
            s,
            "<li class=\"failure\"><b>{}</b> ({}) failed: {}, after {} attempt{}<div class=\"reason\">{}</div></li>",
            esc(&f.split),
            esc(f.input.as_deref().unwrap_or("no input file")),
            esc(&f.kind),
            f.attempts,
            if f.attempts == 1 { "" } else { "s" },
            esc(&f.error)
        );
    }
    for p in &r.partials {
        let _ = write!(
            s,
            "<li class=\"partial\"><b>{}</b> ended partial<div class=\"reason\">{}</div></li>",
            esc(&p.split),
            esc(&p.reason)
        );
    }
    s.push_str("</ul>");
    if !r.retried.is_empty() {
        s.push_str("<p>Succeeded after retries:</p><ul id=\"retried\">");
        for x in &r.retried {
            let _ = write!(s, "<li>{} ({} attempts)</li>", esc(&x.split), x.attempts);
        }
        s.push_str("</ul>");
    }
    s.push_str("<h2 id=\"quarantine\">Quarantined inputs</h2>");
    match &r.quarantine {
        Some(q) => {
            let _ = write!(
                s,
                "<p>{} input file{} listed in <code>{}/failed-inputs.tsv</code> and copied there:</p><ul id=\"quarantine-list\">",
                q.inputs,
                if q.inputs == 1 { "" } else { "s" },
                esc(&q.path)
            );
            let mut seen = std::collections::BTreeSet::new();
            for f in r.failures.iter().filter_map(|f| f.input.as_deref()) {
                if seen.insert(f) {
                    let _ = write!(s, "<li>{}</li>", esc(f));
                }
            }
            s.push_str("</ul>");
        }
        None => s.push_str("<p>None (no quarantine folder, or nothing failed).</p>"),
    }
    s.push_str("</section>");
}

/// A reject's kind: its reason up to the first `:` (the rest is detail).
fn reject_kind(reason: &str) -> &str {
    reason.split(':').next().unwrap_or(reason).trim()
}

fn rejects(s: &mut String, r: &RunReport) {
    let _ = write!(
        s,
        "<section id=\"rejects\"><h2>Rejected records</h2><p>{} rejected record{}{}.</p>",
        group(r.rejected_records),
        if r.rejected_records == 1 { "" } else { "s" },
        if (r.rejects.len() as u64) < r.rejected_records {
            format!(" ({} listed in the report, counted by kind below)", group(r.rejects.len() as u64))
        } else {
            String::new()
        }
    );
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for x in &r.rejects {
        *kinds.entry(reject_kind(&x.reason)).or_default() += 1;
    }
    if !kinds.is_empty() {
        let mut kinds: Vec<(&str, u64)> = kinds.into_iter().collect();
        kinds.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        s.push_str(
            "<table id=\"reject-kinds\"><tr><th>kind</th><th class=\"n\">records</th><th>example</th></tr>",
        );
        for (kind, n) in kinds.iter().take(50) {
            let example =
                r.rejects.iter().find(|x| reject_kind(&x.reason) == *kind).expect("counted from these");
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"reason\">{} {}: {}</td></tr>",
                esc(kind),
                group(*n),
                esc(example.file.as_deref().unwrap_or(&example.split)),
                esc(&example.location),
                esc(&example.reason)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
}

fn outputs(s: &mut String, r: &RunReport) {
    s.push_str("<section id=\"outputs\"><h2>Outputs</h2><table id=\"output-table\"><tr><th>sink</th><th>path</th><th>format</th>\
<th class=\"n\">rows</th><th class=\"n\">bytes</th><th class=\"n\">commits</th><th>committed</th><th>versions</th></tr>");
    for o in &r.outputs {
        let commits = r.timeline.commits.iter().filter(|c| c.sink == o.name && c.ok).count();
        let versions: Vec<String> = o.versions.iter().map(|v| v.to_string()).collect();
        let _ = write!(
            s,
            "<tr class=\"output\"><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}{}</td></tr>",
            esc(&o.name),
            esc(&o.path),
            esc(&o.format),
            group(o.rows),
            ByteSize(o.bytes),
            commits,
            if o.committed { "yes" } else { "no" },
            if versions.is_empty() { "-".into() } else { esc(&versions.join(", ")) },
            o.previous_version.map(|v| format!(" (was {v})")).unwrap_or_default()
        );
    }
    s.push_str("</table>");
    if !r.timeline.commits.is_empty() {
        s.push_str("<table id=\"commit-table\"><tr><th>commit</th><th class=\"n\">at</th><th class=\"n\">took</th><th>version</th></tr>");
        for c in &r.timeline.commits {
            let _ = write!(
                s,
                "<tr><td>{}{}{}</td><td class=\"n\">{:.3} s</td><td class=\"n\">{:.3} s</td><td>{}</td></tr>",
                esc(&c.sink),
                if c.complete { " (final)" } else { "" },
                if c.ok { "" } else { " FAILED" },
                c.start,
                c.seconds,
                c.version.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
            );
        }
        s.push_str("</table>");
    }
    if !r.side_tables.is_empty() {
        s.push_str("<h2>Side tables</h2><table><tr><th>table</th><th class=\"n\">rows</th><th class=\"n\">bytes</th><th class=\"n\">files</th></tr>");
        for t in &r.side_tables {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&t.name),
                group(t.rows),
                ByteSize(t.bytes),
                t.files
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn reject_kinds_are_the_reason_before_its_detail() {
        assert_eq!(reject_kind("invalid JSON: expected value at line 1"), "invalid JSON");
        assert_eq!(reject_kind("no colon"), "no colon");
    }
}
