//! One split, end to end: open the mailbox, walk it, buffer records into
//! batches bounded in rows and bytes, emit them, and decide how the split
//! ends under the failure policy.
//!
//! The policy, from worst to mildest:
//! - the file cannot be opened, or its root folder is unreadable: the split
//!   fails with `invalid-input` (or `unsupported`);
//! - a folder is unreadable (its messages are lost): the split ends
//!   `partial` when messages were emitted, and fails when none were;
//! - a message or attachment is unreadable: it is rejected (counted in the
//!   run report) and the walk goes on; a file in which nothing at all could
//!   be read still fails;
//! - a value is too large or a recipient table unreadable: the message is
//!   emitted without it and a warning is logged.
//!
//! Output goes through the [`Sink`] trait so this runs natively in tests
//! exactly as it does inside the component.

use crate::columns::{
    ATTACHMENTS, MESSAGES, attachments_batch, attachments_schema, messages_batch, messages_schema,
};
use crate::error::{ErrorKind, PstError};
use crate::mailbox::{Attachment, Mailbox, Message, Settings, Visitor, Walk};
use crate::options::Options;
use crate::planning::NidRange;
use crate::source::ReadAt;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::reader::Outcome;
use std::ops::ControlFlow;

/// Where batches, rejects and warnings go.
pub trait Sink {
    fn emit(&mut self, output: &str, batch: &RecordBatch) -> Result<()>;
    fn reject(&mut self, location: &str, reason: &str);
    fn warn(&mut self, message: &str);
}

/// Converts a parser error into the plugin error reported to the host.
pub fn plugin_error(e: PstError) -> Error {
    match e.kind {
        ErrorKind::Corrupt | ErrorKind::Limit => Error::invalid_input(e.message),
        ErrorKind::Unsupported => Error::unsupported(e.message),
        ErrorKind::Io => Error::io(e.message),
    }
}

/// Buffers records and emits them in bounded batches.
struct Batcher<'a> {
    sink: &'a mut dyn Sink,
    source_path: &'a str,
    batch_rows: usize,
    batch_bytes: usize,
    messages_schema: SchemaRef,
    attachments_schema: SchemaRef,
    messages: Vec<Message>,
    message_bytes: usize,
    attachments: Vec<Attachment>,
    attachment_bytes: usize,
    error: Option<Error>,
}

