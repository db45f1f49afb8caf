//! The per-transformer cache, in two levels, so that the work per row is
//! two hash lookups and one copy for nearly every row.
//!
//! 1. **Raw text → pod set.** Most rows repeat a raw labels text already seen
//!    (a pod's labels in one of its forms). The first time, it is parsed and
//!    the set is deduplicated by content, so the string form and the nested
//!    form of the same labels share one set id.
//! 2. **(pod set, matched side rows) → output.** The canonical JSON for a pod
//!    set merged with given side-table rows (by their ids in the side index).
//!    The key is a few `u32`s, cheap to hash. Outputs live back to back in one
//!    arena string.
//!
//! Bounds: each level holds at most `max_entries` entries. When level 1 is
//! full, both levels are emptied (level 2 refers to level-1 ids); when level
//! 2 is full, only level 2 is. With `max_entries = 0` nothing outlives the
//! row it was made for.

use crate::canonical::write_fragments;
use crate::options::OnInvalid;
use crate::parse::{LabelSet, parse_labels};
use hashbrown::HashMap;

/// Pod sets by raw text, and outputs by combination.
#[derive(Debug)]
pub struct LabelCache {
    max_entries: usize,
    /// Level 1: SQL null, then raw texts → (set id, whether it was malformed).
    null: Option<(u32, bool)>,
    texts: HashMap<Box<str>, (u32, bool)>,
    /// Distinct pod sets, and their ids by canonical text.
    sets: Vec<LabelSet>,
    set_ids: HashMap<Box<str>, u32>,
    /// Level 2: combination key → output id; outputs end at `ends[id]`.
    outputs: HashMap<Box<[u8]>, u32>,
    arena: String,
    ends: Vec<usize>,
    /// Times a level was emptied because it was full.
    pub resets: u64,
    scratch: String,
}

impl LabelCache {
    pub fn new(max_entries: usize) -> Self {
        LabelCache {
            max_entries,
            null: None,
            texts: HashMap::new(),
            sets: Vec::new(),
            set_ids: HashMap::new(),
            outputs: HashMap::new(),
            arena: String::new(),
            ends: Vec::new(),
            resets: 0,
            scratch: String::new(),
        }
    }

    /// The set id of a raw labels value (`None` = SQL null), parsing it when
    /// new, and whether it was malformed (only with `OnInvalid::Empty`;
    /// with `Fail` a malformed value is an error, and is not cached).
    #[inline]
    pub fn set_for(&mut self, raw: Option<&str>, on_invalid: OnInvalid) -> Result<(u32, bool), String> {
        let known = match raw {
            None => self.null,
            Some(text) => self.texts.get(text).copied(),
        };
        if let Some(found) = known {
            return Ok(found);
        }
        let (set, invalid) = match parse_labels(raw) {
            Ok(set) => (set, false),
            Err(_) if on_invalid == OnInvalid::Empty => (LabelSet::empty(), true),
            Err(e) => return Err(e),
        };
        if self.texts.len() >= self.max_entries {
            self.clear_all();
        }
        self.scratch.clear();
        write_fragments(set.fragments(), &mut self.scratch);
        let id = match self.set_ids.get(self.scratch.as_str()) {
            Some(&id) => id,
            None => {
                let id = self.sets.len() as u32;
                self.sets.push(set);
                self.set_ids.insert(self.scratch.as_str().into(), id);
                id
            }
        };
        match raw {
            None => self.null = Some((id, invalid)),
            Some(text) => {
                self.texts.insert(text.into(), (id, invalid));
            }
        }
        Ok((id, invalid))
    }

    /// The pod set with this id (valid until the next [`Self::set_for`]).
    #[inline]
    pub fn set(&self, id: u32) -> &LabelSet {
        &self.sets[id as usize]
    }

    /// The id of the cached output for a combination key. Ids are dense and
    /// stay valid until `resets` changes.
    #[inline]
    pub fn output_id(&self, key: &[u8]) -> Option<u32> {
        self.outputs.get(key).copied()
    }

