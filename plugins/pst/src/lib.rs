//! The `pst` reader plugin: Outlook PST mailboxes to `messages` and
//! `attachments` tables, read inside a WebAssembly sandbox.
//!
//! The crate is its own PST reader, in three layers as `[MS-PST]` describes
//! the format: [`ndb`] (header, node and block B-trees, blocks), [`ltp`]
//! (heaps, property and table contexts) and [`mailbox`] (folders, messages,
//! recipients, attachments). It reads through [`source::ReadAt`], so the same
//! code runs over the host's input handle in the component and over files
//! in native tests, and it never holds more of a file than one object's
//! blocks plus a 1 MiB read cache. [`planning`] cuts a large mailbox into
//! splits by ranges of message node ids; [`extract`] drives one split and
//! applies the failure policy; [`plugin`] is the SDK glue.
//!
//! ```no_run
//! use pst::extract::{MemorySink, read_pst};
//! use pst::options::Options;
//! use pst::source::SeekSource;
//!
//! let file = std::fs::File::open("mailbox.pst").unwrap();
//! let mut sink = MemorySink::default();
//! let (outcome, walk) = read_pst(SeekSource::new(file).unwrap(), "mailbox.pst", &Options::default(), &mut sink).unwrap();
//! println!("{} messages, partial: {:?}", walk.messages, outcome.partial);
//! ```

pub mod columns;
pub mod crypt;
pub mod dump;
pub mod error;
pub mod extract;
pub mod ltp;
pub mod mailbox;
pub mod ndb;
pub mod options;
pub mod planning;
pub mod plugin;
pub mod source;
pub mod text;

runtime_plugin_sdk::export_reader!(plugin::Pst);

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the unit tests: the committed fixture files.

    use crate::ndb::Ndb;
    use crate::source::SeekSource;
    use std::path::PathBuf;

    /// The real PST files under `tests/fixtures/pst/`.
    pub const FIXTURES: [&str; 7] = [
        "dist-list.pst",
        "passworded.pst",
        "sample1.pst",
        "sample2.pst",
        "submessage.pst",
        "test_ansi.pst",
        "test_unicode.pst",
    ];

    pub fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pst").join(name)
    }

    pub fn open_fixture(name: &str) -> Ndb<SeekSource<std::fs::File>> {
        let file = std::fs::File::open(fixture(name)).unwrap();
        Ndb::open(SeekSource::new(file).unwrap(), true).unwrap()
    }
}
