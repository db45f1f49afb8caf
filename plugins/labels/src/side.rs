//! Side tables, pre-parsed once at `init`: for each lookup, a hash map from
//! the encoded key of a side-table row (see [`crate::keys`]) to that row's
//! parsed labels.
//!
//! Rows whose key has a null value are skipped (they could never match). Of
//! rows with equal keys the last one, in batch order, wins. A malformed labels
//! value fails `init` (naming the table, row and column) or, with
//! `on_invalid = "empty"`, counts as `{}`.

use crate::keys::{KeyClass, KeyReader, column_names, key_classes};
use crate::options::{Lookup, OnInvalid};
use crate::parse::{LabelSet, parse_labels};
use crate::strings::StrColumn;
use arrow_array::RecordBatch;
use hashbrown::HashMap;
use runtime_plugin_sdk::error::{Error, Result};

/// The parsed labels of one side table, by key.
#[derive(Debug)]
pub struct SideIndex {
    /// The side table's name, for messages.
    pub table: String,
    /// Classes of the key columns; `None` when the table has no batches (and
    /// so no schema to check the input against).
    pub classes: Option<Vec<KeyClass>>,
    map: HashMap<Box<[u8]>, u32>,
    sets: Vec<LabelSet>,
    /// How many labels values were malformed and replaced by `{}`.
    pub invalid: u64,
}

impl SideIndex {
    /// Parses every row of the side table `lookup` names.
    pub fn build(lookup: &Lookup, batches: &[RecordBatch], on_invalid: OnInvalid) -> Result<Self> {
        let what = format!("side table `{}`", lookup.side_table);
        let mut index = SideIndex {
            table: lookup.side_table.clone(),
            classes: None,
            map: HashMap::new(),
            sets: Vec::new(),
            invalid: 0,
        };
        let mut key = Vec::new();
        let mut row_base = 0usize;
        for batch in batches {
            let schema = batch.schema();
            let classes = key_classes(&schema, &lookup.key, &what)?;
            match &index.classes {
                Some(first) if *first != classes => {
                    return Err(Error::invalid_input(format!(
                        "{what}: the batches disagree on the types of the key columns"
                    )));
                }
                _ => index.classes = Some(classes),
            }
            let labels_array = batch.column_by_name(&lookup.labels).ok_or_else(|| {
                Error::invalid_options(format!(
                    "{what} has no labels column `{}` (columns: {})",
                    lookup.labels,
                    column_names(&schema)
                ))
            })?;
            let as_json = crate::native::to_json(labels_array);
            let labels = StrColumn::new(as_json.as_ref().unwrap_or(labels_array)).ok_or_else(|| {
                Error::unsupported(format!(
                    "labels column `{}` of {what} has type {}; expected a string column, a map<string, string> or a struct of strings",
                    lookup.labels,
                    labels_array.data_type()
                ))
            })?;
            let keys = KeyReader::new(batch, &lookup.key, &what)?;
            for row in 0..batch.num_rows() {
                if !keys.encode(row, &mut key) {
                    continue;
                }
                let set = match parse_labels(labels.get(row)) {
                    Ok(set) => set,
                    Err(_) if on_invalid == OnInvalid::Empty => {
                        index.invalid += 1;
                        LabelSet::empty()
                    }
                    Err(e) => {
                        return Err(Error::invalid_input(format!(
                            "{what}, row {}, column `{}`: invalid labels: {e}",
                            row_base + row,
                            lookup.labels
                        )));
                    }
                };
                match index.map.get(key.as_slice()) {
                    Some(&id) => index.sets[id as usize] = set,
                    None => {
                        let id = u32::try_from(index.sets.len())
                            .map_err(|_| Error::unsupported(format!("{what} has more than 2^32 rows")))?;
                        index.sets.push(set);
                        index.map.insert(key.as_slice().into(), id);
                    }
                }
            }
            row_base += batch.num_rows();
        }
        Ok(index)
    }

    /// The id of the labels whose key is `key` (as encoded by
    /// [`KeyReader::encode`]).
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        self.map.get(key).copied()
    }

    /// The labels with this id.
    #[inline]
    pub fn labels(&self, id: u32) -> &LabelSet {
        &self.sets[id as usize]
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Date32Array, StringArray};
    use std::sync::Arc;

    fn lookup() -> Lookup {
        Lookup {
            side_table: "node_labels".into(),
            key: vec!["usage_date".into(), "node".into()],
            labels: "node_labels".into(),
        }
    }

    fn batch(dates: Vec<Option<i32>>, nodes: Vec<&str>, labels: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("usage_date", Arc::new(Date32Array::from(dates)) as ArrayRef),
            ("node", Arc::new(StringArray::from(nodes))),
            ("node_labels", Arc::new(StringArray::from(labels))),
        ])
        .unwrap()
    }

    fn find(index: &SideIndex, date: i32, node: &str) -> Option<Vec<(String, String)>> {
        let probe = batch(vec![Some(date)], vec![node], vec![None]);
        let reader = KeyReader::new(&probe, &lookup().key, "input").unwrap();
        let mut key = Vec::new();
        assert!(reader.encode(0, &mut key));
        let id = index.find(&key)?;
        Some(index.labels(id).pairs().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn last_duplicate_wins_and_null_keys_are_skipped() {
        let b1 = batch(
            vec![Some(1), Some(1), None],
            vec!["n1", "n2", "n1"],
            vec![Some(r#""{\"a\": \"1\"}""#), Some(r#"{"b": "2"}"#), Some(r#"{"z": "z"}"#)],
        );
        let b2 = batch(vec![Some(1)], vec!["n1"], vec![Some(r#""{\"a\": \"again\"}""#)]);
        let index = SideIndex::build(&lookup(), &[b1, b2], OnInvalid::Fail).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(find(&index, 1, "n1"), Some(vec![("a".into(), "again".into())]));
        assert_eq!(find(&index, 1, "n2"), Some(vec![("b".into(), "2".into())]));
        assert_eq!(find(&index, 2, "n1"), None);
    }

    #[test]
    fn invalid_labels_fail_or_become_empty() {
        let b = batch(vec![Some(1), Some(2)], vec!["n1", "n1"], vec![Some("{}"), Some("{oops")]);
        let err = SideIndex::build(&lookup(), std::slice::from_ref(&b), OnInvalid::Fail).unwrap_err();
        assert!(
            err.message.starts_with("side table `node_labels`, row 1, column `node_labels`: invalid labels:"),
            "{}",
            err.message
        );
        let index = SideIndex::build(&lookup(), &[b], OnInvalid::Empty).unwrap();
        assert_eq!(index.invalid, 1);
        assert_eq!(find(&index, 2, "n1"), Some(vec![]));
    }

    #[test]
    fn missing_columns_are_named() {
        let b = RecordBatch::try_from_iter(vec![(
            "usage_date",
            Arc::new(Date32Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let err = SideIndex::build(&lookup(), &[b], OnInvalid::Fail).unwrap_err();
        assert_eq!(err.message, "side table `node_labels` has no key column `node` (columns: usage_date)");
    }

    #[test]
    fn empty_table_has_no_schema() {
        let index = SideIndex::build(&lookup(), &[], OnInvalid::Fail).unwrap();
        assert!(index.classes.is_none() && index.is_empty());
    }
}
