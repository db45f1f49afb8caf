//! The figures of the HTML report, drawn here as inline SVG so the page
//! needs no script and no network: the timeline (a lane per worker, a bar
//! per split, the writer's commits below), split size against duration,
//! and horizontal bars (where time went, worker loads). Every bar and point
//! carries an SVG `<title>`, the browser's own tooltip.

use super::esc;
use crate::report::group;
use crate::report::timeline::{CommitEntry, TimedSplit, Timeline};
use crate::units::ByteSize;
use std::fmt::Write as _;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 22.0;

/// What a split's tooltip says.
pub fn split_title(s: &TimedSplit) -> String {
    let mut t = format!(
        "{}\n{}: {} in {:.3} s on worker {}\nsize {}, read {}, {} rows, {} attempt{}",
        s.id,
        s.outcome,
        s.input.as_deref().unwrap_or("(no input file)"),
        s.end - s.start,
        s.worker,
        ByteSize(s.size),
        ByteSize(s.bytes_read),
        group(s.rows),
        s.attempts,
        if s.attempts == 1 { "" } else { "s" }
    );
    let _ = write!(t, "\nreader {:.3} s, backpressure {:.3} s", s.reader, s.backpressure);
    if let Some(r) = &s.reason {
        let _ = write!(t, "\n{r}");
    }
    t
}

/// Ticks for an axis from 0 to `max` seconds: about six round steps.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 {
        return vec![0.0];
    }
    let raw = max / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    (0..).map(|i| i as f64 * step).take_while(|t| *t <= max * 1.0001).collect()
}