impl Batcher<'_> {
    fn flush_messages(&mut self) -> Result<()> {
        if self.messages.is_empty() {
            return Ok(());
        }
        let batch = messages_batch(&self.messages_schema, self.source_path, &self.messages)?;
        self.messages.clear();
        self.message_bytes = 0;
        self.sink.emit(MESSAGES, &batch)
    }

    fn flush_attachments(&mut self) -> Result<()> {
        if self.attachments.is_empty() {
            return Ok(());
        }
        let batch = attachments_batch(&self.attachments_schema, self.source_path, &self.attachments)?;
        self.attachments.clear();
        self.attachment_bytes = 0;
        self.sink.emit(ATTACHMENTS, &batch)
    }

    fn check(&mut self, r: Result<()>) -> ControlFlow<()> {
        match r {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

impl Visitor for Batcher<'_> {
    fn message(&mut self, message: Message) -> ControlFlow<()> {
        self.message_bytes += message.approx_bytes();
        self.messages.push(message);
        if self.messages.len() >= self.batch_rows || self.message_bytes >= self.batch_bytes {
            let r = self.flush_messages();
            return self.check(r);
        }
        ControlFlow::Continue(())
    }

    fn attachment(&mut self, attachment: Attachment) -> ControlFlow<()> {
        let size = attachment.content.as_ref().map_or(0, Vec::len) + 256;
        // Send what is buffered first if this one would push the batch over
        // its byte budget, so a batch exceeds it only by a single attachment.
        if !self.attachments.is_empty() && self.attachment_bytes + size > self.batch_bytes {
            let r = self.flush_attachments();
            self.check(r)?;
        }
        self.attachment_bytes += size;
        self.attachments.push(attachment);
        if self.attachments.len() >= self.batch_rows || self.attachment_bytes >= self.batch_bytes {
            let r = self.flush_attachments();
            return self.check(r);
        }
        ControlFlow::Continue(())
    }

    fn reject(&mut self, location: &str, reason: &str) {
        self.sink.reject(location, reason);
    }

    fn warn(&mut self, location: &str, reason: &str) {
        self.sink.warn(&format!("{location}: {reason}"));
    }
}

/// Reads the PST in `src` (named `source_path` in the output) and emits its
/// messages and attachments to `sink`. Returns how the split ended, with
/// the walk's counters.
pub fn read_pst<R: ReadAt>(
    src: R,
    source_path: &str,
    options: &Options,
    sink: &mut dyn Sink,
) -> Result<(Outcome, Walk)> {
    read_pst_range(src, source_path, options, NidRange::ALL, sink)
}

/// [`read_pst`] of one split inside the file: the messages in `messages`.
pub fn read_pst_range<R: ReadAt>(
    src: R,
    source_path: &str,
    options: &Options,
    messages: NidRange,
    sink: &mut dyn Sink,
) -> Result<(Outcome, Walk)> {
    // Messages do not repeat `source_path`: the host names the split's file
    // in its report.
    let settings = Settings { messages, ..options.settings() };
    let mut mailbox = Mailbox::open(src, options.verify_checksums, settings).map_err(plugin_error)?;
    let mut batcher = Batcher {
        sink,
        source_path,
        batch_rows: options.batch_rows,
        batch_bytes: options.batch_bytes.min(usize::MAX as u64) as usize,
        messages_schema: messages_schema(),
        attachments_schema: attachments_schema(),
        messages: Vec::new(),
        message_bytes: 0,
        attachments: Vec::new(),
        attachment_bytes: 0,
        error: None,
    };
    let walk = mailbox.walk(&mut batcher).map_err(plugin_error);
    if let Some(e) = batcher.error.take() {
        return Err(e);
    }
    let walk = walk?;
    batcher.flush_messages()?;
    batcher.flush_attachments()?;
    if !walk.damage.is_empty() {
        let lost = match (walk.lost_messages, walk.lost_uncounted) {
            _ if !walk.counts_losses => "their count is reported by the file's first split".to_string(),
            (n, 0) => format!("{n} message(s) lost"),
            (n, k) => format!("{n} message(s) lost, and more in {k} folder(s) whose count is unreadable"),
        };
        let reason = format!(
            "{} damaged folder(s), their messages were not read ({lost}); first: {}",
            walk.damage.len(),
            walk.damage[0]
        );
        if walk.messages == 0 {
            return Err(Error::invalid_input(reason));
        }
        return Ok((Outcome::partial(reason), walk));
    }
    if walk.messages == 0 && walk.rejected > 0 {
        return Err(Error::invalid_input(format!("none of the {} message(s) could be read", walk.rejected)));
    }
    Ok((Outcome::complete(), walk))
}

/// A [`Sink`] that keeps everything in memory: for tests and native tools.
#[derive(Default)]
pub struct MemorySink {
    pub batches: Vec<(String, RecordBatch)>,
    pub rejects: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl MemorySink {
    /// Total rows emitted to `output`.
    pub fn rows(&self, output: &str) -> usize {
        self.batches.iter().filter(|(o, _)| o == output).map(|(_, b)| b.num_rows()).sum()
    }
}

impl Sink for MemorySink {
    fn emit(&mut self, output: &str, batch: &RecordBatch) -> Result<()> {
        self.batches.push((output.to_string(), batch.clone()));
        Ok(())
    }
    fn reject(&mut self, location: &str, reason: &str) {
        self.rejects.push((location.to_string(), reason.to_string()));
    }
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SeekSource;
    use crate::test_support::{FIXTURES, fixture};
    use arrow_array::cast::AsArray;
    use arrow_array::{Array, types::Int64Type};
    use std::io::Cursor;

    fn run(name: &str, options: &Options) -> (Result<(Outcome, Walk)>, MemorySink) {
        let file = std::fs::File::open(fixture(name)).unwrap();
        let mut sink = MemorySink::default();
        let r = read_pst(SeekSource::new(file).unwrap(), name, options, &mut sink);
        (r, sink)
    }

    #[test]
    fn every_fixture_reads_completely() {
        let mut top_level = 0;
        for name in FIXTURES {
            let (r, sink) = run(name, &Options::default());
            let (outcome, walk) = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(outcome, Outcome::complete(), "{name}");
            assert!(sink.rejects.is_empty(), "{name}: {:?}", sink.rejects);
            assert_eq!(sink.rows(MESSAGES) as u64, walk.messages);
            for (_, batch) in sink.batches.iter().filter(|(o, _)| o == MESSAGES) {
                top_level += batch.column_by_name("parent_message_key").unwrap().null_count();
            }
        }
        assert_eq!(top_level, 13, "libpff counts 13 top-level messages in the corpus");
    }

    /// Every row of `output` as text (one row's slice of every column), sorted.
    fn rows_of(sink: &MemorySink, output: &str) -> Vec<String> {
        let mut rows: Vec<String> = sink
            .batches
            .iter()
            .filter(|(o, _)| o == output)
            .flat_map(|(_, b)| (0..b.num_rows()).map(|i| format!("{:?}", b.slice(i, 1).columns())))
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn splits_inside_a_file_read_exactly_the_whole_file() {
        for name in FIXTURES {
            let (r, whole) = run(name, &Options::default());
            r.unwrap();
            let file = std::fs::File::open(fixture(name)).unwrap();
            let mut ndb = crate::ndb::Ndb::open(SeekSource::new(file).unwrap(), true).unwrap();
            let ranges = crate::planning::plan(&mut ndb, 2048).unwrap();
            let mut parts = MemorySink::default();
            for p in &ranges {
                let file = std::fs::File::open(fixture(name)).unwrap();
                let (outcome, _) = read_pst_range(
                    SeekSource::new(file).unwrap(),
                    name,
                    &Options::default(),
                    p.range,
                    &mut parts,
                )
                .unwrap_or_else(|e| panic!("{name} {:?}: {e}", p.range));
                assert_eq!(outcome, Outcome::complete(), "{name} {:?}", p.range);
            }
            for output in [MESSAGES, ATTACHMENTS] {
                let (w, p) = (rows_of(&whole, output), rows_of(&parts, output));
                assert_eq!(w.len(), p.len(), "{name} {output}: {} ranges", ranges.len());
                assert!(w == p, "{name} {output}: the ranges' rows differ from the whole file's");
            }
        }
    }

    #[test]
    fn attachments_are_hashed_and_kept() {
        let (r, sink) = run("sample1.pst", &Options::default());
        r.unwrap();
        let (_, batch) = sink.batches.iter().find(|(o, _)| o == ATTACHMENTS).unwrap();
        assert_eq!(batch.num_rows(), 1);
        let content = batch.column_by_name("content").unwrap().as_binary::<i32>().value(0).to_vec();
        let size = batch.column_by_name("size_bytes").unwrap().as_primitive::<Int64Type>().value(0);
        assert_eq!(size as usize, content.len());
        assert_eq!(size, 93142, "libpff's attachment size");
        assert_eq!(&content[..3], b"\xff\xd8\xff", "a JPEG");
        let sha = batch.column_by_name("sha256").unwrap().as_string::<i32>().value(0).to_string();
        use sha2::Digest;
        let expect: String = sha2::Sha256::digest(&content).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sha, expect);
        // SHA-256 of the bytes libpff returns for this attachment.
        const LIBPFF_SHA256: &str = "6cbde5154184f68a2ccefbe1a2d5520efd473576dc60e13665f5706080548f8e";
        assert_eq!(sha, LIBPFF_SHA256);
        let (r, ansi) = run("sample2.pst", &Options::default());
        r.unwrap();
        let (_, batch) = ansi.batches.iter().find(|(o, _)| o == ATTACHMENTS).unwrap();
        assert_eq!(batch.column_by_name("sha256").unwrap().as_string::<i32>().value(0), LIBPFF_SHA256);

        let no_content = Options { attachment_content: false, ..Options::default() };
        let (r, sink) = run("sample1.pst", &no_content);
        r.unwrap();
        let (_, batch) = sink.batches.iter().find(|(o, _)| o == ATTACHMENTS).unwrap();
        assert!(batch.column_by_name("content").unwrap().is_null(0));
        assert_eq!(batch.column_by_name("sha256").unwrap().as_string::<i32>().value(0), sha);

        let small = Options { max_attachment_bytes: 1000, ..Options::default() };
        let (r, sink) = run("sample1.pst", &small);
        r.unwrap();
        let (_, batch) = sink.batches.iter().find(|(o, _)| o == ATTACHMENTS).unwrap();
        assert!(batch.column_by_name("content").unwrap().is_null(0), "over the limit: hashed only");
        assert_eq!(batch.column_by_name("sha256").unwrap().as_string::<i32>().value(0), sha);
    }

    #[test]
    fn embedded_message_rows_reference_their_parent() {
        let (r, sink) = run("submessage.pst", &Options::default());
        r.unwrap();
        let (_, batch) = sink.batches.iter().find(|(o, _)| o == MESSAGES).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let keys = batch.column_by_name("message_key").unwrap().as_string::<i32>();
        let parents = batch.column_by_name("parent_message_key").unwrap().as_string::<i32>();
        assert!(parents.is_null(0));
        assert_eq!(parents.value(1), keys.value(0));
        let (_, att) = sink.batches.iter().find(|(o, _)| o == ATTACHMENTS).unwrap();
        let embedded = att.column_by_name("embedded_message_key").unwrap().as_string::<i32>();
        assert_eq!(embedded.value(0), keys.value(1));
    }

    #[test]
    fn batches_are_bounded_in_rows() {
        let options = Options { batch_rows: 1, ..Options::default() };
        let (r, sink) = run("dist-list.pst", &options);
        let (_, walk) = r.unwrap();
        let batches = sink.batches.iter().filter(|(o, _)| o == MESSAGES).count();
        assert_eq!(batches as u64, walk.messages);
        assert!(sink.batches.iter().all(|(_, b)| b.num_rows() == 1));
    }

    #[test]
    fn recipients_and_times() {
        let (r, sink) = run("sample1.pst", &Options::default());
        r.unwrap();
        let (_, batch) = sink.batches.iter().find(|(o, _)| o == MESSAGES).unwrap();
        let to = batch.column_by_name("to").unwrap().as_list::<i32>().value(0);
        let to = to.as_struct();
        assert_eq!(to.len(), 1);
        assert_eq!(to.column(0).as_string::<i32>().value(0), "Terry Mahaffey");
        assert_eq!(to.column(1).as_string::<i32>().value(0), "terrymah@microsoft.com");
        let email = batch.column_by_name("sender_email").unwrap().as_string::<i32>();
        assert_eq!(email.value(0), "terrymah@microsoft.com");
        let received = batch.column_by_name("received_at").unwrap();
        let received = received.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(received.value(0) / 1_000_000, 1_268_673_127, "2010-03-15T17:12:07Z");
        let html = batch.column_by_name("body_html").unwrap().as_string::<i32>();
        assert!(html.value(0).starts_with("<html"), "{}", &html.value(0)[..20]);
        let headers = batch.column_by_name("transport_headers").unwrap().as_string::<i32>();
        assert!(headers.value(0).contains("Message-ID:"));
    }

    #[test]
    fn garbage_fails_cleanly() {
        let mut sink = MemorySink::default();
        let e = read_pst(
            SeekSource::new(Cursor::new(b"not a pst".to_vec())).unwrap(),
            "x",
            &Options::default(),
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(e.kind, runtime_plugin_sdk::error::ErrorKind::InvalidInput);
        assert!(e.message.starts_with("not a PST"), "{}", e.message);
        assert!(sink.batches.is_empty());
    }
}
