//! Routing batches through the stream graph: a batch on a stream goes to
//! every consumer of that stream, transforms (whose outputs are routed on in
//! turn) and sinks (through the writer channel, tagged with the unit).
//!
//! The same router serves a split (its transformers are opened per split; a
//! mergeable transform there is the *partial* half and its outputs are
//! collected as partial state) and the final phase (final transformers that
//! merge partial states, and whatever runs after them).

use crate::ipc;
use crate::plugin::TransformInstance;
use crate::plugin::transform::{TransformMode, Transformer};
use crate::prepare::{Consumer, Phase, Prepared};
use crate::sink::{Unit, WriterMsg};
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use crossbeam_channel::Sender;
use std::sync::Arc;

/// A batch as both IPC bytes (for plugins) and decoded (for sinks). The
/// decoded arrays point into the same bytes: nothing is copied.
pub struct Payload {
    pub bytes: Arc<Vec<u8>>,
    pub batch: RecordBatch,
}

impl Payload {
    /// Decodes and checks a buffer against the stream's schema.
    pub fn decode(bytes: Vec<u8>, prepared: &Prepared, stream: usize) -> Result<Payload, String> {
        let bytes = Arc::new(bytes);
        let batch = ipc::decode_buffer(shared_buffer(&bytes))?;
        let schema = &prepared.streams[stream].schema;
        ipc::check_schema(&batch, schema)?;
        let batch = ipc::with_schema(batch, schema).map_err(|e| e.to_string())?;
        Ok(Payload { bytes, batch })
    }
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
    pub writer: Sender<WriterMsg>,
    /// Indexed by transform; `None` for transforms not run here.
    pub slots: Vec<Option<Slot>>,
    /// Partial states collected from mergeable transforms, per transform.
    pub states: Vec<Vec<Vec<u8>>>,
    /// Rows that reached each sink in this unit.
    pub sink_rows: Vec<u64>,
}

/// A failure while routing: which stage, and why.
#[derive(Debug, Clone)]
pub struct RouteError(pub String);

impl Router {
    pub fn new(
        prepared: Arc<Prepared>,
        unit: Unit,
        writer: Sender<WriterMsg>,
        slots: Vec<Option<Slot>>,
    ) -> Self {
        let n = prepared.transforms.len();
        let sinks = prepared.sinks.len();
        Router { prepared, unit, writer, slots, states: vec![Vec::new(); n], sink_rows: vec![0; sinks] }
    }

    fn stage_error(&self, t: usize, e: impl std::fmt::Display) -> RouteError {
        RouteError(format!("{}: {e}", self.prepared.transforms[t].stage.common.id))
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
            match slot.instance.open(label, &tr.input_schema_ipc, mode) {
                Ok(o) => slot.open = Some(o),
                Err(e) => return Err(self.stage_error(t, e)),
            }
        }
        Ok(())
    }

    /// Sends a payload on `stream` to its consumers.
    pub fn route(&mut self, stream: usize, payload: &Payload) -> Result<(), RouteError> {
        let prepared = self.prepared.clone();
        for consumer in &prepared.consumers[stream] {
            match *consumer {
                Consumer::Sink(s) => {
                    self.sink_rows[s] += payload.batch.num_rows() as u64;
                    let msg = WriterMsg::Batch { unit: self.unit, sink: s, batch: payload.batch.clone() };
                    self.writer.send(msg).map_err(|_| RouteError("the writer has stopped".into()))?;
                }
                Consumer::Transform(t) => {
                    let Some(slot) = self.slots[t].as_mut() else { continue };
                    let open = slot.open.ok_or_else(|| {
                        RouteError(format!("{}: no open transformer", prepared.transforms[t].stage.common.id))
                    })?;
                    let outs =
                        slot.instance.process(open, &payload.bytes).map_err(|e| self.stage_error(t, e))?;
                    self.outputs(t, outs)?;
                }
            }
        }
        Ok(())
    }

    /// Handles what transform `t` returned: partial state is kept, anything
    /// else is checked and routed on.
    fn outputs(&mut self, t: usize, outs: Vec<Vec<u8>>) -> Result<(), RouteError> {
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
                    format!("output limit {} per split exceeded", crate::config::units::ByteSize(limit)),
                ));
            }
            if partial {
                self.states[t].push(out);
                continue;
            }
            let payload = Payload::decode(out, &self.prepared, output).map_err(|e| self.stage_error(t, e))?;
            self.route(output, &payload)?;
        }
        Ok(())
    }

    /// Merges partial states into final transformer `t`.
    pub fn merge(&mut self, t: usize, states: &[Vec<u8>]) -> Result<(), RouteError> {
        let Some(slot) = self.slots[t].as_mut() else { return Ok(()) };
        let open = slot.open.expect("final transformers are open");
        slot.instance.store.data_mut().clock.reset();
        for s in states {
            if let Err(e) = slot.instance.merge(open, s) {
                return Err(self.stage_error(t, e));
            }
        }
        Ok(())
    }

    /// Ends the unit: finishes every open transformer in pipeline order
    /// (their remaining output flows to later stages, still open), then
    /// closes them.
    pub fn finish_all(&mut self) -> Result<(), RouteError> {
        for t in 0..self.slots.len() {
            let Some(slot) = self.slots[t].as_mut() else { continue };
            let Some(open) = slot.open else { continue };
            let outs = slot.instance.finish(open).map_err(|e| self.stage_error(t, e))?;
            self.outputs(t, outs)?;
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
