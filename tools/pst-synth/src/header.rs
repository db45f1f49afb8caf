//! The file header ([MS-PST] 2.2.2.6), written last, once the B-tree roots
//! and the end of file are known. Both checksums (`dwCRCPartial` over 471
//! bytes and, for Unicode, `dwCRCFull` over 516 bytes, both from offset 8)
//! are computed here.

use crate::crypt::crc32;
use crate::ndb::{Format, HeaderFields};

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// The header bytes (512 for ANSI, 564 for Unicode).
pub fn header(f: Format, h: &HeaderFields) -> Vec<u8> {
    let unicode = f == Format::Unicode;
    let mut b = vec![0u8; if unicode { 564 } else { 512 }];
    put(&mut b, 0, b"!BDN");
    put(&mut b, 8, b"SM");
    put(&mut b, 10, &(if unicode { 23u16 } else { 14 }).to_le_bytes());
    put(&mut b, 12, &19u16.to_le_bytes());
    b[14] = 1;
    b[15] = 1;
    let (rgnid, root) = if unicode {
        put(&mut b, 32, &h.next_page.to_le_bytes());
        put(&mut b, 40, &1u32.to_le_bytes());
        (44, 180)
    } else {
        put(&mut b, 24, &(h.next_bid as u32).to_le_bytes());
        put(&mut b, 28, &(h.next_page as u32).to_le_bytes());
        put(&mut b, 32, &1u32.to_le_bytes());
        (36, 164)
    };
    for (t, &max) in h.max_nid.iter().enumerate() {
        // The next free index of each NID type, at least 0x400 as Outlook starts.
        let next = (max + 1).max(0x400);
        put(&mut b, rgnid + 4 * t, &((next << 5) | t as u32).to_le_bytes());
    }
    if unicode {
        put(&mut b, root + 4, &h.eof.to_le_bytes());
        put(&mut b, root + 12, &h.last_amap.to_le_bytes());
        put(&mut b, root + 20, &h.amap_free.to_le_bytes());
        put(&mut b, root + 28, &0u64.to_le_bytes());
        put(&mut b, root + 36, &h.nbt.0.to_le_bytes());
        put(&mut b, root + 44, &h.nbt.1.to_le_bytes());
        put(&mut b, root + 52, &h.bbt.0.to_le_bytes());
        put(&mut b, root + 60, &h.bbt.1.to_le_bytes());
        b[root + 68] = 2; // fAMapValid: VALID_AMAP2
        b[256..512].fill(0xFF); // rgbFM, rgbFP (deprecated)
        b[512] = 0x80;
        b[513] = h.crypt.method_byte();
        put(&mut b, 516, &h.next_bid.to_le_bytes());
        let partial = crc32(&b[8..8 + 471]);
        put(&mut b, 4, &partial.to_le_bytes());
        let full = crc32(&b[8..8 + 516]);
        put(&mut b, 524, &full.to_le_bytes());
    } else {
        let p32 = |v: u64| (v as u32).to_le_bytes();
        put(&mut b, root + 4, &p32(h.eof));
        put(&mut b, root + 8, &p32(h.last_amap));
        put(&mut b, root + 12, &p32(h.amap_free));
        put(&mut b, root + 20, &p32(h.nbt.0));
        put(&mut b, root + 24, &p32(h.nbt.1));
        put(&mut b, root + 28, &p32(h.bbt.0));
        put(&mut b, root + 32, &p32(h.bbt.1));
        b[root + 36] = 2;
        b[204..460].fill(0xFF);
        b[460] = 0x80;
        b[461] = h.crypt.method_byte();
        let partial = crc32(&b[8..8 + 471]);
        put(&mut b, 4, &partial.to_le_bytes());
    }
    b
}
