//! The lists and tables layer: heaps on nodes (HN), BTH indexes, property
//! contexts (PC) and table contexts (TC), [MS-PST] 2.3.
//!
//! A node's heap is built in memory (it is small: large values go to
//! subnodes) and written as the node's data tree. Values over 3,580 bytes,
//! and row matrices over that size, become subnodes of the node, which the
//! caller collects in a [`Subs`] and writes as the node's subnode tree.

use crate::ndb::{Format, Ndb, Result, SubEntry};

/// Largest heap allocation; bigger values live in subnodes.
const MAX_ALLOC: usize = 3580;

pub mod ptype {
    pub const I32: u16 = 0x0003;
    pub const BOOL: u16 = 0x000B;
    pub const OBJECT: u16 = 0x000D;
    pub const I64: u16 = 0x0014;
    pub const STRING8: u16 = 0x001E;
    pub const UNICODE: u16 = 0x001F;
    pub const TIME: u16 = 0x0040;
    pub const BINARY: u16 = 0x0102;
}

/// A property value.
#[derive(Debug, Clone)]
pub enum Value {
    I32(i32),
    Bool(bool),
    /// A 64-bit integer or a FILETIME.
    I64(u16, i64),
    Str(String),
    Bin(Vec<u8>),
    /// An embedded message: its subnode id and size.
    Object(u32, u32),
    /// A binary value already written as the subnode with this id.
    SubBin(u32),
}

impl Value {
    fn ptype(&self, f: Format) -> u16 {
        match self {
            Value::I32(_) => ptype::I32,
            Value::Bool(_) => ptype::BOOL,
            Value::I64(t, _) => *t,
            Value::Str(_) if f == Format::Ansi => ptype::STRING8,
            Value::Str(_) => ptype::UNICODE,
            Value::Bin(_) | Value::SubBin(_) => ptype::BINARY,
            Value::Object(..) => ptype::OBJECT,
        }
    }
}

/// Encodes a string as the format stores it: UTF-16LE, or Windows-1252 for
/// ANSI files (the generator only uses characters below U+0100).
pub fn encode_str(f: Format, s: &str) -> Vec<u8> {
    match f {
        Format::Unicode => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        Format::Ansi => s.chars().map(|c| if (c as u32) < 0x100 { c as u8 } else { b'?' }).collect(),
    }
}

/// The subnodes a node is collecting, and the next free subnode index.
pub struct Subs {
    pub entries: Vec<SubEntry>,
    next: u32,
}

impl Default for Subs {
    fn default() -> Self {
        Self::new()
    }
}

impl Subs {
    pub fn new() -> Subs {
        Subs { entries: Vec::new(), next: 0x100 }
    }
    /// A fresh subnode id of type `t`.
    pub fn nid(&mut self, t: u32) -> u32 {
        self.next += 1;
        (self.next << 5) | t
    }
    /// Writes `data` as a new subnode; returns its id.
    pub fn stream(&mut self, ndb: &mut Ndb, data: &[u8]) -> Result<u32> {
        let nid = self.nid(0x1F);
        let bid_data = ndb.stream(data)?;
        self.entries.push(SubEntry { nid, bid_data, bid_sub: 0 });
        Ok(nid)
    }
}

/// A heap on node under construction.
pub struct Heap {
    client_sig: u8,
    max_block: usize,
    /// Per block: its allocations.
    blocks: Vec<Vec<Vec<u8>>>,
    root: u32,
}

impl Heap {
    pub fn new(f: Format, client_sig: u8) -> Heap {
        Heap { client_sig, max_block: f.max_block(), blocks: vec![Vec::new()], root: 0 }
    }

    fn header_size(i: usize) -> usize {
        if i == 0 {
            12
        } else if i >= 8 && (i - 8).is_multiple_of(128) {
            66
        } else {
            2
        }
    }

    fn used(&self, i: usize) -> usize {
        let b = &self.blocks[i];
        let data: usize = b.iter().map(|a| a.len()).sum();
        Self::header_size(i) + data + 1 + 4 + 2 * (b.len() + 1)
    }

    /// Stores `bytes` (at most 3,580) and returns its heap id.
    pub fn alloc(&mut self, bytes: Vec<u8>) -> u32 {
        assert!(bytes.len() <= MAX_ALLOC);
        let mut i = self.blocks.len() - 1;
        if self.used(i) + bytes.len() + 2 > self.max_block || self.blocks[i].len() >= 2047 {
            self.blocks.push(Vec::new());
            i += 1;
        }
        self.blocks[i].push(bytes);
        ((i as u32) << 16) | ((self.blocks[i].len() as u32) << 5)
    }

    pub fn set_root(&mut self, hid: u32) {
        self.root = hid;
    }

