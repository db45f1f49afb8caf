//! The output schema for an input schema, and the checks behind it: the
//! labels column is a string column, dropped columns exist, the lookup keys
//! exist in the input with the same classes as in the side tables, and the
//! output column does not collide with a kept column.
//!
//! Output = the input's columns minus `drop`, in input order, then `output`
//! (utf8, or `dictionary<int32, utf8>` with `dictionary = true`; not
//! nullable).

use crate::keys::{column_names, key_classes};
use crate::options::Config;
use crate::output::output_type;
use crate::side::SideIndex;
use crate::strings::StrColumn;
use arrow_schema::{Field, Schema, SchemaRef};
use runtime_plugin_sdk::error::{Error, Result};
use std::sync::Arc;

/// How a batch of a given schema becomes an output batch.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Indices of the input columns that are kept, in order.
    pub kept: Vec<usize>,
    /// Index of the labels column in the input.
    pub column: usize,
    pub output_schema: SchemaRef,
}

/// The input columns the transform reads: the labels column and every
/// lookup key, each once. With the host's projection (WIT 0.2.0) these are
/// all it is sent; every other column is passed through by the host.
pub fn reads(config: &Config) -> Vec<String> {
    let mut names = vec![config.column.clone()];
    for l in &config.lookups {
        for k in &l.key {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
}

/// Plans the batches a transformer returns for input of `input`'s schema
/// (what [`reads`] names): only the output column; the host re-attaches
/// the kept input columns (the output schema is [`plan`]'s).
pub fn plan_produced(config: &Config, sides: &[SideIndex], input: &Schema) -> Result<Plan> {
    let mut errors = Vec::new();
    let column = check_column(config, input, &mut errors);
    check_lookups(config, sides, input, &mut errors);
    match column {
        Some(column) if errors.is_empty() => {
            let field = Field::new(&config.output, output_type(config.dictionary), false);
            Ok(Plan { kept: Vec::new(), column, output_schema: Arc::new(Schema::new(vec![field])) })
        }
        _ => Err(Error::invalid_options(errors.join("; "))),
    }
}

/// Checks `input` against the options and side tables and plans the output.
pub fn plan(config: &Config, sides: &[SideIndex], input: &Schema) -> Result<Plan> {
    let mut errors = Vec::new();
    let column = check_column(config, input, &mut errors);
    for name in &config.drop {
        if input.index_of(name).is_err() {
            errors.push(format!(
                "drop: column `{name}` is not in the input (columns: {})",
                column_names(input)
            ));
        }
    }
    check_lookups(config, sides, input, &mut errors);
    let kept: Vec<usize> =
        (0..input.fields().len()).filter(|&i| !config.drop.contains(input.field(i).name())).collect();
    if kept.iter().any(|&i| input.field(i).name() == &config.output) {
        errors.push(format!(
            "output: column `{}` is already in the input; drop it or choose another name",
            config.output
        ));
    }
    match column {
        Some(column) if errors.is_empty() => {
            let mut fields: Vec<Field> = kept.iter().map(|&i| input.field(i).clone()).collect();
            fields.push(Field::new(&config.output, output_type(config.dictionary), false));
            let output_schema = Arc::new(Schema::new_with_metadata(fields, input.metadata().clone()));
            Ok(Plan { kept, column, output_schema })
        }
        _ => Err(Error::invalid_options(errors.join("; "))),
    }
}

/// Checks the labels column's type; its index when it is usable.
fn check_column(config: &Config, input: &Schema, errors: &mut Vec<String>) -> Option<usize> {
    match input.index_of(&config.column) {
        Ok(i) if StrColumn::supports(input.field(i).data_type()) => Some(i),
        Ok(i) if crate::native::supports(input.field(i).data_type()) => Some(i),
        Ok(i) => {
            errors.push(format!(
                "column `{}` has type {}; expected a string column holding JSON text (or a dictionary of one), a map<string, string> or a struct of strings",
                config.column,
                input.field(i).data_type()
            ));
            None
        }
        Err(_) => {
            errors.push(format!(
                "column `{}` is not in the input (columns: {})",
                config.column,
                column_names(input)
            ));
            None
        }
    }
}

/// Checks the lookup keys' classes against the side tables.
fn check_lookups(config: &Config, sides: &[SideIndex], input: &Schema, errors: &mut Vec<String>) {
    for (i, (lookup, side)) in config.lookups.iter().zip(sides).enumerate() {
        match key_classes(input, &lookup.key, "the input") {
            Err(e) => errors.push(format!("lookups[{i}]: {}", e.message)),
            Ok(classes) => {
                if let Some(side_classes) = &side.classes {
                    for ((name, a), b) in lookup.key.iter().zip(&classes).zip(side_classes) {
                        if a != b {
                            errors.push(format!(
                                "lookups[{i}]: key column `{name}` is {} in the input but {} in side table `{}`",
                                a.name(),
                                b.name(),
                                side.table
                            ));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Lookup, OnInvalid, Source};
    use arrow_array::{ArrayRef, Date32Array, RecordBatch, StringArray};
    use arrow_schema::DataType;

    fn config(drop: &[&str], output: &str) -> Config {
        Config {
            column: "pod_labels".into(),
            output: output.into(),
            drop: drop.iter().map(|s| s.to_string()).collect(),
            lookups: vec![Lookup {
                side_table: "node_labels".into(),
                key: vec!["usage_date".into(), "node".into()],
                labels: "node_labels".into(),
            }],
            order: vec![Source::Row, Source::Lookup(0)],
            on_invalid: OnInvalid::Fail,
            cache_entries: 16,
            dictionary: false,
        }
    }

    fn side() -> SideIndex {
        let batch = RecordBatch::try_from_iter(vec![
            ("usage_date", Arc::new(Date32Array::from(vec![1])) as ArrayRef),
            ("node", Arc::new(StringArray::from(vec!["n1"]))),
            ("node_labels", Arc::new(StringArray::from(vec!["{}"]))),
        ])
        .unwrap();
        SideIndex::build(&config(&[], "labels").lookups[0], &[batch], OnInvalid::Fail).unwrap()
    }

    fn input(date_type: DataType) -> Schema {
        Schema::new(vec![
            Field::new("usage_date", date_type, false),
            Field::new("node", DataType::Utf8, false),
            Field::new("pod_labels", DataType::Utf8, true),
            Field::new("cpu", DataType::Float64, false),
        ])
    }

    #[test]
    fn drops_columns_and_appends_output() {
        let plan = plan(&config(&["pod_labels"], "labels"), &[side()], &input(DataType::Date32)).unwrap();
        let names: Vec<&str> = plan.output_schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["usage_date", "node", "cpu", "labels"]);
        assert_eq!(plan.kept, [0, 1, 3]);
        assert_eq!(plan.column, 2);
        let output = plan.output_schema.field(3);
        assert_eq!((output.data_type(), output.is_nullable()), (&DataType::Utf8, false));
    }

    #[test]
    fn output_may_replace_the_dropped_column() {
        let plan = plan(&config(&["pod_labels"], "pod_labels"), &[side()], &input(DataType::Date32)).unwrap();
        assert_eq!(plan.output_schema.field(3).name(), "pod_labels");
    }

    #[test]
    fn errors_are_collected() {
        let err = plan(&config(&["nope"], "cpu"), &[side()], &input(DataType::Int32)).unwrap_err();
        assert_eq!(
            err.message,
            "drop: column `nope` is not in the input (columns: usage_date, node, pod_labels, cpu); \
             lookups[0]: key column `usage_date` is integer in the input but date32 in side table `node_labels`; \
             output: column `cpu` is already in the input; drop it or choose another name"
        );
    }

    #[test]
    fn labels_column_must_be_a_string() {
        let schema = Schema::new(vec![Field::new("pod_labels", DataType::Int64, true)]);
        let mut config = config(&["pod_labels"], "labels");
        config.lookups.clear();
        config.order.truncate(1);
        let err = plan(&config, &[], &schema).unwrap_err();
        assert_eq!(
            err.message,
            "column `pod_labels` has type Int64; expected a string column holding JSON text (or a dictionary of one), a map<string, string> or a struct of strings"
        );
    }
}
