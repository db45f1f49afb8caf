//! Routing batches through the stream graph: a batch on a stream goes to
//! every consumer of that stream, transforms (whose outputs are routed on in
//! turn) and sinks (through the writer channel, tagged with the unit).
//!
//! The same router serves a split (its transformers are opened per split; a
//! mergeable transform there is the *partial* half and its outputs are
//! collected as partial state) and the final phase (final transformers that
//! merge partial states, and whatever runs after them).
//!
//! Projection ([`crate::prepare`]): a transform is sent only the columns it
//! reads; a field of its output stream that its returned batch lacks is
//! taken from the input batch it was given, by name, which requires the
//! returned batches to hold exactly the input's rows; columns nothing
//! downstream needs are dropped.

use crate::ipc;
use crate::plugin::TransformInstance;
use crate::plugin::transform::{TransformMode, Transformer};
use crate::prepare::{Consumer, Phase, Prepared};
use crate::sink::{Unit, WriterTx};
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_schema::SchemaRef;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a batch from a plugin cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error(transparent)]
    Ipc(#[from] ipc::IpcError),
    #[error("{0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("a batch from `finish` lacks column `{0}`")]
    FinishLacks(String),
    #[error("the batch lacks column `{0}`, which its input does not have either")]
    Missing(String),
    #[error(
        "the batch lacks column `{column}` (passed through from the input), but holds {produced} rows for an \
         input of {input}: a transform that passes columns through must return exactly its input's rows"
    )]
    RowsChanged { column: String, produced: usize, input: usize },
}

/// A batch decoded (for sinks), and as IPC bytes (for plugins) when it
/// arrived as such: the decoded arrays point into those bytes, nothing is
/// copied. A batch the host assembled has no bytes until a plugin needs
/// them.
pub struct Payload {
    pub bytes: Option<Arc<Vec<u8>>>,
    pub batch: RecordBatch,
}

impl Payload {
    /// Decodes and checks a buffer against the stream's schema.
    pub fn decode(bytes: Vec<u8>, prepared: &Prepared, stream: usize) -> Result<Payload, PayloadError> {
        let bytes = Arc::new(bytes);
        let batch = ipc::decode_buffer(shared_buffer(&bytes))?;
        let schema = &prepared.streams[stream].schema;
        ipc::check_schema(&batch, schema)?;
        let batch = ipc::with_schema(batch, schema)?;
        Ok(Payload { bytes: Some(bytes), batch })
    }

    /// Decodes a buffer that holds the stream's *declared* columns (what a
    /// WIT 0.1.0 reader emits, which cannot be told of a projection) and
    /// keeps the stream's columns.
    pub fn decode_declared(
        bytes: Vec<u8>,
        prepared: &Prepared,
        stream: usize,
    ) -> Result<Payload, PayloadError> {
        let s = &prepared.streams[stream];
        if Arc::ptr_eq(&s.schema, &s.declared) {
            return Payload::decode(bytes, prepared, stream);
        }
        let batch = ipc::decode_batch(bytes)?;
        ipc::check_schema(&batch, &s.declared)?;
        let batch = project_to(&batch, &s.schema)?;
        Ok(Payload { bytes: None, batch })
    }

    /// The IPC bytes of the columns `columns` (all of them when `None`).
    fn ipc(&self, columns: Option<&[usize]>) -> Result<Arc<Vec<u8>>, PayloadError> {
        match (columns, &self.bytes) {
            (None, Some(b)) => Ok(b.clone()),
            (None, None) => Ok(Arc::new(ipc::encode_batch(&self.batch)?)),
            (Some(idx), _) => Ok(Arc::new(ipc::encode_batch(&self.batch.project(idx)?)?)),
        }
    }
}

