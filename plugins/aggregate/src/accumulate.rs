//! Accumulators: the per-group state of one aggregate, kept column-wise
//! (one vector entry per group id), with the three ways in: `update` from an
//! input batch, `merge` from a partial state column, and the two ways out:
//! `state` (partial) and `output` (final values).
//!
//! SQL semantics: nulls are skipped; `sum`, `min` and `max` of a group
//! without any non-null value are null; counts are never null. Integer sums
//! are checked: an overflow of int64 is an error, not a wrap. Float sums add
//! in input order (on the pod-usage data every partial sum is exact, SPEC
//! §2.1). `divide_by` is applied once, to the final sum, as a real division.

use crate::distinct::DistinctSets;
use crate::layout::{AggColumn, Kind};
use crate::value::{ValueReader, ValueType};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{ArrowNativeType, NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field};
use runtime_plugin_sdk::error::{Error, Result};
use std::cmp::Ordering;
use std::sync::Arc;

enum State {
    Count(Vec<i64>),
    SumInt {
        sums: Vec<i64>,
        seen: Vec<bool>,
    },
    SumFloat {
        sums: Vec<f64>,
        seen: Vec<bool>,
    },
    Distinct(ValueType, DistinctSets),
    /// Encoded extreme per group (empty = no value yet); `true` for max.
    Extreme(ValueType, bool, Vec<Vec<u8>>),
}

/// One aggregate's state for every group.
pub struct Accumulator {
    spec: AggColumn,
    state: State,
}

impl Accumulator {
    pub fn new(spec: &AggColumn) -> Self {
        let state = match &spec.kind {
            Kind::CountRows | Kind::CountValues => State::Count(Vec::new()),
            Kind::SumInt => State::SumInt { sums: Vec::new(), seen: Vec::new() },
            Kind::SumFloat => State::SumFloat { sums: Vec::new(), seen: Vec::new() },
            Kind::CountDistinct(t) => State::Distinct(t.clone(), DistinctSets::default()),
            Kind::Min(t) => State::Extreme(t.clone(), false, Vec::new()),
            Kind::Max(t) => State::Extreme(t.clone(), true, Vec::new()),
        };
        Accumulator { spec: spec.clone(), state }
    }

    /// Makes room for `groups` groups.
    pub fn resize(&mut self, groups: usize) {
        match &mut self.state {
            State::Count(counts) => counts.resize(groups, 0),
            State::SumInt { sums, seen } => {
                sums.resize(groups, 0);
                seen.resize(groups, false);
            }
            State::SumFloat { sums, seen } => {
                sums.resize(groups, 0.0);
                seen.resize(groups, false);
            }
            State::Distinct(_, sets) => sets.resize(groups),
            State::Extreme(_, _, values) => values.resize_with(groups, Vec::new),
        }
    }

    fn overflow(&self) -> Error {
        Error::invalid_input(format!(
            "aggregate `{}`: the sum of column `{}` overflows int64",
            self.spec.name,
            self.spec.column.as_deref().unwrap_or_default()
        ))
    }

    /// Adds the rows of an input batch; `groups[row]` is each row's group.
    pub fn update(&mut self, batch: &RecordBatch, groups: &[u32], scratch: &mut Vec<u8>) -> Result<()> {
        let array = match &self.spec.column {
            _ if self.spec.kind == Kind::CountRows => None,
            None => None,
            Some(name) => Some(batch.column_by_name(name).ok_or_else(|| {
                Error::invalid_input(format!(
                    "aggregate `{}`: the batch has no column `{name}`",
                    self.spec.name
                ))
            })?),
        };
        let overflow = self.overflow();
        let context = |e: Error| e.context(format!("aggregate `{}`", self.spec.name));
        match (&mut self.state, array) {
            (State::Count(counts), None) => {
                for &g in groups {
                    counts[g as usize] += 1;
                }
            }
            (State::Count(counts), Some(array)) => match array.logical_nulls() {
                None => {
                    for &g in groups {
                        counts[g as usize] += 1;
                    }
                }
                Some(nulls) => {
                    for (row, &g) in groups.iter().enumerate() {
                        counts[g as usize] += i64::from(nulls.is_valid(row));
                    }
                }
            },
            (State::SumInt { sums, seen }, Some(array)) => {
                macro_rules! sum {
                    ($t:ty) => {
                        sum_ints(array.as_primitive::<$t>(), groups, sums, seen).ok_or(overflow)?
                    };
                }
                match array.data_type() {
                    DataType::Int8 => sum!(Int8Type),
                    DataType::Int16 => sum!(Int16Type),
                    DataType::Int32 => sum!(Int32Type),
                    DataType::Int64 => sum!(Int64Type),
                    DataType::UInt8 => sum!(UInt8Type),
                    DataType::UInt16 => sum!(UInt16Type),
                    DataType::UInt32 => sum!(UInt32Type),
                    DataType::UInt64 => sum!(UInt64Type),
                    other => return Err(context(type_changed(other))),
                }
            }
            (State::SumFloat { sums, seen }, Some(array)) => match array.data_type() {
                DataType::Float64 => {
                    sum_floats(array.as_primitive::<Float64Type>(), groups, sums, seen, |v| v)
                }
                DataType::Float32 => {
                    sum_floats(array.as_primitive::<Float32Type>(), groups, sums, seen, f64::from)
                }
                other => return Err(context(type_changed(other))),
            },
            (State::Distinct(t, sets), Some(array)) => {
                let reader = t.reader(array).map_err(context)?;
                for (row, &g) in groups.iter().enumerate() {
                    if !reader.is_null(row) {
                        scratch.clear();
                        reader.encode(row, scratch);
                        sets.insert(g, scratch)?;
                    }
                }
            }
            (State::Extreme(t, max, values), Some(array)) => {
                let reader = t.reader(array).map_err(context)?;
                update_extremes(t, *max, values, &reader, groups, scratch);
            }
            _ => {
                return Err(Error::internal(format!("aggregate `{}`: missing input column", self.spec.name)));
            }
        }
        Ok(())
    }

