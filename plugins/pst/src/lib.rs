//! The `pst` reader plugin: Outlook PST mailboxes to `messages` and
//! `attachments` tables, read inside a WebAssembly sandbox.

pub mod crypt;
pub mod dump;
pub mod error;
pub mod ltp;
pub mod mailbox;
pub mod ndb;
pub mod source;
pub mod text;

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
