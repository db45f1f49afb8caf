//! The two output tables, `messages` and `attachments`: their Arrow
//! schemas and the conversion of buffered records into record batches.
//!
//! Recipients (`to`, `cc`, `bcc`) are `list<struct<name: utf8, email: utf8>>`
//! so that names and addresses can be queried separately; a list is empty,
//! never null, when a message has no recipient of that kind. `email` is the
//! SMTP address when the PST records one, otherwise the stored address
//! (which for Exchange senders is an X.500 DN). Timestamps are microseconds,
//! UTC.

use crate::mailbox::{Address, Attachment, Message};
use arrow_array::TimestampMicrosecondArray;
use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

/// Name of the messages output.
pub const MESSAGES: &str = "messages";
/// Name of the attachments output.
pub const ATTACHMENTS: &str = "attachments";

fn address_fields() -> Fields {
    Fields::from(vec![Field::new("name", DataType::Utf8, true), Field::new("email", DataType::Utf8, true)])
}

fn address_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(address_fields()), true))
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Schema of the `messages` output; with `recover`, a last `recovered`
/// column says which rows the recovery scan found.
pub fn messages_schema(recover: bool) -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let list = |name: &str| Field::new(name, DataType::List(address_item()), false);
    let mut fields = vec![
        utf8("source_path", false),
        utf8("folder_path", false),
        utf8("message_key", false),
        utf8("parent_message_key", true),
        utf8("message_class", true),
        utf8("subject", true),
        utf8("sender_name", true),
        utf8("sender_email", true),
        list("to"),
        list("cc"),
        list("bcc"),
        Field::new("sent_at", timestamp(), true),
        Field::new("received_at", timestamp(), true),
        utf8("internet_message_id", true),
        utf8("conversation_topic", true),
        utf8("body_text", true),
        utf8("body_html", true),
        utf8("transport_headers", true),
        Field::new("size_bytes", DataType::Int64, true),
        Field::new("attachment_count", DataType::Int32, false),
    ];
    if recover {
        fields.push(Field::new("recovered", DataType::Boolean, false));
    }
    Arc::new(Schema::new(fields))
}

/// Schema of the `attachments` output.
pub fn attachments_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        utf8("source_path", false),
        utf8("message_key", false),
        utf8("attachment_key", false),
        utf8("filename", true),
        utf8("mime_type", true),
        Field::new("attach_method", DataType::Int32, true),
        Field::new("size_bytes", DataType::Int64, false),
        utf8("sha256", true),
        Field::new("content", DataType::Binary, true),
        utf8("embedded_message_key", true),
    ]))
}

fn strings<'a, T: 'a>(rows: &'a [T], f: impl Fn(&'a T) -> Option<&'a str>) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(rows.len(), 0);
    for r in rows {
        b.append_option(f(r));
    }
    Arc::new(b.finish())
}

fn repeated(value: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, n)))
}

fn addresses(rows: &[Message], f: impl Fn(&Message) -> &Vec<Address>) -> ArrayRef {
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0i32);
    let mut names = StringBuilder::new();
    let mut emails = StringBuilder::new();
    let mut n = 0i32;
    for r in rows {
        for a in f(r) {
            names.append_option(a.name.as_deref());
            emails.append_option(a.email.as_deref());
            n += 1;
        }
        offsets.push(n);
    }
    let values = StructArray::new(
        address_fields(),
        vec![Arc::new(names.finish()) as ArrayRef, Arc::new(emails.finish())],
        None,
    );
    Arc::new(ListArray::new(address_item(), OffsetBuffer::new(offsets.into()), Arc::new(values), None))
}

