//! Side tables: small lookup inputs read once, before the run, with a
//! reader plugin, and handed (as Arrow IPC buffers) to every instance of the
//! transforms that list them. A side table must be read completely: any
//! failed split fails the run, since every join would silently miss rows.

use super::error::ExecError;
use super::side_cache::SideTableCache;
use crate::plan;
use crate::plugin::Runtime;
use crate::plugin::io::InputHandle;
use crate::plugin::state::{Emit, EmitError};
use crate::prepare::PreparedSideTable;
use crate::report::SideTableData;
use crate::{ipc, units::ByteSize};
use arrow_schema::SchemaRef;
use std::any::Any;

struct Collector {
    output: String,
    schema: SchemaRef,
    buffers: Vec<Vec<u8>>,
    rows: u64,
    bytes: u64,
    max: u64,
}

impl Emit for Collector {
    fn emit(&mut self, output: &str, ipc: Vec<u8>) -> Result<(), EmitError> {
        if output != self.output {
            return Ok(());
        }
        let batch = ipc::decode_batch(ipc.clone()).map_err(|e| EmitError::Fatal(e.to_string()))?;
        ipc::check_schema(&batch, &self.schema).map_err(|e| EmitError::Fatal(e.to_string()))?;
        self.rows += batch.num_rows() as u64;
        self.bytes += ipc.len() as u64;
        if self.bytes > self.max {
            return Err(EmitError::Fatal(format!(
                "side table is larger than its max_bytes ({}); raise max_bytes or filter it",
                ByteSize(self.max)
            )));
        }
        self.buffers.push(ipc);
        Ok(())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A side table from `cache` when it holds it, else read (and stored there).
/// Only a cache folder that cannot be used at all fails the run.
pub fn read_or_load(
    runtime: &Runtime,
    st: &PreparedSideTable,
    cache: Option<&SideTableCache>,
) -> Result<SideTableData, ExecError> {
    let Some(cache) = cache else { return read(runtime, st) };
    let fail =
        |e: std::io::Error| ExecError::side_table(&st.stage.common.id, format!("side-table cache: {e}"));
    let entry = cache.lock(st).map_err(fail)?;
    match entry.load() {
        Ok(Some(t)) => return Ok(t),
        Ok(None) => {}
        // As the compiled-component cache does: an unusable entry is read again.
        Err(e) => tracing::warn!("ignoring an unusable side-table cache entry of {}: {e}", st.stage.name),
    }
    let t = read(runtime, st)?;
    if let Err(e) = entry.store(&t) {
        tracing::warn!("cannot store side table {} in its cache: {e}", st.stage.name);
    }
    Ok(t)
}

/// Reads one side table completely.
pub fn read(runtime: &Runtime, st: &PreparedSideTable) -> Result<SideTableData, ExecError> {
    let stage = &st.stage;
    let c = &stage.common;
    let files = &st.files;
    let fail = |e: &dyn std::fmt::Display| ExecError::side_table(&c.id, e);
    let mut reader = runtime.reader(&st.plugin, c).map_err(|e| fail(&e))?;
    reader.init(&c.options).map_err(|e| fail(&e))?;
    reader.configure(&st.schemas).map_err(|e| fail(&e))?;
    let splits = match &st.plan {
        Some(splits) => splits.clone(),
        None => plan::plan_files(files, st.plugin.description.planning, u64::MAX),
    };
    let mut collector = Box::new(Collector {
        output: st.output.clone(),
        schema: st.schema.clone(),
        buffers: Vec::new(),
        rows: 0,
        bytes: 0,
        max: stage.max_bytes,
    });
    let mut rejects = Vec::new();
    let mut rejected = 0;
    for planned in splits {
        let split = &planned.split;
        if let Some(e) = planned.error {
            return Err(fail(&format!("{}: {e}", split.id)));
        }
        let file = split.input.and_then(|i| files.get(i as usize));
        let input = match file {
            Some(f) => Some(
                InputHandle::open(&f.path, &f.shown, split.offset, Some(split.length))
                    .map_err(|e| fail(&format!("cannot open {}: {e}", f.shown)))?,
            ),
            None => None,
        };
        let r = reader.read(split, file.map(|f| f.input_file()).as_ref(), input, collector);
        collector =
            r.emitter.and_then(|e| e.into_any().downcast::<Collector>().ok()).expect("collector comes back");
        rejected += r.call.rejected;
        rejects.extend(r.call.rejects.into_iter().map(|rej| (split.id.clone(), rej)));
        if let Err(e) = r.outcome {
            return Err(fail(&format!("reading {} failed: {e}", split.id)));
        }
    }
    // An empty table still tells transforms its schema.
    let mut buffers = collector.buffers;
    if buffers.is_empty() {
        buffers.push(ipc::encode_schema(&st.schema).map_err(|e| fail(&e))?);
    }
    Ok(SideTableData {
        name: stage.name.clone(),
        buffers,
        rows: collector.rows,
        bytes: collector.bytes,
        files: files.len(),
        rejects,
        rejected,
        cached: false,
    })
}