    /// The heap's blocks as stored in its data tree.
    pub fn into_blocks(self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.blocks.len());
        for (i, allocs) in self.blocks.iter().enumerate() {
            let mut b = vec![0u8; Self::header_size(i)];
            if i == 0 {
                b[2] = 0xEC;
                b[3] = self.client_sig;
                b[4..8].copy_from_slice(&self.root.to_le_bytes());
            }
            let mut offsets = vec![b.len() as u16];
            for a in allocs {
                b.extend_from_slice(a);
                offsets.push(b.len() as u16);
            }
            // Allocations are contiguous; only the page map is aligned.
            if b.len() % 2 == 1 {
                b.push(0);
            }
            let map = b.len() as u16;
            b[0..2].copy_from_slice(&map.to_le_bytes());
            b.extend_from_slice(&(allocs.len() as u16).to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            for o in offsets {
                b.extend_from_slice(&o.to_le_bytes());
            }
            out.push(b);
        }
        out
    }
}

/// Builds a BTH over `records` (sorted by key) and returns its header's id.
fn bth(heap: &mut Heap, key: usize, ent: usize, records: Vec<Vec<u8>>) -> u32 {
    let mut level = 0u8;
    let mut root = 0u32;
    let mut recs = records;
    let mut width = key + ent;
    while !recs.is_empty() {
        let per = MAX_ALLOC / width;
        let mut next = Vec::new();
        for chunk in recs.chunks(per) {
            let hid = heap.alloc(chunk.concat());
            let mut r = chunk[0][..key].to_vec();
            r.extend_from_slice(&hid.to_le_bytes());
            next.push(r);
        }
        if next.len() == 1 {
            root = u32::from_le_bytes(next[0][key..].try_into().expect("4"));
            break;
        }
        recs = next;
        width = key + 4;
        level += 1;
    }
    let mut h = vec![0xB5, key as u8, ent as u8, level];
    h.extend_from_slice(&root.to_le_bytes());
    heap.alloc(h)
}

/// Stores a variable-size value in the heap or, if large, in a subnode.
fn hnid(ndb: &mut Ndb, heap: &mut Heap, subs: &mut Subs, bytes: Vec<u8>) -> Result<u32> {
    if bytes.len() <= MAX_ALLOC { Ok(heap.alloc(bytes)) } else { subs.stream(ndb, &bytes) }
}

/// The 4-byte cell or record value of `v`: inline, or a heap/subnode id.
fn cell(ndb: &mut Ndb, heap: &mut Heap, subs: &mut Subs, v: &Value, inline8: bool) -> Result<Vec<u8>> {
    let f = ndb.format;
    Ok(match v {
        Value::I32(x) => x.to_le_bytes().to_vec(),
        Value::Bool(b) => (*b as u32).to_le_bytes().to_vec(),
        Value::I64(_, x) if inline8 => x.to_le_bytes().to_vec(),
        Value::I64(_, x) => heap.alloc(x.to_le_bytes().to_vec()).to_le_bytes().to_vec(),
        Value::Str(s) => hnid(ndb, heap, subs, encode_str(f, s))?.to_le_bytes().to_vec(),
        Value::Bin(b) => hnid(ndb, heap, subs, b.clone())?.to_le_bytes().to_vec(),
        Value::SubBin(nid) => nid.to_le_bytes().to_vec(),
        Value::Object(nid, size) => {
            let mut o = nid.to_le_bytes().to_vec();
            o.extend_from_slice(&size.to_le_bytes());
            heap.alloc(o).to_le_bytes().to_vec()
        }
    })
}

/// Writes a property context; returns the id of its data tree.
pub fn write_pc(ndb: &mut Ndb, subs: &mut Subs, props: &mut [(u16, Value)]) -> Result<u64> {
    props.sort_by_key(|p| p.0);
    let f = ndb.format;
    let mut heap = Heap::new(f, 0xBC);
    let mut records = Vec::with_capacity(props.len());
    for (id, v) in props.iter() {
        let mut r = id.to_le_bytes().to_vec();
        r.extend_from_slice(&v.ptype(f).to_le_bytes());
        r.extend_from_slice(&cell(ndb, &mut heap, subs, v, false)?);
        records.push(r);
    }
    let root = bth(&mut heap, 2, 6, records);
    heap.set_root(root);
    ndb.data_tree(&heap.into_blocks())
}

/// A table column: property id and type.
#[derive(Debug, Clone, Copy)]
pub struct Col(pub u16, pub u16);

fn col_size(t: u16) -> usize {
    match t {
        ptype::BOOL => 1,
        ptype::I64 | ptype::TIME => 8,
        _ => 4,
    }
}