/// Builds a `messages` batch from buffered records.
pub fn messages_batch(
    schema: &SchemaRef,
    source_path: &str,
    rows: &[Message],
) -> Result<RecordBatch, ArrowError> {
    let times = |f: fn(&Message) -> Option<i64>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(rows.iter().map(f).collect::<Vec<_>>()).with_timezone("UTC"))
    };
    let mut columns: Vec<ArrayRef> = vec![
        repeated(source_path, rows.len()),
        strings(rows, |m| Some(m.folder_path.as_str())),
        strings(rows, |m| Some(m.key.as_str())),
        strings(rows, |m| m.parent_key.as_deref()),
        strings(rows, |m| m.message_class.as_deref()),
        strings(rows, |m| m.subject.as_deref()),
        strings(rows, |m| m.sender_name.as_deref()),
        strings(rows, |m| m.sender_email.as_deref()),
        addresses(rows, |m| &m.to),
        addresses(rows, |m| &m.cc),
        addresses(rows, |m| &m.bcc),
        times(|m| m.sent_at),
        times(|m| m.received_at),
        strings(rows, |m| m.internet_message_id.as_deref()),
        strings(rows, |m| m.conversation_topic.as_deref()),
        strings(rows, |m| m.body_text.as_deref()),
        strings(rows, |m| m.body_html.as_deref()),
        strings(rows, |m| m.transport_headers.as_deref()),
        Arc::new(Int64Array::from(rows.iter().map(|m| m.size_bytes).collect::<Vec<_>>())),
        Arc::new(Int32Array::from(
            rows.iter().map(|m| m.attachment_count.min(i32::MAX as u32) as i32).collect::<Vec<_>>(),
        )),
    ];
    if schema.column_with_name("recovered").is_some() {
        columns.push(Arc::new(BooleanArray::from(rows.iter().map(|m| m.recovered).collect::<Vec<_>>())));
    }
    RecordBatch::try_new(schema.clone(), columns)
}

/// Builds an `attachments` batch from buffered records.
pub fn attachments_batch(
    schema: &SchemaRef,
    source_path: &str,
    rows: &[Attachment],
) -> Result<RecordBatch, ArrowError> {
    let bytes: usize = rows.iter().map(|a| a.content.as_ref().map_or(0, Vec::len)).sum();
    let mut content = BinaryBuilder::with_capacity(rows.len(), bytes);
    for a in rows {
        content.append_option(a.content.as_deref());
    }
    let columns: Vec<ArrayRef> = vec![
        repeated(source_path, rows.len()),
        strings(rows, |a| Some(a.message_key.as_str())),
        strings(rows, |a| Some(a.key.as_str())),
        strings(rows, |a| a.filename.as_deref()),
        strings(rows, |a| a.mime_type.as_deref()),
        Arc::new(Int32Array::from(rows.iter().map(|a| a.method).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|a| a.size_bytes).collect::<Vec<_>>())),
        strings(rows, |a| a.sha256.as_deref()),
        Arc::new(content.finish()),
        strings(rows, |a| a.embedded_message_key.as_deref()),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn message_batch_matches_schema() {
        let m = Message {
            folder_path: "Inbox".into(),
            key: "2097188".into(),
            subject: Some("hi".into()),
            to: vec![Address { name: Some("A".into()), email: Some("a@x".into()) }],
            cc: vec![],
            bcc: vec![Address { name: None, email: Some("b@x".into()) }],
            sent_at: Some(1),
            attachment_count: 2,
            ..Message::default()
        };
        let schema = messages_schema(false);
        let batch = messages_batch(&schema, "a.pst", &[m.clone(), Message { key: "2".into(), ..m }]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let to = batch.column_by_name("to").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(to.value_length(0), 1);
        let cc = batch.column_by_name("cc").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(cc.value_length(1), 0);
        assert!(batch.column_by_name("received_at").unwrap().is_null(0));
    }

    #[test]
    fn attachment_batch_matches_schema() {
        let a = Attachment {
            message_key: "1".into(),
            key: "32805".into(),
            size_bytes: 3,
            sha256: Some("00".into()),
            content: Some(vec![1, 2, 3]),
            ..Attachment::default()
        };
        let schema = attachments_schema();
        let batch =
            attachments_batch(&schema, "a.pst", &[a.clone(), Attachment { content: None, ..a }]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert!(batch.column_by_name("content").unwrap().is_null(1));
    }
}