/// The columns of `schema`, by name, from `batch` (which has them all).
fn project_to(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, PayloadError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            batch.column_by_name(f.name()).cloned().ok_or_else(|| PayloadError::Missing(f.name().clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Builds a batch of `schema` from what a transform returned (`produced`,
/// whose columns win) and the input batch it was given (for the columns it
/// passed through, which need `produced` to hold the input's rows).
/// `declared` is the transform's whole output schema, of which `schema` is
/// the part needed downstream.
fn assemble(
    schema: &SchemaRef,
    declared: &SchemaRef,
    produced: &RecordBatch,
    input: Option<&RecordBatch>,
) -> Result<RecordBatch, PayloadError> {
    // A column the output schema does not declare is a wrong schema, not
    // something to pass through: say so as for any mismatch.
    if produced.schema().fields().iter().any(|f| declared.field_with_name(f.name()).is_err()) {
        ipc::check_schema(produced, declared)?;
    }
    let mut columns = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        if let Some(c) = produced.column_by_name(f.name()) {
            columns.push(c.clone());
            continue;
        }
        let Some(input) = input else {
            return Err(PayloadError::FinishLacks(f.name().clone()));
        };
        let Some(c) = input.column_by_name(f.name()) else {
            return Err(PayloadError::Missing(f.name().clone()));
        };
        if produced.num_rows() != input.num_rows() {
            return Err(PayloadError::RowsChanged {
                column: f.name().clone(),
                produced: produced.num_rows(),
                input: input.num_rows(),
            });
        }
        columns.push(c.clone());
    }
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(produced.num_rows())),
    )?;
    ipc::check_schema(&batch, schema)?;
    Ok(batch)
}

/// An Arrow buffer over bytes shared with an `Arc<Vec<u8>>`, so they can
/// be decoded for the sinks and handed to plugins without a copy.
fn shared_buffer(bytes: &Arc<Vec<u8>>) -> Buffer {
    let ptr = std::ptr::NonNull::new(bytes.as_ptr() as *mut u8).unwrap_or(std::ptr::NonNull::dangling());
    // SAFETY: `ptr` and `len` describe the Vec's initialised contents; the
    // Arc handed over as the owner keeps the Vec alive and unmodified (it is
    // never mutated once shared) for as long as the buffer exists.
    unsafe { Buffer::from_custom_allocation(ptr, bytes.len(), bytes.clone()) }
}

/// A transform instance and the transformer it has open.
pub struct Slot {
    pub instance: TransformInstance,
    pub open: Option<Transformer>,
    /// Bytes the transformer produced in the current unit.
    pub emitted: u64,
}

/// Routes batches for one unit (a split attempt or the final phase).
pub struct Router {
    pub prepared: Arc<Prepared>,
    pub unit: Unit,
    pub writer: WriterTx,
    /// Indexed by transform; `None` for transforms not run here.
    pub slots: Vec<Option<Slot>>,
    /// Partial states collected from mergeable transforms, per transform.
    pub states: Vec<Vec<Vec<u8>>>,
    /// Rows that reached each sink in this unit.
    pub sink_rows: Vec<u64>,
    /// Time inside each transform's calls (open, process, merge, finish),
    /// by transform: what the run report shows per stage.
    pub transform_time: Vec<Duration>,
    /// Time blocked handing batches to the writer (backpressure).
    pub send_wait: Duration,
}

/// A failure while routing: which stage, and why.
pub type RouteError = super::error::ExecError;

impl Router {
    pub fn new(prepared: Arc<Prepared>, unit: Unit, writer: WriterTx, slots: Vec<Option<Slot>>) -> Self {
        let n = prepared.transforms.len();
        let sinks = prepared.sinks.len();
        Router {
            prepared,
            unit,
            writer,
            slots,
            states: vec![Vec::new(); n],
            sink_rows: vec![0; sinks],
            transform_time: vec![Duration::ZERO; n],
            send_wait: Duration::ZERO,
        }
    }

    fn stage_error(&self, t: usize, e: impl std::fmt::Display) -> RouteError {
        RouteError::stage(&self.prepared.transforms[t].stage.common.id, e)
    }

    /// Opens a transformer in every slot for this unit.
    pub fn open_all(&mut self, label: &str) -> Result<(), RouteError> {
        for t in 0..self.slots.len() {
            let Some(slot) = self.slots[t].as_mut() else { continue };
            let tr = &self.prepared.transforms[t];
            let mode = match (tr.mergeable, self.unit) {
                (true, Unit::Final) => TransformMode::Final,
                (true, _) => TransformMode::Partial,
                (false, _) => TransformMode::Single,
            };
            slot.emitted = 0;
            let t0 = Instant::now();
            let opened = slot.instance.open(label, &tr.input_schema_ipc, mode);
            self.transform_time[t] += t0.elapsed();
            match opened {
                Ok(o) => slot.open = Some(o),
                Err(e) => return Err(self.stage_error(t, e)),
            }
        }
        Ok(())
    }

    /// Sends a payload on `stream` to its consumers.
    pub fn route(&mut self, stream: usize, payload: &Payload) -> Result<(), RouteError> {
        crate::panics::injected("route");
        let prepared = self.prepared.clone();
        for consumer in &prepared.consumers[stream] {
            match *consumer {
                Consumer::Sink(s) => {
                    let stage = &prepared.sinks[s].stage;
                    crate::sink::partition::check(&payload.batch, &stage.table.partition_by)
                        .map_err(|e| RouteError::stage(&format!("sinks.{}", stage.name), e))?;
                    self.sink_rows[s] += payload.batch.num_rows() as u64;
                    let t0 = Instant::now();
                    let sent = self.writer.batch(self.unit, s, payload.batch.clone());
                    self.send_wait += t0.elapsed();
                    sent.map_err(|_| RouteError::WriterStopped)?;
                }
                Consumer::Transform(t) => {
                    if self.slots[t].is_none() {
                        continue;
                    }
                    let bytes = payload
                        .ipc(prepared.transforms[t].sends.as_deref())
                        .map_err(|e| self.stage_error(t, e))?;
                    let slot = self.slots[t].as_mut().expect("checked above");
                    let open = slot.open.ok_or_else(|| RouteError::NotOpen {
                        stage: prepared.transforms[t].stage.common.id.clone(),
                    })?;
                    let t0 = Instant::now();
                    let outs = slot.instance.process(open, &bytes);
                    self.transform_time[t] += t0.elapsed();
                    let outs = outs.map_err(|e| self.stage_error(t, e))?;
                    self.outputs(t, outs, Some(&payload.batch))?;
                }
            }
        }
        Ok(())
    }

    /// Handles what transform `t` returned for `input` (`None` from
    /// `finish`): partial state is kept, anything else is checked and
    /// routed on.
    fn outputs(
        &mut self,
        t: usize,
        outs: Vec<Vec<u8>>,
        input: Option<&RecordBatch>,
    ) -> Result<(), RouteError> {
        let tr = &self.prepared.transforms[t];
        let limit = tr.stage.common.limits.output_bytes;
        let partial = tr.mergeable && self.unit != Unit::Final;
        let output = tr.output;
        for out in outs {
            let slot = self.slots[t].as_mut().expect("slot of a running transform");
            slot.emitted += out.len() as u64;
            if slot.emitted > limit {
                return Err(self.stage_error(
                    t,
                    format!("output limit {} per split exceeded", crate::units::ByteSize(limit)),
                ));
            }
            if partial {
                self.states[t].push(out);
                continue;
            }
            let payload = self.output_payload(t, out, output, input).map_err(|e| self.stage_error(t, e))?;
            self.route(output, &payload)?;
        }
        Ok(())
    }

    /// A returned batch as a payload of stream `output`: as it is when it
    /// holds exactly the stream's columns, else assembled (passed-through
    /// columns re-attached, unneeded ones dropped).
    fn output_payload(
        &self,
        t: usize,
        out: Vec<u8>,
        output: usize,
        input: Option<&RecordBatch>,
    ) -> Result<Payload, PayloadError> {
        if self.prepared.transforms[t].plugin.is_wit_v1() {
            // 0.1.0 has no passing through: the batch holds every column.
            return Payload::decode_declared(out, &self.prepared, output);
        }
        let schema = &self.prepared.streams[output].schema;
        let bytes = Arc::new(out);
        let produced = ipc::decode_buffer(shared_buffer(&bytes))?;
        if ipc::check_schema(&produced, schema).is_ok() {
            let batch = ipc::with_schema(produced, schema)?;
            return Ok(Payload { bytes: Some(bytes), batch });
        }
        let batch = assemble(schema, &self.prepared.streams[output].declared, &produced, input)?;
        Ok(Payload { bytes: None, batch })
    }

    /// Merges partial states into final transformer `t`.
    pub fn merge(&mut self, t: usize, states: &[Vec<u8>]) -> Result<(), RouteError> {
        let Some(slot) = self.slots[t].as_mut() else { return Ok(()) };
        let open = slot.open.expect("final transformers are open");
        slot.instance.store.data_mut().clock.reset();
        let t0 = Instant::now();
        for s in states {
            if let Err(e) = slot.instance.merge(open, s) {
                self.transform_time[t] += t0.elapsed();
                return Err(self.stage_error(t, e));
            }
        }
        self.transform_time[t] += t0.elapsed();
        Ok(())
    }

    /// Ends the unit: finishes every open transformer in pipeline order
    /// (their remaining output flows to later stages, still open), then
    /// closes them.
    pub fn finish_all(&mut self) -> Result<(), RouteError> {
        for t in 0..self.slots.len() {
            let Some(slot) = self.slots[t].as_mut() else { continue };
            let Some(open) = slot.open else { continue };
            let t0 = Instant::now();
            let outs = slot.instance.finish(open);
            self.transform_time[t] += t0.elapsed();
            let outs = outs.map_err(|e| self.stage_error(t, e))?;
            self.outputs(t, outs, None)?;
        }
        self.close_all();
        Ok(())
    }

    /// Drops every open transformer (after a failure, their state is lost).
    pub fn close_all(&mut self) {
        for slot in self.slots.iter_mut().flatten() {
            if let Some(open) = slot.open.take() {
                slot.instance.close(open);
            }
        }
    }

    /// Takes the slots back (poisoned instances are dropped by the owner).
    pub fn into_slots(mut self) -> Vec<Option<Slot>> {
        self.close_all();
        std::mem::take(&mut self.slots)
    }

    /// Whether transform `t` runs in this router's phase.
    pub fn runs_here(prepared: &Prepared, t: usize, phase: Phase) -> bool {
        let tr = &prepared.transforms[t];
        match phase {
            Phase::Split => tr.phase == Phase::Split,
            Phase::Final => tr.mergeable || tr.phase == Phase::Final,
        }
    }
}
