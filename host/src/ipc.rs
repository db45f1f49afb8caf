//! Arrow IPC on the host side: decoding what plugins send, with the checks a
//! hostile plugin makes necessary, and encoding what the host sends them.
//!
//! Every buffer is an IPC stream with one schema message and one record batch
//! message (or none, for schemas). A buffer that is malformed, holds more
//! than one batch, or does not match the declared schema is rejected with a
//! precise reason. The IPC reader validates array contents (offsets in
//! bounds, valid UTF-8) as it builds arrays, so a forged buffer cannot make
//! later code read out of bounds.

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use std::sync::Arc;
use thiserror::Error;

/// Most rows one batch may hold. A batch of a null-typed column costs a few
/// bytes whatever its length; without a cap a plugin could hand the sinks
/// billions of rows in one message.
pub const MAX_BATCH_ROWS: usize = 1 << 24;

/// Why plugin-supplied Arrow IPC was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IpcError {
    #[error("malformed Arrow IPC: {0}")]
    Malformed(String),
    #[error("malformed Arrow IPC: more than one batch in one buffer")]
    MoreThanOneBatch,
    #[error("malformed Arrow IPC: no schema")]
    NoSchema,
    #[error("a batch of {0} rows is over the limit of {MAX_BATCH_ROWS} rows per batch")]
    TooManyRows(usize),
    #[error("expected a schema, found a record batch")]
    NotASchema,
    #[error("malformed Arrow IPC schema: {0}")]
    MalformedSchema(String),
    /// The batch's columns are not the declared ones.
    #[error("schema mismatch: {0}")]
    Mismatch(String),
}

/// Decodes a buffer holding exactly one batch (a schema-only stream decodes
/// to an empty batch).
pub fn decode_batch(bytes: Vec<u8>) -> Result<RecordBatch, IpcError> {
    decode_buffer(arrow_buffer_from(bytes))
}

/// The decoder's own failures, panics included: arrow-ipc still panics on
/// some malformed schemas (a `List` without a child field).
fn guarded<T>(f: impl FnOnce() -> Result<T, IpcError>) -> Result<T, IpcError> {
    crate::panics::catch(f)
        .unwrap_or_else(|panic| Err(IpcError::Malformed(format!("the decoder cannot read it ({panic})"))))
}

/// Like [`decode_batch`], from a shared buffer (the arrays reference it
/// without copying when it is aligned).
pub fn decode_buffer(buf: arrow_buffer::Buffer) -> Result<RecordBatch, IpcError> {
    guarded(|| decode_buffer_unguarded(buf))
}

fn decode_buffer_unguarded(mut buf: arrow_buffer::Buffer) -> Result<RecordBatch, IpcError> {
    let mut decoder = StreamDecoder::new().with_require_alignment(false);
    let mut found = None;
    while !buf.is_empty() {
        match decoder.decode(&mut buf) {
            Ok(Some(batch)) => {
                if found.is_some() {
                    return Err(IpcError::MoreThanOneBatch);
                }
                found = Some(batch);
            }
            Ok(None) => {}
            Err(e) => return Err(IpcError::Malformed(e.to_string())),
        }
    }
    decoder.finish().map_err(|e| IpcError::Malformed(e.to_string()))?;
    match found {
        Some(b) if b.num_rows() > MAX_BATCH_ROWS => Err(IpcError::TooManyRows(b.num_rows())),
        Some(b) => Ok(b),
        None => decoder.schema().map(RecordBatch::new_empty).ok_or(IpcError::NoSchema),
    }
}

fn arrow_buffer_from(bytes: Vec<u8>) -> arrow_buffer::Buffer {
    arrow_buffer::Buffer::from_vec(bytes)
}

/// Decodes a schema-only stream.
pub fn decode_schema(bytes: Vec<u8>) -> Result<SchemaRef, IpcError> {
    guarded(|| decode_schema_unguarded(bytes))
}

fn decode_schema_unguarded(bytes: Vec<u8>) -> Result<SchemaRef, IpcError> {
    let mut decoder = StreamDecoder::new();
    let mut buf = arrow_buffer_from(bytes);
    while !buf.is_empty() {
        match decoder.decode(&mut buf) {
            Ok(Some(_)) => return Err(IpcError::NotASchema),
            Ok(None) => {
                if let Some(s) = decoder.schema() {
                    return Ok(s);
                }
            }
            Err(e) => return Err(IpcError::MalformedSchema(e.to_string())),
        }
    }
    decoder.schema().ok_or_else(|| IpcError::MalformedSchema("empty".into()))
}

/// Most bytes of metadata (keys and values, the schema's and its fields')
/// a plugin's declared schema may carry; a schema with more has its
/// metadata dropped, so one schema cannot make every batch of a run heavy.
pub const MAX_SCHEMA_METADATA: usize = 64 << 10;

/// `schema` without its metadata when it carries more than
/// [`MAX_SCHEMA_METADATA`] bytes of it.
pub fn limit_metadata(schema: SchemaRef) -> SchemaRef {
    let size = |m: &std::collections::HashMap<String, String>| {
        m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    };
    let total = size(schema.metadata()) + schema.fields().iter().map(|f| size(f.metadata())).sum::<usize>();
    if total <= MAX_SCHEMA_METADATA {
        return schema;
    }
    tracing::warn!("a plugin declared a schema with {total} bytes of metadata; it is dropped");
    let fields: Vec<_> =
        schema.fields().iter().map(|f| f.as_ref().clone().with_metadata(Default::default())).collect();
    Arc::new(Schema::new(fields))
}

/// Encodes one batch as an IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut w = StreamWriter::try_new(&mut out, batch.schema_ref())?;
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(out)
}

