//! `labels`: a transform that merges a row's own labels (raw JSON text) with
//! labels looked up in side tables, and writes the result as one canonical
//! JSON string per row.
//!
//! It implements steps 2–5 of the pod-usage workload (SPEC §2): pod labels
//! in any of their forms, node and namespace labels by (day, node) and
//! (day, namespace), merged pod > namespace > node, sorted and compacted.
//!
//! ```toml
//! [[transforms]]
//! plugin = "labels"
//! side_tables = ["namespace_labels", "node_labels"]
//! [transforms.options]
//! column = "pod_labels"
//! output = "labels"
//! [[transforms.options.lookups]]
//! side_table = "namespace_labels"
//! key = ["usage_date", "namespace"]
//! labels = "namespace_labels"
//! [[transforms.options.lookups]]
//! side_table = "node_labels"
//! key = ["usage_date", "node"]
//! labels = "node_labels"
//! ```
//!
//! Modules, in data-flow order: [`options`] (what the user wrote),
//! [`side`] (side tables parsed at `init`), [`schema`] (input → output
//! schema), [`keys`] and [`strings`] (reading columns), [`parse`] (raw text →
//! label set), [`merge`] (precedence), [`canonical`] (JSON out), [`cache`],
//! [`output`] (the output column) and [`transformer`] (the per-split loop). See `README.md` for the user
//! reference.

pub mod cache;
pub mod canonical;
pub mod keys;
pub mod merge;
pub mod native;
pub mod options;
pub mod output;
pub mod parse;
pub mod schema;
pub mod side;
pub mod strings;
pub mod transformer;

use options::Options;
use runtime_plugin_sdk::prelude::*;
use side::SideIndex;
use transformer::{LabelsTransformer, Shared};

/// The transform: options and side tables, shared by its transformers.
pub struct Labels {
    shared: Arc<Shared>,
}

impl Labels {
    /// The parsed side tables, in the order of the lookups.
    pub fn sides(&self) -> &[SideIndex] {
        &self.shared.sides
    }
}

const DESCRIPTION: &str = "Merges a row's labels (JSON text: an object, a string holding one, null or \"\"; \
or a map<string, string> or struct column) \
with labels looked up in side tables, and writes them as canonical JSON (keys sorted by code point, no \
whitespace, Python json.dumps escaping with ensure_ascii=False). On a duplicate key the row's own labels win, \
then the lookups in the order listed (or as `precedence` says). Non-string values are stringified (numbers \
as written, true/false); a null value removes the key; arrays and objects as values are invalid. Duplicate \
keys within one object: the last wins. Side-table rows with equal keys: the last wins; null keys never match.";

impl Transform for Labels {
    type Options = Options;
    type Transformer = LabelsTransformer;

    fn describe() -> PluginInfo {
        PluginInfo::transform("labels", env!("CARGO_PKG_VERSION"), DESCRIPTION)
            .option(
                OptionSpec::new(
                    "column",
                    "string",
                    "Input column with the row's labels: raw JSON text, or a map<string, string> or struct column",
                )
                    .required(),
            )
            .option(
                OptionSpec::new("output", "string", "Output column (utf8, not null) for the canonical JSON")
                    .default_value("\"labels\""),
            )
            .option(
                OptionSpec::new("drop", "list of string", "Input columns left out of the output")
                    .default_value("[column]"),
            )
            .option(
                OptionSpec::new(
                    "lookups",
                    "list of table",
                    "Side-table labels merged under the row's: each { side_table, key = [columns], labels = \
                     column }; earlier lookups win over later ones",
                )
                .default_value("[]"),
            )
            .option(OptionSpec::new(
                "precedence",
                "list of string",
                "Explicit precedence, highest first: `column` for the row's labels, a lookup's side_table for \
                 that lookup; must name every source once (default: column, then lookups in order)",
            ))
            .option(
                OptionSpec::new(
                    "on_invalid",
                    "string",
                    "Malformed labels: \"fail\" fails the split naming row and column; \"empty\" uses {} and \
                     counts it in the `invalid_labels` counter",
                )
                .default_value("\"fail\""),
            )
            .option(
                OptionSpec::new(
                    "cache_entries",
                    "integer",
                    "Bound on cached (labels text, side rows) outputs per split; emptied when full; 0 disables",
                )
                .default_value(&options::DEFAULT_CACHE_ENTRIES.to_string()),
            )
            .option(
                OptionSpec::new(
                    "dictionary",
                    "boolean",
                    "Write the output as dictionary<int32, utf8>, each distinct JSON once per batch (much less \
                     data for repetitive labels; `aggregate` groups such columns by value)",
                )
                .default_value("false"),
            )
    }

    fn new(options: Options, side_tables: SideTables) -> Result<Self> {
        let config = options.validate()?;
        let sides = config
            .lookups
            .iter()
            .map(|lookup| SideIndex::build(lookup, side_tables.get(&lookup.side_table)?, config.on_invalid))
            .collect::<Result<Vec<_>>>()?;
        #[cfg(target_arch = "wasm32")]
        for side in &sides {
            runtime_plugin_sdk::log::debug(&format!(
                "side table `{}`: {} keys, {} malformed labels",
                side.table,
                side.len(),
                side.invalid
            ));
        }
        Ok(Labels { shared: Arc::new(Shared { config, sides }) })
    }

    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        Ok(schema::plan(&self.shared.config, &self.shared.sides, input)?.output_schema)
    }

    /// The labels column and the lookup keys: the host passes every other
    /// column through (the transformer returns only the output column).
    fn input_columns(&self, _input: &SchemaRef) -> Result<Option<Vec<String>>> {
        Ok(Some(schema::reads(&self.shared.config)))
    }

    fn open(&self, input: SchemaRef, mode: Mode) -> Result<LabelsTransformer> {
        if mode != Mode::Single {
            return Err(Error::internal(format!(
                "labels is not mergeable; it cannot be opened in {mode:?} mode"
            )));
        }
        schema::plan_produced(&self.shared.config, &self.shared.sides, &input)?;
        Ok(LabelsTransformer::new(Arc::clone(&self.shared)))
    }
}

runtime_plugin_sdk::export_transform!(Labels);

#[cfg(test)]
mod tests;
