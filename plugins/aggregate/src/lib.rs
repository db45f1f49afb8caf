//! `aggregate`: a mergeable group-by transform. Each split is aggregated by
//! a `partial` transformer, whose private state the host merges into one
//! `final` transformer that writes one row per group, sorted by the keys.
//!
//! It implements step 6 of the pod-usage workload (SPEC §2): group by
//! (day, namespace, node, labels), count distinct pods, sum the metrics and
//! divide them into hours.
//!
//! ```toml
//! [[transforms]]
//! plugin = "aggregate"
//! [transforms.options]
//! group_by = ["usage_date", "namespace", "node", "labels"]
//! aggregates = [
//!   { name = "pod_count", function = "count_distinct", column = "pod" },
//!   { name = "pod_usage_cpu_core_hours", function = "sum", column = "pod_usage_cpu_core_seconds", divide_by = 3600 },
//! ]
//! ```
//!
//! Modules, in data-flow order: [`options`] (what the user wrote),
//! [`layout`] (options resolved against a schema), [`value`] (values as
//! bytes), [`keys`] (group key columns, plain or dictionary-encoded),
//! [`intern`] (bytes → dense ids), [`distinct`] and [`accumulate`]
//! (per-group state), [`transformer`] (the modes). See `README.md` for the
//! user reference.

pub mod accumulate;
pub mod distinct;
pub mod intern;
pub mod keys;
pub mod layout;
pub mod options;
pub mod transformer;
pub mod value;

use layout::Layout;
use options::{Config, Options};
use runtime_plugin_sdk::prelude::*;
use transformer::AggregateTransformer;

/// The transform: its validated options.
pub struct Aggregate {
    config: Arc<Config>,
}

const DESCRIPTION: &str = "Groups rows by the `group_by` columns and computes `aggregates` per group: sum \
(int64 with overflow check, or float64; with `divide_by` the float64 quotient sum / divide_by), count (rows, \
or non-null values of a column), count_distinct, min, max. SQL null semantics: nulls are skipped, a group \
without values sums to null, null keys form their own group. Dictionary-encoded key columns are grouped by \
value and output as their value type. Runs as partial per split plus one final merge; output rows are sorted by \
the group keys (nulls last) in batches of at most 65,536 rows.";

impl Transform for Aggregate {
    type Options = Options;
    type Transformer = AggregateTransformer;

    fn describe() -> PluginInfo {
        PluginInfo::transform("aggregate", env!("CARGO_PKG_VERSION"), DESCRIPTION)
            .mergeable()
            .option(
                OptionSpec::new(
                    "group_by",
                    "list of string",
                    "Columns forming the group key; they come first in the output, with their input types",
                )
                .default_value("[]"),
            )
            .option(
                OptionSpec::new(
                    "aggregates",
                    "list of table",
                    "Each { name, function = \"sum\" | \"count\" | \"count_distinct\" | \"min\" | \"max\", \
                     column (not needed by count), divide_by (sum only) }, output in this order after the keys",
                )
                .default_value("[]"),
            )
    }

    fn new(options: Options, _side_tables: SideTables) -> Result<Self> {
        Ok(Aggregate { config: Arc::new(options.validate()?) })
    }

    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        Ok(Layout::from_input(&self.config, input)?.output_schema)
    }

    /// The group keys and the aggregated columns: the host sends only these.
    fn input_columns(&self, input: &SchemaRef) -> Result<Option<Vec<String>>> {
        let mut names: Vec<String> = Vec::new();
        let used = self
            .config
            .group_by
            .iter()
            .chain(self.config.aggregates.iter().filter_map(|a| a.column.as_ref()));
        for name in used {
            // A name the input lacks is reported by `output_schema`.
            if !names.contains(name) && input.index_of(name).is_ok() {
                names.push(name.clone());
            }
        }
        Ok(Some(names))
    }

    fn open(&self, input: SchemaRef, mode: Mode) -> Result<AggregateTransformer> {
        let layout = match (Layout::from_input(&self.config, &input), mode) {
            (Ok(layout), _) => Some(Arc::new(layout)),
            // The final transformer only sees partial states, which carry
            // their own schema; it can do without the input's.
            (Err(_), Mode::Final) => None,
            (Err(e), _) => return Err(e),
        };
        Ok(AggregateTransformer::new(Arc::clone(&self.config), mode, layout))
    }
}

runtime_plugin_sdk::export_transform!(Aggregate);

#[cfg(test)]
mod tests;
