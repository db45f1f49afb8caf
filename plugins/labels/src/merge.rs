//! Merging label sets by precedence: on a duplicate key the set listed first
//! wins (SPEC §2.4: pod over namespace over node).
//!
//! The sets are already sorted by key, so the merge is a k-way merge that
//! yields the merged pairs in key order, ready for [`crate::canonical`].

use crate::parse::LabelSet;

/// Merges `sets` (highest precedence first) into `out`, sorted by key.
pub fn merge<'a>(sets: &[&'a LabelSet], out: &mut Vec<(&'a str, &'a str)>) {
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
        out.push((key, &sets[winner].pairs()[cursors[winner]].1));
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

    #[test]
    fn first_set_wins_on_duplicate_keys() {
        let pod = set(&[("app", "a"), ("env", "pod-env")]);
        let namespace = set(&[("team", "t1"), ("env", "ns-env")]);
        let node = set(&[("zone", "a"), ("env", "node-env"), ("role", "")]);
        let mut out = Vec::new();
        merge(&[&pod, &namespace, &node], &mut out);
        assert_eq!(out, [("app", "a"), ("env", "pod-env"), ("role", ""), ("team", "t1"), ("zone", "a")]);
        merge(&[&node, &namespace, &pod], &mut out);
        assert_eq!(out, [("app", "a"), ("env", "node-env"), ("role", ""), ("team", "t1"), ("zone", "a")]);
    }

    #[test]
    fn empty_sets() {
        let empty = LabelSet::empty();
        let one = set(&[("k", "v")]);
        let mut out = vec![("stale", "x")];
        merge(&[&empty, &empty], &mut out);
        assert!(out.is_empty());
        merge(&[&empty, &one, &empty], &mut out);
        assert_eq!(out, [("k", "v")]);
        merge(&[], &mut out);
        assert!(out.is_empty());
    }
}
