//! The plugins embedded in the `runtime` binary at build time (see
//! `host/build.rs`): `ndjson`, `labels`, `aggregate`, `sql`, `pst`, ...

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The component bytes of a bundled plugin.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Names of all bundled plugins, sorted.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
    v.sort();
    v
}
