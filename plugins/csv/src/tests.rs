//! Whole-split tests of [`read_range`] and planning, natively.

use super::*;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};

#[derive(Default)]
struct Collect {
    batches: Vec<RecordBatch>,
    rejects: Vec<(u64, String)>,
}

impl Sink for Collect {
    fn emit(&mut self, batch: &RecordBatch) -> Result<()> {
        self.batches.push(batch.clone());
        Ok(())
    }
    fn reject(&mut self, line: u64, reason: &str) {
        self.rejects.push((line, reason.to_string()));
    }
}

impl Collect {
    fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
    /// Every row as text, `∅` for null, in order.
    fn text_rows(&self) -> Vec<String> {
        use arrow_array::types::{Date32Type, TimestampMicrosecondType};
        let mut out = Vec::new();
        for b in &self.batches {
            for r in 0..b.num_rows() {
                let row: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(r) {
                            return "∅".to_string();
                        }
                        match c.data_type() {
                            DataType::Utf8 => c.as_string::<i32>().value(r).to_string(),
                            DataType::Int64 => c.as_primitive::<Int64Type>().value(r).to_string(),
                            DataType::Float64 => c.as_primitive::<Float64Type>().value(r).to_string(),
                            DataType::Boolean => c.as_boolean().value(r).to_string(),
                            DataType::Date32 => c.as_primitive::<Date32Type>().value(r).to_string(),
                            _ => c.as_primitive::<TimestampMicrosecondType>().value(r).to_string(),
                        }
                    })
                    .collect();
                out.push(row.join("|"));
            }
        }
        out
    }
}

/// A reader set up from JSON options, with its schema discovered from `data`.
fn setup(json: &str, data: &[u8]) -> Csv {
    let options: Options = runtime_plugin_sdk::options::parse(json).unwrap();
    let mut csv = Csv::new(options).unwrap();
    if csv.schema.is_none() {
        let d = csv.dialect;
        let s = infer::infer_bytes(data, d, csv.options.header, csv.options.sample_rows, &csv.nulls)
            .unwrap()
            .unwrap();
        csv.schema = Some(Arc::new(s));
    }
    csv
}

fn fetcher(data: &[u8], chunk: usize) -> impl FnMut(u64, usize) -> Result<Vec<u8>> + '_ {
    move |off: u64, len: usize| {
        let s = (off as usize).min(data.len());
        Ok(data[s..(s + len.min(chunk)).min(data.len())].to_vec())
    }
}

fn read(csv: &Csv, data: &[u8], start: u64, end: u64, chunk: usize) -> Collect {
    let lines = data[..start as usize].iter().filter(|c| **c == b'\n').count() as u64;
    read_lines(csv, data, boundary::Range { start, end, lines }, chunk)
}

fn read_lines(csv: &Csv, data: &[u8], range: boundary::Range, chunk: usize) -> Collect {
    let mut sink = Collect::default();
    let schema = csv.schema.clone().unwrap();
    read_range(
        fetcher(data, chunk),
        data.len() as u64,
        range,
        &csv.options,
        csv.dialect,
        &csv.nulls,
        &schema,
        &mut sink,
    )
    .unwrap();
    sink
}

/// Reads `data` cut into splits of at most `max` bytes, as a run would.
fn read_split(csv: &Csv, data: &[u8], max: u64, chunk: usize) -> (Collect, usize) {
    let ranges = boundary::cut(data.len() as u64, max, csv.dialect, fetcher(data, usize::MAX)).unwrap();
    let mut all = Collect::default();
    for r in &ranges {
        let c = read_lines(csv, data, *r, chunk);
        all.batches.extend(c.batches);
        all.rejects.extend(c.rejects);
    }
    (all, ranges.len())
}

const TYPED: &str = r#"{"fields":[{"name":"id","type":"int64","nullable":false},{"name":"x","type":"float64"},{"name":"note","type":"string"}],"batch_rows":2}"#;

