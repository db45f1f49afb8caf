//! A JSON Lines dump of a mailbox's messages in the same shape as
//! `tests/pst/pypff_dump.py` prints, so the parser can be compared with
//! libpff field by field (see the `reference` tests and
//! `examples/pst_dump.rs`).
//!
//! Only top-level messages are dumped by default, as libpff lists them;
//! embedded messages can be included for inspection.

use crate::error::Result;
use crate::mailbox::{Attachment, Mailbox, Message, Settings, Visitor, Walk};
use crate::source::ReadAt;
use serde_json::{Value, json};
use std::ops::ControlFlow;

/// Collects messages as JSON objects.
struct Collector {
    file: String,
    embedded: bool,
    records: Vec<Value>,
    issues: Vec<String>,
}

impl Visitor for Collector {
    fn message(&mut self, m: Message) -> ControlFlow<()> {
        if m.parent_key.is_none() || self.embedded {
            self.records.push(record(&self.file, &m));
        }
        ControlFlow::Continue(())
    }
    fn attachment(&mut self, _: Attachment) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn reject(&mut self, location: &str, reason: &str) {
        self.issues.push(format!("rejected {location}: {reason}"));
    }
    fn warn(&mut self, location: &str, reason: &str) {
        self.issues.push(format!("warning {location}: {reason}"));
    }
}

/// The JSON object for one message.
pub fn record(file: &str, m: &Message) -> Value {
    json!({
        "file": file,
        "folder_path": m.folder_path,
        "message_key": m.key,
        "parent_message_key": m.parent_key,
        "message_class": m.message_class,
        "subject": m.subject,
        "sender_name": m.sender_name,
        "body_text": m.body_text,
        "attachment_count": m.attachment_count,
    })
}

/// What [`dump`] found.
pub struct Dump {
    pub records: Vec<Value>,
    /// Rejected items and warnings, as text.
    pub issues: Vec<String>,
    pub walk: Walk,
}

/// Walks the mailbox in `src` (named `file` in the records) and returns its
/// messages as JSON objects.
pub fn dump<R: ReadAt>(src: R, file: &str, embedded: bool) -> Result<Dump> {
    let mut mailbox =
        Mailbox::open(src, true, Settings { attachment_content: false, ..Settings::default() })?;
    let mut c = Collector { file: file.to_string(), embedded, records: Vec::new(), issues: Vec::new() };
    let walk = mailbox.walk(&mut c)?;
    Ok(Dump { records: c.records, issues: c.issues, walk })
}
