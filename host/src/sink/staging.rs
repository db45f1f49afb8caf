//! Staging: the output of a split is held until the split ends, then
//! committed to the sinks or discarded. A failed or retried split therefore
//! leaves no rows behind, and no row is written twice.
//!
//! Staged batches live in memory up to a budget (`run.max_staged_bytes`);
//! past it, the largest staged unit moves to a spill file on disk and its
//! later batches follow it there. A spill file is a sequence of frames:
//! `u32 sink`, `u64 length`, then one Arrow IPC stream.
//!
//! What is charged is what is held ([`retained_bytes`]): every buffer a
//! batch keeps alive, once (a batch decoded from a plugin's IPC message
//! keeps the whole message, its metadata included), plus a per-batch
//! overhead. Small batches of a unit are coalesced per sink into batches of
//! about [`COALESCE_BYTES`], copied into compact buffers, so a plugin that
//! emits millions of one-row batches, or one-row batches with megabytes of
//! metadata each, holds a few compact batches, not millions of messages.

use super::error::{Context, SinkError};
use crate::ipc;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, make_array};
use arrow_data::{ArrayData, transform::MutableArrayData};
use std::collections::{HashMap, HashSet};
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

/// Batches smaller than this (in their own bytes) are coalesced.
pub const COALESCE_BYTES: u64 = 1 << 20;
/// At most this many small batches wait to be coalesced, per unit and sink.
pub const COALESCE_BATCHES: usize = 1024;
/// What holding one batch costs beyond its buffers (the batch, its arrays'
/// headers), charged per batch and per column.
pub const BATCH_OVERHEAD: u64 = 512;
pub const COLUMN_OVERHEAD: u64 = 128;

#[derive(Default)]
struct Staged {
    batches: Vec<(usize, RecordBatch)>,
    /// Small batches waiting to be coalesced, per sink, in arrival order.
    small: HashMap<usize, Small>,
    bytes: u64,
    spill: Option<Spill>,
}

