//! Arrow IPC encoding of batches and schemas, as they cross the boundary.
//!
//! Every buffer is one Arrow IPC *stream*: a schema message and (for batches)
//! exactly one record batch message. Decoding avoids copies where the buffer
//! is suitably aligned.

use crate::error::{Error, Result};
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::{StreamDecoder, StreamReader};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Schema, SchemaRef};
use std::sync::Arc;

/// Encodes one batch as an IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>> {
    let size = batch.get_array_memory_size() + 1024;
    let mut out = Vec::with_capacity(size);
    let mut writer = StreamWriter::try_new(&mut out, batch.schema_ref())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(out)
}

/// Encodes a schema as an IPC stream without batches.
pub fn encode_schema(schema: &Schema) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema)?;
    writer.finish()?;
    drop(writer);
    Ok(out)
}

/// Decodes a schema-only IPC stream.
pub fn decode_schema(bytes: Vec<u8>) -> Result<SchemaRef> {
    let mut decoder = StreamDecoder::new();
    let mut buffer = Buffer::from_vec(bytes);
    while !buffer.is_empty() {
        if decoder.decode(&mut buffer).map_err(bad_ipc)?.is_some() {
            return Err(Error::invalid_input("expected a schema, found a record batch"));
        }
        if let Some(schema) = decoder.schema() {
            return Ok(schema);
        }
    }
    decoder.schema().ok_or_else(|| Error::invalid_input("IPC stream holds no schema"))
}

/// Decodes an IPC stream holding one batch. A stream with a schema and no
/// batch decodes to an empty batch of that schema.
pub fn decode_batch(bytes: Vec<u8>) -> Result<RecordBatch> {
    let mut decoder = StreamDecoder::new();
    let mut buffer = Buffer::from_vec(bytes);
    let mut found = None;
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer).map_err(bad_ipc)? {
            if found.is_some() {
                return Err(Error::invalid_input("IPC stream holds more than one batch"));
            }
            found = Some(batch);
        }
    }
    decoder.finish().map_err(bad_ipc)?;
    match found {
        Some(batch) => Ok(batch),
        None => {
            let schema =
                decoder.schema().ok_or_else(|| Error::invalid_input("IPC stream holds no schema"))?;
            Ok(RecordBatch::new_empty(schema))
        }
    }
}

/// Decodes a batch the host sent to a transform's `process`, without
/// checking it again.
///
/// Sound because the host sends a transform only batches it has checked in
/// full itself: every plugin output is decoded with all of arrow's checks
/// before it is routed on, and batches the host assembles are made of such
/// columns. And were the host ever to send a malformed batch, what it could
/// corrupt is this plugin's own memory inside the sandbox, not the host: the
/// host checks everything that comes back. The checks are not cheap here:
/// on a 64k-row dictionary column, re-checking every key against the
/// dictionary took half of the batch's whole round trip (bench/sandbox).
///
/// arrow-ipc 59's `StreamDecoder` ignores `with_skip_validation` for record
/// batch messages (it honours it for dictionary messages only), so this
/// reads with `StreamReader`, which honours it for both, at the cost of
/// copying each message body once.
pub fn decode_host_batch(bytes: Vec<u8>) -> Result<RecordBatch> {
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(bad_ipc)?;
    // SAFETY: see above: the bytes are a batch the host has validated.
    let mut reader = unsafe { reader.with_skip_validation(true) };
    let found = reader.next().transpose().map_err(bad_ipc)?;
    if reader.next().transpose().map_err(bad_ipc)?.is_some() {
        return Err(Error::invalid_input("IPC stream holds more than one batch"));
    }
    Ok(found.unwrap_or_else(|| RecordBatch::new_empty(reader.schema())))
}

/// Decodes every batch in a list of IPC streams (side tables, transform
/// outputs).
pub fn decode_batches(buffers: Vec<Vec<u8>>) -> Result<Vec<RecordBatch>> {
    buffers.into_iter().map(decode_batch).collect()
}

/// An empty schema, for plugins that have nothing to declare.
pub fn empty_schema() -> SchemaRef {
    Arc::new(Schema::empty())
}

fn bad_ipc(e: arrow_schema::ArrowError) -> Error {
    Error::invalid_input(format!("malformed Arrow IPC: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use arrow_schema::{DataType, Field};

    fn sample() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
                Arc::new(StringArray::from(vec![Some("a"), None, Some("ç")])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn batch_round_trip() {
        let batch = sample();
        let back = decode_batch(encode_batch(&batch).unwrap()).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn host_batches_decode_as_checked_ones_do() {
        let batch = sample();
        let bytes = encode_batch(&batch).unwrap();
        assert_eq!(decode_host_batch(bytes.clone()).unwrap(), decode_batch(bytes).unwrap());
        let empty = decode_host_batch(encode_schema(batch.schema_ref()).unwrap()).unwrap();
        assert_eq!((empty.num_rows(), empty.schema()), (0, batch.schema()));
        let err = decode_host_batch(vec![0xff; 64]).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
        assert!(decode_host_batch(two_batches()).unwrap_err().message.contains("more than one"));
    }

    #[test]
    fn host_batches_are_not_checked_again() {
        use arrow_array::types::Int32Type;
        use arrow_array::{DictionaryArray, Int32Array};
        // A key past the end of its dictionary: the checked decoder refuses
        // it, the host path does not look (the batch is only encoded and
        // decoded here, never read).
        let keys = Int32Array::from(vec![0, 5]);
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        let bad = unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, values) };
        let batch = RecordBatch::try_from_iter([("d", Arc::new(bad) as ArrayRef)]).unwrap();
        let bytes = encode_batch(&batch).unwrap();
        assert!(decode_batch(bytes.clone()).unwrap_err().message.contains("out of bounds"));
        assert_eq!(decode_host_batch(bytes).unwrap().num_rows(), 2);
    }

    #[test]
    fn schema_round_trip() {
        let batch = sample();
        let back = decode_schema(encode_schema(batch.schema_ref()).unwrap()).unwrap();
        assert_eq!(back, batch.schema());
    }

    #[test]
    fn schema_only_stream_is_empty_batch() {
        let batch = sample();
        let empty = decode_batch(encode_schema(batch.schema_ref()).unwrap()).unwrap();
        assert_eq!(empty.num_rows(), 0);
        assert_eq!(empty.schema(), batch.schema());
    }

    #[test]
    fn garbage_is_invalid_input() {
        let err = decode_batch(vec![0xff; 64]).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
    }

    /// One stream holding the sample batch twice.
    fn two_batches() -> Vec<u8> {
        let batch = sample();
        let mut out = Vec::new();
        let mut w = StreamWriter::try_new(&mut out, batch.schema_ref()).unwrap();
        w.write(&batch).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    #[test]
    fn two_batches_rejected() {
        assert!(decode_batch(two_batches()).unwrap_err().message.contains("more than one"));
    }
}
