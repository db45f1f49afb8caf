//! Split planning shared by both databases: how the key space of the
//! partition column becomes a list of disjoint predicates.
//!
//! Every strategy produces predicates that together cover each row exactly
//! once:
//!
//! * `equal_width` and `quantile` produce sorted, distinct inner boundaries
//!   `b1 < b2 < … < bk` and the ranges `c < b1`, `b1 <= c < b2`, …,
//!   `c >= bk`. The first and last ranges are open, so rows outside the
//!   bounds (or inserted after planning) are still read.
//! * `hash` produces `bucket(c) = i` for `i` in `0..n`.
//! * Rows whose partition column is NULL match no comparison, so they get one
//!   extra split, `c IS NULL`.
//!
//! Boundary arithmetic is done in `i128`, so `max - min` of keys near
//! ±9.2e18 does not overflow.

use crate::options::{Strategy, quote_ident};
use serde::{Deserialize, Serialize};

/// Which rows of the relation a split reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Predicate {
    /// Every row (no partition column).
    All,
    /// `lo <= c < hi`; a missing side is open. Both missing: `c IS NOT NULL`.
    Range { lo: Option<i64>, hi: Option<i64> },
    /// `c IS NULL`.
    Null,
    /// `bucket(c) = bucket`, with `buckets` buckets.
    Hash { bucket: u32, buckets: u32 },
}

/// What a split's payload holds: the predicate and the columns to read, so
/// that every worker reads with the schema the plan was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload<C> {
    pub predicate: Predicate,
    pub columns: Vec<C>,
}

/// Inner boundaries of `n` equal-width ranges over `[lo, hi]`: `lo + ⌊w·k/n⌋`
/// for `k` in `1..n`, where `w = hi - lo + 1` is computed in `i128`.
/// Duplicates (more ranges than distinct keys) are dropped.
pub fn equal_width_bounds(lo: i64, hi: i64, n: u32) -> Vec<i64> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let width = hi as i128 - lo as i128 + 1;
    let mut bounds = Vec::with_capacity(n.saturating_sub(1) as usize);
    for k in 1..n as i128 {
        let b = lo as i128 + width * k / n as i128;
        // b <= hi for k < n, so it fits in i64.
        bounds.push(b as i64);
    }
    bounds.dedup();
    // A boundary equal to `lo` would leave the first range empty.
    bounds.retain(|&b| b > lo);
    bounds
}

/// Positions (0-based, ascending) of the keys that start the 2nd … n-th of
/// `n` equal chunks of `len` sorted keys: `⌈k·len/n⌉` for `k` in `1..n`.
pub fn quantile_positions(len: u64, n: u32) -> Vec<u64> {
    if len == 0 {
        return Vec::new();
    }
    (1..n as u128).map(|k| ((k * len as u128).div_ceil(n as u128) as u64).min(len - 1)).collect()
}

/// Inner boundaries at the `k/n` quantiles of `sorted` (ascending): the keys
/// at [`quantile_positions`].
pub fn quantile_bounds(sorted: &[i64], n: u32) -> Vec<i64> {
    let picks = quantile_positions(sorted.len() as u64, n).into_iter().map(|p| sorted[p as usize]).collect();
    normalize_bounds(picks, sorted.first().copied())
}

/// Sorts and deduplicates boundaries; drops those at or below the minimum
/// key (they would make the first range empty).
pub fn normalize_bounds(mut bounds: Vec<i64>, min: Option<i64>) -> Vec<i64> {
    bounds.sort_unstable();
    bounds.dedup();
    if let Some(min) = min {
        bounds.retain(|&b| b > min);
    }
    bounds
}

/// The range predicates between sorted, distinct boundaries.
pub fn ranges(bounds: &[i64]) -> Vec<Predicate> {
    if bounds.is_empty() {
        return vec![Predicate::Range { lo: None, hi: None }];
    }
    let mut out = Vec::with_capacity(bounds.len() + 1);
    out.push(Predicate::Range { lo: None, hi: Some(bounds[0]) });
    for w in bounds.windows(2) {
        out.push(Predicate::Range { lo: Some(w[0]), hi: Some(w[1]) });
    }
    out.push(Predicate::Range { lo: bounds.last().copied(), hi: None });
    out
}

