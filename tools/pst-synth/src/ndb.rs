//! The node database writer: blocks with trailers, data trees
//! (XBLOCK/XXBLOCK), subnode trees (SLBLOCK/SIBLOCK), and at the end the
//! node and block B-trees, the allocation maps and the header.
//!
//! Blocks are streamed to the file in the order they are made; only the
//! B-tree entries (24–32 bytes each) stay in memory. The file is laid out in
//! AMap intervals of 253,952 bytes ([MS-PST] 2.2.2.7.2): an AMap page opens
//! every interval, a PMap page follows it in every eighth one, and no block
//! crosses into the next interval. Everything written is marked allocated.
//! FMap and FPMap pages are not written (they are only hints for a writer
//! looking for free space, and this file has none).

use crate::crypt::{Crypt, crc32};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

/// The on-disk variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ansi,
    Unicode,
}

impl Format {
    pub fn id_size(self) -> usize {
        match self {
            Format::Ansi => 4,
            Format::Unicode => 8,
        }
    }
    pub fn block_trailer(self) -> usize {
        match self {
            Format::Ansi => 12,
            Format::Unicode => 16,
        }
    }
    /// Largest payload of one block.
    pub fn max_block(self) -> usize {
        8192 - self.block_trailer()
    }
    fn put_id(self, out: &mut Vec<u8>, v: u64) {
        match self {
            Format::Ansi => out.extend_from_slice(&(v as u32).to_le_bytes()),
            Format::Unicode => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NdbError {
    #[error("writing the PST: {0}")]
    Io(#[from] std::io::Error),
    #[error("an ANSI PST cannot exceed 2 GiB (offset {0})")]
    AnsiTooLarge(u64),
    #[error("a data tree cannot hold {0} bytes (4 GiB is the format's limit)")]
    TreeTooLarge(u64),
}

pub type Result<T> = std::result::Result<T, NdbError>;

/// Size of an AMap interval and offset of the first AMap page.
pub const AMAP_INTERVAL: u64 = 496 * 8 * 64;
const FIRST_AMAP: u64 = 0x4400;
const PAGE: u64 = 512;

/// A node B-tree entry.
#[derive(Debug, Clone, Copy)]
pub struct NodeEntry {
    pub nid: u32,
    pub bid_data: u64,
    pub bid_sub: u64,
    pub parent: u32,
}

/// A subnode of a node: its id and blocks.
#[derive(Debug, Clone, Copy)]
pub struct SubEntry {
    pub nid: u32,
    pub bid_data: u64,
    pub bid_sub: u64,
}

#[derive(Debug, Clone, Copy)]
struct BlockEntry {
    bid: u64,
    ib: u64,
    cb: u16,
}

/// `ComputeSig` of [MS-PST] 5.5.
fn sig(ib: u64, bid: u64) -> u16 {
    let v = ib ^ bid;
    ((v >> 16) ^ v) as u16
}

/// The streaming writer.
pub struct Ndb {
    out: BufWriter<File>,
    pos: u64,
    pub format: Format,
    crypt: Crypt,
    next_bid: u64,
    next_page: u64,
    blocks: Vec<BlockEntry>,
    nodes: Vec<NodeEntry>,
    /// Largest id index used per NID type, for the header's `rgnid`.
    max_nid: [u32; 32],
}

impl Ndb {
    pub fn create(file: File, format: Format, crypt: Crypt) -> Result<Ndb> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&vec![0u8; (FIRST_AMAP + 2 * PAGE) as usize])?;
        Ok(Ndb {
            out,
            pos: FIRST_AMAP + 2 * PAGE,
            format,
            crypt,
            next_bid: 4,
            next_page: 1,
            blocks: Vec::new(),
            nodes: Vec::new(),
            max_nid: [0; 32],
        })
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// First offset of interval `k` usable for blocks.
    fn interval_start(k: u64) -> u64 {
        let base = FIRST_AMAP + k * AMAP_INTERVAL;
        base + if k.is_multiple_of(8) { 2 * PAGE } else { PAGE }
    }

    /// Moves the write position to where `len` bytes aligned to `align` fit
    /// without crossing into the next interval's map pages.
    fn reserve(&mut self, len: u64, align: u64) -> Result<u64> {
        let mut at = self.pos.next_multiple_of(align);
        let k = (at - FIRST_AMAP) / AMAP_INTERVAL;
        // Never on the interval's own map pages.
        at = at.max(Self::interval_start(k));
        let end = FIRST_AMAP + (k + 1) * AMAP_INTERVAL;
        if at + len > end {
            at = Self::interval_start(k + 1);
        }
        if self.format == Format::Ansi && at + len > 0x7FFF_FFFF {
            return Err(NdbError::AnsiTooLarge(at));
        }
        if at > self.pos {
            // Padding and skipped map pages, filled in by `finish`.
            self.out.write_all(&vec![0u8; (at - self.pos) as usize])?;
            self.pos = at;
        }
        Ok(at)
    }

    fn new_bid(&mut self, internal: bool) -> u64 {
        let bid = self.next_bid | if internal { 2 } else { 0 };
        self.next_bid += 4;
        bid
    }

    /// Writes one block and returns its id. Data blocks are encoded.
    pub fn block(&mut self, data: &[u8], internal: bool) -> Result<u64> {
        assert!(data.len() <= self.format.max_block(), "block of {} bytes", data.len());
        let bid = self.new_bid(internal);
        let trailer = self.format.block_trailer();
        let total = (data.len() + trailer).next_multiple_of(64);
        let ib = self.reserve(total as u64, 64)?;
        let mut buf = Vec::with_capacity(total);
        buf.extend_from_slice(data);
        if !internal {
            self.crypt.encode(bid, &mut buf);
        }
        let crc = crc32(&buf);
        buf.resize(total - trailer, 0);
        buf.extend_from_slice(&(data.len() as u16).to_le_bytes());
        buf.extend_from_slice(&sig(ib, bid).to_le_bytes());
        match self.format {
            Format::Ansi => {
                buf.extend_from_slice(&(bid as u32).to_le_bytes());
                buf.extend_from_slice(&crc.to_le_bytes());
            }
            Format::Unicode => {
                buf.extend_from_slice(&crc.to_le_bytes());
                buf.extend_from_slice(&bid.to_le_bytes());
            }
        }
        self.out.write_all(&buf)?;
        self.pos += total as u64;
        self.blocks.push(BlockEntry { bid, ib, cb: data.len() as u16 });
        Ok(bid)
    }

    /// Writes a data tree over already-cut leaf blocks (a heap's blocks).
    pub fn data_tree(&mut self, leaves: &[Vec<u8>]) -> Result<u64> {
        let mut tree = DataTreeWriter::new();
        for leaf in leaves {
            tree.push(self, leaf)?;
        }
        tree.finish(self)
    }

    /// Writes a byte stream as a data tree, cut into full blocks.
    pub fn stream(&mut self, data: &[u8]) -> Result<u64> {
        let mut tree = DataTreeWriter::new();
        for chunk in data.chunks(self.format.max_block()) {
            tree.push(self, chunk)?;
        }
        if data.is_empty() {
            tree.push(self, &[])?;
        }
        tree.finish(self)
    }

    /// Writes a subnode tree and returns its root (0 when empty).
    pub fn subnode_tree(&mut self, subs: &mut [SubEntry]) -> Result<u64> {
        if subs.is_empty() {
            return Ok(0);
        }
        subs.sort_by_key(|s| s.nid);
        let f = self.format;
        let id = f.id_size();
        let head = if f == Format::Ansi { 4 } else { 8 };
        let per_leaf = (f.max_block() - head) / (3 * id);
        let mut leaves = Vec::new();
        for chunk in subs.chunks(per_leaf) {
            let mut b = vec![0x02, 0x00];
            b.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            b.resize(head, 0);
            for s in chunk {
                f.put_id(&mut b, s.nid as u64);
                f.put_id(&mut b, s.bid_data);
                f.put_id(&mut b, s.bid_sub);
            }
            leaves.push((chunk[0].nid, self.block(&b, true)?));
        }
        if leaves.len() == 1 {
            return Ok(leaves[0].1);
        }
        let per_index = (f.max_block() - head) / (2 * id);
        assert!(leaves.len() <= per_index, "subnode tree too large");
        let mut b = vec![0x02, 0x01];
        b.extend_from_slice(&(leaves.len() as u16).to_le_bytes());
        b.resize(head, 0);
        for (nid, bid) in &leaves {
            f.put_id(&mut b, *nid as u64);
            f.put_id(&mut b, *bid);
        }
        self.block(&b, true)
    }

    /// Records a node in the node B-tree.
    pub fn node(&mut self, e: NodeEntry) {
        let t = (e.nid & 0x1F) as usize;
        self.max_nid[t] = self.max_nid[t].max(e.nid >> 5);
        self.nodes.push(e);
    }

    /// Writes the B-trees, the maps and the header; returns the file size.
    pub fn finish(mut self) -> Result<u64> {
        let blocks = std::mem::take(&mut self.blocks);
        let bbt: Vec<(u64, Vec<u8>)> = blocks
            .iter()
            .map(|b| {
                let mut e = Vec::new();
                self.format.put_id(&mut e, b.bid);
                self.format.put_id(&mut e, b.ib);
                e.extend_from_slice(&b.cb.to_le_bytes());
                e.extend_from_slice(&2u16.to_le_bytes());
                if self.format == Format::Unicode {
                    e.extend_from_slice(&[0; 4]);
                }
                (b.bid, e)
            })
            .collect();
        drop(blocks);
        let bbt_root = self.btree(0x80, bbt)?;
        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.sort_by_key(|n| n.nid);
        let nbt: Vec<(u64, Vec<u8>)> = nodes
            .iter()
            .map(|n| {
                let mut e = Vec::new();
                self.format.put_id(&mut e, n.nid as u64);
                self.format.put_id(&mut e, n.bid_data);
                self.format.put_id(&mut e, n.bid_sub);
                e.extend_from_slice(&n.parent.to_le_bytes());
                if self.format == Format::Unicode {
                    e.extend_from_slice(&[0; 4]);
                }
                (n.nid as u64, e)
            })
            .collect();
        drop(nodes);
        let nbt_root = self.btree(0x81, nbt)?;
        // The file ends on a whole interval's worth of map coverage.
        let eof = self.pos.next_multiple_of(PAGE);
        if eof > self.pos {
            self.out.write_all(&vec![0u8; (eof - self.pos) as usize])?;
            self.pos = eof;
        }
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        let intervals = (eof - FIRST_AMAP).div_ceil(AMAP_INTERVAL);
        let mut amap_free = 0u64;
        for k in 0..intervals {
            let base = FIRST_AMAP + k * AMAP_INTERVAL;
            let used = (eof - base).min(AMAP_INTERVAL);
            let slots = (used / 64) as usize;
            amap_free += AMAP_INTERVAL - used;
            let mut bits = vec![0u8; 496];
            for s in 0..slots {
                bits[s / 8] |= 0x80 >> (s % 8);
            }
            write_map_page(&mut file, self.format, base, 0x84, &bits)?;
            if k.is_multiple_of(8) {
                write_map_page(&mut file, self.format, base + PAGE, 0x83, &[0xFF; 496])?;
            }
        }
        let last_amap = FIRST_AMAP + (intervals - 1) * AMAP_INTERVAL;
        let h = HeaderFields {
            eof,
            last_amap,
            amap_free,
            nbt: nbt_root,
            bbt: bbt_root,
            next_bid: self.next_bid,
            next_page: self.next_page,
            max_nid: self.max_nid,
            crypt: self.crypt,
        };
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&crate::header::header(self.format, &h))?;
        file.flush()?;
        Ok(eof)
    }

    /// Writes a B-tree over sorted `(key, entry)` leaves; returns its root.
    fn btree(&mut self, ptype: u8, mut entries: Vec<(u64, Vec<u8>)>) -> Result<(u64, u64)> {
        let f = self.format;
        let area = if f == Format::Ansi { 496 } else { 488 };
        let mut level = 0u8;
        loop {
            let cb = entries.first().map_or(if f == Format::Ansi { 12 } else { 24 }, |e| e.1.len());
            let max = area / cb;
            let mut parents = Vec::new();
            let chunks: Vec<&[(u64, Vec<u8>)]> =
                if entries.is_empty() { vec![&[]] } else { entries.chunks(max).collect() };
            for chunk in chunks {
                let mut p = Vec::with_capacity(512);
                for (_, e) in chunk {
                    p.extend_from_slice(e);
                }
                p.resize(area, 0);
                p.extend_from_slice(&[chunk.len() as u8, max as u8, cb as u8, level]);
                if f == Format::Unicode {
                    p.extend_from_slice(&[0; 4]);
                }
                let ib = self.reserve(PAGE, PAGE)?;
                let bid = self.next_page;
                self.next_page += 1;
                page_trailer(&mut p, f, ptype, sig(ib, bid), bid);
                self.out.write_all(&p)?;
                self.pos += PAGE;
                let mut e = Vec::new();
                let key = chunk.first().map_or(0, |c| c.0);
                f.put_id(&mut e, key);
                f.put_id(&mut e, bid);
                f.put_id(&mut e, ib);
                parents.push((key, e, bid, ib));
            }
            if parents.len() == 1 {
                return Ok((parents[0].2, parents[0].3));
            }
            entries = parents.into_iter().map(|(k, e, _, _)| (k, e)).collect();
            level += 1;
        }
    }
}

/// Appends a page trailer to the 496 (Unicode) or 500 (ANSI) bytes in `p`.
fn page_trailer(p: &mut Vec<u8>, f: Format, ptype: u8, wsig: u16, bid: u64) {
    let crc = crc32(p);
    p.extend_from_slice(&[ptype, ptype]);
    p.extend_from_slice(&wsig.to_le_bytes());
    match f {
        Format::Ansi => {
            p.extend_from_slice(&(bid as u32).to_le_bytes());
            p.extend_from_slice(&crc.to_le_bytes());
        }
        Format::Unicode => {
            p.extend_from_slice(&crc.to_le_bytes());
            p.extend_from_slice(&bid.to_le_bytes());
        }
    }
}

fn write_map_page(file: &mut File, f: Format, ib: u64, ptype: u8, bits: &[u8]) -> Result<()> {
    let mut p = Vec::with_capacity(512);
    if f == Format::Ansi {
        p.extend_from_slice(&[0; 4]);
    }
    p.extend_from_slice(bits);
    page_trailer(&mut p, f, ptype, 0, ib);
    file.seek(SeekFrom::Start(ib))?;
    file.write_all(&p)?;
    Ok(())
}

/// What the header records about the finished file.
pub struct HeaderFields {
    pub eof: u64,
    pub last_amap: u64,
    pub amap_free: u64,
    pub nbt: (u64, u64),
    pub bbt: (u64, u64),
    pub next_bid: u64,
    pub next_page: u64,
    pub max_nid: [u32; 32],
    pub crypt: Crypt,
}

/// Builds a data tree leaf by leaf, keeping only the leaf ids (8 bytes per
/// 8 KiB block), so a 40 MiB attachment streams through.
pub struct DataTreeWriter {
    leaves: Vec<u64>,
    total: u64,
}

impl Default for DataTreeWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTreeWriter {
    pub fn new() -> Self {
        DataTreeWriter { leaves: Vec::new(), total: 0 }
    }

    pub fn push(&mut self, ndb: &mut Ndb, leaf: &[u8]) -> Result<()> {
        self.leaves.push(ndb.block(leaf, false)?);
        self.total += leaf.len() as u64;
        Ok(())
    }

    /// Writes the XBLOCK/XXBLOCK levels; returns the tree's root id.
    pub fn finish(self, ndb: &mut Ndb) -> Result<u64> {
        if self.leaves.len() == 1 {
            return Ok(self.leaves[0]);
        }
        if self.total > u32::MAX as u64 {
            return Err(NdbError::TreeTooLarge(self.total));
        }
        let f = ndb.format;
        let per = (f.max_block() - 8) / f.id_size();
        let xblock = |ndb: &mut Ndb, level: u8, ids: &[u64], total: u64| -> Result<u64> {
            let mut b = vec![0x01, level];
            b.extend_from_slice(&(ids.len() as u16).to_le_bytes());
            b.extend_from_slice(&(total as u32).to_le_bytes());
            for &id in ids {
                f.put_id(&mut b, id);
            }
            ndb.block(&b, true)
        };
        if self.leaves.len() <= per {
            return xblock(ndb, 1, &self.leaves, self.total);
        }
        // Each XBLOCK but the last holds `per` full blocks.
        let full = f.max_block() as u64 * per as u64;
        let mut xids = Vec::new();
        let mut left = self.total;
        for chunk in self.leaves.chunks(per) {
            let here = left.min(full);
            left -= here;
            xids.push(xblock(ndb, 1, chunk, here)?);
        }
        assert!(xids.len() <= per, "data tree too large");
        xblock(ndb, 2, &xids, self.total)
    }
}
