//! Column names from a header, and column types inferred from a sample.
//!
//! Names: the header's fields, as DuckDB names them: an empty name is
//! `column{i}` (0-based, zero-padded to the width of the last index), a
//! repeated one gets `_1`, `_2`, ...; without a header every column is
//! `column{i}`.
//!
//! Types: the first `sample_rows` records of the first input that has any
//! are sampled (records whose field count differs from the header's are
//! left out, as they will be rejected). For each column, every non-null
//! value suggests the narrowest type it fits ([`Guess::of`]: int64,
//! float64, boolean, date, timestamp, else utf8) and the column takes the
//! narrowest type all of them fit ([`Guess::join`]: int64 widens to
//! float64, date to timestamp, any other mix is utf8; a column with only
//! nulls is utf8). Every inferred column is nullable. The schema is decided
//! once, in `discover`, and every split reads with it: a later value that
//! does not fit rejects its record (declare `fields`, or sample more).

use crate::options::{Dialect, FieldType};
use crate::records::{Next, Records};
use crate::values::Guess;
use arrow_schema::{Field, Schema};
use runtime_plugin_sdk::error::Result;

/// The name of column `i` of `n` that has no name.
pub fn unnamed(i: usize, n: usize) -> String {
    let digits = n.saturating_sub(1).max(1).to_string().len();
    format!("column{i:0digits$}")
}

/// The index a `column{i}` name stands for.
pub fn unnamed_index(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("column")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Output names for the fields of a header (see the module docs).
pub fn column_names(header: &[String]) -> Vec<String> {
    let n = header.len();
    let mut out: Vec<String> = Vec::with_capacity(n);
    for (i, h) in header.iter().enumerate() {
        let base = if h.is_empty() { unnamed(i, n) } else { h.clone() };
        let mut name = base.clone();
        let mut k = 1;
        while out.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        out.push(name);
    }
    out
}

/// The fields of a record, as text.
pub fn texts<F: FnMut(u64, usize) -> Result<Vec<u8>>>(r: &Records<F>) -> Vec<String> {
    (0..r.len()).map(|i| String::from_utf8_lossy(r.field(i)).into_owned()).collect()
}

/// Infers the schema of one file; `None` when it has no record at all.
/// `records` starts at the file's first byte after a byte order mark.
pub fn infer<F: FnMut(u64, usize) -> Result<Vec<u8>>>(
    mut records: Records<F>,
    header: bool,
    sample_rows: usize,
    nulls: &[Vec<u8>],
) -> Result<Option<Schema>> {
    let mut guesses: Vec<Guess> = Vec::new();
    let mut names: Option<Vec<String>> = None;
    let mut sampled = 0;
    while sampled < sample_rows {
        match records.next_record()? {
            Next::End => break,
            Next::Record => {}
            _ => continue,
        }
        if names.is_none() {
            let width = records.len();
            records.blank_lines_are_records(width == 1);
            guesses = vec![Guess::Nothing; width];
            if header {
                names = Some(column_names(&texts(&records)));
                continue;
            }
            names = Some((0..width).map(|i| unnamed(i, width)).collect());
        }
        if records.len() != guesses.len() {
            continue;
        }
        sampled += 1;
        for (i, g) in guesses.iter_mut().enumerate() {
            let raw = records.field(i);
            if nulls.iter().any(|n| n.as_slice() == raw) {
                continue;
            }
            let this = if std::str::from_utf8(raw).is_ok() { Guess::of(raw) } else { Guess::Utf8 };
            *g = g.join(this);
        }
    }
    let Some(names) = names else { return Ok(None) };
    let fields: Vec<Field> = names
        .iter()
        .zip(&guesses)
        .map(|(name, g)| {
            let ty = match g {
                Guess::Nothing | Guess::Utf8 => FieldType::String,
                Guess::Int64 => FieldType::Int64,
                Guess::Float64 => FieldType::Float64,
                Guess::Boolean => FieldType::Boolean,
                Guess::Date => FieldType::Date,
                Guess::Timestamp => FieldType::Timestamp,
            };
            Field::new(name, ty.data_type(), true)
        })
        .collect();
    Ok(Some(Schema::new(fields)))
}

/// Convenience for tests and `discover`: infer from bytes in memory.
pub fn infer_bytes(
    data: &[u8],
    d: Dialect,
    header: bool,
    sample_rows: usize,
    nulls: &[Vec<u8>],
) -> Result<Option<Schema>> {
    let start = if data.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let fetch = |off: u64, len: usize| {
        let s = off as usize;
        Ok(data[s..(s + len).min(data.len())].to_vec())
    };
    let records = Records::new(fetch, d, start, data.len() as u64, true, 64 << 20);
    infer(records, header, sample_rows, nulls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::DataType;

    #[test]
    fn names_like_duckdb() {
        let h: Vec<String> = ["a", "a", "", "b", "a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(column_names(&h), ["a", "a_1", "column2", "b", "a_2"]);
        assert_eq!(unnamed(3, 10), "column3");
        assert_eq!(unnamed(3, 11), "column03");
        assert_eq!(unnamed_index("column03"), Some(3));
        assert_eq!(unnamed_index("columns"), None);
    }

    #[test]
    fn types_from_a_sample() {
        let data = b"\xEF\xBB\xBFi,f,b,d,t,s,n,m\n1,1,true,2024-01-01,2024-01-01,x,,1\n-2,2.5,FALSE,2024-01-02,2024-01-02 10:00:00,3,,\nbad\n";
        let nulls = vec![Vec::new()];
        let s = infer_bytes(data, Dialect::default(), true, 100, &nulls).unwrap().unwrap();
        let types: Vec<(&str, &DataType)> =
            s.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
        assert_eq!(
            types,
            [
                ("i", &DataType::Int64),
                ("f", &DataType::Float64),
                ("b", &DataType::Boolean),
                ("d", &DataType::Date32),
                ("t", &FieldType::Timestamp.data_type()),
                ("s", &DataType::Utf8),
                ("n", &DataType::Utf8),
                ("m", &DataType::Int64),
            ]
        );
        // Only the first record is sampled: `s` is x → utf8 either way, `f` stays int64.
        let s = infer_bytes(data, Dialect::default(), true, 1, &nulls).unwrap().unwrap();
        assert_eq!(s.field(1).data_type(), &DataType::Int64);
        assert!(s.fields().iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn without_header_and_empty() {
        let nulls = vec![Vec::new()];
        let s = infer_bytes(b"1,a\n2,b\n", Dialect::default(), false, 100, &nulls).unwrap().unwrap();
        assert_eq!(s.field(0).name(), "column0");
        assert_eq!(s.field(0).data_type(), &DataType::Int64);
        assert!(infer_bytes(b"", Dialect::default(), true, 100, &nulls).unwrap().is_none());
        assert!(infer_bytes(b"\n\n", Dialect::default(), true, 100, &nulls).unwrap().is_none());
        let s = infer_bytes(b"a,b\n", Dialect::default(), true, 100, &nulls).unwrap().unwrap();
        assert_eq!(s.fields().len(), 2);
        assert_eq!(s.field(1).data_type(), &DataType::Utf8);
    }
}
