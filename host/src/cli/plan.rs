//! `runtime plan`: the splits a run would execute, largest first, with
//! their sizes and how evenly they spread over the workers.

use super::output::{Out, plural, print_inferred};
use crate::config::Override;
use crate::plan::worker_imbalance;
use crate::plugin;
use crate::prepare::load;
use crate::report::Exit;
use crate::units::ByteSize;
use std::path::Path;

pub fn plan(
    out: &Out,
    path: &Path,
    json: bool,
    html: Option<&Path>,
    workers: Option<usize>,
    overrides: &[Override],
) -> Exit {
    let loaded = match load::load(path, overrides, workers) {
        Ok(x) => x,
        Err(e) => return out.load_error(&e),
    };
    let prepared = &loaded.prepared;
    let p = &prepared.pipeline;
    let workers = workers.unwrap_or(p.run.workers);
    let files = &prepared.source_files;
    let splits = prepared.source_splits();
    let plugin_planned = prepared.source.description.planning == plugin::Planning::Plugin;
    let sizes: Vec<u64> = splits.iter().map(|s| s.split.size_hint).collect();
    let total: u64 = sizes.iter().sum();
    let max = sizes.iter().copied().max().unwrap_or(0);
    let min = sizes.iter().copied().min().unwrap_or(0);
    let mean = if sizes.is_empty() { 0.0 } else { total as f64 / sizes.len() as f64 };
    let imbalance = if mean > 0.0 { max as f64 / mean } else { 1.0 };
    let spread = worker_imbalance(&sizes, workers);
    let failing = splits.iter().filter(|s| s.error.is_some()).count();
    if let Some(h) = html {
        let bars: Vec<(String, Option<String>, u64, Option<String>)> = splits
            .iter()
            .map(|s| {
                let input = s.split.input.and_then(|i| files.get(i as usize)).map(|f| f.shown.clone());
                (s.split.id.clone(), input, s.split.size_hint, s.error.clone())
            })
            .collect();
        let page = crate::report::html::render_plan(&p.name, &bars, workers, imbalance, spread);
        if let Err(e) = std::fs::write(h, page) {
            out.error(&format!("cannot write {}: {e}", h.display()));
            return Exit::Failed;
        }
    }
    if json {
        let keys = prepared.split_keys(&splits);
        let out = serde_json::json!({
            "pipeline": p.file.display().to_string(),
            "fingerprint": crate::plan::fingerprint(&p.name, &keys),
            "reader": prepared.source.description.name,
            "planned_by": if plugin_planned { "plugin" } else { "host" },
            "files": files.len(),
            "splits_total": splits.len(),
            "size_total": total,
            "size_largest": max,
            "size_smallest": min,
            "size_mean": mean.round(),
            "imbalance": (imbalance * 1000.0).round() / 1000.0,
            "workers": workers,
            "worker_imbalance": (spread * 1000.0).round() / 1000.0,
            "splits_known_to_fail": failing,
            "inferred_fields": prepared.source_inferred.iter()
                .map(|(output, fields)| (output.clone(), serde_json::Value::String(fields.clone())))
                .collect::<serde_json::Map<_, _>>(),
            "splits": splits.iter().zip(&keys).map(|(s, key)| serde_json::json!({
                "id": s.split.id,
                "key": key,
                "input": s.split.input.and_then(|i| files.get(i as usize)).map(|f| f.shown.clone()),
                "offset": s.split.offset,
                "length": s.split.length,
                "size_hint": s.split.size_hint,
                "payload": s.split.payload,
                "error": s.error,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        return Exit::Ok;
    }
    let est = if plugin_planned { "~" } else { "" };
    println!(
        "{}: {} over {}, {est}{} in all{}",
        path.display(),
        plural(splits.len(), "split", "splits"),
        plural(files.len(), "file", "files"),
        ByteSize(total),
        if plugin_planned {
            format!(" (planned by the {} plugin; sizes are its estimates)", prepared.source.description.name)
        } else {
            String::new()
        }
    );
    if !splits.is_empty() {
        println!(
            "  sizes       largest {est}{}, mean {est}{}, smallest {est}{}",
            ByteSize(max),
            ByteSize(mean as u64),
            ByteSize(min)
        );
        println!(
            "  imbalance   {imbalance:.2} (largest / mean); {spread:.2} across {} (busiest / fair share)",
            plural(workers, "worker", "workers")
        );
    }
    print_inferred(&prepared.source_inferred, "source.options");
    if failing > 0 {
        println!("  warning     {} will fail (unreadable input)", plural(failing, "split", "splits"));
    }
    const SHOWN: usize = 40;
    if !splits.is_empty() {
        println!("  {:>4}  {:>11}  split", "#", "size");
    }
    for (i, s) in splits.iter().take(SHOWN).enumerate() {
        let extra = match (&s.error, s.split.payload.is_empty() || !plugin_planned) {
            (Some(e), _) => format!("  (will fail: {e})"),
            (None, false) => format!("  {}", s.split.payload),
            _ => String::new(),
        };
        println!(
            "  {:>4}  {:>11}  {}{extra}",
            i + 1,
            format!("{est}{}", ByteSize(s.split.size_hint)),
            s.split.id
        );
    }
    if splits.len() > SHOWN {
        println!("  ... {} more (--json lists every split)", splits.len() - SHOWN);
    }
    Exit::Ok
}
