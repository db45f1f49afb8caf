//! The options resolved against a schema: key columns with their value
//! types, each aggregate's kind, the final output schema and the partial
//! state schema.
//!
//! Output schema: the `group_by` columns (input types and nullability; a
//! dictionary-encoded key column gives its value type), then one column per
//! aggregate:
//!
//! | function | output type |
//! |---|---|
//! | `count`, `count_distinct` | int64, not null |
//! | `sum` of integers | int64 (float64 with `divide_by`) |
//! | `sum` of float32/float64 | float64 |
//! | `min`, `max` | the input type |
//!
//! Partial state schema (private to this plugin, marked with the
//! [`STATE_MARKER`] metadata key): the `group_by` columns, then per
//! aggregate `count` → int64 count, `sum` → int64 or float64 partial sum (no
//! division yet), `count_distinct` → `list<input type>` of the distinct
//! values seen, `min`/`max` → the extreme so far. The final transformer
//! resolves its layout from the stage's input schema like the others, or,
//! when that schema lacks the columns, from the first state batch.

use crate::keys::dictionary_values;
use crate::options::{Config, Function};
use crate::value::ValueType;
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use runtime_plugin_sdk::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// Metadata key that marks a partial state schema.
pub const STATE_MARKER: &str = "runtime.aggregate.partial_state";

/// What an aggregate accumulates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `count` without a column.
    CountRows,
    /// `count` of a column's non-null values.
    CountValues,
    /// `sum` of an integer column.
    SumInt,
    /// `sum` of a float column.
    SumFloat,
    CountDistinct(ValueType),
    Min(ValueType),
    Max(ValueType),
}

/// A group-by column.
#[derive(Debug, Clone)]
pub struct KeyColumn {
    pub name: String,
    /// The column's type in the input (a dictionary type for a
    /// dictionary-encoded column).
    pub input_type: DataType,
    /// The type of its values, and of the output and state columns.
    pub value_type: ValueType,
    /// The output (and state) field: the input's, nullability and metadata
    /// kept; a dictionary column's field has the dictionary's value type.
    pub field: FieldRef,
}

/// A resolved aggregate.
#[derive(Debug, Clone)]
pub struct AggColumn {
    pub name: String,
    pub column: Option<String>,
    pub kind: Kind,
    pub divide_by: Option<f64>,
}

/// Everything a transformer needs to know about its columns.
#[derive(Debug, Clone)]
pub struct Layout {
    pub keys: Vec<KeyColumn>,
    pub aggs: Vec<AggColumn>,
    pub output_schema: SchemaRef,
    pub state_schema: SchemaRef,
}

fn is_int(t: &DataType) -> bool {
    use DataType as D;
    matches!(t, D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64)
}

impl Layout {
    /// Resolves the options against the stage's input schema. The error
    /// lists every problem.
    pub fn from_input(config: &Config, input: &Schema) -> Result<Layout> {
        let mut errors = Vec::new();
        let columns = || input.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ");
        let mut keys = Vec::new();
        for name in &config.group_by {
            let Ok(field) = input.field_with_name(name) else {
                errors
                    .push(format!("group_by: column `{name}` is not in the input (columns: {})", columns()));
                continue;
            };
            let values = dictionary_values(field.data_type()).unwrap_or(field.data_type());
            match ValueType::new(values) {
                Some(value_type) => keys.push(KeyColumn {
                    name: name.clone(),
                    input_type: field.data_type().clone(),
                    value_type,
                    field: Arc::new(field.clone().with_data_type(values.clone())),
                }),
                None => errors.push(format!(
                    "group_by: column `{name}` has type {}, which cannot be grouped (supported: {})",
                    field.data_type(),
                    ValueType::SUPPORTED
                )),
            }
        }
        let mut aggs = Vec::new();
        for (i, a) in config.aggregates.iter().enumerate() {
            let input_type = match &a.column {
                None => None,
                Some(c) => match input.field_with_name(c) {
                    Ok(f) => Some(f.data_type()),
                    Err(_) => {
                        errors.push(format!(
                            "aggregates[{i}] (`{}`): column `{c}` is not in the input (columns: {})",
                            a.name,
                            columns()
                        ));
                        continue;
                    }
                },
            };
            let value_type = || input_type.and_then(ValueType::new);
            let kind = match (a.function, input_type) {
                (Function::Count, None) => Some(Kind::CountRows),
                (Function::Count, Some(_)) => Some(Kind::CountValues),
                (Function::Sum, Some(t)) if is_int(t) => Some(Kind::SumInt),
                (Function::Sum, Some(DataType::Float32 | DataType::Float64)) => Some(Kind::SumFloat),
                (Function::CountDistinct, _) => value_type().map(Kind::CountDistinct),
                (Function::Min, _) => value_type().map(Kind::Min),
                (Function::Max, _) => value_type().map(Kind::Max),
                (Function::Sum, _) => None,
            };
            match kind {
                Some(kind) => aggs.push(AggColumn {
                    name: a.name.clone(),
                    column: a.column.clone(),
                    kind,
                    divide_by: a.divide_by,
                }),
                None => errors.push(format!(
                    "aggregates[{i}] (`{}`): `{}` does not take a column of type {} (supported: {})",
                    a.name,
                    a.function.name(),
                    input_type.map_or("none".to_string(), |t| t.to_string()),
                    if a.function == Function::Sum {
                        "int8–int64, uint8–uint64, float32, float64"
                    } else {
                        ValueType::SUPPORTED
                    }
                )),
            }
        }
        if !errors.is_empty() {
            return Err(Error::invalid_options(errors.join("; ")));
        }
        Ok(Layout::new(keys, aggs))
    }

