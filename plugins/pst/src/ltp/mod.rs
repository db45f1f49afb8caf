//! The lists, tables and properties (LTP) layer: heaps on nodes, B-trees on
//! heaps, property contexts (one object's properties) and table contexts
//! (rows of properties: folder contents, recipients, attachments).
//!
//! Values too large for a heap live in subnodes; [`read_hnid`] fetches a
//! value from either place, bounded by a caller's limit.

pub mod bth;
pub mod heap;
pub mod props;
pub mod table;

use crate::error::{PstError, Result};
use crate::ndb::Ndb;
use crate::ndb::block::Subnodes;
use crate::source::ReadAt;
use heap::Heap;

/// Property types (`PtypXxx`) this reader interprets.
pub mod ptype {
    pub const INT16: u16 = 0x0002;
    pub const INT32: u16 = 0x0003;
    pub const FLOAT32: u16 = 0x0004;
    pub const FLOAT64: u16 = 0x0005;
    pub const CURRENCY: u16 = 0x0006;
    pub const APPTIME: u16 = 0x0007;
    pub const ERROR: u16 = 0x000A;
    pub const BOOLEAN: u16 = 0x000B;
    pub const OBJECT: u16 = 0x000D;
    pub const INT64: u16 = 0x0014;
    pub const STRING8: u16 = 0x001E;
    pub const STRING: u16 = 0x001F;
    pub const TIME: u16 = 0x0040;
    pub const GUID: u16 = 0x0048;
    pub const BINARY: u16 = 0x0102;

    /// Types whose value is stored in the 4 bytes of the record itself.
    pub fn is_inline(t: u16) -> bool {
        matches!(t, INT16 | INT32 | FLOAT32 | ERROR | BOOLEAN)
    }
}

/// Where a value lives, from an HNID (heap id or subnode id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hnid {
    Heap(u32),
    Subnode(u32),
}

impl Hnid {
    pub fn from_raw(raw: u32) -> Hnid {
        if raw & 0x1F == 0 { Hnid::Heap(raw) } else { Hnid::Subnode(raw) }
    }
}

/// Reads the value an HNID points at: from `heap`, or from a subnode of the
/// owning node (`subnodes`). Fails when the value exceeds `max` bytes.
pub fn read_hnid<R: ReadAt>(
    heap: &Heap,
    raw: u32,
    ndb: &mut Ndb<R>,
    subnodes: &Subnodes,
    max: u64,
) -> Result<Vec<u8>> {
    match Hnid::from_raw(raw) {
        Hnid::Heap(hid) => Ok(heap.get(hid)?.to_vec()),
        Hnid::Subnode(nid) => {
            let Some(sub) = subnodes.get(&nid) else {
                return Err(PstError::corrupt(format!("value subnode 0x{nid:x} is missing")));
            };
            ndb.read_data(sub.bid_data, max)
        }
    }
}
