//! Decoding of encoded data blocks and the checksum used by pages and blocks.
//!
//! PST files written with "compressible encryption" (`NDB_CRYPT_PERMUTE`,
//! the Outlook default) pass every byte of an external data block through a
//! fixed substitution table. The table below was recovered from the test
//! corpus by comparing the encoded blocks of a JPEG attachment with the same
//! bytes as libpff decodes them; `tests/pst/derive_permute_table.py` redoes
//! that derivation and prints the same 256 values. The tests here check that
//! the table is a permutation and that it decodes real blocks into valid
//! heap headers.
//!
//! Files written with "high encryption" (`NDB_CRYPT_CYCLIC`) pass each byte
//! through three substitutions, each shifted by a 16-bit key that starts
//! from the block's id and grows by one per byte: add the key's low byte,
//! substitute with the permute *encoding* table, add the key's high byte,
//! substitute with a third table ([`CYCLIC_MIDDLE`], an involution), subtract
//! the high byte, substitute with the permute *decoding* table, subtract the
//! low byte. As the outer tables undo each other and the middle one is its
//! own inverse, the same steps encode and decode. The middle table is not in
//! our corpus (no fixture is cyclic); `tests/pst/derive_cyclic_table.py`
//! reads it out of two independent readers installed here (libpff and
//! libpst, which agree byte for byte), and the pst-synth test
//! (`tests/all/pst_synth.rs`, `tests/pst/synth_check.py`) checks the whole
//! method against libpff on files this repository writes.
//!
//! The checksum is CRC-32 with the reflected polynomial 0xEDB88320, a zero
//! initial value and no final inversion, as `[MS-PST]` specifies.

mod tables;
pub use tables::{CYCLIC_MIDDLE, PERMUTE_DECODE, decode_cyclic};

/// Reflected CRC-32 tables for polynomial 0xEDB88320, for slicing by 8:
/// `CRC_TABLES[0]` is the classic byte table, `CRC_TABLES[k]` advances a
/// byte through `k` further zero bytes.
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// The PST checksum of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut crc = 0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// Decodes a block written with `NDB_CRYPT_PERMUTE`, in place.
pub fn decode_permute(data: &mut [u8]) {
    for b in data {
        *b = PERMUTE_DECODE[*b as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_known_values() {
        assert_eq!(crc32(b""), 0);
        // With a zero seed and no final inversion, CRC("a") is the table
        // entry for 'a'.
        assert_eq!(crc32(b"a"), CRC_TABLES[0][b'a' as usize]);
        assert_ne!(crc32(b"ab"), crc32(b"ba"));
        // Slicing by 8 agrees with the byte-at-a-time definition.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        for len in [0, 1, 7, 8, 9, 63, 496, 1000] {
            let mut crc = 0u32;
            for &b in &data[..len] {
                crc = CRC_TABLES[0][((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
            }
            assert_eq!(crc32(&data[..len]), crc, "{len}");
        }
    }

    #[test]
    fn permute_table_is_a_permutation() {
        let mut seen = [false; 256];
        for &v in &PERMUTE_DECODE {
            assert!(!seen[v as usize], "0x{v:02x} appears twice");
            seen[v as usize] = true;
        }
    }

    #[test]
    fn cyclic_middle_table_is_an_involution() {
        for b in 0..=255u8 {
            assert_eq!(CYCLIC_MIDDLE[CYCLIC_MIDDLE[b as usize] as usize], b, "0x{b:02x}");
        }
    }

    #[test]
    fn cyclic_is_symmetric_and_keyed_by_the_block_id() {
        let plain: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let mut block = plain.clone();
        decode_cyclic(0x1234_5678_9abc, &mut block);
        assert_ne!(block, plain);
        // The key is the id's low 32 bits, and it changes every byte: equal
        // plain bytes 256 apart encode differently.
        assert_ne!(block[..256], block[256..512]);
        let mut low_bits_only = plain.clone();
        decode_cyclic(0x5678_9abc, &mut low_bits_only);
        assert_eq!(low_bits_only, block);
        let mut other_block = plain.clone();
        decode_cyclic(0x1234_5678_9abc + 4, &mut other_block);
        assert_ne!(other_block, block);
        decode_cyclic(0x1234_5678_9abc, &mut block);
        assert_eq!(block, plain);
    }

    #[test]
    fn permute_decodes_heap_signatures() {
        // Every folder's data block is a heap whose third byte is 0xEC once
        // decoded; encoded, it is not.
        for name in crate::test_support::FIXTURES {
            let mut ndb = crate::test_support::open_fixture(name);
            let root = ndb.node(0x122).unwrap();
            let block = ndb.read_block(root.bid_data).unwrap();
            assert_eq!(block[2], 0xEC, "{name}: heap signature");
            assert_eq!(block[3], 0xBC, "{name}: property context");
        }
    }
}
