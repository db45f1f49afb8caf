//! Interning byte strings: each distinct byte string gets a dense `u32` id,
//! in order of first appearance. Used for group keys (id = group) and for
//! the values of `count_distinct`.
//!
//! The strings live back to back in one arena, and the hash table stores only
//! ids (with each string's hash kept beside it for rehashing), so interning a
//! string that is already known allocates nothing.

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use runtime_plugin_sdk::error::{Error, Result};
use std::hash::BuildHasher;

/// Distinct byte strings and their ids.
#[derive(Default)]
pub struct Interner {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
    arena: Vec<u8>,
    /// `ends[id]` is where string `id` ends in the arena; it starts where the
    /// previous one ends.
    ends: Vec<usize>,
    hashes: Vec<u64>,
}

impl Interner {
    pub fn new() -> Self {
        Interner::default()
    }

    /// The id of `bytes`, adding it if new; the flag says whether it was.
    #[inline]
    pub fn intern(&mut self, bytes: &[u8]) -> Result<(u32, bool)> {
        let hash = self.hasher.hash_one(bytes);
        let Interner { table, arena, ends, hashes, .. } = self;
        let slice = |id: u32| {
            let id = id as usize;
            let start = if id == 0 { 0 } else { ends[id - 1] };
            &arena[start..ends[id]]
        };
        if let Some(&id) = table.find(hash, |&id| slice(id) == bytes) {
            return Ok((id, false));
        }
        let id =
            u32::try_from(ends.len()).map_err(|_| Error::unsupported("more than 2^32 distinct values"))?;
        arena.extend_from_slice(bytes);
        ends.push(arena.len());
        hashes.push(hash);
        table.insert_unique(hash, id, |&id| hashes[id as usize]);
        Ok((id, true))
    }

    /// The bytes of `id`.
    #[inline]
    pub fn get(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes held in the arena.
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut interner = Interner::new();
        assert_eq!(interner.intern(b"b").unwrap(), (0, true));
        assert_eq!(interner.intern(b"").unwrap(), (1, true));
        assert_eq!(interner.intern(b"a").unwrap(), (2, true));
        assert_eq!(interner.intern(b"b").unwrap(), (0, false));
        assert_eq!(interner.intern(b"").unwrap(), (1, false));
        assert_eq!((interner.get(0), interner.get(1), interner.get(2)), (&b"b"[..], &b""[..], &b"a"[..]));
        assert_eq!(interner.len(), 3);
    }

    #[test]
    fn many_values_survive_rehashing() {
        let mut interner = Interner::new();
        for i in 0..10_000u32 {
            assert_eq!(interner.intern(&i.to_le_bytes()).unwrap(), (i, true));
        }
        for i in (0..10_000u32).rev() {
            assert_eq!(interner.intern(&i.to_le_bytes()).unwrap(), (i, false));
            assert_eq!(interner.get(i), i.to_le_bytes());
        }
    }
}
