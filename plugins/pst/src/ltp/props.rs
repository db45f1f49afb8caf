//! Property contexts (PC): the properties of one object (a folder, a
//! message, an attachment, a recipient row) keyed by property id.
//!
//! Small values are decoded straight from the heap; values that may be large
//! (bodies, attachment data) are fetched on request with a size limit, so an
//! object never costs more memory than the values actually asked for.

use super::bth::Bth;
use super::heap::{Heap, client};
use super::{Hnid, ptype, read_hnid};
use crate::error::{Result, corrupt};
use crate::ndb::Ndb;
use crate::ndb::block::Subnodes;
use crate::source::ReadAt;
use std::collections::HashMap;

/// Largest heap (all blocks of one property context) accepted.
pub const MAX_HEAP_BYTES: u64 = 16 << 20;

/// The properties of one object.
pub struct PropContext {
    heap: Heap,
    /// Property id → (property type, value or HNID).
    props: HashMap<u16, (u16, u32)>,
}

impl PropContext {
    /// Reads the property context stored in the data tree at `bid_data`.
    pub fn read<R: ReadAt>(ndb: &mut Ndb<R>, bid_data: u64) -> Result<PropContext> {
        let blocks = ndb.read_data_blocks(bid_data, MAX_HEAP_BYTES)?;
        PropContext::from_heap(Heap::new(blocks)?)
    }

    /// Interprets a heap as a property context.
    pub fn from_heap(heap: Heap) -> Result<PropContext> {
        if heap.client_sig != client::PROPERTIES {
            corrupt!("expected a property context, found heap client 0x{:02x}", heap.client_sig);
        }
        let bth = Bth::open(&heap, heap.user_root)?;
        if bth.key_size != 2 || bth.value_size != 6 {
            corrupt!(
                "property context B-tree has {}-byte keys and {}-byte values",
                bth.key_size,
                bth.value_size
            );
        }
        let mut props = HashMap::new();
        for (key, value) in bth.records(&heap)? {
            let id = u16::from_le_bytes([key[0], key[1]]);
            let t = u16::from_le_bytes([value[0], value[1]]);
            let raw = u32::from_le_bytes(value[2..6].try_into().expect("4"));
            props.insert(id, (t, raw));
        }
        Ok(PropContext { heap, props })
    }

    /// The type of property `id`, if present.
    pub fn ptype(&self, id: u16) -> Option<u16> {
        self.props.get(&id).map(|&(t, _)| t)
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.props.len()
    }

    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// An integer or boolean property (16, 32 or 64 bits).
    pub fn int(&self, id: u16) -> Option<i64> {
        let &(t, raw) = self.props.get(&id)?;
        match t {
            ptype::INT16 => Some(raw as u16 as i16 as i64),
            ptype::INT32 => Some(raw as i32 as i64),
            ptype::BOOLEAN => Some((raw & 0xFF != 0) as i64),
            ptype::INT64 | ptype::CURRENCY => self.eight(raw).map(i64::from_le_bytes),
            _ => None,
        }
    }

    /// A `PtypTime` property as a raw FILETIME (100 ns ticks since 1601).
    pub fn filetime(&self, id: u16) -> Option<i64> {
        let &(t, raw) = self.props.get(&id)?;
        if t != ptype::TIME {
            return None;
        }
        self.eight(raw).map(i64::from_le_bytes)
    }

    fn eight(&self, raw: u32) -> Option<[u8; 8]> {
        match Hnid::from_raw(raw) {
            Hnid::Heap(hid) => self.heap.get(hid).ok()?.get(..8)?.try_into().ok(),
            Hnid::Subnode(_) => None,
        }
    }

    /// The raw HNID of a variable-size property (string, binary, object).
    pub fn hnid(&self, id: u16) -> Option<(u16, u32)> {
        let &(t, raw) = self.props.get(&id)?;
        if ptype::is_inline(t) { None } else { Some((t, raw)) }
    }

    /// The bytes of a variable-size property, at most `max` of them.
    pub fn bytes<R: ReadAt>(
        &self,
        id: u16,
        ndb: &mut Ndb<R>,
        subnodes: &Subnodes,
        max: u64,
    ) -> Result<Option<(u16, Vec<u8>)>> {
        let Some((t, raw)) = self.hnid(id) else { return Ok(None) };
        Ok(Some((t, read_hnid(&self.heap, raw, ndb, subnodes, max)?)))
    }

    /// The bytes of a heap allocation (for `PtypObject` descriptors).
    pub fn heap_bytes(&self, hid: u32) -> Result<&[u8]> {
        self.heap.get(hid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FIXTURES, open_fixture};

    #[test]
    fn root_folder_properties() {
        for name in FIXTURES {
            let mut ndb = open_fixture(name);
            let root = ndb.node(0x122).unwrap();
            let pc = PropContext::read(&mut ndb, root.bid_data).unwrap();
            // PidTagDisplayName exists on every folder (empty on the root).
            assert!(pc.ptype(0x3001).is_some(), "{name}");
            // PidTagContentCount is an integer.
            assert!(pc.int(0x3602).is_some(), "{name}");
        }
    }

    #[test]
    fn message_times_and_sizes() {
        let mut ndb = open_fixture("sample1.pst");
        let node = ndb.node(0x200024).unwrap();
        let subs = ndb.subnodes(node.bid_sub).unwrap();
        let pc = PropContext::read(&mut ndb, node.bid_data).unwrap();
        // PidTagMessageDeliveryTime: 2010-03-15T17:12:07Z as FILETIME.
        let ft = pc.filetime(0x0E06).unwrap();
        assert_eq!((ft / 10_000_000) - 11_644_473_600, 1_268_673_127);
        assert!(pc.int(0x0E08).unwrap() > 0, "message size");
        let (t, class) = pc.bytes(0x001A, &mut ndb, &subs, 1 << 20).unwrap().unwrap();
        assert_eq!(t, ptype::STRING);
        assert_eq!(class, "IPM.Note".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>());
    }
}
