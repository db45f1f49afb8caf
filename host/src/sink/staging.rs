//! Staging: the output of a split is held until the split ends, then
//! committed to the sinks or discarded. A failed or retried split therefore
//! leaves no rows behind, and no row is written twice.
//!
//! Staged batches live in memory up to a budget (`run.max_staged_bytes`);
//! past it, the largest staged unit moves to a spill file on disk and its
//! later batches follow it there. A spill file is a sequence of frames:
//! `u32 sink`, `u64 length`, then one Arrow IPC stream.

use super::error::{Context, SinkError};
use crate::ipc;
use arrow_array::RecordBatch;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// A unit of staged output: one attempt of one split, or the final phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Split { index: u32, attempt: u32 },
    Final,
}

struct Spill {
    file: BufWriter<File>,
    _tmp: tempfile::TempPath,
    path: std::path::PathBuf,
}

#[derive(Default)]
struct Staged {
    batches: Vec<(usize, RecordBatch)>,
    bytes: u64,
    spill: Option<Spill>,
}

/// All units in flight.
pub struct Staging {
    units: HashMap<Unit, Staged>,
    in_memory: u64,
    budget: u64,
    spill_dir: std::path::PathBuf,
    pub spilled_bytes: u64,
}

impl Staging {
    pub fn new(budget: u64, spill_dir: &Path) -> Self {
        Staging {
            units: HashMap::new(),
            in_memory: 0,
            budget,
            spill_dir: spill_dir.to_path_buf(),
            spilled_bytes: 0,
        }
    }

    /// Holds a batch of `unit` for `sink`.
    pub fn add(&mut self, unit: Unit, sink: usize, batch: RecordBatch) -> Result<(), SinkError> {
        let size = batch_bytes(&batch);
        let staged = self.units.entry(unit).or_default();
        if let Some(spill) = &mut staged.spill {
            self.spilled_bytes += write_frame(&mut spill.file, sink, &batch)?;
            return Ok(());
        }
        staged.batches.push((sink, batch));
        staged.bytes += size;
        self.in_memory += size;
        while self.in_memory > self.budget {
            if !self.spill_largest()? {
                break;
            }
        }
        Ok(())
    }

    fn spill_largest(&mut self) -> Result<bool, SinkError> {
        let Some((&unit, _)) = self.units.iter().filter(|(_, s)| s.bytes > 0).max_by_key(|(_, s)| s.bytes)
        else {
            return Ok(false);
        };
        let staged = self.units.get_mut(&unit).expect("present");
        if staged.spill.is_none() {
            std::fs::create_dir_all(&self.spill_dir).context(|| format!("cannot create spill folder"))?;
            let tmp = tempfile::Builder::new()
                .prefix(".runtime-spill-")
                .tempfile_in(&self.spill_dir)
                .context(|| format!("cannot create a spill file in {}", self.spill_dir.display()))?;
            let (file, tmp) = tmp.into_parts();
            let path = tmp.to_path_buf();
            staged.spill = Some(Spill { file: BufWriter::with_capacity(1 << 20, file), _tmp: tmp, path });
        }
        let spill = staged.spill.as_mut().expect("created above");
        for (sink, batch) in staged.batches.drain(..) {
            self.spilled_bytes += write_frame(&mut spill.file, sink, &batch)?;
        }
        self.in_memory -= staged.bytes;
        staged.bytes = 0;
        Ok(true)
    }

    /// Hands every batch of `unit`, in order, to `f`, and forgets the unit.
    pub fn commit(
        &mut self,
        unit: Unit,
        mut f: impl FnMut(usize, RecordBatch) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        let Some(staged) = self.units.remove(&unit) else { return Ok(()) };
        self.in_memory -= staged.bytes;
        if let Some(mut spill) = staged.spill {
            spill.file.flush().context(|| format!("spill file"))?;
            let mut r =
                BufReader::with_capacity(1 << 20, File::open(&spill.path).context(|| format!("spill file"))?);
            while let Some((sink, batch)) = read_frame(&mut r)? {
                f(sink, batch)?;
            }
        }
        for (sink, batch) in staged.batches {
            f(sink, batch)?;
        }
        Ok(())
    }

