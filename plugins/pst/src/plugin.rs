//! The component glue: the [`Pst`] reader implementing the SDK's `Reader`,
//! the host's input handle as a [`ReadAt`] source, and the host's `emit`,
//! `reject` and `log` as a [`Sink`].
//!
//! Planning is the plugin's own: a file up to `max_split_bytes` is one
//! split (the usual case: many small mailboxes, the largest started
//! first); a larger one is cut into ranges of message node ids balanced by
//! bytes ([`crate::planning`]), read by several workers at once.

use crate::columns::{ATTACHMENTS, MESSAGES, attachments_schema, messages_schema};
use crate::error::PstError;
use crate::extract::{Sink, read_pst_range};
use crate::ndb::Ndb;
use crate::options::Options;
use crate::planning::{self, NidRange};
use crate::source::ReadAt;
use runtime_plugin_sdk::log;
use runtime_plugin_sdk::prelude::*;

/// The plugin.
pub struct Pst {
    options: Options,
}

/// The host's view of the split's file.
struct InputSource(Input);

impl ReadAt for InputSource {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> crate::error::Result<usize> {
        let data = self.0.read_at(offset, buf.len()).map_err(|e| PstError::io(e.message))?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
}

/// Batches to the host; rejects and warnings to the run report and log.
struct HostSink<'a>(&'a mut Output);

impl Sink for HostSink<'_> {
    fn emit(&mut self, output: &str, batch: &RecordBatch) -> Result<()> {
        log::progress(output, batch.num_rows() as u64);
        self.0.emit(output, batch)
    }
    fn reject(&mut self, location: &str, reason: &str) {
        self.0.reject(location, reason);
    }
    fn warn(&mut self, message: &str) {
        log::warn(message);
    }
}

impl Reader for Pst {
    type Options = Options;

    fn describe() -> PluginInfo {
        let mut info = PluginInfo::reader(
            "pst",
            env!("CARGO_PKG_VERSION"),
            "Outlook PST mailboxes (ANSI and Unicode): one row per message (all folders, embedded \
             messages included) and one per attachment (streamed, hashed)",
        )
        .output(MESSAGES)
        .output(ATTACHMENTS)
        .planning(Planning::Plugin);
        info.options = Options::specs();
        info
    }

    fn new(options: Options) -> Result<Self> {
        options.validate()?;
        Ok(Pst { options })
    }

    fn output_schemas(&self) -> Result<Vec<(String, SchemaRef)>> {
        Ok(vec![
            (MESSAGES.to_string(), messages_schema(self.options.recover)),
            (ATTACHMENTS.to_string(), attachments_schema()),
        ])
    }

    fn plan(&mut self, files: &[InputFile], inputs: Vec<Input>, hints: &PlanHints) -> Result<Vec<Split>> {
        let mut splits = Vec::with_capacity(files.len());
        for (i, (file, input)) in files.iter().zip(inputs).enumerate() {
            let split = |id: String, payload: String, size_hint: u64| Split {
                id,
                input: Some(i as u32),
                offset: 0,
                length: file.size,
                payload,
                size_hint: size_hint.max(1),
            };
            if file.size <= hints.max_split_bytes {
                splits.push(split(file.path.clone(), String::new(), file.size));
                continue;
            }
            // A file that cannot be planned is one split, which then fails
            // (or is read as far as it can be) with the reason.
            let planned = Ndb::open(InputSource(input), self.options.verify_checksums)
                .and_then(|mut ndb| planning::plan(&mut ndb, hints.max_split_bytes));
            match planned {
                Ok(ranges) if ranges.len() > 1 => {
                    for p in ranges {
                        let id = format!("{}@{}", file.path, p.range.payload());
                        splits.push(split(id, p.range.payload(), p.bytes));
                    }
                }
                Ok(_) => splits.push(split(file.path.clone(), String::new(), file.size)),
                Err(e) => {
                    log::warn(&format!("{}: planned as one split: {e}", file.path));
                    splits.push(split(file.path.clone(), String::new(), file.size));
                }
            }
        }
        Ok(splits)
    }

    fn read(
        &mut self,
        split: &Split,
        file: Option<&InputFile>,
        input: Option<Input>,
        out: &mut Output,
    ) -> Result<Outcome> {
        let input =
            input.ok_or_else(|| Error::invalid_input(format!("split {} has no input file", split.id)))?;
        let path = file.map_or(split.id.as_str(), |f| f.path.as_str());
        let range = NidRange::parse(&split.payload)
            .map_err(|e| Error::invalid_input(format!("split {}: {e}", split.id)))?;
        let (outcome, walk) =
            read_pst_range(InputSource(input), path, &self.options, range, &mut HostSink(out))?;
        log::progress("folders", walk.folders);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_outputs_and_options() {
        let info = Pst::describe();
        assert_eq!(info.outputs, vec![MESSAGES, ATTACHMENTS]);
        assert_eq!(info.planning, Planning::Plugin);
        assert!(info.options.iter().any(|o| o.name == "attachment_content"));
    }

    #[test]
    fn schemas_for_both_outputs() {
        let p = Pst::new(Options::default()).unwrap();
        let schemas = p.output_schemas().unwrap();
        let names: Vec<&str> = schemas.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [MESSAGES, ATTACHMENTS]);
        for column in
            ["source_path", "folder_path", "message_key", "to", "sent_at", "body_html", "attachment_count"]
        {
            assert!(schemas[0].1.field_with_name(column).is_ok(), "{column}");
        }
        for column in ["message_key", "filename", "mime_type", "size_bytes", "sha256", "content"] {
            assert!(schemas[1].1.field_with_name(column).is_ok(), "{column}");
        }
    }

    #[test]
    fn bad_options_fail_at_init() {
        assert!(Pst::new(Options { batch_rows: 0, ..Options::default() }).is_err());
    }
}
