//! The expected content: each message's canonical digest (defined in the
//! README, recomputed by `tests/pst/synth_check.py`), streamed to
//! `FILE.digests.jsonl` one line per message so memory stays flat, and the
//! counts that go to `FILE.expected.json`.

use crate::content::Message;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};

/// An attachment as the digest sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentDigest {
    pub name: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// The id of the embedded message, for attach method 5.
    pub embedded: Option<String>,
}

/// One line of the digests file.
#[derive(Debug, Serialize)]
pub struct MessageDigest {
    pub id: String,
    pub folder: String,
    pub embedded: bool,
    /// 0 for a top-level message, 1 for one embedded in it, 2 below that.
    pub depth: u32,
    pub digest: String,
    pub attachments: Vec<AttachmentDigest>,
}

/// The canonical form: a compact JSON array (see the README).
pub fn canonical(m: &Message, atts: &[AttachmentDigest]) -> String {
    let recipients: Vec<_> = m.recipients.iter().map(|(t, n, e)| json!([t, n, e])).collect();
    let attachments: Vec<_> = atts
        .iter()
        .map(|a| match &a.embedded {
            Some(id) => json!([a.name, null, id]),
            None => json!([a.name, a.size, a.sha256]),
        })
        .collect();
    json!([m.subject, m.sender_name, m.sender_email, m.body, m.html, recipients, attachments]).to_string()
}

impl MessageDigest {
    pub fn new(m: &Message, folder: &str, depth: u32, attachments: Vec<AttachmentDigest>) -> MessageDigest {
        let sha = Sha256::digest(canonical(m, &attachments).as_bytes());
        MessageDigest {
            id: m.id.clone(),
            folder: folder.to_string(),
            embedded: depth > 0,
            depth,
            digest: crate::message::hex(&sha),
            attachments,
        }
    }
}

/// The running totals and the digests file.
pub struct Digests {
    out: BufWriter<File>,
    pub messages: u64,
    pub embedded: u64,
    pub attachments: u64,
    pub attachment_bytes: u64,
    pub per_folder: BTreeMap<String, u64>,
}

impl Digests {
    pub fn create(file: File) -> Digests {
        Digests {
            out: BufWriter::new(file),
            messages: 0,
            embedded: 0,
            attachments: 0,
            attachment_bytes: 0,
            per_folder: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, d: MessageDigest) -> std::io::Result<()> {
        self.messages += 1;
        self.attachments += d.attachments.len() as u64;
        self.attachment_bytes += d.attachments.iter().filter_map(|a| a.size).sum::<u64>();
        if d.embedded {
            self.embedded += 1;
        } else {
            *self.per_folder.entry(d.folder.clone()).or_default() += 1;
        }
        serde_json::to_writer(&mut self.out, &d)?;
        self.out.write_all(b"\n")
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