    /// Adds a partial state column; `groups[row]` is each state row's group.
    pub fn merge(&mut self, state: &ArrayRef, groups: &[u32], scratch: &mut Vec<u8>) -> Result<()> {
        let overflow = self.overflow();
        let context = |e: Error| e.context(format!("partial state of aggregate `{}`", self.spec.name));
        match &mut self.state {
            State::Count(counts) => {
                let counts_in = state.as_primitive::<Int64Type>();
                for (row, &g) in groups.iter().enumerate() {
                    if counts_in.is_valid(row) {
                        counts[g as usize] += counts_in.value(row);
                    }
                }
            }
            State::SumInt { sums, seen } => {
                sum_ints(state.as_primitive::<Int64Type>(), groups, sums, seen).ok_or(overflow)?
            }
            State::SumFloat { sums, seen } => {
                sum_floats(state.as_primitive::<Float64Type>(), groups, sums, seen, |v| v)
            }
            State::Distinct(t, sets) => {
                let lists = state.as_list::<i32>();
                let reader = t.reader(lists.values()).map_err(context)?;
                let offsets = lists.value_offsets();
                for (row, &g) in groups.iter().enumerate() {
                    if lists.is_null(row) {
                        continue;
                    }
                    for i in offsets[row] as usize..offsets[row + 1] as usize {
                        if !reader.is_null(i) {
                            scratch.clear();
                            reader.encode(i, scratch);
                            sets.insert(g, scratch)?;
                        }
                    }
                }
            }
            State::Extreme(t, max, values) => {
                let reader = t.reader(state).map_err(context)?;
                update_extremes(t, *max, values, &reader, groups, scratch);
            }
        }
        Ok(())
    }

    /// The partial state of these groups.
    pub fn state(&mut self, ids: &[u32]) -> Result<ArrayRef> {
        Ok(match &mut self.state {
            State::Count(counts) => {
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|&g| counts[g as usize])))
            }
            State::SumInt { sums, seen } => Arc::new(optional_ints(ids, sums, seen)),
            State::SumFloat { sums, seen } => Arc::new(optional_floats(ids, sums, seen, None)),
            State::Distinct(t, sets) => {
                let mut values = t.builder(ids.len());
                let mut offsets = Vec::with_capacity(ids.len() + 1);
                offsets.push(0usize);
                for &g in ids {
                    sets.for_each_value(g, |v| {
                        values.push(v);
                    });
                    offsets.push(values.len());
                }
                let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                let offsets = OffsetBuffer::from_lengths(offsets.windows(2).map(|w| w[1] - w[0]));
                Arc::new(ListArray::try_new(item, offsets, values.finish()?, None)?)
            }
            State::Extreme(t, _, values) => extremes(t, ids, values)?,
        })
    }

    /// The final values of these groups.
    pub fn output(&self, ids: &[u32]) -> Result<ArrayRef> {
        let divide_by = self.spec.divide_by;
        Ok(match &self.state {
            State::Count(counts) => {
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|&g| counts[g as usize])))
            }
            State::Distinct(_, sets) => {
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|&g| sets.count(g))))
            }
            State::SumInt { sums, seen } => match divide_by {
                None => Arc::new(optional_ints(ids, sums, seen)),
                Some(d) => {
                    let values: Vec<f64> = ids.iter().map(|&g| sums[g as usize] as f64 / d).collect();
                    Arc::new(Float64Array::new(values.into(), validity(ids, seen)))
                }
            },
            State::SumFloat { sums, seen } => Arc::new(optional_floats(ids, sums, seen, divide_by)),
            State::Extreme(t, _, values) => extremes(t, ids, values)?,
        })
    }
}

