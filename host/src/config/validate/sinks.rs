//! `[sinks.NAME]`: the output format from the path and `format`, the
//! Parquet writer's settings, and the table settings (mode, partitioning,
//! commit cadence, resume), each checked against the format it applies to.

use super::{Validator, valid_name};
use crate::config::diagnostics::did_you_mean;
use crate::config::model::*;
use crate::config::raw::RawSink;
use std::collections::HashSet;
use std::path::PathBuf;
use toml::Spanned;

impl Validator<'_> {
    /// One `[sinks.NAME]`; `paths` holds the outputs seen so far.
    pub(super) fn sink(
        &mut self,
        name: &str,
        s: &Spanned<RawSink>,
        paths: &mut HashSet<PathBuf>,
        pipeline: &str,
    ) -> SinkStage {
        let id = format!("sinks.{name}");
        let sk = s.get_ref();
        if !valid_name(name) {
            let at = self.at(s);
            self.error(
                id.clone(),
                at,
                format!("`{name}` is not a valid sink name"),
                Some("use letters, digits, `_` and `-`".into()),
            );
        }
        let written = sk.path.get_ref().clone();
        let format = match sk.format.get_ref().as_str() {
            "parquet" if written.ends_with(".parquet") => SinkFormat::ParquetFile,
            "parquet" => SinkFormat::ParquetDir,
            "delta" => SinkFormat::Delta,
            other => {
                let at = self.at(&sk.format);
                let hint = did_you_mean(other, ["parquet", "delta"])
                    .map_or("supported formats: parquet, delta".to_string(), |m| {
                        format!("did you mean `{m}`?")
                    });
                self.error(format!("{id}.format"), at, format!("unknown format `{other}`"), Some(hint));
                SinkFormat::ParquetFile
            }
        };
        let table = table_settings(self, &id, sk, format, pipeline, name);
        let path = self.dir.join(&written);
        if written.trim().is_empty() {
            let at = self.at(&sk.path);
            self.error(format!("{id}.path"), at, "empty output path", None);
        } else if !paths.insert(path.clone()) {
            let at = self.at(&sk.path);
            self.error(
                format!("{id}.path"),
                at,
                format!("two sinks write to {written}"),
                Some("give each sink its own path".into()),
            );
        }
        let compression = match sk.compression.as_ref().map(|c| c.get_ref().as_str()) {
            None | Some("snappy") => Compression::Snappy,
            Some("none") | Some("uncompressed") => Compression::None,
            Some("zstd") => Compression::Zstd,
            Some("lz4") => Compression::Lz4,
            Some("gzip") => Compression::Gzip,
            Some(other) => {
                let at = sk.compression.as_ref().and_then(|c| self.at(c));
                self.error(
                    format!("{id}.compression"),
                    at,
                    format!("unknown compression `{other}`"),
                    Some("use none, snappy, zstd, lz4 or gzip".into()),
                );
                Compression::Snappy
            }
        };
        let row_group_rows = match &sk.row_group_rows {
            Some(r) if *r.get_ref() == 0 => {
                let at = self.at(r);
                self.error(format!("{id}.row_group_rows"), at, "must be at least 1", None);
                1
            }
            Some(r) => *r.get_ref() as usize,
            None => defaults::ROW_GROUP_ROWS,
        };
        let row_group_bytes = match &sk.row_group_bytes {
            Some(b) if b.get_ref().0 < (64 << 10) => {
                let at = self.at(b);
                self.error(format!("{id}.row_group_bytes"), at, "must be at least 64 KiB", None);
                64 << 10
            }
            Some(b) => b.get_ref().0 as usize,
            None => defaults::ROW_GROUP_BYTES,
        };
        SinkStage {
            name: name.to_string(),
            input: sk.input.as_ref().map(|s| s.get_ref().clone()),
            input_at: sk.input.as_ref().and_then(|s| self.at(s)),
            format,
            path,
            path_as_written: written,
            compression,
            row_group_rows,
            row_group_bytes,
            table,
            skip_committed_at: sk.skip_committed.as_ref().and_then(|s| self.at(s)),
        }
    }
}

