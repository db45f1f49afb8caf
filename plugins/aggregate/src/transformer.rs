//! The transformer: groups rows by their encoded key and feeds the
//! accumulators, then writes either the partial state or the final rows.
//!
//! ```text
//!   single:   process* ─────────────────────────────► finish → sorted rows
//!   partial:  process* ───► finish → state batches ─┐
//!   partial:  process* ───► finish → state batches ─┼─► final: merge* ─► finish → sorted rows
//!   …                                               ┘
//! ```
//!
//! A row's group key is the concatenation of its key parts ([`crate::keys`]:
//! values in the encoding of [`crate::value`], or ids of dictionary values);
//! [`crate::intern::Interner`] turns it into a dense group id without
//! allocating for known keys. Final rows are sorted by the
//! key columns (each in its type's order, nulls last) so the output does not
//! depend on how the input was split, and come in batches of at most
//! [`MAX_BATCH_ROWS`] rows. State batches are in group-id order, chunked
//! the same way.

use crate::accumulate::Accumulator;
use crate::intern::Interner;
use crate::keys::{KeyCodec, KeyReader};
use crate::layout::Layout;
use crate::options::Config;
use arrow_array::{ArrayRef, RecordBatch};
use hashbrown::HashMap;
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::transform::{Mode, Transformer};
use std::sync::Arc;

/// Most rows in one output (or state) batch.
pub const MAX_BATCH_ROWS: usize = 65_536;

/// The grouping state of one split (single, partial) or of the run (final).
pub struct AggregateTransformer {
    config: Arc<Config>,
    mode: Mode,
    /// `None` only in final mode before the first state batch, when the
    /// input schema given to `open` could not be resolved.
    layout: Option<Arc<Layout>>,
    groups: Interner,
    /// How each key column is encoded in `groups`.
    codecs: Vec<KeyCodec>,
    accumulators: Vec<Accumulator>,
    finished: bool,
    // Reused buffers.
    key: Vec<u8>,
    scratch: Vec<u8>,
    ids: Vec<u32>,
}

impl AggregateTransformer {
    pub fn new(config: Arc<Config>, mode: Mode, layout: Option<Arc<Layout>>) -> Self {
        let mut t = AggregateTransformer {
            config,
            mode,
            layout: None,
            groups: Interner::new(),
            codecs: Vec::new(),
            accumulators: Vec::new(),
            finished: false,
            key: Vec::new(),
            scratch: Vec::new(),
            ids: Vec::new(),
        };
        if let Some(layout) = layout {
            t.set_layout(layout);
        }
        t
    }

    fn set_layout(&mut self, layout: Arc<Layout>) {
        self.accumulators = layout.aggs.iter().map(Accumulator::new).collect();
        // Input batches may hold dictionary-encoded keys; partial states
        // (all the final transformer sees) hold plain values.
        self.codecs = layout
            .keys
            .iter()
            .map(|k| match self.mode {
                Mode::Final => KeyCodec::Plain(k.value_type.clone()),
                Mode::Single | Mode::Partial => KeyCodec::new(&k.input_type, &k.value_type),
            })
            .collect();
        self.layout = Some(layout);
    }