#[derive(Default)]
struct Small {
    batches: Vec<RecordBatch>,
    /// Their own bytes (what the coalesced batch will hold).
    own: u64,
    /// What they are charged (what they hold now).
    charged: u64,
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
        let own = batch_bytes(&batch);
        if own < COALESCE_BYTES {
            let batch = compact_if_wasteful(batch, own);
            let charge = retained_bytes(&batch);
            let staged = self.units.entry(unit).or_default();
            let small = staged.small.entry(sink).or_default();
            small.own += own;
            small.charged += charge;
            small.batches.push(batch);
            staged.bytes += charge;
            self.in_memory += charge;
            if small.own >= COALESCE_BYTES || small.batches.len() >= COALESCE_BATCHES {
                self.coalesce(unit, sink)?;
            }
        } else {
            // Small batches that arrived first go first: a sink sees a
            // split's rows in the order the plugin emitted them.
            self.coalesce(unit, sink)?;
            self.hold(unit, sink, batch)?;
        }
        while self.in_memory > self.budget {
            if !self.spill_largest()? {
                break;
            }
        }
        Ok(())
    }

    /// Holds a batch as it is (in memory, or in the unit's spill file).
    fn hold(&mut self, unit: Unit, sink: usize, batch: RecordBatch) -> Result<(), SinkError> {
        let staged = self.units.entry(unit).or_default();
        if let Some(spill) = &mut staged.spill {
            self.spilled_bytes += write_frame(&mut spill.file, sink, &batch)?;
            return Ok(());
        }
        let size = retained_bytes(&batch);
        staged.batches.push((sink, batch));
        staged.bytes += size;
        self.in_memory += size;
        Ok(())
    }

    /// Turns the small batches of `unit` for `sink` into one compact batch.
    fn coalesce(&mut self, unit: Unit, sink: usize) -> Result<(), SinkError> {
        let Some(staged) = self.units.get_mut(&unit) else { return Ok(()) };
        let Some(small) = staged.small.remove(&sink) else { return Ok(()) };
        staged.bytes -= small.charged;
        self.in_memory -= small.charged;
        let Some(first) = small.batches.first() else { return Ok(()) };
        let batch = arrow_select::concat::concat_batches(&first.schema(), &small.batches)
            .context(|| "coalescing small batches".into())?;
        // concat of a single batch is zero-copy; copy it out anyway.
        let batch = if small.batches.len() == 1 { compact(&batch) } else { batch };
        self.hold(unit, sink, batch)
    }

    fn spill_largest(&mut self) -> Result<bool, SinkError> {
        let Some((&unit, _)) = self.units.iter().filter(|(_, s)| s.bytes > 0).max_by_key(|(_, s)| s.bytes)
        else {
            return Ok(false);
        };
        let sinks: Vec<usize> = self.units[&unit].small.keys().copied().collect();
        for sink in sinks {
            self.coalesce(unit, sink)?;
        }
        let staged = self.units.get_mut(&unit).expect("present");
        if staged.spill.is_none() {
            std::fs::create_dir_all(&self.spill_dir).context(|| "cannot create spill folder".to_string())?;
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
        let mut sinks: Vec<usize> = match self.units.get(&unit) {
            Some(staged) => staged.small.keys().copied().collect(),
            None => return Ok(()),
        };
        sinks.sort_unstable();
        for sink in sinks {
            self.coalesce(unit, sink)?;
        }
        let Some(staged) = self.units.remove(&unit) else { return Ok(()) };
        self.in_memory -= staged.bytes;
        if let Some(mut spill) = staged.spill {
            spill.file.flush().context(|| "spill file".to_string())?;
            let mut r = BufReader::with_capacity(
                1 << 20,
                File::open(&spill.path).context(|| "spill file".to_string())?,
            );
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

/// Memory a batch holds: every buffer it keeps alive, counted once however
/// many arrays point into it (arrays decoded from one IPC message share
/// that message's allocation), plus the per-batch overhead.
pub fn retained_bytes(batch: &RecordBatch) -> u64 {
    fn visit(data: &ArrayData, seen: &mut HashSet<usize>, total: &mut u64) {
        let buffers = data.buffers().iter().chain(data.nulls().map(|n| n.buffer()));
        for b in buffers {
            if seen.insert(b.data_ptr().as_ptr() as usize) {
                *total += b.capacity() as u64;
            }
        }
        for child in data.child_data() {
            visit(child, seen, total);
        }
    }
    let mut seen = HashSet::new();
    let mut total = BATCH_OVERHEAD + COLUMN_OVERHEAD * batch.num_columns() as u64;
    for c in batch.columns() {
        visit(&c.to_data(), &mut seen, &mut total);
    }
    total
}

/// A batch that holds much more than its own bytes (a small slice of a
/// large IPC message) copied into buffers of its own size.
fn compact_if_wasteful(batch: RecordBatch, own: u64) -> RecordBatch {
    if retained_bytes(&batch) > 2 * own + 4096 { compact(&batch) } else { batch }
}

/// A deep copy of a batch into fresh, compact buffers (the batch itself
/// should copying fail, which would only cost memory).
fn compact(batch: &RecordBatch) -> RecordBatch {
    let copy = || -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for c in batch.columns() {
            let data = c.to_data();
            let mut copy = MutableArrayData::new(vec![&data], false, data.len());
            copy.try_extend(0, 0, data.len())?;
            columns.push(make_array(copy.freeze()));
        }
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(batch.schema(), columns, &options)
    };
    copy().unwrap_or_else(|_| batch.clone())
}

/// A batch's own bytes: each array's slice (what a compact copy holds).
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
    let bytes = ipc::encode_batch(batch).context(|| "spilling".to_string())?;
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
    r.read_exact(&mut bytes).context(|| "reading a spill file".to_string())?;
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
        // Small batches of a sink are coalesced, in order.
        assert_eq!(commit(&mut s, a), vec![(0, 1, 2000), (1, 4, 5)]);
        assert_eq!(commit(&mut s, b), vec![(1, 2, 10)]);
        assert_eq!(s.in_memory(), 0);
    }

    #[test]
    fn a_large_batch_does_not_overtake_small_ones_of_its_sink() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new(u64::MAX, dir.path());
        let a = Unit::Split { index: 0, attempt: 0 };
        let large = (COALESCE_BYTES / 8 + 1) as usize; // i64 values
        s.add(a, 0, batch(1, 10)).unwrap();
        s.add(a, 1, batch(2, 10)).unwrap();
        s.add(a, 0, batch(3, large)).unwrap();
        s.add(a, 0, batch(4, 10)).unwrap();
        // Sink 0 keeps 1, 3, 4 in that order; sink 1's small batch waits.
        let got = commit(&mut s, a);
        let sink0: Vec<i64> = got.iter().filter(|g| g.0 == 0).map(|g| g.1).collect();
        assert_eq!(sink0, [1, 3, 4]);
        assert!(got.contains(&(1, 2, 10)));
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
        assert!(decoded.get_array_memory_size() > 300_000, "each array is charged the whole message");
        assert_eq!(batch_bytes(&decoded), 160_000);
        let held = retained_bytes(&decoded);
        assert!((160_000..170_000).contains(&held), "the message once: {held}");
    }

    #[test]
    fn a_million_one_row_batches_hold_a_few_compact_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new(1 << 30, dir.path());
        let a = Unit::Split { index: 0, attempt: 0 };
        for i in 0..1_000_000 {
            s.add(a, 0, batch(i, 1)).unwrap();
        }
        assert!(s.in_memory() < 16 << 20, "{}", s.in_memory());
        let mut rows = 0;
        let mut batches = 0;
        let mut next = 0;
        s.commit(a, |_, b| {
            let c = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            for v in c.values() {
                assert_eq!(*v, next, "in order");
                next += 1;
            }
            rows += b.num_rows();
            batches += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, 1_000_000);
        assert!(batches < 1000, "{batches}");
    }

    #[test]
    fn metadata_a_batch_drags_along_is_charged_then_dropped() {
        // One-row batches decoded from IPC messages with 1 MiB of field
        // metadata each: each holds its whole message until compacted.
        let field = arrow_schema::Field::new("v", arrow_schema::DataType::Int64, false)
            .with_metadata([("junk".to_string(), "x".repeat(1 << 20))].into());
        let schema = Arc::new(arrow_schema::Schema::new(vec![field]));
        let one =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![7])) as ArrayRef]).unwrap();
        let bytes = crate::ipc::encode_batch(&one).unwrap();
        assert!(bytes.len() > 1 << 20);
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new(64 << 20, dir.path());
        let a = Unit::Split { index: 0, attempt: 0 };
        for _ in 0..500 {
            let decoded = crate::ipc::decode_batch(bytes.clone()).unwrap();
            assert!(retained_bytes(&decoded) > 1 << 20, "the message is held");
            s.add(a, 0, decoded).unwrap();
        }
        assert!(s.in_memory() < 1 << 20, "compacted: {}", s.in_memory());
        assert_eq!(s.spilled_bytes, 0);
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
