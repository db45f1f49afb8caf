//! The bytes of one row group that a read needs, fetched up front with
//! ranged reads and served to the `parquet` crate as a [`ChunkReader`].
//!
//! The crate's synchronous reader pulls column chunks from a `ChunkReader`
//! by offset. Rather than hand it the input handle (one host call per page
//! header), the plugin fetches exactly the byte ranges of the projected
//! column chunks of the row group it is about to decode, nearby ranges
//! merged into one read, and the reader is served from memory. Only what
//! the projection needs ever crosses from the host, and memory is bounded
//! by one row group's projected chunks.

use bytes::Bytes;
use parquet_rs::errors::{ParquetError, Result as PqResult};
use parquet_rs::file::metadata::RowGroupMetaData;
use parquet_rs::file::reader::{ChunkReader, Length};
use runtime_plugin_sdk::prelude::*;

/// Ranges closer than this are fetched in one read (the gap is read and
/// dropped: cheaper than another call for a few KiB).
const MERGE_GAP: u64 = 4 << 10;

/// Byte ranges of a file held in memory, sorted by offset.
pub struct Chunks {
    len: u64,
    ranges: Vec<(u64, Bytes)>,
}

impl Chunks {
    /// Fetches the column chunks of `rg` whose leaf index `wanted` accepts.
    pub fn fetch(input: &Input, rg: &RowGroupMetaData, wanted: impl Fn(usize) -> bool) -> Result<Self> {
        let mut spans: Vec<(u64, u64)> = rg
            .columns()
            .iter()
            .enumerate()
            .filter(|(leaf, _)| wanted(*leaf))
            .map(|(_, c)| {
                let (start, len) = c.byte_range();
                (start, start + len)
            })
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 + MERGE_GAP => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let size = input.size();
        let mut ranges = Vec::with_capacity(merged.len());
        for (s, e) in merged {
            if e > size {
                return Err(Error::invalid_input(format!(
                    "corrupt metadata: a column chunk ends at byte {e}, past the end of the file ({size} bytes)"
                )));
            }
            let mut buf = vec![0u8; (e - s) as usize];
            input.read_exact_at(s, &mut buf)?;
            ranges.push((s, Bytes::from(buf)));
        }
        Ok(Chunks { len: size, ranges })
    }

    fn slice(&self, start: u64, len: usize) -> PqResult<Bytes> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        if i > 0 {
            let (s, data) = &self.ranges[i - 1];
            let from = (start - s) as usize;
            if from + len <= data.len() {
                return Ok(data.slice(from..from + len));
            }
        }
        Err(ParquetError::General(format!(
            "the reader asked for bytes {start}..{} outside the column chunks it was given",
            start + len as u64
        )))
    }
}

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Chunks {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> PqResult<Self::T> {
        let i = self.ranges.partition_point(|(s, _)| *s <= start);
        let found = i.checked_sub(1).map(|i| &self.ranges[i]);
        match found {
            Some((s, data)) if start - s <= data.len() as u64 => {
                let from = (start - s) as usize;
                Ok(bytes::Buf::reader(data.slice(from..)))
            }
            _ => Err(ParquetError::General(format!(
                "the reader asked for byte {start}, outside the column chunks it was given"
            ))),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> PqResult<Bytes> {
        self.slice(start, length)
    }
}