    /// Number of groups so far.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    fn check_open(&self, call: &str, allowed: &[Mode]) -> Result<()> {
        if self.finished {
            return Err(Error::internal(format!("{call} called after finish")));
        }
        if !allowed.contains(&self.mode) {
            return Err(Error::internal(format!(
                "{call} called on a transformer opened in {:?} mode",
                self.mode
            )));
        }
        Ok(())
    }

    /// Maps each row to its group id (in `self.ids`), adding new groups.
    fn assign_groups(&mut self, readers: &[KeyReader], rows: usize) -> Result<()> {
        self.ids.clear();
        self.ids.reserve(rows);
        for row in 0..rows {
            self.key.clear();
            for reader in readers {
                reader.encode(row, &mut self.key);
            }
            let (id, _) = self.groups.intern(&self.key)?;
            self.ids.push(id);
        }
        for acc in &mut self.accumulators {
            acc.resize(self.groups.len());
        }
        Ok(())
    }

    /// Adds one input batch (single and partial mode).
    pub fn add_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check_open("process", &[Mode::Single, Mode::Partial])?;
        let layout =
            self.layout.clone().ok_or_else(|| Error::internal("no layout in single/partial mode"))?;
        let readers = layout
            .keys
            .iter()
            .zip(&mut self.codecs)
            .map(|(k, codec)| {
                let column = batch.column_by_name(&k.name).ok_or_else(|| {
                    Error::invalid_input(format!("the batch has no group_by column `{}`", k.name))
                })?;
                codec.reader(column).map_err(|e| e.context(format!("group_by column `{}`", k.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        self.assign_groups(&readers, batch.num_rows())?;
        for acc in &mut self.accumulators {
            acc.update(batch, &self.ids, &mut self.scratch)?;
        }
        Ok(())
    }

    /// Merges one partial state batch (final mode).
    pub fn merge_state(&mut self, state: &RecordBatch) -> Result<()> {
        self.check_open("merge", &[Mode::Final])?;
        if self.layout.is_none() {
            let layout = Layout::from_state(&self.config, state.schema_ref())?;
            self.set_layout(Arc::new(layout));
        }
        let layout = self.layout.clone().ok_or_else(|| Error::internal("layout was just set"))?;
        layout.check_state(state.schema_ref())?;
        let readers = self
            .codecs
            .iter_mut()
            .zip(state.columns())
            .map(|(codec, column)| codec.reader(column))
            .collect::<Result<Vec<_>>>()?;
        self.assign_groups(&readers, state.num_rows())?;
        let key_count = layout.keys.len();
        for (acc, column) in self.accumulators.iter_mut().zip(&state.columns()[key_count..]) {
            acc.merge(column, &self.ids, &mut self.scratch)?;
        }
        Ok(())
    }

    /// Group ids in output order: by the key columns, left to right.
    ///
    /// Each column's distinct values are sorted once and replaced by their
    /// rank, so sorting the groups compares small integer tuples instead of
    /// walking encoded keys (equal values have equal encodings, so distinct
    /// encodings are distinct values).
    fn sorted_groups(&self) -> Vec<u32> {
        let n = self.groups.len();
        let k = self.codecs.len();
        // Where each column's part of each group's key starts and ends.
        let mut parts = Vec::with_capacity(n * k);
        for g in 0..n as u32 {
            let key = self.groups.get(g);
            let mut pos = 0;
            for codec in &self.codecs {
                let len = codec.part_len(&key[pos..]);
                parts.push(&key[pos..pos + len]);
                pos += len;
            }
        }
        let mut ranks = vec![0u32; n * k];
        for (j, codec) in self.codecs.iter().enumerate() {
            let mut distinct: HashMap<&[u8], u32> = HashMap::new();
            let mut values: Vec<&[u8]> = Vec::new();
            for g in 0..n {
                let part = parts[g * k + j];
                ranks[g * k + j] = *distinct.entry(part).or_insert_with(|| {
                    values.push(part);
                    (values.len() - 1) as u32
                });
            }
            let mut order: Vec<u32> = (0..values.len() as u32).collect();
            order.sort_unstable_by(|&a, &b| codec.compare(values[a as usize], values[b as usize]).0);
            let mut rank_of = vec![0u32; values.len()];
            for (rank, &value) in order.iter().enumerate() {
                rank_of[value as usize] = rank as u32;
            }
            for g in 0..n {
                ranks[g * k + j] = rank_of[ranks[g * k + j] as usize];
            }
        }
        let mut groups: Vec<u32> = (0..n as u32).collect();
        groups.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize * k, b as usize * k);
            ranks[a..a + k].cmp(&ranks[b..b + k])
        });
        groups
    }

    /// The key columns of these groups.
    fn key_columns(&self, ids: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut builders: Vec<_> = self.codecs.iter().map(|c| c.builder(ids.len())).collect();
        for &id in ids {
            let mut bytes = self.groups.get(id);
            for (codec, builder) in self.codecs.iter().zip(&mut builders) {
                let n = codec.push(builder, bytes);
                bytes = &bytes[n..];
            }
        }
        builders.into_iter().map(|b| b.finish()).collect()
    }

    /// The partial state, in group-id order.
    fn state_batches(&mut self, layout: &Layout) -> Result<Vec<RecordBatch>> {
        let ids: Vec<u32> = (0..self.groups.len() as u32).collect();
        let mut batches = Vec::new();
        for chunk in ids.chunks(MAX_BATCH_ROWS) {
            let mut columns = self.key_columns(chunk)?;
            for acc in &mut self.accumulators {
                columns.push(acc.state(chunk)?);
            }
            batches.push(RecordBatch::try_new(layout.state_schema.clone(), columns)?);
        }
        Ok(batches)
    }

    /// The final rows, sorted by the keys.
    fn output_batches(&mut self, layout: &Layout) -> Result<Vec<RecordBatch>> {
        if layout.keys.is_empty() && self.groups.is_empty() {
            // Without group_by there is always exactly one row (SQL: a
            // global aggregate over no rows gives counts of 0 and null sums).
            self.groups.intern(&[])?;
            for acc in &mut self.accumulators {
                acc.resize(1);
            }
        }
        let order = self.sorted_groups();
        let mut batches = Vec::new();
        for chunk in order.chunks(MAX_BATCH_ROWS) {
            let mut columns = self.key_columns(chunk)?;
            for acc in &self.accumulators {
                columns.push(acc.output(chunk)?);
            }
            batches.push(RecordBatch::try_new(layout.output_schema.clone(), columns)?);
        }
        Ok(batches)
    }

    /// Ends the input: state batches (partial) or sorted rows.
    pub fn finish_batches(&mut self) -> Result<Vec<RecordBatch>> {
        self.check_open("finish", &[Mode::Single, Mode::Partial, Mode::Final])?;
        self.finished = true;
        let Some(layout) = self.layout.clone() else {
            // Final mode that never saw a state, with an input schema it
            // could not resolve: nothing is known, not even the schema.
            return Ok(Vec::new());
        };
        let batches = match self.mode {
            Mode::Partial => self.state_batches(&layout),
            Mode::Single | Mode::Final => self.output_batches(&layout),
        };
        // The state is no longer needed; free it before the batches travel.
        self.groups = Interner::new();
        self.codecs.clear();
        self.accumulators.clear();
        batches
    }
}

impl Transformer for AggregateTransformer {
    fn process(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        self.add_batch(&batch)?;
        Ok(Vec::new())
    }

    fn merge(&mut self, state: RecordBatch) -> Result<()> {
        self.merge_state(&state)
    }

    fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        self.finish_batches()
    }
}
