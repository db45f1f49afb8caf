//! A side table read once per machine instead of once per run
//! (`runtime run --side-table-cache DIR`).
//!
//! A distributed run starts one `runtime run` per task, and an executor
//! runs many tasks: without this, every task would read the same lookup
//! inputs again. With a cache folder private to the executor (the Spark
//! launcher passes one per executor process), the first run reads the side
//! table with its plugin and keeps the result; later runs load it.
//!
//! An entry is named by a SHA-256 over everything that decides a side
//! table's rows: its name and output, the plugin's bytes, its options, the
//! schemas it is configured with, its reader-made plan, and every input
//! file's path, size and modification time. A changed input or plugin makes
//! a new name, so a stale entry is never used. An entry is one file: a JSON
//! line (counts, rejects, the length of each IPC buffer), then the buffers.
//! It is written to a temporary name and renamed; an exclusive lock on the
//! entry's `.lock` file, held while one run reads and stores, makes the
//! other runs wait and then load, so the table is read exactly once. The
//! format is our own (a few lines of code) because the buffers are already
//! Arrow IPC: they are stored byte for byte as the reader emitted them.
//!
//! The folder is trusted like the compiled-component cache: the rows in it
//! go to transforms unchecked by a reader. Keep it private to the run's user.

use crate::plugin::state::Reject;
use crate::prepare::PreparedSideTable;
use crate::report::SideTableData;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The JSON line that opens an entry.
#[derive(Serialize, Deserialize)]
struct Header {
    name: String,
    rows: u64,
    bytes: u64,
    files: usize,
    rejected: u64,
    /// (split, location, reason) of each kept reject.
    rejects: Vec<(String, String, String)>,
    buffers: Vec<u64>,
}

/// A cache folder.
pub struct SideTableCache {
    dir: PathBuf,
}

/// An entry locked for this run: load it, or read the table and store it.
pub struct Entry {
    path: PathBuf,
    _lock: File,
}

impl SideTableCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SideTableCache { dir: dir.into() }
    }

    /// Locks the entry of `st` (waiting while another run holds it).
    pub fn lock(&self, st: &PreparedSideTable) -> io::Result<Entry> {
        fs::create_dir_all(&self.dir)?;
        let name = format!("{}-{}", sanitize(&st.stage.name), key(st)?);
        let lock = File::create(self.dir.join(format!("{name}.lock")))?;
        // SAFETY: flock on a descriptor we own; it is released when `lock`
        // is closed (the Entry is dropped).
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Entry { path: self.dir.join(format!("{name}.sidetable")), _lock: lock })
    }
}

impl Entry {
    /// The stored table, if this entry has one.
    pub fn load(&self) -> io::Result<Option<SideTableData>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut r = BufReader::new(file);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let h: Header = serde_json::from_str(&line).map_err(io::Error::other)?;
        let mut buffers = Vec::with_capacity(h.buffers.len());
        for len in h.buffers {
            let mut b = vec![0; len as usize];
            r.read_exact(&mut b)?;
            buffers.push(b);
        }
        if r.read(&mut [0])? != 0 {
            return Err(io::Error::other("trailing bytes"));
        }
        Ok(Some(SideTableData {
            name: h.name,
            buffers,
            rows: h.rows,
            bytes: h.bytes,
            files: h.files,
            rejects: h
                .rejects
                .into_iter()
                .map(|(split, location, reason)| (split, Reject { location, reason }))
                .collect(),
            rejected: h.rejected,
            cached: true,
        }))
    }

    /// Stores a table just read.
    pub fn store(&self, t: &SideTableData) -> io::Result<()> {
        let header = Header {
            name: t.name.clone(),
            rows: t.rows,
            bytes: t.bytes,
            files: t.files,
            rejected: t.rejected,
            rejects: t
                .rejects
                .iter()
                .map(|(s, r)| (s.clone(), r.location.clone(), r.reason.clone()))
                .collect(),
            buffers: t.buffers.iter().map(|b| b.len() as u64).collect(),
        };
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = io::BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer(&mut f, &header).map_err(io::Error::other)?;
        f.write_all(b"\n")?;
        for b in &t.buffers {
            f.write_all(b)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, &self.path)
    }
}

/// The entry's key: everything that decides the table's rows (module docs).
fn key(st: &PreparedSideTable) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut field = |s: &[u8]| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s);
    };
    field(st.stage.name.as_bytes());
    field(st.output.as_bytes());
    field(st.plugin.digest.as_bytes());
    field(st.stage.common.options.as_bytes());
    field(st.stage.max_bytes.to_string().as_bytes());
    for (name, schema) in &st.schemas {
        field(name.as_bytes());
        field(format!("{schema:?}").as_bytes());
    }
    field(format!("{:?}", st.plan).as_bytes());
    for f in &st.files {
        field(f.path.as_os_str().as_encoded_bytes());
        field(f.shown.as_bytes());
        let (size, mtime) = stat(&f.path)?;
        field(&size.to_le_bytes());
        field(&mtime.to_le_bytes());
    }
    Ok(crate::plugin::cache::hex(&h.finalize()[..16]))
}

fn stat(path: &Path) -> io::Result<(u64, i128)> {
    let m = fs::metadata(path)?;
    let mtime = match m.modified()?.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    Ok((m.len(), mtime))
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}
