//! Where the bytes come from: the [`ReadAt`] trait (positioned reads over a
//! file of known size), an adapter for any `Read + Seek` ([`SeekSource`]),
//! and the small chunk cache every PST read goes through ([`CachedSource`]).
//!
//! In the plugin the source is the host's input handle; natively it is a
//! file or an in-memory buffer. The cache keeps a fixed number of aligned
//! chunks, so memory stays bounded however large the mailbox is, while the
//! B-tree pages near the top of the trees stay hot.

use crate::error::{PstError, Result};
use std::io::{Read, Seek, SeekFrom};

/// Positioned reads over an input of known size.
pub trait ReadAt {
    /// Size of the input in bytes.
    fn size(&self) -> u64;
    /// Reads up to `buf.len()` bytes at `offset`; returns fewer only at the
    /// end of the input.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize>;
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        (**self).read_at(offset, buf)
    }
}

/// [`ReadAt`] over anything that is `Read + Seek` (a file, a `Cursor`, the
/// SDK's buffered input reader).
pub struct SeekSource<T> {
    inner: T,
    size: u64,
    pos: Option<u64>,
}

impl<T: Read + Seek> SeekSource<T> {
    /// Wraps `inner`; its size is found by seeking to the end.
    pub fn new(mut inner: T) -> Result<Self> {
        let size = inner.seek(SeekFrom::End(0))?;
        Ok(SeekSource { inner, size, pos: None })
    }
}

impl<T: Read + Seek> ReadAt for SeekSource<T> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        if self.pos != Some(offset) {
            self.inner.seek(SeekFrom::Start(offset))?;
        }
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pos = None;
                    return Err(e.into());
                }
            }
        }
        self.pos = Some(offset + done as u64);
        Ok(done)
    }
}

/// Size of one cached chunk.
pub const CHUNK: usize = 32 * 1024;
/// Number of chunks kept (1 MiB in all).
const SLOTS: usize = 32;

struct Slot {
    index: u64,
    data: Vec<u8>,
    used: u64,
}

/// A [`ReadAt`] with a small least-recently-used cache of aligned chunks,
/// and exact reads that fail cleanly past the end of the input.
pub struct CachedSource<R> {
    inner: R,
    size: u64,
    slots: Vec<Slot>,
    tick: u64,
    /// Number of reads sent to the underlying source (for measurements).
    pub fetches: u64,
}

impl<R: ReadAt> CachedSource<R> {
    pub fn new(inner: R) -> Self {
        let size = inner.size();
        CachedSource { inner, size, slots: Vec::with_capacity(SLOTS), tick: 0, fetches: 0 }
    }

    /// Size of the input in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fills `buf` from `offset`, or fails as corrupt when the input ends
    /// first (a length or offset read from the file pointing past its end).
    pub fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.size) {
            return Err(PstError::corrupt(format!(
                "read of {} bytes at offset {offset} goes past the end of the file ({} bytes)",
                buf.len(),
                self.size
            )));
        }
        if buf.len() > 2 * CHUNK {
            self.fetches += 1;
            let n = self.inner.read_at(offset, buf)?;
            if n < buf.len() {
                return Err(PstError::io(format!("short read at offset {offset}")));
            }
            return Ok(());
        }
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let index = at / CHUNK as u64;
            let within = (at % CHUNK as u64) as usize;
            let slot = self.chunk(index)?;
            let data = &self.slots[slot].data;
            if within >= data.len() {
                return Err(PstError::io(format!("short read at offset {at}")));
            }
            let n = (data.len() - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&data[within..within + n]);
            done += n;
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset` into a new vector (see `read_exact_at`).
    pub fn read_vec(&mut self, offset: u64, len: usize) -> Result<Vec<u8>> {
        if offset.checked_add(len as u64).is_none_or(|end| end > self.size) {
            return Err(PstError::corrupt(format!(
                "read of {len} bytes at offset {offset} goes past the end of the file ({} bytes)",
                self.size
            )));
        }
        let mut buf = vec![0u8; len];
        self.read_exact_at(offset, &mut buf)?;
        Ok(buf)
    }

    fn chunk(&mut self, index: u64) -> Result<usize> {
        self.tick += 1;
        if let Some(i) = self.slots.iter().position(|s| s.index == index) {
            self.slots[i].used = self.tick;
            return Ok(i);
        }
        let start = index * CHUNK as u64;
        let len = (self.size - start).min(CHUNK as u64) as usize;
        let slot = if self.slots.len() < SLOTS {
            self.slots.push(Slot { index, data: vec![0; CHUNK], used: 0 });
            self.slots.len() - 1
        } else {
            let (i, _) = self.slots.iter().enumerate().min_by_key(|(_, s)| s.used).expect("slots");
            i
        };
        let s = &mut self.slots[slot];
        s.index = u64::MAX;
        s.data.resize(len, 0);
        self.fetches += 1;
        let n = self.inner.read_at(start, &mut s.data)?;
        s.data.truncate(n);
        s.index = index;
        s.used = self.tick;
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn seek_source_reads_ranges() {
        let data = sample(1000);
        let mut s = SeekSource::new(Cursor::new(data.clone())).unwrap();
        assert_eq!(s.size(), 1000);
        let mut buf = [0u8; 10];
        assert_eq!(s.read_at(995, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], &data[995..]);
        assert_eq!(s.read_at(2000, &mut buf).unwrap(), 0);
    }

    #[test]
    fn cached_reads_across_chunks_match() {
        let data = sample(CHUNK * 3 + 100);
        let mut c = CachedSource::new(SeekSource::new(Cursor::new(data.clone())).unwrap());
        for (off, len) in [(0, 10), (CHUNK - 5, 10), (CHUNK * 3, 100), (10, CHUNK * 2 + 7), (5, CHUNK * 3)] {
            assert_eq!(c.read_vec(off as u64, len).unwrap(), data[off..off + len], "{off}+{len}");
        }
    }

    #[test]
    fn past_end_is_corrupt_not_panic() {
        let mut c = CachedSource::new(SeekSource::new(Cursor::new(sample(100))).unwrap());
        let e = c.read_vec(90, 20).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Corrupt);
        assert!(c.read_vec(u64::MAX - 2, 10).is_err());
    }

    #[test]
    fn cache_is_bounded() {
        let data = sample(CHUNK * (SLOTS + 10));
        let mut c = CachedSource::new(SeekSource::new(Cursor::new(data)).unwrap());
        for i in 0..SLOTS + 10 {
            c.read_vec((i * CHUNK) as u64, 4).unwrap();
        }
        assert_eq!(c.slots.len(), SLOTS);
        let before = c.fetches;
        c.read_vec(((SLOTS + 9) * CHUNK) as u64, 4).unwrap();
        assert_eq!(c.fetches, before, "most recent chunk stays cached");
    }
}
