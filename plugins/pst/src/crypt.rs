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
//! The checksum is CRC-32 with the reflected polynomial 0xEDB88320, a zero
//! initial value and no final inversion, as `[MS-PST]` specifies.

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

/// Byte substitution that undoes `NDB_CRYPT_PERMUTE`: encoded byte `b`
/// decodes to `PERMUTE_DECODE[b]`.
#[rustfmt::skip]
pub const PERMUTE_DECODE: [u8; 256] = [
    0x47, 0xf1, 0xb4, 0xe6, 0x0b, 0x6a, 0x72, 0x48, 0x85, 0x4e, 0x9e, 0xeb, 0xe2, 0xf8, 0x94, 0x53,
    0xe0, 0xbb, 0xa0, 0x02, 0xe8, 0x5a, 0x09, 0xab, 0xdb, 0xe3, 0xba, 0xc6, 0x7c, 0xc3, 0x10, 0xdd,
    0x39, 0x05, 0x96, 0x30, 0xf5, 0x37, 0x60, 0x82, 0x8c, 0xc9, 0x13, 0x4a, 0x6b, 0x1d, 0xf3, 0xfb,
    0x8f, 0x26, 0x97, 0xca, 0x91, 0x17, 0x01, 0xc4, 0x32, 0x2d, 0x6e, 0x31, 0x95, 0xff, 0xd9, 0x23,
    0xd1, 0x00, 0x5e, 0x79, 0xdc, 0x44, 0x3b, 0x1a, 0x28, 0xc5, 0x61, 0x57, 0x20, 0x90, 0x3d, 0x83,
    0xb9, 0x43, 0xbe, 0x67, 0xd2, 0x46, 0x42, 0x76, 0xc0, 0x6d, 0x5b, 0x7e, 0xb2, 0x0f, 0x16, 0x29,
    0x3c, 0xa9, 0x03, 0x54, 0x0d, 0xda, 0x5d, 0xdf, 0xf6, 0xb7, 0xc7, 0x62, 0xcd, 0x8d, 0x06, 0xd3,
    0x69, 0x5c, 0x86, 0xd6, 0x14, 0xf7, 0xa5, 0x66, 0x75, 0xac, 0xb1, 0xe9, 0x45, 0x21, 0x70, 0x0c,
    0x87, 0x9f, 0x74, 0xa4, 0x22, 0x4c, 0x6f, 0xbf, 0x1f, 0x56, 0xaa, 0x2e, 0xb3, 0x78, 0x33, 0x50,
    0xb0, 0xa3, 0x92, 0xbc, 0xcf, 0x19, 0x1c, 0xa7, 0x63, 0xcb, 0x1e, 0x4d, 0x3e, 0x4b, 0x1b, 0x9b,
    0x4f, 0xe7, 0xf0, 0xee, 0xad, 0x3a, 0xb5, 0x59, 0x04, 0xea, 0x40, 0x55, 0x25, 0x51, 0xe5, 0x7a,
    0x89, 0x38, 0x68, 0x52, 0x7b, 0xfc, 0x27, 0xae, 0xd7, 0xbd, 0xfa, 0x07, 0xf4, 0xcc, 0x8e, 0x5f,
    0xef, 0x35, 0x9c, 0x84, 0x2b, 0x15, 0xd5, 0x77, 0x34, 0x49, 0xb6, 0x12, 0x0a, 0x7f, 0x71, 0x88,
    0xfd, 0x9d, 0x18, 0x41, 0x7d, 0x93, 0xd8, 0x58, 0x2c, 0xce, 0xfe, 0x24, 0xaf, 0xde, 0xb8, 0x36,
    0xc8, 0xa1, 0x80, 0xa6, 0x99, 0x98, 0xa8, 0x2f, 0x0e, 0x81, 0x65, 0x73, 0xe4, 0xc2, 0xa2, 0x8a,
    0xd4, 0xe1, 0x11, 0xd0, 0x08, 0x8b, 0x2a, 0xf2, 0xed, 0x9a, 0x64, 0x3f, 0xc1, 0x6c, 0xf9, 0xec,
];

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