    /// The text of an output id.
    #[inline]
    pub fn output(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    /// Caches the output of a combination key; returns its id.
    pub fn insert_output(&mut self, key: &[u8], output: &str) -> u32 {
        if self.outputs.len() >= self.max_entries {
            self.outputs.clear();
            self.arena.clear();
            self.ends.clear();
            self.resets += 1;
        }
        self.arena.push_str(output);
        self.ends.push(self.arena.len());
        let id = (self.ends.len() - 1) as u32;
        self.outputs.insert(key.into(), id);
        id
    }

    fn clear_all(&mut self) {
        self.null = None;
        self.texts.clear();
        self.sets.clear();
        self.set_ids.clear();
        self.outputs.clear();
        self.arena.clear();
        self.ends.clear();
        self.resets += 1;
    }

    /// Entries in level 1 and level 2.
    pub fn len(&self) -> (usize, usize) {
        (self.texts.len() + usize::from(self.null.is_some()), self.outputs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_set_share_an_id() {
        let mut cache = LabelCache::new(16);
        let (a, _) = cache.set_for(Some(r#""{\"b\": \"2\", \"a\": \"1\"}""#), OnInvalid::Fail).unwrap();
        let (b, _) = cache.set_for(Some(r#"{"a": "1", "b": "2"}"#), OnInvalid::Fail).unwrap();
        let (c, _) = cache.set_for(None, OnInvalid::Fail).unwrap();
        let (d, _) = cache.set_for(Some(r#""""#), OnInvalid::Fail).unwrap();
        assert_eq!(a, b);
        assert_eq!(c, d);
        assert_ne!(a, c);
        assert_eq!(cache.set(a).len(), 2);
        assert_eq!(cache.len(), (4, 0));
    }

    #[test]
    fn malformed_text_fails_or_is_cached_as_empty() {
        let mut cache = LabelCache::new(16);
        assert!(cache.set_for(Some("{bad"), OnInvalid::Fail).is_err());
        assert_eq!(cache.len(), (0, 0));
        let (id, invalid) = cache.set_for(Some("{bad"), OnInvalid::Empty).unwrap();
        assert!(invalid && cache.set(id).is_empty());
        assert_eq!(cache.set_for(Some("{bad"), OnInvalid::Empty).unwrap(), (id, true));
        assert_eq!(cache.set_for(Some("{}"), OnInvalid::Empty).unwrap(), (id, false));
    }

    #[test]
    fn outputs_and_bounds() {
        let mut cache = LabelCache::new(2);
        assert_eq!(cache.insert_output(b"k1", "one"), 0);
        assert_eq!(cache.insert_output(b"k2", "two"), 1);
        assert_eq!((cache.output_id(b"k1"), cache.output_id(b"k2")), (Some(0), Some(1)));
        assert_eq!((cache.output(0), cache.output(1)), ("one", "two"));
        assert_eq!(cache.insert_output(b"k3", "three"), 0);
        assert_eq!((cache.output_id(b"k1"), cache.output_id(b"k3")), (None, Some(0)));
        assert_eq!(cache.output(0), "three");
        // A full level 1 empties level 2 as well.
        cache.set_for(Some("{}"), OnInvalid::Fail).unwrap();
        cache.set_for(Some("null"), OnInvalid::Fail).unwrap();
        cache.set_for(Some(r#"{"a": "1"}"#), OnInvalid::Fail).unwrap();
        assert_eq!(cache.len(), (1, 0));
        assert_eq!(cache.resets, 2);
    }

    #[test]
    fn zero_keeps_only_the_current_entry() {
        let mut cache = LabelCache::new(0);
        let (id, _) = cache.set_for(Some(r#"{"a": "1"}"#), OnInvalid::Fail).unwrap();
        assert_eq!(cache.set(id).len(), 1);
        let id = cache.insert_output(b"k", "x");
        assert_eq!(cache.output_id(b"k"), Some(id));
        cache.insert_output(b"j", "y");
        assert_eq!(cache.output_id(b"k"), None);
    }
}
