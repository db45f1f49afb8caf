//! `pst-synth`: writes a synthetic, deterministic PST mailbox and the content
//! a reader must find in it, so PST readers can be tested and benchmarked on
//! mailboxes of real size without trusting any reader. See README.md. The
//! command line (`main.rs`) and the tests of the runtime (`tests/all/pst_synth.rs`)
//! both call [`synthesize`].
//!
//! Modules in data-flow order: `rng` and `content` draw the mailbox,
//! `mailbox` and `message` lay it out as [MS-PST] objects, `digest` records
//! what was written, `ltp` encodes heaps, property and table contexts, `ndb`
//! writes blocks, trees and maps, `header` and `crypt` the bytes they need.

mod content;
mod crypt;
mod digest;
mod header;
mod ltp;
mod mailbox;
mod message;
mod ndb;
mod rng;

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The file layout: Unicode (Outlook 2003 and later) or ANSI (97-2002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Unicode,
    Ansi,
}

/// How data blocks are encoded (the header's `bCryptMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    None,
    /// `NDB_CRYPT_PERMUTE`, Outlook's default.
    Compressible,
    /// `NDB_CRYPT_CYCLIC`, "high encryption".
    Cyclic,
}

impl Encryption {
    /// The name used on the command line and in FILE.expected.json.
    pub fn name(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::Compressible => "compressible",
            Encryption::Cyclic => "cyclic",
        }
    }
}

/// How much to write.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// Messages until the file reaches about this many bytes.
    Bytes(u64),
    /// This many top-level messages.
    Messages(u64),
}

/// What to write.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub amount: Amount,
    pub seed: u64,
    pub format: Format,
    pub encryption: Encryption,
    /// Largest attachment, in bytes.
    pub max_attachment: u64,
    /// One more attachment of exactly this many bytes on the first message
    /// (to test readers' memory bounds), whatever `max_attachment` says.
    pub large_attachment: Option<u64>,
}

/// What was written: the content of FILE.expected.json and where it is.
#[derive(Debug)]
pub struct Written {
    pub size: u64,
    pub expected_path: PathBuf,
    pub digests_path: PathBuf,
    pub expected: serde_json::Value,
}

/// FILE.expected.json and FILE.digests.jsonl beside `pst`.
pub fn companion_paths(pst: &Path) -> (PathBuf, PathBuf) {
    let stem = pst.with_extension("");
    (
        PathBuf::from(format!("{}.expected.json", stem.display())),
        PathBuf::from(format!("{}.digests.jsonl", stem.display())),
    )
}

/// Writes the PST and its two companion files.
pub fn synthesize(opts: &Options) -> anyhow::Result<Written> {
    let format = match opts.format {
        Format::Unicode => ndb::Format::Unicode,
        Format::Ansi => ndb::Format::Ansi,
    };
    let crypt = match opts.encryption {
        Encryption::None => crypt::Crypt::None,
        Encryption::Compressible => crypt::Crypt::Permute,
        Encryption::Cyclic => crypt::Crypt::Cyclic,
    };
    let amount = match opts.amount {
        Amount::Bytes(n) => mailbox::Amount::Bytes(n),
        Amount::Messages(n) => mailbox::Amount::Messages(n),
    };
    let plan = mailbox::Plan {
        seed: opts.seed,
        amount,
        max_attachment: opts.max_attachment,
        large_attachment: opts.large_attachment,
    };
    let file =
        std::fs::File::create(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let (expected_path, digests_path) = companion_paths(&opts.out);
    let digests_file = std::fs::File::create(&digests_path)
        .with_context(|| format!("creating {}", digests_path.display()))?;
    let mut digests = digest::Digests::create(digests_file);
    let mut ndb = ndb::Ndb::create(file, format, crypt)?;
    let folders = mailbox::write(&mut ndb, &mut digests, &plan)?;
    let size = ndb.finish()?;
    let expected = serde_json::json!({
        "file": opts.out.file_name().map(|n| n.to_string_lossy().into_owned()),
        "format": match opts.format { Format::Ansi => "ansi", Format::Unicode => "unicode" },
        "encryption": opts.encryption.name(),
        "seed": opts.seed,
        "size": size,
        "messages": digests.messages,
        "top_level_messages": digests.messages - digests.embedded,
        "embedded_messages": digests.embedded,
        "attachments": digests.attachments,
        "attachment_bytes": digests.attachment_bytes,
        "folders": folders,
        "per_folder": digests.per_folder,
        "digests_file": digests_path.file_name().map(|n| n.to_string_lossy().into_owned()),
    });
    digests.finish()?;
    std::fs::write(&expected_path, serde_json::to_string_pretty(&expected)? + "\n")
        .with_context(|| format!("writing {}", expected_path.display()))?;
    Ok(Written { size, expected_path, digests_path, expected })
}
