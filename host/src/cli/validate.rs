//! `runtime validate`: everything `run` checks, then a line per stage.

use super::output::{Out, columns, files_phrase, print_inferred};
use crate::config::{self, Override};
use crate::prepare::load;
use crate::report::Exit;
use std::path::Path;

pub fn validate(out: &Out, path: &Path, overrides: &[Override]) -> Exit {
    let loaded = match load::load(path, overrides, None) {
        Ok(x) => x,
        Err(e) => return out.load_error(&e),
    };
    let prepared = &loaded.prepared;
    println!("{}: OK", path.display());
    let src = &prepared.source.description;
    let outs: Vec<String> = prepared
        .source_outputs
        .iter()
        .map(|(n, i)| format!("{n} ({})", columns(prepared.streams[*i].declared.fields().len())))
        .collect();
    let inputs = if prepared.source_files.is_empty() {
        "no input files".to_string()
    } else {
        files_phrase(&prepared.source_files)
    };
    println!("  source      {} {}: {inputs} -> {}", src.name, src.version, outs.join(", "));
    print_inferred(&prepared.source_inferred, "source.options");
    for st in &prepared.side_tables {
        let files = &st.files;
        let d = &st.plugin.description;
        println!(
            "  side table  {}: {} {}, {} -> {} ({})",
            st.stage.name,
            d.name,
            d.version,
            files_phrase(files),
            st.output,
            columns(st.schema.fields().len())
        );
        print_inferred(&st.inferred, &format!("side_tables.{}.options", st.stage.name));
    }
    for t in &prepared.transforms {
        let d = &t.plugin.description;
        println!(
            "  transform   {}: {} {}{}, {} -> {} ({})",
            t.stage.name,
            d.name,
            d.version,
            if t.mergeable { " (partial + final)" } else { "" },
            prepared.streams[t.input].name,
            prepared.streams[t.output].name,
            columns(prepared.streams[t.output].declared.fields().len())
        );
    }
    for s in &prepared.sinks {
        let st = &s.stage;
        println!(
            "  sink        {}: {} -> {} ({}, {})",
            st.name,
            prepared.streams[s.input].name,
            st.path_as_written,
            match st.format {
                config::SinkFormat::ParquetFile => "parquet file",
                config::SinkFormat::ParquetDir => "parquet folder",
                config::SinkFormat::Delta => "delta table",
            },
            format!("{:?}", st.compression).to_lowercase()
        );
    }
    Exit::Ok
}