fn type_changed(found: &DataType) -> Error {
    Error::invalid_input(format!("the column's type changed to {found} after the transformer was opened"))
}

/// Adds integers into int64 sums; `None` on overflow.
fn sum_ints<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
    groups: &[u32],
    sums: &mut [i64],
    seen: &mut [bool],
) -> Option<()> {
    let values = array.values();
    let nulls = array.logical_nulls();
    for (row, &g) in groups.iter().enumerate() {
        if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            continue;
        }
        let g = g as usize;
        sums[g] = sums[g].checked_add(values[row].to_i64()?)?;
        seen[g] = true;
    }
    Some(())
}

/// Adds floats into f64 sums.
fn sum_floats<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
    groups: &[u32],
    sums: &mut [f64],
    seen: &mut [bool],
    to_f64: impl Fn(T::Native) -> f64,
) {
    let values = array.values();
    match array.logical_nulls() {
        None => {
            for (&g, &v) in groups.iter().zip(values.iter()) {
                sums[g as usize] += to_f64(v);
                seen[g as usize] = true;
            }
        }
        Some(nulls) => {
            for (row, (&g, &v)) in groups.iter().zip(values.iter()).enumerate() {
                if nulls.is_valid(row) {
                    sums[g as usize] += to_f64(v);
                    seen[g as usize] = true;
                }
            }
        }
    }
}

fn update_extremes(
    t: &ValueType,
    max: bool,
    values: &mut [Vec<u8>],
    reader: &ValueReader,
    groups: &[u32],
    scratch: &mut Vec<u8>,
) {
    let wanted = if max { Ordering::Greater } else { Ordering::Less };
    for (row, &g) in groups.iter().enumerate() {
        if reader.is_null(row) {
            continue;
        }
        scratch.clear();
        reader.encode(row, scratch);
        let current = &mut values[g as usize];
        if current.is_empty() || t.compare(scratch, current).0 == wanted {
            current.clear();
            current.extend_from_slice(scratch);
        }
    }
}

fn extremes(t: &ValueType, ids: &[u32], values: &[Vec<u8>]) -> Result<ArrayRef> {
    let mut builder = t.builder(ids.len());
    for &g in ids {
        match &values[g as usize] {
            v if v.is_empty() => builder.push_null(),
            v => {
                builder.push(v);
            }
        }
    }
    builder.finish()
}

fn validity(ids: &[u32], seen: &[bool]) -> Option<NullBuffer> {
    let nulls = NullBuffer::from_iter(ids.iter().map(|&g| seen[g as usize]));
    (nulls.null_count() > 0).then_some(nulls)
}

fn optional_ints(ids: &[u32], sums: &[i64], seen: &[bool]) -> Int64Array {
    let values: Vec<i64> = ids.iter().map(|&g| sums[g as usize]).collect();
    Int64Array::new(values.into(), validity(ids, seen))
}