    /// Resolves the options against a partial state schema (final mode, when
    /// the input schema was not usable).
    pub fn from_state(config: &Config, state: &Schema) -> Result<Layout> {
        let bad =
            |what: String| Error::invalid_input(format!("not a partial state of this aggregate: {what}"));
        let fields = state.fields();
        if fields.len() != config.group_by.len() + config.aggregates.len() {
            return Err(bad(format!(
                "{} columns, expected {}",
                fields.len(),
                config.group_by.len() + config.aggregates.len()
            )));
        }
        let mut keys = Vec::new();
        for (name, field) in config.group_by.iter().zip(fields) {
            if field.name() != name {
                return Err(bad(format!("column `{}` where key `{name}` was expected", field.name())));
            }
            let value_type = ValueType::new(field.data_type())
                .ok_or_else(|| bad(format!("key `{name}` has type {}", field.data_type())))?;
            keys.push(KeyColumn {
                name: name.clone(),
                input_type: field.data_type().clone(),
                value_type,
                field: field.clone(),
            });
        }
        let mut aggs = Vec::new();
        for (a, field) in config.aggregates.iter().zip(&fields[config.group_by.len()..]) {
            let t = field.data_type();
            let kind = match (a.function, t) {
                (Function::Count, DataType::Int64) if a.column.is_none() => Some(Kind::CountRows),
                (Function::Count, DataType::Int64) => Some(Kind::CountValues),
                (Function::Sum, DataType::Int64) => Some(Kind::SumInt),
                (Function::Sum, DataType::Float64) => Some(Kind::SumFloat),
                (Function::CountDistinct, DataType::List(item)) => {
                    ValueType::new(item.data_type()).map(Kind::CountDistinct)
                }
                (Function::Min, t) => ValueType::new(t).map(Kind::Min),
                (Function::Max, t) => ValueType::new(t).map(Kind::Max),
                _ => None,
            };
            let kind = kind.filter(|_| field.name() == &a.name).ok_or_else(|| {
                bad(format!(
                    "column `{}` of type {t} where aggregate `{}` was expected",
                    field.name(),
                    a.name
                ))
            })?;
            aggs.push(AggColumn {
                name: a.name.clone(),
                column: a.column.clone(),
                kind,
                divide_by: a.divide_by,
            });
        }
        Ok(Layout::new(keys, aggs))
    }

    fn new(keys: Vec<KeyColumn>, aggs: Vec<AggColumn>) -> Layout {
        let key_fields = keys.iter().map(|k| k.field.clone());
        let output_fields: Vec<FieldRef> =
            key_fields.clone().chain(aggs.iter().map(|a| Arc::new(output_field(a)))).collect();
        let state_fields: Vec<FieldRef> =
            key_fields.chain(aggs.iter().map(|a| Arc::new(state_field(a)))).collect();
        let marker = HashMap::from([(STATE_MARKER.to_string(), "1".to_string())]);
        Layout {
            keys,
            aggs,
            output_schema: Arc::new(Schema::new(output_fields)),
            state_schema: Arc::new(Schema::new(state_fields).with_metadata(marker)),
        }
    }

    /// Checks that a state batch's schema is this layout's state schema
    /// (names and types; nullability and metadata aside).
    pub fn check_state(&self, state: &Schema) -> Result<()> {
        let expected = self.state_schema.fields();
        let found = state.fields();
        let same = expected.len() == found.len()
            && expected
                .iter()
                .zip(found)
                .all(|(e, f)| e.name() == f.name() && e.data_type() == f.data_type());
        if same {
            return Ok(());
        }
        let describe = |s: &Schema| {
            s.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
        };
        Err(Error::invalid_input(format!(
            "partial state does not match this aggregate: expected [{}], found [{}]",
            describe(&self.state_schema).join(", "),
            describe(state).join(", ")
        )))
    }
}