#[test]
fn typed_fields_nulls_and_rejects_with_line_numbers() {
    let data = b"\xEF\xBB\xBFnote,id,x\r\n\"a,b\",1,1.5\r\n\"multi\r\nline\",2,\r\n,3,x\r\nonly,two\r\n\"q\"\"\",,4\r\n\r\nlast,5,-2e1";
    for chunk in [1, 4, 1 << 20] {
        let csv = setup(TYPED, data);
        let c = read(&csv, data, 0, data.len() as u64, chunk);
        assert_eq!(c.rows(), 3, "chunk {chunk}: {:?}", c.rejects);
        assert_eq!(c.batches[0].num_rows(), 2);
        let ids: Vec<i64> = c
            .batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, [1, 2, 5]);
        let x = c.batches[0].column(1).as_primitive::<Float64Type>();
        assert_eq!(x.value(0), 1.5);
        assert!(x.is_null(1), "an empty field is null");
        assert_eq!(c.batches[0].column(2).as_string::<i32>().value(1), "multi\r\nline");
        assert_eq!(c.batches[1].column(1).as_primitive::<Float64Type>().value(0), -20.0);
        let want = vec![
            (5, "field `x`: `x` is not a float64".to_string()),
            (6, "expected 3 fields, found 2".to_string()),
            (7, "field `id` is null".to_string()),
        ];
        assert_eq!(c.rejects, want, "chunk {chunk}");
    }
}

#[test]
fn inferred_columns_and_projection() {
    let data = b"a,b,c\n1,x,2024-01-01\n2,,2024-01-02\n";
    let mut csv = setup("{}", data);
    let s = csv.schema.clone().unwrap();
    assert_eq!(s.field(0).data_type(), &DataType::Int64);
    assert_eq!(s.field(2).data_type(), &DataType::Date32);
    // The host configures a projection: only `c` and `a`'s order is kept.
    let projected = Arc::new(s.project(&[0, 2]).unwrap());
    csv.configure(&[("rows".into(), projected)]).unwrap();
    let c = read(&csv, data, 0, data.len() as u64, 7);
    assert_eq!(c.rows(), 2);
    assert_eq!(c.batches[0].num_columns(), 2);
    assert_eq!(c.batches[0].schema().field(1).name(), "c");
}

