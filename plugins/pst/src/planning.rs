//! Splits inside one mailbox: a PST larger than `max_split_bytes` is read
//! by several workers at once, each taking a range of message node ids.
//!
//! Why node-id ranges: every split must still see the folder tree (for
//! folder paths) but should read only its own messages. A message's node id
//! is in its folder's contents table, so a split walks the folders and
//! their contents tables as a whole-file read does (they are small next to
//! the messages) and reads, from the rows it finds, only the messages whose
//! node id lies in its range. The ranges cover every id from 0 to
//! `u32::MAX` without overlap, so the splits together hold exactly the
//! messages of a whole-file read, each once, whatever the plan saw.
//!
//! Balance by bytes: planning scans the leaves of both B-trees once (no
//! message is read). A message's weight is its own blocks plus the blocks
//! allocated after it and before the next message (its attachments,
//! recipients and subnodes: writers allocate block ids in increasing order
//! as they write, so a message's blocks follow its first one). The messages
//! are then cut, in node-id order, into ranges of about `max_split_bytes`
//! each. When block ids are not allocated that way the balance is rougher,
//! never the result.
//!
//! A split's payload is `messages=LO..HI` (hexadecimal node ids, HI
//! excluded); a whole-file split has an empty payload.

use crate::error::{PstError, Result};
use crate::ndb::Ndb;
use crate::ndb::btree::Tree;
use crate::source::ReadAt;

/// The node type of a normal message in the low five bits of its id.
const NID_TYPE_NORMAL_MESSAGE: u32 = 0x04;

/// A half-open range of message node ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NidRange {
    pub lo: u32,
    /// Excluded; `None` means up to and including `u32::MAX`.
    pub hi: Option<u32>,
}

impl NidRange {
    pub const ALL: NidRange = NidRange { lo: 0, hi: None };

    pub fn contains(&self, nid: u32) -> bool {
        nid >= self.lo && self.hi.is_none_or(|hi| nid < hi)
    }

    /// Whether this is the range that starts the file (it reports damage that
    /// belongs to no message, such as a folder's count of messages).
    pub fn is_first(&self) -> bool {
        self.lo == 0
    }

    pub fn payload(&self) -> String {
        match self.hi {
            Some(hi) => format!("messages={:x}..{hi:x}", self.lo),
            None => format!("messages={:x}..", self.lo),
        }
    }

    /// Parses a split's payload: the whole file when empty.
    pub fn parse(payload: &str) -> Result<NidRange> {
        if payload.is_empty() {
            return Ok(NidRange::ALL);
        }
        let bad = || PstError::corrupt(format!("split payload {payload:?} is not `messages=LO..HI`"));
        let range = payload.strip_prefix("messages=").ok_or_else(bad)?;
        let (lo, hi) = range.split_once("..").ok_or_else(bad)?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
        let hi = if hi.is_empty() { None } else { Some(u32::from_str_radix(hi, 16).map_err(|_| bad())?) };
        if hi.is_some_and(|hi| hi <= lo) {
            return Err(bad());
        }
        Ok(NidRange { lo, hi })
    }
}

/// One planned range and the bytes it is expected to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub range: NidRange,
    pub bytes: u64,
    pub messages: u64,
}

/// Cuts a mailbox into message ranges of about `max_split_bytes` each.
/// One range (the whole file) when it is not larger than that.
pub fn plan<R: ReadAt>(ndb: &mut Ndb<R>, max_split_bytes: u64) -> Result<Vec<Planned>> {
    // Message nodes, in node-id order: (nid, first data block).
    let mut messages: Vec<(u32, u64)> = Vec::new();
    ndb.scan_leaves(Tree::Node, &mut |page| {
        for i in 0..page.count {
            let e = page.node_entry(i);
            if e.nid & 0x1F == NID_TYPE_NORMAL_MESSAGE {
                messages.push((e.nid, e.bid_data & !1));
            }
        }
        Ok(())
    })?;
    let whole = |bytes, messages| vec![Planned { range: NidRange::ALL, bytes, messages }];
    let file_size = ndb.file_size();
    // (The caller plans a file up to `max_split_bytes` as one split without
    // coming here; a small total weight below also gives one range.)
    if messages.len() < 2 {
        return Ok(whole(file_size, messages.len() as u64));
    }
    // Weights: blocks attributed to the message whose first block id is the
    // nearest at or below theirs (module docs).
    let mut by_bid: Vec<(u64, usize)> = messages.iter().enumerate().map(|(i, &(_, bid))| (bid, i)).collect();
    by_bid.sort_unstable();
    let mut weight = vec![0u64; messages.len()];
    let trailer = ndb.format().block_trailer_size() as u64;
    let mut next = 0usize;
    ndb.scan_leaves(Tree::Block, &mut |page| {
        for i in 0..page.count {
            let b = page.block_entry(i);
            while next < by_bid.len() && by_bid[next].0 <= b.bid {
                next += 1;
            }
            if next > 0 {
                // On disk a block is its data and trailer, 64-byte aligned.
                weight[by_bid[next - 1].1] += (b.cb as u64 + trailer).div_ceil(64) * 64;
            }
        }
        Ok(())
    })?;
    let total: u64 = weight.iter().sum();
    let parts = total.div_ceil(max_split_bytes.max(1)).max(1);
    if parts < 2 {
        return Ok(whole(file_size, messages.len() as u64));
    }
    let target = total.div_ceil(parts);
    let mut out = Vec::new();
    let (mut lo, mut bytes, mut count) = (0u32, 0u64, 0u64);
    for (i, &(nid, _)) in messages.iter().enumerate() {
        if bytes >= target && count > 0 {
            out.push(Planned { range: NidRange { lo, hi: Some(nid) }, bytes, messages: count });
            (lo, bytes, count) = (nid, 0, 0);
        }
        bytes += weight[i];
        count += 1;
    }
    out.push(Planned { range: NidRange { lo, hi: None }, bytes, messages: count });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FIXTURES, open_fixture};

    #[test]
    fn payloads_round_trip_and_bad_ones_are_refused() {
        for r in [NidRange::ALL, NidRange { lo: 0x24, hi: Some(0x2004) }, NidRange { lo: 0x2004, hi: None }] {
            let p = if r == NidRange::ALL { String::new() } else { r.payload() };
            assert_eq!(NidRange::parse(&p).unwrap(), r, "{p}");
        }
        assert_eq!(NidRange::parse(&NidRange::ALL.payload()).unwrap(), NidRange::ALL);
        for bad in ["messages", "messages=1", "messages=zz..1", "messages=10..4", "rows=1..2"] {
            assert!(NidRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_cover_every_id_once() {
        for name in FIXTURES {
            let mut ndb = open_fixture(name);
            let whole = plan(&mut ndb, u64::MAX).unwrap();
            assert_eq!(whole.len(), 1, "{name}");
            let parts = plan(&mut ndb, 1024).unwrap();
            assert_eq!(parts[0].range.lo, 0, "{name}");
            assert_eq!(parts.last().unwrap().range.hi, None, "{name}");
            for w in parts.windows(2) {
                assert_eq!(w[0].range.hi, Some(w[1].range.lo), "{name}: contiguous");
            }
            let messages: u64 = parts.iter().map(|p| p.messages).sum();
            assert_eq!(messages, whole[0].messages, "{name}");
            if whole[0].messages >= 2 {
                assert!(parts.len() >= 2, "{name}: {parts:?}");
            }
        }
    }
}