    /// Forgets `unit` and its batches.
    pub fn discard(&mut self, unit: Unit) {
        if let Some(staged) = self.units.remove(&unit) {
            self.in_memory -= staged.bytes;
        }
    }

    #[cfg(test)]
    pub fn in_memory(&self) -> u64 {
        self.in_memory
    }
}

/// Memory a batch holds. Arrays decoded from one IPC message share that
/// message's buffer, and `get_array_memory_size` would charge the whole
/// buffer to every array; count each array's own slice instead.
pub fn batch_bytes(batch: &RecordBatch) -> u64 {
    batch
        .columns()
        .iter()
        .map(|c| {
            let data = c.to_data();
            data.get_slice_memory_size().unwrap_or_else(|_| c.get_array_memory_size()) as u64
        })
        .sum()
}

fn write_frame(w: &mut impl Write, sink: usize, batch: &RecordBatch) -> Result<u64, SinkError> {
    let bytes = ipc::encode_batch(batch).context(|| format!("spilling"))?;
    let io =
        |e: std::io::Error| SinkError::Failed { context: "writing a spill file".into(), cause: e.into() };
    w.write_all(&(sink as u32).to_le_bytes()).map_err(io)?;
    w.write_all(&(bytes.len() as u64).to_le_bytes()).map_err(io)?;
    w.write_all(&bytes).map_err(io)?;
    Ok(bytes.len() as u64 + 12)
}

fn read_frame(r: &mut impl Read) -> Result<Option<(usize, RecordBatch)>, SinkError> {
    let mut head = [0u8; 12];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e).context(|| "reading a spill file".into()),
    }
    let sink = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
    let len = u64::from_le_bytes(head[4..].try_into().unwrap()) as usize;
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes).context(|| format!("reading a spill file"))?;
    let batch = ipc::decode_batch(bytes).context(|| "reading a spill file".into())?;
    Ok(Some((sink, batch)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array};
    use std::sync::Arc;

    fn batch(v: i64, n: usize) -> RecordBatch {
        RecordBatch::try_from_iter([("v", Arc::new(Int64Array::from(vec![v; n])) as ArrayRef)]).unwrap()
    }

    fn commit(s: &mut Staging, unit: Unit) -> Vec<(usize, i64, usize)> {
        let mut out = Vec::new();
        s.commit(unit, |sink, b| {
            let c = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            out.push((sink, c.value(0), b.num_rows()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn commit_keeps_order_across_spills() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new(10_000, dir.path());
        let a = Unit::Split { index: 0, attempt: 0 };
        let b = Unit::Split { index: 1, attempt: 0 };
        s.add(a, 0, batch(1, 1000)).unwrap(); // ~8 KB
        s.add(b, 1, batch(2, 10)).unwrap();
        s.add(a, 0, batch(3, 1000)).unwrap(); // over budget: a spills
        assert!(s.spilled_bytes > 0);
        s.add(a, 1, batch(4, 5)).unwrap(); // follows a to disk
        assert_eq!(commit(&mut s, a), vec![(0, 1, 1000), (0, 3, 1000), (1, 4, 5)]);
        assert_eq!(commit(&mut s, b), vec![(1, 2, 10)]);
        assert_eq!(s.in_memory(), 0);
    }

    #[test]
    fn shared_buffers_are_counted_once() {
        // Two columns decoded from one IPC message share its buffer.
        let b = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![1i64; 10_000])) as ArrayRef),
            ("b", Arc::new(Int64Array::from(vec![2i64; 10_000])) as ArrayRef),
        ])
        .unwrap();
        let decoded = crate::ipc::decode_batch(crate::ipc::encode_batch(&b).unwrap()).unwrap();
        assert!(decoded.get_array_memory_size() > 150_000, "each array is charged the whole message");
        assert_eq!(batch_bytes(&decoded), 160_000);
    }

    #[test]
    fn discard_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new(1 << 30, dir.path());
        let a = Unit::Split { index: 0, attempt: 0 };
        s.add(a, 0, batch(1, 10)).unwrap();
        s.discard(a);
        assert_eq!(s.in_memory(), 0);
        assert!(commit(&mut s, a).is_empty());
    }
}
