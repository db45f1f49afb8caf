//! Reading a Parquet footer through the input handle: one ranged read of
//! the file's tail (a second one only when the footer is larger than that
//! tail), decoded into the file's metadata and its Arrow schema.
//!
//! Every failure names what is wrong with the file in words (not a
//! Parquet, a footer that does not decode, an encrypted footer), so the
//! split that reads it fails with a reason a user can act on.

use parquet_rs::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet_rs::file::metadata::{FooterTail, ParquetMetaData, ParquetMetaDataReader};
use runtime_plugin_sdk::prelude::*;

/// How much of a file's end is fetched in the first read: most footers
/// fit, so one read usually gets the whole footer.
const TAIL: u64 = 64 << 10;

/// A file's decoded footer.
#[derive(Clone)]
pub struct Footer {
    pub metadata: ArrowReaderMetadata,
}

impl Footer {
    pub fn parquet(&self) -> &ParquetMetaData {
        self.metadata.metadata()
    }

    /// The Arrow schema of the file (from the embedded Arrow schema when the
    /// writer stored one, so time zones and dictionaries survive).
    pub fn schema(&self) -> &SchemaRef {
        self.metadata.schema()
    }
}

/// Reads and decodes the footer of `input`. The error says what is wrong,
/// without the file's name (the caller adds it).
pub fn read(input: &Input) -> Result<Footer> {
    let size = input.size();
    if size < 12 {
        return Err(Error::invalid_input(format!("not a Parquet file: only {size} bytes")));
    }
    let tail_len = size.min(TAIL);
    let tail = input.read_at(size - tail_len, tail_len as usize)?;
    if tail.len() as u64 != tail_len {
        return Err(Error::io(format!("the input ended early: read {} of {tail_len} bytes", tail.len())));
    }
    let last8: [u8; 8] = tail[tail.len() - 8..].try_into().expect("8 bytes");
    let footer = FooterTail::try_new(&last8).map_err(|_| {
        Error::invalid_input("corrupt footer: the file does not end with the Parquet magic `PAR1`")
    })?;
    if footer.is_encrypted_footer() {
        return Err(Error::unsupported("the footer is encrypted (Parquet modular encryption)"));
    }
    let meta_len = footer.metadata_length() as u64;
    if meta_len + 8 > size - 4 {
        return Err(Error::invalid_input(format!(
            "corrupt footer: it claims {meta_len} bytes of metadata in a file of {size} bytes"
        )));
    }
    let meta_start = size - 8 - meta_len;
    let bytes = if meta_len + 8 <= tail_len {
        let from = (tail_len - 8 - meta_len) as usize;
        tail[from..tail.len() - 8].to_vec()
    } else {
        let mut buf = vec![0u8; meta_len as usize];
        input.read_exact_at(meta_start, &mut buf)?;
        buf
    };
    let metadata = ParquetMetaDataReader::decode_metadata(&bytes)
        .map_err(|e| Error::invalid_input(format!("corrupt footer: {e}")))?;
    let metadata = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
        .map_err(|e| Error::unsupported(format!("cannot read the schema as Arrow: {e}")))?;
    Ok(Footer { metadata })
}

/// A row group as planning sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowGroup {
    pub rows: u64,
    /// Compressed bytes of its column chunks (of the projected columns when
    /// a projection is given).
    pub bytes: u64,
}

/// The row groups of a file, sized by the chunks of the root columns in
/// `roots` (`None`: all columns).
pub fn row_groups(meta: &ParquetMetaData, roots: Option<&[usize]>) -> Vec<RowGroup> {
    let schema = meta.file_metadata().schema_descr();
    meta.row_groups()
        .iter()
        .map(|rg| {
            let bytes = rg
                .columns()
                .iter()
                .enumerate()
                .filter(|(leaf, _)| roots.is_none_or(|r| r.contains(&schema.get_column_root_idx(*leaf))))
                .map(|(_, c)| c.compressed_size().max(0) as u64)
                .sum();
            RowGroup { rows: rg.num_rows().max(0) as u64, bytes }
        })
        .collect()
}