fn output_field(a: &AggColumn) -> Field {
    let (data_type, nullable) = match &a.kind {
        Kind::CountRows | Kind::CountValues | Kind::CountDistinct(_) => (DataType::Int64, false),
        Kind::SumInt if a.divide_by.is_none() => (DataType::Int64, true),
        Kind::SumInt | Kind::SumFloat => (DataType::Float64, true),
        Kind::Min(t) | Kind::Max(t) => (t.data_type().clone(), true),
    };
    Field::new(&a.name, data_type, nullable)
}

fn state_field(a: &AggColumn) -> Field {
    let (data_type, nullable) = match &a.kind {
        Kind::CountRows | Kind::CountValues => (DataType::Int64, false),
        Kind::SumInt => (DataType::Int64, true),
        Kind::SumFloat => (DataType::Float64, true),
        Kind::CountDistinct(t) => {
            (DataType::List(Arc::new(Field::new("item", t.data_type().clone(), true))), false)
        }
        Kind::Min(t) | Kind::Max(t) => (t.data_type().clone(), true),
    };
    Field::new(&a.name, data_type, nullable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use runtime_plugin_sdk::options::parse;

    fn config() -> Config {
        parse::<Options>(
            r#"{"group_by": ["day", "ns"], "aggregates": [
                {"name": "pods", "function": "count_distinct", "column": "pod"},
                {"name": "cpu", "function": "sum", "column": "cpu", "divide_by": 3600},
                {"name": "n", "function": "sum", "column": "n"},
                {"name": "rows", "function": "count"},
                {"name": "first", "function": "min", "column": "pod"}]}"#,
        )
        .unwrap()
        .validate()
        .unwrap()
    }

    fn input() -> Schema {
        Schema::new(vec![
            Field::new("day", DataType::Date32, false),
            Field::new("ns", DataType::Utf8, true),
            Field::new("pod", DataType::LargeUtf8, false),
            Field::new("cpu", DataType::Float64, false),
            Field::new("n", DataType::Int32, true),
        ])
    }

    fn types(schema: &Schema) -> Vec<(String, DataType, bool)> {
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable())).collect()
    }

    #[test]
    fn output_and_state_schemas() {
        let layout = Layout::from_input(&config(), &input()).unwrap();
        let list = DataType::List(Arc::new(Field::new("item", DataType::LargeUtf8, true)));
        assert_eq!(
            types(&layout.output_schema),
            [
                ("day".into(), DataType::Date32, false),
                ("ns".into(), DataType::Utf8, true),
                ("pods".into(), DataType::Int64, false),
                ("cpu".into(), DataType::Float64, true),
                ("n".into(), DataType::Int64, true),
                ("rows".into(), DataType::Int64, false),
                ("first".into(), DataType::LargeUtf8, true),
            ]
        );
        assert_eq!(
            types(&layout.state_schema),
            [
                ("day".into(), DataType::Date32, false),
                ("ns".into(), DataType::Utf8, true),
                ("pods".into(), list, false),
                ("cpu".into(), DataType::Float64, true),
                ("n".into(), DataType::Int64, true),
                ("rows".into(), DataType::Int64, false),
                ("first".into(), DataType::LargeUtf8, true),
            ]
        );
        assert!(layout.state_schema.metadata().contains_key(STATE_MARKER));
    }

    #[test]
    fn state_schema_gives_the_same_layout() {
        let from_input = Layout::from_input(&config(), &input()).unwrap();
        let from_state = Layout::from_state(&config(), &from_input.state_schema).unwrap();
        assert_eq!(from_state.output_schema, from_input.output_schema);
        assert_eq!(from_state.state_schema, from_input.state_schema);
        from_input.check_state(&from_state.state_schema).unwrap();
        let err = from_input.check_state(&input()).unwrap_err();
        assert!(
            err.message.starts_with("partial state does not match this aggregate: expected [day: Date32")
        );
        let err = Layout::from_state(&config(), &input()).unwrap_err();
        assert_eq!(err.message, "not a partial state of this aggregate: 5 columns, expected 7");
    }

    #[test]
    fn errors_are_collected() {
        let schema = Schema::new(vec![
            Field::new("day", DataType::Float16, false),
            Field::new("pod", DataType::Utf8, false),
            Field::new("cpu", DataType::Utf8, false),
        ]);
        let err = Layout::from_input(&config(), &schema).unwrap_err();
        let parts: Vec<&str> = err.message.split("; ").collect();
        let expected = [
            "group_by: column `day` has type Float16, which cannot be grouped (supported: bool,",
            "group_by: column `ns` is not in the input (columns: day, pod, cpu)",
            "aggregates[1] (`cpu`): `sum` does not take a column of type Utf8 (supported: int8",
            "aggregates[2] (`n`): column `n` is not in the input (columns: day, pod, cpu)",
        ];
        assert_eq!(parts.len(), expected.len(), "{}", err.message);
        for (part, expected) in parts.iter().zip(expected) {
            assert!(part.starts_with(expected), "{part}");
        }
    }
}
