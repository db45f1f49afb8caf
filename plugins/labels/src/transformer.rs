//! The per-split transformer: for each row, find the side-table rows its keys
//! match, then produce the canonical JSON of the merged labels through the
//! two-level [`LabelCache`].
//!
//! Per row, when both levels hit: one hash lookup of the raw text (for a
//! dictionary column, one per distinct value in the batch, then an index by
//! key), one key encoding and hash lookup per lookup, one hash lookup of a
//! few `u32`s, and one copy of the output. Nothing is allocated. The output
//! column is sized from the previous batch's average, so it is rarely
//! regrown.

use crate::cache::LabelCache;
use crate::canonical::write_fragments;
use crate::keys::KeyReader;
use crate::merge::merge;
use crate::options::{Config, Source};
use crate::output::OutputColumn;
use crate::parse::LabelSet;
use crate::schema::{Plan, plan_produced};
use crate::side::SideIndex;
use crate::strings::StrColumn;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use runtime_plugin_sdk::error::{Error, Result};
use runtime_plugin_sdk::transform::Transformer;
use std::sync::Arc;

/// What every transformer of an instance shares: the options and the parsed
/// side tables.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    /// One index per lookup, in the order of `config.lookups`.
    pub sides: Vec<SideIndex>,
}

/// No matching side-table row.
const NO_MATCH: u32 = u32::MAX;

/// The state of one split.
pub struct LabelsTransformer {
    shared: Arc<Shared>,
    /// The plan of the last batch's schema (batches of one split normally
    /// share it).
    plan: Option<(SchemaRef, Plan)>,
    cache: LabelCache,
    /// Rows of earlier batches, so that errors name the row within the split.
    rows_before: u64,
    /// Output bytes of earlier batches, to size the next output column.
    bytes_before: u64,
    /// Malformed labels values replaced by `{}` (`on_invalid = "empty"`).
    pub invalid: u64,
    /// Rows whose output came from the cache, and rows merged anew.
    pub cache_hits: u64,
    pub cache_misses: u64,
    // Reused buffers.
    combo: Vec<u8>,
    lookup_key: Vec<u8>,
    ids: Vec<u32>,
    text: String,
}

impl LabelsTransformer {
    pub fn new(shared: Arc<Shared>) -> Self {
        let cache = LabelCache::new(shared.config.cache_entries);
        LabelsTransformer {
            shared,
            plan: None,
            cache,
            rows_before: 0,
            bytes_before: 0,
            invalid: 0,
            cache_hits: 0,
            cache_misses: 0,
            combo: Vec::new(),
            lookup_key: Vec::new(),
            ids: Vec::new(),
            text: String::new(),
        }
    }

    fn plan_for(&mut self, schema: &SchemaRef) -> Result<Plan> {
        if let Some((known, plan)) = &self.plan
            && (Arc::ptr_eq(known, schema) || known == schema)
        {
            return Ok(plan.clone());
        }
        let plan = plan_produced(&self.shared.config, &self.shared.sides, schema)?;
        self.plan = Some((schema.clone(), plan.clone()));
        Ok(plan)
    }