/// The timeline: one lane per worker, one bar per split that ran, coloured
/// by outcome, and a lane for the writer's commits.
pub fn timeline(t: &Timeline, elapsed: f64) -> String {
    let lanes = t.workers.len().max(t.splits.iter().map(|s| s.worker + 1).max().unwrap_or(0));
    let end = t
        .splits
        .iter()
        .map(|s| s.end)
        .chain(t.commits.iter().map(|c| c.start + c.seconds))
        .fold(elapsed, f64::max)
        .max(1e-6);
    let plot = WIDTH - LEFT - RIGHT;
    let x = |secs: f64| LEFT + secs / end * plot;
    let rows = lanes + 1;
    let mut s =
        lane_chart("timeline-svg", "timeline of splits per worker", rows, end, |t| format!("{} s", trim(t)));
    for w in 0..lanes {
        let y = w as f64 * LANE;
        let busy = t.workers.get(w).map_or(0.0, |l| l.busy_seconds);
        let _ = write!(
            s,
            r#"<g class="lane" data-worker="{w}"><title>worker {w}: busy {busy:.3} s</title><text x="4" y="{:.1}" class="label">worker {w}</text>"#,
            y + 15.0
        );
        for sp in t.splits.iter().filter(|sp| sp.worker == w) {
            let x0 = x(sp.start);
            let width = (x(sp.end) - x0).max(1.0);
            let _ = write!(
                s,
                r#"<rect class="bar {}" data-split="{}" x="{x0:.2}" y="{:.1}" width="{width:.2}" height="{:.1}"><title>{}</title></rect>"#,
                esc(&sp.outcome),
                esc(&sp.id),
                y + 3.0,
                LANE - 6.0,
                esc(&split_title(sp))
            );
        }
        s.push_str("</g>");
    }
    let y = lanes as f64 * LANE;
    let _ =
        write!(s, r#"<g class="writer-lane"><text x="4" y="{:.1}" class="label">commits</text>"#, y + 15.0);
    for c in &t.commits {
        let x0 = x(c.start);
        let width = (x(c.start + c.seconds) - x0).max(2.0);
        let _ = write!(
            s,
            r#"<rect class="commit{}" x="{x0:.2}" y="{:.1}" width="{width:.2}" height="{:.1}"><title>{}</title></rect>"#,
            if c.ok { "" } else { " failed" },
            y + 3.0,
            LANE - 6.0,
            esc(&commit_title(c))
        );
    }
    s.push_str("</g></svg>");
    s
}

/// The plan drawn the same way: splits in plan order (largest first), each
/// to the least loaded of `workers` lanes, along an axis of bytes.
/// `splits` are `(id, input, size, error)`.
pub fn plan(splits: &[(String, Option<String>, u64, Option<String>)], workers: usize) -> String {
    let lanes = workers.max(1);
    let mut loads = vec![0u64; lanes];
    let mut placed = Vec::with_capacity(splits.len());
    for (i, (_, _, size, _)) in splits.iter().enumerate() {
        let w = (0..lanes).min_by_key(|w| loads[*w]).expect("at least one lane");
        placed.push((i, w, loads[w]));
        loads[w] += size;
    }
    let end = loads.iter().copied().max().unwrap_or(0).max(1) as f64;
    let plot = WIDTH - LEFT - RIGHT;
    let x = |b: f64| LEFT + b / end * plot;
    let mut s =
        lane_chart("plan-svg", "planned splits per worker", lanes, end, |t| ByteSize(t as u64).to_string());
    for (w, load) in loads.iter().enumerate() {
        let y = w as f64 * LANE;
        let _ = write!(
            s,
            r#"<g class="lane" data-worker="{w}"><title>worker {w}: {} planned</title><text x="4" y="{:.1}" class="label">worker {w}</text>"#,
            ByteSize(*load),
            y + 15.0
        );
        for &(i, _, start) in placed.iter().filter(|p| p.1 == w) {
            let (id, input, size, error) = &splits[i];
            let x0 = x(start as f64);
            let width = (x((start + size) as f64) - x0).max(1.0);
            let title = format!(
                "#{} {id}\n{}: {}{}",
                i + 1,
                input.as_deref().unwrap_or("(no input file)"),
                ByteSize(*size),
                error.as_deref().map(|e| format!("\nwill fail: {e}")).unwrap_or_default()
            );
            let _ = write!(
                s,
                r#"<rect class="bar {}" data-split="{}" x="{x0:.2}" y="{:.1}" width="{width:.2}" height="{:.1}"><title>{}</title></rect>"#,
                if error.is_some() { "failed" } else { "ok" },
                esc(id),
                y + 3.0,
                LANE - 6.0,
                esc(&title)
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

pub fn commit_title(c: &CommitEntry) -> String {
    format!(
        "commit of {} at {:.3} s, took {:.3} s{}{}{}",
        c.sink,
        c.start,
        c.seconds,
        c.version.map(|v| format!(", version {v}")).unwrap_or_default(),
        if c.complete { ", final" } else { "" },
        if c.ok { "" } else { ", FAILED" }
    )
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A value axis: linear, or logarithmic when the values span more than
/// two orders of magnitude.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Scale {
    fn of(values: impl Iterator<Item = f64> + Clone) -> Scale {
        let hi = values.clone().fold(0.0, f64::max).max(1e-9);
        let lo_pos = values.filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        let log = lo_pos.is_finite() && hi / lo_pos > 100.0;
        if log {
            Scale { lo: lo_pos.log10().floor(), hi: hi.log10().ceil(), log }
        } else {
            Scale { lo: 0.0, hi, log }
        }
    }
    /// 0..1 along the axis.
    fn at(&self, v: f64) -> f64 {
        if self.log {
            let l = v.max(10f64.powf(self.lo)).log10();
            (l - self.lo) / (self.hi - self.lo).max(1e-9)
        } else {
            v / self.hi
        }
    }
    fn name(&self) -> &'static str {
        if self.log { "log scale" } else { "linear" }
    }
}

/// Split size (x) against duration (y), one point per split.
pub fn scatter(splits: &[TimedSplit]) -> String {
    let (w, h, pad) = (WIDTH, 320.0, 50.0);
    let xs = Scale::of(splits.iter().map(|s| s.size.max(s.bytes_read) as f64));
    let ys = Scale::of(splits.iter().map(|s| s.end - s.start));
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg id="scatter-svg" class="figure" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="split size against duration"><rect x="{pad}" y="10" width="{}" height="{}" fill="none" stroke="#999"/><text x="{}" y="{}" class="tick" text-anchor="middle">size ({})</text><text x="12" y="{}" class="tick" transform="rotate(-90 12 {})" text-anchor="middle">duration ({})</text>"##,
        w - pad - 10.0,
        h - pad - 10.0,
        w / 2.0,
        h - 12.0,
        xs.name(),
        h / 2.0,
        h / 2.0,
        ys.name()
    );
    let _ = write!(
        s,
        r#"<text x="{pad}" y="{}" class="tick">{}</text><text x="{}" y="{}" class="tick" text-anchor="end">{}</text><text x="{}" y="20" class="tick" text-anchor="end">{:.3} s</text>"#,
        h - pad + 14.0,
        if xs.log { ByteSize(10f64.powf(xs.lo) as u64).to_string() } else { "0".into() },
        w - 10.0,
        h - pad + 14.0,
        ByteSize(if xs.log { 10f64.powf(xs.hi) } else { xs.hi } as u64),
        pad - 4.0,
        if ys.log { 10f64.powf(ys.hi) } else { ys.hi }
    );
    for sp in splits {
        let cx = pad + xs.at(sp.size.max(sp.bytes_read) as f64) * (w - pad - 10.0);
        let cy = h - pad - ys.at(sp.end - sp.start) * (h - pad - 10.0);
        let _ = write!(
            s,
            r#"<circle class="point {}" cx="{cx:.1}" cy="{cy:.1}" r="4"><title>{}</title></circle>"#,
            esc(&sp.outcome),
            esc(&split_title(sp))
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per `(label, value, shown)`, scaled to the largest.
pub fn bars(id: &str, items: &[(String, f64, String)]) -> String {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1e-9);
    let row = 22.0;
    let h = items.len() as f64 * row + 4.0;
    let label = 180.0;
    let plot = WIDTH - label - 220.0;
    let mut s = String::new();
    let _ =
        write!(s, r#"<svg id="{id}" class="figure" viewBox="0 0 {WIDTH} {h}" width="{WIDTH}" height="{h}">"#);
    for (i, (name, v, shown)) in items.iter().enumerate() {
        let y = i as f64 * row;
        let width = (v / max * plot).max(if *v > 0.0 { 1.0 } else { 0.0 });
        let _ = write!(
            s,
            r#"<g class="hbar"><title>{0}: {2}</title><text x="4" y="{1:.1}" class="label">{0}</text><rect class="time" x="{label}" y="{3:.1}" width="{width:.1}" height="{4}"/><text x="{5:.1}" y="{1:.1}" class="label">{2}</text></g>"#,
            esc(name),
            y + 15.0,
            esc(shown),
            y + 3.0,
            row - 6.0,
            label + width + 6.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Opens a chart of `rows` lanes over an axis from 0 to `end`: the `<svg>`
/// element (left open) and the axis' ticks, labelled by `label`. The
/// timeline and the plan share it.
fn lane_chart(id: &str, aria: &str, rows: usize, end: f64, label: impl Fn(f64) -> String) -> String {
    let plot = WIDTH - LEFT - RIGHT;
    let x = |v: f64| LEFT + v / end * plot;
    let lanes_height = rows as f64 * LANE;
    let height = lanes_height + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="figure" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{aria}">"#
    );
    for tick in ticks(end) {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="0" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" class="tick" text-anchor="middle">{3}</text>"##,
            x(tick),
            lanes_height,
            lanes_height + 14.0,
            label(tick)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(1.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(60.0).last().copied(), Some(60.0));
        assert_eq!(ticks(0.0), vec![0.0]);
    }

    #[test]
    fn wide_ranges_go_logarithmic() {
        let s = Scale::of([1.0, 10.0, 100_000.0].into_iter());
        assert!(s.log);
        assert!((s.at(100.0) - 0.4).abs() < 1e-9);
        assert!(!Scale::of([1.0, 5.0].into_iter()).log);
    }
}
