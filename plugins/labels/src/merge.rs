//! Merging label sets by precedence: on a duplicate key the set listed first
//! wins (SPEC §2.4: pod over namespace over node).
//!
//! The sets are already sorted by key, so the merge is a k-way merge that
//! yields the merged pairs in key order, ready for [`crate::canonical`].

use crate::parse::LabelSet;

/// Merges `sets` (highest precedence first) into `out`, sorted by key: for
/// each key, the winning set and the index of the pair in it.
pub fn merge<'a>(sets: &[&'a LabelSet], out: &mut Vec<(&'a LabelSet, usize)>) {
    out.clear();
    let mut cursors = vec![0usize; sets.len()];
    loop {
        // The smallest current key; on a tie the first set (highest
        // precedence) provides the value.
        let mut best: Option<(usize, &'a str)> = None;
        for (i, set) in sets.iter().enumerate() {
            if let Some((key, _)) = set.pairs().get(cursors[i])
                && best.is_none_or(|(_, b)| &**key < b)
            {
                best = Some((i, key));
            }
        }
        let Some((winner, key)) = best else { break };
        out.push((sets[winner], cursors[winner]));
        for (i, set) in sets.iter().enumerate() {
            if set.pairs().get(cursors[i]).is_some_and(|(k, _)| &**k == key) {
                cursors[i] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        LabelSet::from_pairs(pairs.iter().copied())
    }

    fn merged<'a>(sets: &[&'a LabelSet]) -> Vec<(&'a str, &'a str)> {
        let mut out = vec![];
        merge(sets, &mut out);
        out.iter().map(|(set, i)| (&*set.pairs()[*i].0, &*set.pairs()[*i].1)).collect()
    }

    #[test]
    fn first_set_wins_on_duplicate_keys() {
        let pod = set(&[("app", "a"), ("env", "pod-env")]);
        let namespace = set(&[("team", "t1"), ("env", "ns-env")]);
        let node = set(&[("zone", "a"), ("env", "node-env"), ("role", "")]);
        assert_eq!(
            merged(&[&pod, &namespace, &node]),
            [("app", "a"), ("env", "pod-env"), ("role", ""), ("team", "t1"), ("zone", "a")]
        );
        assert_eq!(
            merged(&[&node, &namespace, &pod]),
            [("app", "a"), ("env", "node-env"), ("role", ""), ("team", "t1"), ("zone", "a")]
        );
    }

    #[test]
    fn empty_sets() {
        let empty = LabelSet::empty();
        let one = set(&[("k", "v")]);
        let mut out = vec![(&one, 0)];
        merge(&[&empty, &empty], &mut out);
        assert!(out.is_empty(), "out is cleared first");
        assert_eq!(merged(&[&empty, &one, &empty]), [("k", "v")]);
        assert!(merged(&[]).is_empty());
    }
}