/// The table settings of a sink, checked against its format.
fn table_settings(
    v: &mut Validator<'_>,
    id: &str,
    sk: &RawSink,
    format: SinkFormat,
    pipeline: &str,
    sink: &str,
) -> TableSettings {
    let mode = match sk.mode.as_ref().map(|m| m.get_ref().as_str()) {
        None | Some("append") => WriteMode::Append,
        Some("overwrite") => WriteMode::Overwrite,
        Some(other) => {
            let at = sk.mode.as_ref().and_then(|m| v.at(m));
            let hint = did_you_mean(other, ["append", "overwrite"])
                .map_or("use append or overwrite".into(), |m| format!("did you mean `{m}`?"));
            v.error(format!("{id}.mode"), at, format!("unknown mode `{other}`"), Some(hint));
            WriteMode::Append
        }
    };
    let evolution = match sk.schema_evolution.as_ref().map(|m| m.get_ref().as_str()) {
        None | Some("strict") => false,
        Some("add_columns") => true,
        Some(other) => {
            let at = sk.schema_evolution.as_ref().and_then(|m| v.at(m));
            v.error(
                format!("{id}.schema_evolution"),
                at,
                format!("unknown schema_evolution `{other}`"),
                Some("use strict or add_columns".into()),
            );
            false
        }
    };
    let settings = TableSettings {
        mode,
        partition_by: sk.partition_by.iter().map(|p| p.get_ref().clone()).collect(),
        target_file_size: sk
            .target_file_size
            .as_ref()
            .map_or(defaults::TARGET_FILE_SIZE, |s| s.get_ref().0.max(1 << 20)),
        commit_every_splits: sk.commit_every_splits.as_ref().map(|s| (*s.get_ref()).max(1)),
        commit_every_bytes: sk.commit_every_bytes.as_ref().map(|s| s.get_ref().0.max(1)),
        app_id: sk
            .app_id
            .as_ref()
            .map_or_else(|| format!("runtime/{pipeline}/{sink}"), |a| a.get_ref().clone()),
        skip_committed: sk.skip_committed.as_ref().is_some_and(|s| *s.get_ref()),
        add_columns: evolution,
    };
    // Keys that only make sense for some formats.
    let cadence =
        sk.commit_every_splits.as_ref().map(|s| v.at(s)).or(sk.commit_every_bytes.as_ref().map(|s| v.at(s)));
    if format == SinkFormat::ParquetFile {
        let only_tables = [
            ("mode", sk.mode.as_ref().map(|s| v.at(s))),
            ("commit_every_splits", sk.commit_every_splits.as_ref().map(|s| v.at(s))),
            ("commit_every_bytes", sk.commit_every_bytes.as_ref().map(|s| v.at(s))),
            ("skip_committed", sk.skip_committed.as_ref().map(|s| v.at(s))),
            ("target_file_size", sk.target_file_size.as_ref().map(|s| v.at(s))),
            ("app_id", sk.app_id.as_ref().map(|s| v.at(s))),
            ("schema_evolution", sk.schema_evolution.as_ref().map(|s| v.at(s))),
        ];
        for (key, at) in only_tables {
            if let Some(at) = at {
                v.error(
                    format!("{id}.{key}"),
                    at,
                    "a path ending in .parquet is one file, written once at the end of the run",
                    Some("use a folder path (no .parquet suffix) for a resumable Parquet table, or format = \"delta\"".into()),
                );
            }
        }
    }
    if format != SinkFormat::Delta && !sk.partition_by.is_empty() {
        let at = v.at(&sk.partition_by[0]);
        v.error(
            format!("{id}.partition_by"),
            at,
            "partitioning needs a Delta table",
            Some("set format = \"delta\"".into()),
        );
    }
    if mode == WriteMode::Overwrite {
        if let Some(at) = cadence {
            v.error(
                format!("{id}.mode"),
                at,
                "overwrite replaces the table in one commit at the end of the run",
                Some("remove commit_every_* (or use mode = \"append\")".into()),
            );
        }
        if let Some(s) = sk.skip_committed.as_ref().filter(|s| *s.get_ref()) {
            let at = v.at(s);
            v.error(
                format!("{id}.skip_committed"),
                at,
                "overwrite rewrites everything; there is nothing to skip",
                Some("use mode = \"append\"".into()),
            );
        }
    }
    settings
}