/// Encodes a schema as an IPC stream.
pub fn encode_schema(schema: &Schema) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, schema)?;
    w.finish()?;
    drop(w);
    Ok(out)
}

/// Checks that a batch has exactly the declared columns and types. Field
/// metadata is ignored; a declared non-nullable column must hold no nulls.
pub fn check_schema(batch: &RecordBatch, declared: &Schema) -> Result<(), IpcError> {
    let actual = batch.schema();
    if actual.fields().len() != declared.fields().len() {
        return Err(IpcError::Mismatch(format!(
            "the batch has {} columns ({}), the declared schema has {} ({})",
            actual.fields().len(),
            names(&actual),
            declared.fields().len(),
            names(declared)
        )));
    }
    for (i, (a, d)) in actual.fields().iter().zip(declared.fields()).enumerate() {
        if a.name() != d.name() {
            return Err(IpcError::Mismatch(format!("column {i} is `{}`, declared `{}`", a.name(), d.name())));
        }
        if a.data_type() != d.data_type() {
            return Err(IpcError::Mismatch(format!(
                "column `{}` is {}, declared {}",
                a.name(),
                a.data_type(),
                d.data_type()
            )));
        }
        if !d.is_nullable() && batch.column(i).null_count() > 0 {
            return Err(IpcError::Mismatch(format!(
                "column `{}` is declared non-nullable but holds nulls",
                d.name()
            )));
        }
    }
    Ok(())
}

fn names(s: &Schema) -> String {
    s.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
}

/// Rebuilds a batch with the declared schema object (same columns), so
/// every batch of an output carries identical schema metadata.
pub fn with_schema(batch: RecordBatch, declared: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if Arc::ptr_eq(&batch.schema(), declared) {
        return Ok(batch);
    }
    RecordBatch::try_new(declared.clone(), batch.columns().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use arrow_schema::{DataType, Field};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
                Arc::new(StringArray::from(vec![Some("x"), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_schema_check() {
        let b = batch();
        let back = decode_batch(encode_batch(&b).unwrap()).unwrap();
        assert_eq!(back, b);
        check_schema(&back, &b.schema()).unwrap();
        let other = Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("s", DataType::Utf8, true),
        ]);
        assert_eq!(
            check_schema(&back, &other).unwrap_err().to_string(),
            "schema mismatch: column `id` is Int64, declared Int32"
        );
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(
            decode_batch(vec![1, 2, 3, 4, 5, 6, 7, 8, 9])
                .unwrap_err()
                .to_string()
                .starts_with("malformed Arrow IPC")
        );
        let mut bytes = encode_batch(&batch()).unwrap();
        bytes.truncate(bytes.len() - 20);
        assert!(decode_batch(bytes).unwrap_err().to_string().starts_with("malformed Arrow IPC"));
    }

    #[test]
    fn row_bombs_are_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Null, true)]));
        let n = arrow_array::NullArray::new(MAX_BATCH_ROWS + 1);
        let bomb = RecordBatch::try_new(schema, vec![Arc::new(n) as ArrayRef]).unwrap();
        let bytes = encode_batch(&bomb).unwrap();
        assert!(bytes.len() < 1024);
        assert!(decode_batch(bytes).unwrap_err().to_string().contains("over the limit of 16777216 rows"));
    }

    /// An IPC stream whose schema has a `List` field without its child,
    /// which arrow-ipc's decoder panics on.
    pub(crate) fn list_without_child() -> Vec<u8> {
        use arrow_ipc::{Field as F, FieldArgs, List, ListArgs, Message, MessageArgs, MessageHeader};
        use arrow_ipc::{MetadataVersion, Schema as S, SchemaArgs, Type};
        let mut b = flatbuffers::FlatBufferBuilder::new();
        let list = List::create(&mut b, &ListArgs {});
        let name = b.create_string("items");
        let children = b.create_vector::<flatbuffers::WIPOffset<F>>(&[]);
        let field = F::create(
            &mut b,
            &FieldArgs {
                name: Some(name),
                nullable: true,
                type_type: Type::List,
                type_: Some(list.as_union_value()),
                children: Some(children),
                ..Default::default()
            },
        );
        let fields = b.create_vector(&[field]);
        let schema = S::create(&mut b, &SchemaArgs { fields: Some(fields), ..Default::default() });
        let message = Message::create(
            &mut b,
            &MessageArgs {
                version: MetadataVersion::V5,
                header_type: MessageHeader::Schema,
                header: Some(schema.as_union_value()),
                bodyLength: 0,
                custom_metadata: None,
            },
        );
        b.finish(message, None);
        let mut meta = b.finished_data().to_vec();
        while !meta.len().is_multiple_of(8) {
            meta.push(0);
        }
        let mut out = vec![0xff, 0xff, 0xff, 0xff];
        out.extend_from_slice(&(meta.len() as i32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        out
    }

    #[test]
    fn a_schema_the_decoder_panics_on_is_an_error() {
        crate::panics::install_hook();
        let bytes = list_without_child();
        if std::env::var_os("PRINT_MALFORMED_IPC").is_some() {
            println!("{bytes:?}");
        }
        let e = decode_schema(bytes.clone()).unwrap_err().to_string();
        assert!(e.starts_with("malformed Arrow IPC: the decoder cannot read it ("), "{e}");
        let e = decode_batch(bytes).unwrap_err().to_string();
        assert!(e.starts_with("malformed Arrow IPC: the decoder cannot read it ("), "{e}");
    }

    #[test]
    fn schema_round_trip() {
        let b = batch();
        assert_eq!(decode_schema(encode_schema(&b.schema()).unwrap()).unwrap(), b.schema());
    }
}