/// The hash predicates for `n` buckets.
pub fn hash_buckets(n: u32) -> Vec<Predicate> {
    (0..n).map(|bucket| Predicate::Hash { bucket, buckets: n }).collect()
}

/// The full list for a strategy, NULL split last. `bounds` is ignored for
/// `hash`.
pub fn predicates(strategy: Strategy, bounds: &[i64], n: u32) -> Vec<Predicate> {
    let mut out = match strategy {
        Strategy::Hash => hash_buckets(n),
        Strategy::EqualWidth | Strategy::Quantile => ranges(bounds),
    };
    out.push(Predicate::Null);
    out
}

impl Predicate {
    /// SQL condition on column expression `col`, or `None` for every row.
    /// `bucket` renders the dialect's bucket expression for `(col, buckets)`.
    pub fn sql(&self, col: &str, bucket: impl Fn(&str, u32) -> String) -> Option<String> {
        match self {
            Predicate::All => None,
            Predicate::Null => Some(format!("{col} IS NULL")),
            Predicate::Range { lo: None, hi: None } => Some(format!("{col} IS NOT NULL")),
            Predicate::Range { lo: Some(lo), hi: None } => Some(format!("{col} >= {lo}")),
            Predicate::Range { lo: None, hi: Some(hi) } => Some(format!("{col} < {hi}")),
            Predicate::Range { lo: Some(lo), hi: Some(hi) } => {
                Some(format!("{col} >= {lo} AND {col} < {hi}"))
            }
            Predicate::Hash { bucket: b, buckets } => Some(format!("{} = {b}", bucket(col, *buckets))),
        }
    }

    /// A human-readable split id, such as `id in [10, 20)`.
    pub fn describe(&self, col: Option<&str>) -> String {
        let col = col.unwrap_or("*");
        match self {
            Predicate::All => "all rows".to_string(),
            Predicate::Null => format!("{col} is null"),
            Predicate::Range { lo: None, hi: None } => format!("{col} is not null"),
            Predicate::Range { lo: Some(lo), hi: None } => format!("{col} >= {lo}"),
            Predicate::Range { lo: None, hi: Some(hi) } => format!("{col} < {hi}"),
            Predicate::Range { lo: Some(lo), hi: Some(hi) } => format!("{col} in [{lo}, {hi})"),
            Predicate::Hash { bucket, buckets } => format!("hash({col}) % {buckets} = {bucket}"),
        }
    }

    /// Whether an integer key falls in this predicate (ranges and NULL only;
    /// used by tests and by the SQLite planner's exact counts).
    pub fn contains(&self, key: Option<i64>) -> bool {
        match (self, key) {
            (Predicate::All, _) => true,
            (Predicate::Null, k) => k.is_none(),
            (Predicate::Range { lo, hi }, Some(k)) => {
                lo.is_none_or(|lo| k >= lo) && hi.is_none_or(|hi| k < hi)
            }
            (Predicate::Range { .. }, None) => false,
            (Predicate::Hash { .. }, _) => false,
        }
    }
}

