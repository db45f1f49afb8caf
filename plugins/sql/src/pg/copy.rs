//! Decoding the `COPY ... TO STDOUT (FORMAT binary)` stream into Arrow.
//!
//! The stream is a signature header, then one tuple per row (a field count
//! and, per field, a length and the value in its binary send format; `-1`
//! is NULL), then a `-1` trailer. PostgreSQL sends one tuple per `CopyData`
//! message, so tuples are decoded straight from the connection's buffer;
//! a tuple split across messages is carried over and decoded once complete.

use super::types::{Decode, decode};
use crate::columns::BatchBuilder;
use arrow_array::RecordBatch;
use runtime_plugin_sdk::error::{Error, Result};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Incremental decoder of one binary COPY stream.
pub struct CopyDecoder<'a> {
    decodes: &'a [Decode],
    names: &'a [String],
    header_done: bool,
    finished: bool,
    carry: Vec<u8>,
}

impl<'a> CopyDecoder<'a> {
    pub fn new(decodes: &'a [Decode], names: &'a [String]) -> Self {
        CopyDecoder { decodes, names, header_done: false, finished: false, carry: Vec::new() }
    }

    /// Decodes the tuples completed by `data`.
    pub fn feed(
        &mut self,
        data: &[u8],
        batch: &mut BatchBuilder,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        if self.carry.is_empty() {
            let used = self.consume(data, batch, emit)?;
            self.carry.extend_from_slice(&data[used..]);
        } else {
            let mut carry = std::mem::take(&mut self.carry);
            carry.extend_from_slice(data);
            let used = self.consume(&carry, batch, emit)?;
            carry.drain(..used);
            self.carry = carry;
        }
        Ok(())
    }

    /// Checks that the stream ended with its trailer.
    pub fn finish(&self) -> Result<()> {
        if self.finished && self.carry.is_empty() {
            Ok(())
        } else {
            Err(Error::io("the COPY stream ended before its trailer").retryable())
        }
    }

    /// Decodes complete tuples from `data`; returns the bytes used.
    fn consume(
        &mut self,
        data: &[u8],
        batch: &mut BatchBuilder,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<usize> {
        let mut at = 0;
        if !self.header_done {
            if data.len() < 19 {
                return Ok(0);
            }
            if &data[..11] != SIGNATURE {
                return Err(Error::invalid_input("the COPY stream has no binary signature"));
            }
            let ext = u32::from_be_bytes(data[15..19].try_into().unwrap()) as usize;
            if data.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.header_done = true;
        }
        let ncols = self.decodes.len();
        loop {
            if self.finished {
                if at < data.len() {
                    return Err(Error::invalid_input("data after the end of the COPY stream"));
                }
                return Ok(at);
            }
            if data.len() - at < 2 {
                return Ok(at);
            }
            let fields = i16::from_be_bytes([data[at], data[at + 1]]);
            if fields == -1 {
                self.finished = true;
                at += 2;
                continue;
            }
            if fields as usize != ncols {
                return Err(Error::internal(format!("COPY tuple has {fields} fields, expected {ncols}")));
            }
            // First make sure the whole tuple is here, then decode it.
            let mut p = at + 2;
            for _ in 0..ncols {
                if p + 4 > data.len() {
                    return Ok(at);
                }
                let len = i32::from_be_bytes(data[p..p + 4].try_into().unwrap());
                p += 4 + len.max(0) as usize;
                if p > data.len() {
                    return Ok(at);
                }
            }
            let mut p = at + 2;
            for (c, column) in batch.columns.iter_mut().enumerate() {
                let len = i32::from_be_bytes(data[p..p + 4].try_into().unwrap());
                p += 4;
                if len < 0 {
                    column.append_null();
                } else {
                    let end = p + len as usize;
                    decode(&self.decodes[c], &data[p..end], column)
                        .map_err(|e| e.context(format!("column `{}`", self.names[c])))?;
                    p = end;
                }
            }
            at = p;
            batch.row_done(emit)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::{ColumnType, schema_of};
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    fn stream(rows: &[(Option<i64>, Option<&str>)]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend_from_slice(&[0; 8]);
        for (id, name) in rows {
            v.extend_from_slice(&2i16.to_be_bytes());
            match id {
                Some(id) => {
                    v.extend_from_slice(&8i32.to_be_bytes());
                    v.extend_from_slice(&id.to_be_bytes());
                }
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            }
            match name {
                Some(n) => {
                    v.extend_from_slice(&(n.len() as i32).to_be_bytes());
                    v.extend_from_slice(n.as_bytes());
                }
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        v.extend_from_slice(&(-1i16).to_be_bytes());
        v
    }

    #[test]
    fn decodes_across_arbitrary_chunk_boundaries() {
        let rows: Vec<(Option<i64>, Option<&str>)> = (0..50)
            .map(|i| {
                (if i % 7 == 0 { None } else { Some(i) }, if i % 5 == 0 { None } else { Some("né\n\"x\"") })
            })
            .collect();
        let data = stream(&rows);
        let columns = vec![("id".to_string(), ColumnType::Int64), ("name".to_string(), ColumnType::Utf8)];
        let names: Vec<String> = columns.iter().map(|c| c.0.clone()).collect();
        let types: Vec<ColumnType> = columns.iter().map(|c| c.1.clone()).collect();
        let decodes = [Decode::Int8, Decode::Text];
        for chunk in [1, 3, 7, 64, data.len()] {
            let mut batch = BatchBuilder::new(schema_of(&columns), &types, 16).unwrap();
            let mut out = Vec::new();
            let mut emit = |b: RecordBatch| {
                out.push(b);
                Ok(())
            };
            let mut dec = CopyDecoder::new(&decodes, &names);
            for piece in data.chunks(chunk) {
                dec.feed(piece, &mut batch, &mut emit).unwrap();
            }
            dec.finish().unwrap();
            batch.flush(&mut emit).unwrap();
            assert_eq!(out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![16, 16, 16, 2]);
            let ids: Vec<Option<i64>> = out
                .iter()
                .flat_map(|b| b.column(0).as_primitive::<Int64Type>().iter().collect::<Vec<_>>())
                .collect();
            assert_eq!(ids, rows.iter().map(|r| r.0).collect::<Vec<_>>());
            let names: Vec<Option<String>> = out
                .iter()
                .flat_map(|b| {
                    b.column(1).as_string::<i32>().iter().map(|s| s.map(String::from)).collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(names, rows.iter().map(|r| r.1.map(String::from)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn detects_a_truncated_stream() {
        let data = stream(&[(Some(1), Some("a"))]);
        let columns = vec![("id".to_string(), ColumnType::Int64), ("name".to_string(), ColumnType::Utf8)];
        let names = vec!["id".to_string(), "name".to_string()];
        let mut batch =
            BatchBuilder::new(schema_of(&columns), &[ColumnType::Int64, ColumnType::Utf8], 16).unwrap();
        let mut dec = CopyDecoder::new(&[Decode::Int8, Decode::Text], &names);
        dec.feed(&data[..data.len() - 5], &mut batch, &mut |_| Ok(())).unwrap();
        let e = dec.finish().unwrap_err();
        assert!(e.retryable);
    }
}
