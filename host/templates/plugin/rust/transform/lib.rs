//! `{{name}}`: a transform that passes every batch through unchanged.
//!
//! This is the starting point `runtime new-plugin` wrote: it runs in a
//! pipeline as it is; edit `output_schema` and `process` to change the data.
//! The lifecycle of a transform, in the order the host calls it:
//!
//! 1. `describe` — static facts, also shown by `runtime plugins inspect`.
//! 2. `new` — once per sandbox instance (one per worker), with the stage's
//!    `options` table deserialized into [`Options`] and the side tables the
//!    stage lists. Unknown option keys are errors.
//! 3. `output_schema` — the output schema for the input schema, checked when
//!    the pipeline is validated, before any data is read.
//! 4. `input_columns` (optional) — the input columns this transform reads.
//!    Name only those and the host sends only them across the sandbox
//!    boundary; output columns a returned batch lacks are re-attached from
//!    the input unchanged (for row-wise transforms; see `wit/plugin.wit`).
//! 5. `open` — once per split; the returned [`Pass`] sees that split's
//!    batches in `process`, then `finish` once at its end.
//!
//! A plugin sees only the batches it is handed, under the memory and time
//! limits of the pipeline: it cannot open files or the network.

use runtime_plugin_sdk::prelude::*;

/// The stage's `options` table (none yet: add fields here).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {}

pub struct Plugin;

/// The state of one split.
pub struct Pass;

impl Transform for Plugin {
    type Options = Options;
    type Transformer = Pass;

    fn describe() -> PluginInfo {
        PluginInfo::transform("{{name}}", env!("CARGO_PKG_VERSION"), "Passes every batch through unchanged")
    }

    fn new(_options: Options, _side_tables: SideTables) -> Result<Self> {
        Ok(Plugin)
    }

    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        Ok(input.clone())
    }

    fn open(&self, _input: SchemaRef, _mode: Mode) -> Result<Pass> {
        Ok(Pass)
    }
}

impl Transformer for Pass {
    fn process(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        Ok(vec![batch])
    }

    fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        Ok(Vec::new())
    }
}

runtime_plugin_sdk::export_transform!(Plugin);

// Unit tests run natively: `cargo test` (no wasm needed).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_batches_through() {
        let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, true)]));
        let column = Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef;
        let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
        let plugin = Plugin::new(Options {}, SideTables::default()).unwrap();
        assert_eq!(plugin.output_schema(&schema).unwrap(), schema);
        let mut pass = plugin.open(schema, Mode::Single).unwrap();
        assert_eq!(pass.process(batch.clone()).unwrap(), vec![batch]);
        assert!(pass.finish().unwrap().is_empty());
    }
}