#[test]
fn header_false_by_position() {
    let data = b"1,a\n2,b,extra\n3,c\n";
    let json = r#"{"header":false,"fields":[{"name":"n","type":"int64"},{"name":"s","type":"string"}]}"#;
    let csv = setup(json, data);
    let c = read(&csv, data, 0, data.len() as u64, 3);
    assert_eq!(c.text_rows().len(), 2);
    assert_eq!(c.rejects, vec![(2, "expected 2 fields, found 3".to_string())]);
    let csv = setup(r#"{"header":false}"#, data);
    assert_eq!(csv.schema.as_ref().unwrap().field(1).name(), "column1");
    assert_eq!(read(&csv, data, 0, data.len() as u64, 3).rows(), 2);
}

#[test]
fn a_missing_header_column_fails_the_split_with_its_name() {
    let data = b"a,b\n1,2\n";
    let json = r#"{"fields":[{"name":"z","type":"int64"}]}"#;
    let csv = setup(json, data);
    let schema = csv.schema.clone().unwrap();
    let mut sink = Collect::default();
    let range = boundary::Range { start: 0, end: 8, lines: 0 };
    let e = read_range(fetcher(data, 9), 8, range, &csv.options, csv.dialect, &csv.nulls, &schema, &mut sink)
        .unwrap_err();
    assert_eq!(e.message, "no column `z` in the header (it has a, b)");
}

#[test]
fn empty_and_header_only_files_have_no_rows() {
    for data in [&b""[..], b"\xEF\xBB\xBF", b"note,id,x\n", b"note,id,x", b"\n\n"] {
        let csv = setup(TYPED, data);
        let c = read(&csv, data, 0, data.len() as u64, 2);
        assert_eq!((c.rows(), c.rejects.len()), (0, 0), "{data:?}");
    }
}

#[test]
fn escape_and_custom_nulls() {
    let data = b"a;b\n'it\\'s';NA\n'x;y';''\n";
    let json = r#"{"delimiter":";","quote":"'","escape":"\\","null_strings":["NA"]}"#;
    let csv = setup(json, data);
    let c = read(&csv, data, 0, data.len() as u64, 5);
    assert_eq!(c.text_rows(), ["it's|∅", "x;y|"]);
}

#[test]
fn one_column_files_read_blank_lines_as_nulls() {
    let data = b"a\n1\n\n2\n";
    let csv = setup("{}", data);
    let c = read(&csv, data, 0, data.len() as u64, 3);
    assert_eq!(c.rows(), 3);
    assert!(c.batches.iter().any(|b| b.column(0).null_count() == 1));
}

/// A file of many records with quoted newlines, some of whose lines look
/// like whole records, and a malformed record.
fn quoted_newlines(rows: usize) -> Vec<u8> {
    let mut rng = boundary::tests::Rng(42);
    let mut data = b"\xEF\xBB\xBFid,note,x\r\n".to_vec();
    for i in 0..rows {
        let note = match rng.below(4) {
            0 => "plain".to_string(),
            1 => format!("\"{}\"", "1,fake,2\n".repeat(rng.below(5))),
            2 => format!("\"say \"\"hi\"\"\r\n{}\"", i),
            _ => String::new(),
        };
        data.extend_from_slice(format!("{i},{note},{}.5\r\n", rng.below(100)).as_bytes());
        if i == rows / 2 {
            data.extend_from_slice(b"broken,line\r\n");
        }
    }
    data
}

#[test]
fn many_small_splits_give_the_rows_of_one() {
    let data = quoted_newlines(2000);
    let json = r#"{"fields":[{"name":"id","type":"int64"},{"name":"note","type":"string"},{"name":"x","type":"float64"}]}"#;
    let csv = setup(json, &data);
    let one = read(&csv, &data, 0, data.len() as u64, 1 << 20);
    assert_eq!(one.rows(), 2000);
    assert_eq!(one.rejects.len(), 1);
    for (max, chunk) in [(4096, 1 << 20), (500, 77), (64, 1 << 20)] {
        let (many, n) = read_split(&csv, &data, max, chunk);
        assert!(n > data.len() / max as usize / 2, "{n} splits");
        assert_eq!(many.text_rows(), one.text_rows(), "max {max}");
        assert_eq!(many.rejects, one.rejects, "max {max}");
    }
    // Inferred the same way, too.
    let csv = setup("{}", &data);
    let one = read(&csv, &data, 0, data.len() as u64, 1 << 20);
    let (many, _) = read_split(&csv, &data, 300, 1 << 20);
    assert_eq!(many.text_rows(), one.text_rows());
}

#[test]
fn payloads() {
    assert_eq!(parse_payload("3..10:2", 10).unwrap(), boundary::Range { start: 3, end: 10, lines: 2 });
    assert!(parse_payload("3..11:0", 10).is_err());
    assert!(parse_payload("3..10", 10).is_err());
    assert!(parse_payload("x", 10).is_err());
}

#[test]
fn invalid_utf8_rejects_only_when_a_read_field_has_it() {
    // Row 2 splits `é` across two fields: the record is valid UTF-8 as a
    // whole, each field is not. Row 3 has bad bytes in an unread column.
    let data = b"a,b,c\nx,y,1\n\xC3,\xA9,2\nok,fine,\xFF\n";
    let json = r#"{"fields":[{"name":"a","type":"string"},{"name":"b","type":"string"}]}"#;
    let csv = setup(json, data);
    let c = read(&csv, data, 0, data.len() as u64, 1 << 20);
    assert_eq!(c.text_rows(), ["x|y", "ok|fine"]);
    assert_eq!(c.rejects, vec![(3, "field `a` is not valid UTF-8 (at byte 0)".to_string())]);
}

#[test]
fn dictionary_fields_hold_each_value_once_per_batch() {
    let json = r#"{"fields":[{"name":"team","type":"string","dictionary":true},{"name":"n","type":"int64"}],"batch_rows":3}"#;
    let data = b"team,n\nweb,1\ndb,2\nweb,3\n,4\nweb,5\n";
    let csv = setup(json, data);
    let c = read(&csv, data, 0, data.len() as u64, 1 << 20);
    assert_eq!(c.rows(), 5);
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    assert_eq!(c.batches[0].schema().field(0).data_type(), &dict);
    let first = c.batches[0].column(0).as_dictionary::<arrow_array::types::Int32Type>();
    assert_eq!(first.values().len(), 2, "web and db, once each");
    let values: Vec<Option<&str>> = first.downcast_dict::<StringArray>().unwrap().into_iter().collect();
    assert_eq!(values, [Some("web"), Some("db"), Some("web")]);
    let second = c.batches[1].column(0).as_dictionary::<arrow_array::types::Int32Type>();
    let values: Vec<Option<&str>> = second.downcast_dict::<StringArray>().unwrap().into_iter().collect();
    assert_eq!(values, [None, Some("web")], "an empty field is null; a new batch, a new dictionary");
    let e = Csv::new(
        runtime_plugin_sdk::options::parse(r#"{"fields":[{"name":"n","type":"int64","dictionary":true}]}"#)
            .unwrap(),
    )
    .err()
    .unwrap();
    assert!(e.message.starts_with("fields[0].dictionary: only string fields"), "{}", e.message);
}
