//! Distinct values per group, for `count_distinct`.
//!
//! Values are interned once per transformer (so a pod name that appears in
//! thousands of rows is stored once), and each group's set is a set of
//! (group id, value id) pairs packed into one `u64`. Counting is then one
//! hash-set insert per row, and merging a partial state inserts its values
//! the same way.

use crate::intern::Interner;
use hashbrown::HashSet;
use runtime_plugin_sdk::error::Result;

/// The distinct values of every group.
#[derive(Default)]
pub struct DistinctSets {
    values: Interner,
    pairs: HashSet<u64>,
    counts: Vec<i64>,
    /// `pairs`, sorted, once the state is being written.
    sorted: Option<Vec<u64>>,
}

impl DistinctSets {
    pub fn resize(&mut self, groups: usize) {
        self.counts.resize(groups, 0);
    }

    /// Adds an encoded value to a group's set.
    #[inline]
    pub fn insert(&mut self, group: u32, encoded: &[u8]) -> Result<()> {
        let (value, _) = self.values.intern(encoded)?;
        if self.pairs.insert((u64::from(group) << 32) | u64::from(value)) {
            self.counts[group as usize] += 1;
            self.sorted = None;
        }
        Ok(())
    }

    /// Number of distinct values of a group.
    pub fn count(&self, group: u32) -> i64 {
        self.counts[group as usize]
    }

    /// Calls `f` with each encoded value of the group, ordered by when this
    /// transformer first saw each value (in any group).
    pub fn for_each_value(&mut self, group: u32, mut f: impl FnMut(&[u8])) {
        let sorted = self.sorted.get_or_insert_with(|| {
            let mut pairs: Vec<u64> = self.pairs.iter().copied().collect();
            pairs.sort_unstable();
            pairs
        });
        let lo = u64::from(group) << 32;
        let start = sorted.partition_point(|&p| p < lo);
        for &pair in sorted[start..].iter().take_while(|&&p| p >> 32 == u64::from(group)) {
            f(self.values.get(pair as u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(sets: &mut DistinctSets, group: u32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        sets.for_each_value(group, |v| out.push(v.to_vec()));
        out
    }

    #[test]
    fn counts_and_values_per_group() {
        let mut sets = DistinctSets::default();
        sets.resize(3);
        for (g, v) in [(0, "p1"), (0, "p1"), (0, "p2"), (2, "p2"), (2, "p2"), (0, "p1")] {
            sets.insert(g, v.as_bytes()).unwrap();
        }
        assert_eq!((sets.count(0), sets.count(1), sets.count(2)), (2, 0, 1));
        assert_eq!(values(&mut sets, 0), [b"p1".to_vec(), b"p2".to_vec()]);
        assert!(values(&mut sets, 1).is_empty());
        assert_eq!(values(&mut sets, 2), [b"p2".to_vec()]);
        sets.insert(1, b"p3").unwrap();
        assert_eq!(values(&mut sets, 1), [b"p3".to_vec()]);
    }
}
