//! Schemas of tables that already exist, shared by the Delta and folder
//! sinks: whether the pipeline's output fits a table ([`reconcile`], with
//! opt-in added columns) and the casts that make a batch match the table's
//! exact types ([`conform`]).

use super::error::{Context, SinkError};
use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use std::sync::Arc;

/// Compares the table's schema with the pipeline's: `Ok(None)` when equal,
/// `Ok(Some(merged))` when the pipeline only adds nullable columns and that
/// is allowed, otherwise an error listing every difference.
pub fn reconcile(
    table: &arrow_schema::Schema,
    ours: &arrow_schema::Schema,
    add_columns: bool,
) -> Result<Option<SchemaRef>, SinkError> {
    let mut problems = Vec::new();
    for t in table.fields() {
        match ours.field_with_name(t.name()) {
            Err(_) => problems
                .push(format!("column `{}` is in the table but the pipeline does not produce it", t.name())),
            Ok(o) if !same_type(o.data_type(), t.data_type()) => problems.push(format!(
                "column `{}` is {} in the table, {} in the pipeline",
                t.name(),
                t.data_type(),
                o.data_type()
            )),
            Ok(o) if o.is_nullable() && !t.is_nullable() => problems
                .push(format!("column `{}` is NOT NULL in the table but nullable in the pipeline", t.name())),
            Ok(_) => {}
        }
    }
    let added: Vec<_> =
        ours.fields().iter().filter(|o| table.field_with_name(o.name()).is_err()).cloned().collect();
    if !problems.is_empty() {
        return Err(SinkError::Mismatch(problems.join("; ")));
    }
    if added.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = added.iter().map(|f| f.name().as_str()).collect();
    if !add_columns {
        return Err(SinkError::Mismatch(format!(
            "the pipeline adds column(s) {} that the table does not have; set schema_evolution = \"add_columns\" to add them",
            names.join(", ")
        )));
    }
    if let Some(f) = added.iter().find(|f| !f.is_nullable()) {
        return Err(SinkError::Mismatch(format!(
            "new column `{}` must be nullable: existing rows have no value for it",
            f.name()
        )));
    }
    let mut fields: Vec<_> = table.fields().iter().cloned().collect();
    fields.extend(added);
    Ok(Some(std::sync::Arc::new(arrow_schema::Schema::new(fields))))
}

/// Types equal up to string/binary flavours and timestamp time zone names
/// that mean UTC.
fn same_type(a: &arrow_schema::DataType, b: &arrow_schema::DataType) -> bool {
    use arrow_schema::DataType as D;
    let norm = |t: &D| -> D {
        match t {
            D::LargeUtf8 | D::Utf8View => D::Utf8,
            D::LargeBinary | D::BinaryView => D::Binary,
            D::Dictionary(_, v) => (**v).clone(),
            D::Timestamp(u, Some(tz)) if tz.as_ref() == "+00:00" || tz.as_ref() == "Z" => {
                D::Timestamp(*u, Some("UTC".into()))
            }
            other => other.clone(),
        }
    };
    match (norm(a), norm(b)) {
        (D::List(x), D::List(y))
        | (D::LargeList(x), D::LargeList(y))
        | (D::List(x), D::LargeList(y))
        | (D::LargeList(x), D::List(y)) => same_type(x.data_type(), y.data_type()),
        (D::Struct(x), D::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| p.name() == q.name() && same_type(p.data_type(), q.data_type()))
        }
        (x, y) => x == y,
    }
}

/// Casts a batch to the table's schema where they differ only in flavour
/// (dictionary-encoded strings, added nullable columns filled with nulls).
pub fn conform(batch: &RecordBatch, schema: &Schema) -> Result<RecordBatch, SinkError> {
    if batch.schema().as_ref() == schema {
        return Ok(batch.clone());
    }
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = match batch.schema().index_of(field.name()) {
            Ok(i) => arrow_cast::cast(batch.column(i), field.data_type())
                .context(|| format!("column `{}`", field.name()))?,
            Err(_) => arrow_array::new_null_array(field.data_type(), batch.num_rows()),
        };
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(schema.clone()), columns).context(|| "a batch of the table's schema".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    #[test]
    fn schema_reconciliation() {
        let table =
            Schema::new(vec![Field::new("a", DataType::Int64, false), Field::new("b", DataType::Utf8, true)]);
        let same = Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::LargeUtf8, true),
        ]);
        assert!(reconcile(&table, &same, false).unwrap().is_none());
        let wider = Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
            Field::new("c", DataType::Float64, true),
        ]);
        assert!(
            reconcile(&table, &wider, false)
                .unwrap_err()
                .to_string()
                .contains("schema_evolution = \"add_columns\"")
        );
        assert_eq!(reconcile(&table, &wider, true).unwrap().unwrap().fields().len(), 3);
        let wrong =
            Schema::new(vec![Field::new("a", DataType::Int32, false), Field::new("b", DataType::Utf8, true)]);
        assert_eq!(
            reconcile(&table, &wrong, true).unwrap_err().to_string(),
            "column `a` is Int64 in the table, Int32 in the pipeline"
        );
    }
}