/// Writes a table context with `cols` (the row id and row version columns
/// are added) and `rows` of `(row id, cells in column order)`.
pub fn write_tc(
    ndb: &mut Ndb,
    subs: &mut Subs,
    cols: &[Col],
    rows: &[(u32, Vec<Option<Value>>)],
) -> Result<u64> {
    let f = ndb.format;
    let mut all: Vec<(usize, Col)> =
        vec![(usize::MAX, Col(0x67F2, ptype::I32)), (usize::MAX - 1, Col(0x67F3, ptype::I32))];
    all.extend(cols.iter().copied().enumerate());
    // Layout: row id first, then 8-, 4-, 2- and 1-byte cells, then the
    // cell existence bitmap.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| (i != 0, std::cmp::Reverse(col_size(all[i].1.1)), i));
    let mut offsets = vec![0usize; all.len()];
    let mut at = 0;
    let mut ends = [0usize; 3];
    for &i in &order {
        offsets[i] = at;
        at += col_size(all[i].1.1);
        if col_size(all[i].1.1) >= 4 {
            ends[0] = at;
        }
    }
    ends[1] = ends[0];
    ends[2] = at;
    let ceb = all.len().div_ceil(8);
    let row_size = at + ceb;
    let mut heap = Heap::new(f, 0x7C);
    let mut matrix = Vec::with_capacity(rows.len() * row_size);
    let mut index = Vec::with_capacity(rows.len());
    for (n, (row_id, cells)) in rows.iter().enumerate() {
        let mut row = vec![0u8; row_size];
        let put = |i: usize, bytes: &[u8], row: &mut Vec<u8>| {
            let o = offsets[i];
            let size = col_size(all[i].1.1);
            row[o..o + size].copy_from_slice(&bytes[..size]);
            row[at + i / 8] |= 0x80 >> (i % 8);
        };
        put(0, &row_id.to_le_bytes(), &mut row);
        put(1, &1u32.to_le_bytes(), &mut row);
        for (c, v) in cells.iter().enumerate() {
            if let Some(v) = v {
                let bytes = cell(ndb, &mut heap, subs, v, true)?;
                put(c + 2, &bytes, &mut row);
            }
        }
        matrix.extend_from_slice(&row);
        let mut rec = row_id.to_le_bytes().to_vec();
        match f {
            Format::Unicode => rec.extend_from_slice(&(n as u32).to_le_bytes()),
            Format::Ansi => rec.extend_from_slice(&(n as u16).to_le_bytes()),
        }
        index.push(rec);
    }
    index.sort_by_key(|r| u32::from_le_bytes(r[..4].try_into().expect("4")));
    let row_index = bth(&mut heap, 4, if f == Format::Unicode { 4 } else { 2 }, index);
    let rows_hnid = if matrix.is_empty() {
        0
    } else if matrix.len() <= MAX_ALLOC {
        heap.alloc(matrix)
    } else {
        let per = f.max_block() / row_size;
        let leaves: Vec<Vec<u8>> = matrix.chunks(per * row_size).map(|c| c.to_vec()).collect();
        let nid = subs.nid(0x1F);
        let bid_data = ndb.data_tree(&leaves)?;
        subs.entries.push(SubEntry { nid, bid_data, bid_sub: 0 });
        nid
    };
    let mut info = vec![0x7C, all.len() as u8];
    for e in [ends[0], ends[1], ends[2], row_size] {
        info.extend_from_slice(&(e as u16).to_le_bytes());
    }
    info.extend_from_slice(&row_index.to_le_bytes());
    info.extend_from_slice(&rows_hnid.to_le_bytes());
    info.extend_from_slice(&0u32.to_le_bytes());
    let mut descs: Vec<usize> = (0..all.len()).collect();
    descs.sort_by_key(|&i| all[i].1.0);
    for i in descs {
        let Col(id, t) = all[i].1;
        let tag = ((id as u32) << 16) | t as u32;
        info.extend_from_slice(&tag.to_le_bytes());
        info.extend_from_slice(&(offsets[i] as u16).to_le_bytes());
        info.push(col_size(t) as u8);
        info.push(i as u8);
    }
    let hid = heap.alloc(info);
    heap.set_root(hid);
    ndb.data_tree(&heap.into_blocks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_ids_and_page_map() {
        let mut h = Heap::new(Format::Unicode, 0xBC);
        assert_eq!(h.alloc(b"abc".to_vec()), 0x20);
        assert_eq!(h.alloc(Vec::new()), 0x40);
        h.set_root(0x20);
        let b = h.into_blocks();
        assert_eq!(b.len(), 1);
        let b = &b[0];
        assert_eq!(&b[2..4], &[0xEC, 0xBC]);
        let map = u16::from_le_bytes([b[0], b[1]]) as usize;
        assert_eq!(map % 2, 0);
        assert_eq!(&b[map..map + 2], &2u16.to_le_bytes());
        let off = |i: usize| u16::from_le_bytes([b[map + 4 + 2 * i], b[map + 5 + 2 * i]]) as usize;
        assert_eq!(&b[off(0)..off(0) + 3], b"abc");
        assert_eq!(off(1), off(2), "empty allocation");
    }

    #[test]
    fn heap_spills_into_more_blocks() {
        let mut h = Heap::new(Format::Unicode, 0x7C);
        let ids: Vec<u32> = (0..10).map(|_| h.alloc(vec![7u8; 3000])).collect();
        assert_eq!(ids[2] >> 16, 1, "third allocation opens block 1");
        let blocks = h.into_blocks();
        assert!(blocks.iter().all(|b| b.len() <= Format::Unicode.max_block()));
        assert_eq!(blocks[0][2], 0xEC);
    }
}