/// Float sums of these groups, each divided by `divide_by` when given.
fn optional_floats(ids: &[u32], sums: &[f64], seen: &[bool], divide_by: Option<f64>) -> Float64Array {
    let values: Vec<f64> = match divide_by {
        None => ids.iter().map(|&g| sums[g as usize]).collect(),
        Some(d) => ids.iter().map(|&g| sums[g as usize] / d).collect(),
    };
    Float64Array::new(values.into(), validity(ids, seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, StringArray, UInt64Array};

    fn spec(kind: Kind, divide_by: Option<f64>) -> AggColumn {
        AggColumn { name: "a".into(), column: Some("x".into()), kind, divide_by }
    }

    fn batch(array: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter(vec![("x", array)]).unwrap()
    }

    fn run(
        kind: Kind,
        divide_by: Option<f64>,
        array: ArrayRef,
        groups: &[u32],
        n: usize,
    ) -> Result<ArrayRef> {
        let mut acc = Accumulator::new(&spec(kind, divide_by));
        acc.resize(n);
        acc.update(&batch(array), groups, &mut Vec::new())?;
        acc.output(&(0..n as u32).collect::<Vec<_>>())
    }

    #[test]
    fn sums_skip_nulls_and_all_null_is_null() {
        let array: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(5), None]));
        let out = run(Kind::SumInt, None, array, &[0, 1, 0, 1], 2).unwrap();
        assert_eq!(out.as_primitive::<Int64Type>(), &Int64Array::from(vec![Some(6), None]));
    }

    #[test]
    fn integer_overflow_is_an_error() {
        let array: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![i64::MAX, 1]));
        let err = run(Kind::SumInt, None, array, &[0, 0], 1).unwrap_err();
        assert_eq!(err.message, "aggregate `a`: the sum of column `x` overflows int64");
        let array: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX]));
        assert!(run(Kind::SumInt, None, array, &[0], 1).is_err());
        let array: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![i64::MAX, -1, 1]));
        assert!(run(Kind::SumInt, None, array, &[0, 0, 0], 1).is_ok(), "only the running sum matters");
    }

    #[test]
    fn divide_by_divides() {
        // 10 / 3 and 10 * (1 / 3) differ in the last bit: only a real
        // division gives the first.
        let array: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 7.0]));
        let out = run(Kind::SumFloat, Some(3.0), array, &[0, 0, 0], 1).unwrap();
        assert_eq!(out.as_primitive::<Float64Type>().value(0).to_bits(), (10.0f64 / 3.0).to_bits());
        assert_ne!((10.0f64 / 3.0).to_bits(), (10.0f64 * (1.0 / 3.0)).to_bits());
        let array: ArrayRef = Arc::new(Int32Array::from(vec![7200, 3600]));
        let out = run(Kind::SumInt, Some(3600.0), array, &[0, 0], 1).unwrap();
        assert_eq!(out.as_primitive::<Float64Type>().value(0), 3.0);
    }

    #[test]
    fn counts() {
        let array: ArrayRef = Arc::new(StringArray::from(vec![Some("p"), None, Some("p"), Some("q")]));
        let rows = run(Kind::CountRows, None, array.clone(), &[0, 0, 0, 1], 2).unwrap();
        assert_eq!(rows.as_primitive::<Int64Type>().values(), &[3, 1]);
        let values = run(Kind::CountValues, None, array.clone(), &[0, 0, 0, 1], 2).unwrap();
        assert_eq!(values.as_primitive::<Int64Type>().values(), &[2, 1]);
        let t = ValueType::new(&DataType::Utf8).unwrap();
        let distinct = run(Kind::CountDistinct(t), None, array, &[0, 0, 0, 0], 1).unwrap();
        assert_eq!(distinct.as_primitive::<Int64Type>().values(), &[2]);
    }

    #[test]
    fn min_and_max() {
        let array: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), None, Some("a"), Some("c"), None]));
        let t = ValueType::new(&DataType::Utf8).unwrap();
        let min = run(Kind::Min(t.clone()), None, array.clone(), &[0, 0, 0, 0, 1], 2).unwrap();
        assert_eq!(min.as_string::<i32>(), &StringArray::from(vec![Some("a"), None]));
        let max = run(Kind::Max(t), None, array, &[0, 0, 0, 0, 1], 2).unwrap();
        assert_eq!(max.as_string::<i32>(), &StringArray::from(vec![Some("c"), None]));
    }

    #[test]
    fn state_then_merge_equals_direct() {
        let t = ValueType::new(&DataType::Utf8).unwrap();
        let kinds = [
            Kind::CountRows,
            Kind::CountValues,
            Kind::CountDistinct(t.clone()),
            Kind::Min(t.clone()),
            Kind::Max(t),
        ];
        let array: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), None, Some("a"), Some("b")]));
        for kind in kinds {
            let direct = run(kind.clone(), None, array.clone(), &[0, 1, 1, 0], 2).unwrap();
            // Two partial states over halves of the rows, merged.
            let mut merged = Accumulator::new(&spec(kind.clone(), None));
            merged.resize(2);
            for (lo, hi) in [(0, 2), (2, 4)] {
                let mut partial = Accumulator::new(&spec(kind.clone(), None));
                partial.resize(2);
                partial
                    .update(&batch(array.slice(lo, hi - lo)), &[0, 1, 1, 0][lo..hi], &mut Vec::new())
                    .unwrap();
                let state = partial.state(&[1, 0]).unwrap();
                merged.merge(&state, &[1, 0], &mut Vec::new()).unwrap();
            }
            assert_eq!(&merged.output(&[0, 1]).unwrap(), &direct, "{kind:?}");
        }
    }
}
