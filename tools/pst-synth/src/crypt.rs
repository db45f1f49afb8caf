//! Encoding of data blocks and the PST checksum.
//!
//! `NDB_CRYPT_PERMUTE` ("compressible encryption") substitutes every byte of
//! an external data block; `NDB_CRYPT_CYCLIC` ("high encryption") runs every
//! byte through three substitutions keyed by the block id. The tables and
//! the (symmetric) cyclic function are the `pst` reader's own file,
//! `plugins/pst/src/crypt/tables.rs`, included here rather than copied: the
//! permute table was recovered from real Outlook files
//! (`tests/pst/derive_permute_table.py`), the cyclic one from two installed
//! readers (`tests/pst/derive_cyclic_table.py`), and libpff reading what
//! this tool writes (`tests/pst/synth_check.py`) checks both. The checksum is
//! CRC-32 with the reflected polynomial 0xEDB88320, zero initial value and no
//! final inversion, as [MS-PST] 5.3 specifies.

#[path = "../../../plugins/pst/src/crypt/tables.rs"]
mod tables;
use tables::{PERMUTE_ENCODE, decode_cyclic as cyclic};

/// How external data blocks are encoded (the header's `bCryptMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crypt {
    None,
    Permute,
    Cyclic,
}

impl Crypt {
    pub fn method_byte(self) -> u8 {
        match self {
            Crypt::None => 0,
            Crypt::Permute => 1,
            Crypt::Cyclic => 2,
        }
    }

    /// Encodes the data block with id `bid` in place.
    pub fn encode(self, bid: u64, data: &mut [u8]) {
        match self {
            Crypt::None => {}
            Crypt::Permute => {
                for b in data {
                    *b = PERMUTE_ENCODE[*b as usize];
                }
            }
            Crypt::Cyclic => cyclic(bid, data),
        }
    }
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// The PST checksum of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc = CRC_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), CRC_TABLE[b'a' as usize]);
        // CRC-32 of "123456789" without the initial and final inversion.
        assert_eq!(crc32(b"123456789"), 0x2DFD_2D88);
    }

    #[test]
    fn permute_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(tables::PERMUTE_DECODE[PERMUTE_ENCODE[b as usize] as usize], b);
        }
        let mut seen = [false; 256];
        for &v in &PERMUTE_ENCODE {
            assert!(!seen[v as usize]);
            seen[v as usize] = true;
        }
    }
}