    /// Transforms one batch.
    pub fn transform(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let plan = self.plan_for(batch.schema_ref())?;
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let as_json = crate::native::to_json(batch.column(plan.column));
        let labels = StrColumn::new(as_json.as_ref().unwrap_or(batch.column(plan.column)))
            .ok_or_else(|| Error::internal("labels column changed type after planning"))?;
        let readers: Vec<KeyReader> = config
            .lookups
            .iter()
            .map(|l| KeyReader::new(batch, &l.key, "the input"))
            .collect::<Result<_>>()?;
        let rows = batch.num_rows();
        // Room for the previous batches' average plus 1/8, so the values
        // buffer is rarely regrown (a regrowth copies the whole column).
        let average = self.bytes_before.checked_div(self.rows_before).map_or(256, |a| a + 1);
        let mut out = OutputColumn::new(config.dictionary, rows, rows * (average + average / 8) as usize);
        let mut invalid = 0u64;
        let empty = LabelSet::empty();
        // A dictionary column's values are looked up once per batch, by key.
        let mut by_key = KeyMemo::new(labels.dictionary_len(), self.cache.resets);
        for row in 0..rows {
            let key = labels.dictionary_key(row);
            let known = key.and_then(|k| by_key.get(k, self.cache.resets));
            let (set_id, was_invalid) = match known {
                Some(found) => found,
                None => {
                    let found = self.cache.set_for(labels.get(row), config.on_invalid).map_err(|e| {
                        Error::invalid_input(format!(
                            "row {} of the split (row {row} of this batch), column `{}`: invalid labels: {e}",
                            self.rows_before + row as u64,
                            config.column
                        ))
                    })?;
                    if let Some(k) = key {
                        by_key.set(k, found, self.cache.resets);
                    }
                    found
                }
            };
            invalid += u64::from(was_invalid);
            self.ids.clear();
            self.combo.clear();
            self.combo.extend_from_slice(&set_id.to_le_bytes());
            for (reader, side) in readers.iter().zip(&shared.sides) {
                let id = if reader.encode(row, &mut self.lookup_key) {
                    side.find(&self.lookup_key).unwrap_or(NO_MATCH)
                } else {
                    NO_MATCH
                };
                self.ids.push(id);
                self.combo.extend_from_slice(&id.to_le_bytes());
            }
            if let Some(id) = self.cache.output_id(&self.combo) {
                out.push(id, self.cache.resets, self.cache.output(id))?;
                self.cache_hits += 1;
                continue;
            }
            self.cache_misses += 1;
            let sets: Vec<&LabelSet> = config
                .order
                .iter()
                .map(|source| match *source {
                    Source::Row => self.cache.set(set_id),
                    Source::Lookup(i) => match self.ids[i] {
                        NO_MATCH => &empty,
                        id => shared.sides[i].labels(id),
                    },
                })
                .collect();
            let mut merged = Vec::with_capacity(32);
            merge(&sets, &mut merged);
            self.text.clear();
            write_fragments(merged.iter().map(|(set, i)| set.fragment(*i)), &mut self.text);
            let id = self.cache.insert_output(&self.combo, &self.text);
            out.push(id, self.cache.resets, &self.text)?;
        }
        self.bytes_before += out.plain_bytes() as u64;
        self.rows_before += rows as u64;
        self.invalid += invalid;
        report_invalid(invalid);
        let mut columns: Vec<ArrayRef> = plan.kept.iter().map(|&i| batch.column(i).clone()).collect();
        columns.push(out.finish()?);
        Ok(RecordBatch::try_new(plan.output_schema.clone(), columns)?)
    }
}

/// The set id (and whether it was malformed) of each dictionary value seen
/// in this batch. Set ids are only good until the cache is next emptied, so
/// the memo forgets everything when [`LabelCache::resets`] moves.
struct KeyMemo {
    sets: Vec<Option<(u32, bool)>>,
    resets: u64,
}

impl KeyMemo {
    fn new(values: usize, resets: u64) -> Self {
        KeyMemo { sets: vec![None; values], resets }
    }

    #[inline]
    fn get(&mut self, key: usize, resets: u64) -> Option<(u32, bool)> {
        self.forget_if_reset(resets);
        self.sets[key]
    }

    #[inline]
    fn set(&mut self, key: usize, found: (u32, bool), resets: u64) {
        self.forget_if_reset(resets);
        self.sets[key] = Some(found);
    }

    #[inline]
    fn forget_if_reset(&mut self, resets: u64) {
        if resets != self.resets {
            self.sets.fill(None);
            self.resets = resets;
        }
    }
}

/// Counts malformed labels in the run report.
fn report_invalid(count: u64) {
    #[cfg(target_arch = "wasm32")]
    if count > 0 {
        runtime_plugin_sdk::log::progress("invalid_labels", count);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = count;
}

impl Transformer for LabelsTransformer {
    fn process(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        Ok(vec![self.transform(&batch)?])
    }

    fn finish(&mut self) -> Result<Vec<RecordBatch>> {
        #[cfg(target_arch = "wasm32")]
        runtime_plugin_sdk::log::debug(&format!(
            "labels: {} rows, output cache {} hits / {} misses, {} cache resets",
            self.rows_before, self.cache_hits, self.cache_misses, self.cache.resets
        ));
        Ok(Vec::new())
    }
}
