//! Measures where the per-file time of the parser goes, natively: opening
//! (header), the first B-tree descents, and the full walk with Arrow batch
//! building, over files held in memory.
//!
//! ```text
//! cargo run --release --target x86_64-unknown-linux-gnu -p pst --example bench -- [ITERATIONS] FILE.pst...
//! ```

use pst::extract::{Sink, read_pst};
use pst::mailbox::ROOT_FOLDER;
use pst::ndb::Ndb;
use pst::options::Options;
use pst::source::SeekSource;
use std::io::Cursor;
use std::time::Instant;

/// Encodes every batch as Arrow IPC, as the component does before handing
/// it to the host, and keeps only the byte count.
#[derive(Default)]
struct IpcSink {
    bytes: usize,
}

impl Sink for IpcSink {
    fn emit(
        &mut self,
        _output: &str,
        batch: &arrow_array::RecordBatch,
    ) -> runtime_plugin_sdk::error::Result<()> {
        self.bytes += runtime_plugin_sdk::ipc::encode_batch(batch)?.len();
        Ok(())
    }
    fn reject(&mut self, _: &str, _: &str) {}
    fn warn(&mut self, _: &str) {}
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let iterations: u32 = match args.first().and_then(|a| a.parse().ok()) {
        Some(n) => {
            args.remove(0);
            n
        }
        None => 2000,
    };
    let files: Vec<(String, Vec<u8>)> = args.iter().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
    let options = Options { verify_checksums: std::env::var("NOCRC").is_err(), ..Options::default() };
    let (mut open, mut root, mut walk_total) = (0f64, 0f64, 0f64);
    let (mut messages, mut fetches, mut blocks, mut pages) = (0u64, 0u64, 0u64, 0u64);
    for _ in 0..iterations {
        for (name, bytes) in &files {
            let t = Instant::now();
            let mut ndb = Ndb::open(SeekSource::new(Cursor::new(bytes.as_slice())).unwrap(), true).unwrap();
            open += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let node = ndb.node(ROOT_FOLDER).unwrap();
            ndb.read_block(node.bid_data).unwrap();
            root += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut sink = IpcSink::default();
            let src = SeekSource::new(Cursor::new(bytes.as_slice())).unwrap();
            let (_, walk) = read_pst(src, name, &options, &mut sink).unwrap();
            walk_total += t.elapsed().as_secs_f64();
            messages += walk.messages;
            let _ = (&mut fetches, &mut blocks, &mut pages);
        }
    }
    // One more instrumented pass for the counters.
    for (_, bytes) in &files {
        let mut ndb = Ndb::open(SeekSource::new(Cursor::new(bytes.as_slice())).unwrap(), true).unwrap();
        let node = ndb.node(ROOT_FOLDER).unwrap();
        ndb.read_block(node.bid_data).unwrap();
        fetches += ndb.fetches();
        blocks += ndb.stats.blocks;
        pages += ndb.stats.pages;
    }
    let n = (iterations as usize * files.len()) as f64;
    println!("{} files x {iterations} iterations", files.len());
    println!("open (header):             {:8.1} us/file", open / n * 1e6);
    println!("root folder lookup + read: {:8.1} us/file", root / n * 1e6);
    println!("full read + IPC encoding:  {:8.1} us/file", walk_total / n * 1e6);
    println!("messages per file:         {:8.2}", messages as f64 / n);
    println!("full read per message:     {:8.1} us", walk_total / messages as f64 * 1e6);
    println!("files/s (one core):        {:8.0}", n / walk_total);
    println!("root lookup: {} reads of the input, {} pages, {} blocks", fetches, pages, blocks);
}