/// `"table"."column"`-style reference to the partition column of the
/// wrapped relation `_q`.
pub fn column_ref(column: &str) -> String {
    format!("_q.{}", quote_ident(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cover(preds: &[Predicate], keys: &[Option<i64>]) {
        for k in keys {
            let n = preds.iter().filter(|p| p.contains(*k)).count();
            assert_eq!(n, 1, "key {k:?} is in {n} splits of {preds:?}");
        }
    }

    #[test]
    fn equal_width_near_i64_extremes() {
        let b = equal_width_bounds(i64::MIN, i64::MAX, 4);
        assert_eq!(b, vec![-(1i64 << 62), 0, 1i64 << 62]);
        let b = equal_width_bounds(-9_000_000_000_000_000_000, 9_200_000_000_000_000_000, 16);
        assert_eq!(b.len(), 15);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        let preds = predicates(Strategy::EqualWidth, &b, 16);
        check_cover(
            &preds,
            &[Some(i64::MIN), Some(-9_000_000_000_000_000_000), Some(0), Some(i64::MAX), None, Some(b[3])],
        );
        // Single key and more partitions than keys.
        assert!(equal_width_bounds(5, 5, 8).is_empty());
        assert_eq!(equal_width_bounds(0, 2, 8), vec![1, 2]);
        assert_eq!(equal_width_bounds(i64::MAX - 1, i64::MAX, 2), vec![i64::MAX]);
        check_cover(
            &ranges(&equal_width_bounds(i64::MAX - 1, i64::MAX, 2)),
            &[Some(i64::MAX - 1), Some(i64::MAX)],
        );
    }

    #[test]
    fn equal_width_matches_spark_stride_on_small_ranges() {
        assert_eq!(equal_width_bounds(0, 99, 4), vec![25, 50, 75]);
        assert_eq!(equal_width_bounds(1, 10, 3), vec![4, 7]);
    }

    #[test]
    fn quantiles_balance_a_skewed_key() {
        // 90% of the keys in a dense block, the rest spread up to 9e18.
        let mut keys: Vec<i64> = (0..90_000).collect();
        keys.extend((1..=10_000).map(|i| i * 900_000_000_000_000));
        keys.sort();
        let n = 16;
        let bounds = quantile_bounds(&keys, n);
        let preds = ranges(&bounds);
        let counts: Vec<usize> =
            preds.iter().map(|p| keys.iter().filter(|&&k| p.contains(Some(k))).count()).collect();
        assert_eq!(counts.iter().sum::<usize>(), keys.len());
        let mean = keys.len() as f64 / counts.len() as f64;
        let max = *counts.iter().max().unwrap() as f64;
        assert!(max <= 1.5 * mean, "largest split {max} vs mean {mean}: {counts:?}");
        // Equal width on the same keys puts almost everything in one split.
        let ew = ranges(&equal_width_bounds(keys[0], *keys.last().unwrap(), n));
        let first = keys.iter().filter(|&&k| ew[0].contains(Some(k))).count();
        assert!(first as f64 > 0.9 * keys.len() as f64);
    }

    #[test]
    fn quantiles_of_repeated_keys_collapse() {
        let keys = vec![7; 100];
        assert!(quantile_bounds(&keys, 8).is_empty());
        assert_eq!(quantile_bounds(&[1, 2, 3, 4], 2), vec![3]);
        assert!(quantile_bounds(&[], 4).is_empty());
        assert_eq!(quantile_positions(10, 4), vec![3, 5, 8]);
        assert_eq!(quantile_positions(2, 4), vec![1, 1, 1]);
    }

    #[test]
    fn null_split_and_sql() {
        let preds = predicates(Strategy::Quantile, &[10, 20], 3);
        assert_eq!(preds.len(), 4);
        assert_eq!(preds[3], Predicate::Null);
        check_cover(&preds, &[None, Some(9), Some(10), Some(19), Some(20)]);
        let col = column_ref("id");
        let sql: Vec<_> = preds.iter().map(|p| p.sql(&col, |_, _| unreachable!()).unwrap()).collect();
        assert_eq!(sql[0], "_q.\"id\" < 10");
        assert_eq!(sql[1], "_q.\"id\" >= 10 AND _q.\"id\" < 20");
        assert_eq!(sql[2], "_q.\"id\" >= 20");
        assert_eq!(sql[3], "_q.\"id\" IS NULL");
        let h = predicates(Strategy::Hash, &[], 4);
        assert_eq!(h.len(), 5);
        assert_eq!(h[2].sql("c", |c, n| format!("h({c}) % {n}")).unwrap(), "h(c) % 4 = 2");
        assert_eq!(h[2].describe(Some("c")), "hash(c) % 4 = 2");
        assert_eq!(Predicate::All.sql("c", |_, _| String::new()), None);
    }

    #[test]
    fn payload_round_trips() {
        let p = Payload { predicate: Predicate::Range { lo: Some(i64::MIN), hi: None }, columns: vec![1u32] };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Payload<u32>>(&json).unwrap(), p);
    }
}
