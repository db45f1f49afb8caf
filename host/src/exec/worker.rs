//! A worker thread's state and the life of one split on it.
//!
//! Each worker owns its reader instance and one instance of every
//! split-phase transform, each in its own store; they are reused across
//! splits and replaced only after a trap. A split runs as one or more
//! attempts: open transformers, read (batches flow through the router as
//! they are emitted), finish the transformers, then commit the attempt's
//! output and send any partial aggregation state to the final stage, or
//! abort everything the attempt produced. Retryable errors are retried with
//! exponential backoff.

use super::Ctx;
use super::error::ExecError;
use super::router::{Payload, Router, Slot};
use crate::plan::PlannedSplit;
use crate::plugin::ReaderInstance;
use crate::plugin::instance::CallError;
use crate::plugin::io::InputHandle;
use crate::plugin::state::{Emit, EmitError};
use crate::prepare::Phase;
use crate::report::{SplitRecord, SplitStatus};
use crate::sink::{Unit, WriterMsg};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A worker's instances.
#[derive(Default)]
pub struct Worker {
    reader: Option<ReaderInstance>,
    slots: Vec<Option<Slot>>,
}

/// The reader's emitter for one split attempt: validates and routes.
pub struct Downstream {
    pub router: Router,
    /// Rows emitted per source output.
    pub rows: u64,
    /// Time spent in `emit` (decoding, transforms, the writer): not the
    /// reader's own.
    pub inside: Duration,
}

impl Emit for Downstream {
    fn emit(&mut self, output: &str, ipc: Vec<u8>) -> Result<(), EmitError> {
        let t0 = Instant::now();
        let result = self.emit_timed(output, ipc);
        self.inside += t0.elapsed();
        result
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Downstream {
    fn emit_timed(&mut self, output: &str, ipc: Vec<u8>) -> Result<(), EmitError> {
        let prepared = self.router.prepared.clone();
        let Some(&(_, stream)) = prepared.source_outputs.iter().find(|(n, _)| n == output) else {
            let known: Vec<&str> = prepared.source_outputs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(EmitError::Fatal(format!(
                "emitted to unknown output `{output}` (the plugin declared: {})",
                known.join(", ")
            )));
        };
        let payload = if prepared.source.is_wit_v1() {
            Payload::decode_declared(ipc, &prepared, stream)
        } else {
            Payload::decode(ipc, &prepared, stream)
        }
        .map_err(|e| EmitError::Fatal(format!("output `{output}`: {e}")))?;
        self.rows += payload.batch.num_rows() as u64;
        self.router.route(stream, &payload).map_err(|e| EmitError::Soft(e.to_string()))
    }
}

impl Worker {
    fn ensure_reader(&mut self, ctx: &Ctx) -> Result<&mut ReaderInstance, String> {
        if self.reader.as_ref().is_some_and(|r| r.poisoned) {
            self.reader = None;
        }
        if self.reader.is_none() {
            let r = ctx.prepared.source_instance(&ctx.runtime).map_err(|e| format!("source: {e}"))?;
            self.reader = Some(r);
        }
        Ok(self.reader.as_mut().expect("set above"))
    }

    /// The split-phase transform instances, created where missing or
    /// poisoned.
    fn take_slots(&mut self, ctx: &Ctx) -> Result<Vec<Option<Slot>>, ExecError> {
        let prepared = &ctx.prepared;
        let n = prepared.transforms.len();
        let mut slots = std::mem::take(&mut self.slots);
        slots.resize_with(n, || None);
        for (t, slot) in slots.iter_mut().enumerate() {
            if !Router::runs_here(prepared, t, Phase::Split) {
                *slot = None;
                continue;
            }
            if slot.as_ref().is_some_and(|s| s.instance.poisoned) {
                *slot = None;
            }
            if slot.is_none() {
                *slot = Some(ctx.new_slot(t)?);
            }
        }
        Ok(slots)
    }

    /// Runs every attempt of one split on worker `worker` and reports how
    /// it ended.
    pub fn run_split(
        &mut self,
        ctx: &Ctx,
        worker: usize,
        index: usize,
        planned: &PlannedSplit,
    ) -> SplitRecord {
        let split = &planned.split;
        let file = split.input.and_then(|i| ctx.files.get(i as usize));
        let mut record = SplitRecord::new(index, split, file.map(|f| f.shown.clone()));
        let started = Instant::now();
        record.times.worker = Some(worker);
        record.times.start = started.saturating_duration_since(ctx.started);
        let retries = ctx.prepared.pipeline.run.retries;
        let backoff = ctx.prepared.pipeline.run.retry_backoff;
        loop {
            record.attempts += 1;
            let attempt = record.attempts - 1;
            let result = self.attempt(ctx, index, attempt, planned, &mut record);
            match result {
                Ok(partial) => {
                    record.status = match partial {
                        None => SplitStatus::Ok,
                        Some(reason) => SplitStatus::Partial { reason },
                    };
                    break;
                }
                Err((error, retryable)) => {
                    let stop = ctx.stop.load(Ordering::SeqCst);
                    if retryable && attempt < retries && !stop {
                        let wait = backoff.saturating_mul(1 << attempt.min(10));
                        tracing::warn!(split = %split.id, "attempt {} failed ({}); retrying in {:?}", attempt + 1, error.message(), wait);
                        std::thread::sleep(wait);
                        continue;
                    }
                    // Reasons may quote what a plugin sent (names in a
                    // schema): bounded and escaped like all plugin text.
                    record.status = SplitStatus::Failed {
                        error: crate::text::untrusted(error.message(), crate::text::MAX_MESSAGE),
                        kind: error.kind_name().to_string(),
                    };
                    break;
                }
            }
        }
        record.elapsed = started.elapsed();
        record
    }

    /// One attempt. `Ok(partial reason)` or `Err((error, retryable))`.
    fn attempt(
        &mut self,
        ctx: &Ctx,
        index: usize,
        attempt: u32,
        planned: &PlannedSplit,
        record: &mut SplitRecord,
    ) -> Result<Option<String>, (CallError, bool)> {
        let split = &planned.split;
        let fail = |msg: String| Err((CallError::Trap(msg), false));
        if let Some(e) = &planned.error {
            return Err((
                CallError::Plugin {
                    kind: crate::plugin::instance::ErrorKind::Io,
                    message: e.clone(),
                    retryable: false,
                },
                false,
            ));
        }
        let unit = Unit::Split { index: index as u32, attempt };
        let slots = match self.take_slots(ctx) {
            Ok(s) => s,
            Err(e) => return fail(e.to_string()),
        };
        let mut router = Router::new(ctx.prepared.clone(), unit, ctx.writer.clone(), slots);
        if let Err(e) = router.open_all(&split.id) {
            self.slots = router.into_slots();
            let _ = ctx.writer.send(WriterMsg::Abort(unit));
            return fail(e.to_string());
        }
        let file = split.input.and_then(|i| ctx.files.get(i as usize));
        let input = match file {
            Some(f) => match InputHandle::open(&f.path, &f.shown, split.offset, Some(split.length)) {
                Ok(h) => Some(h),
                Err(e) => {
                    self.slots = router.into_slots();
                    let _ = ctx.writer.send(WriterMsg::Abort(unit));
                    return Err((
                        CallError::Plugin {
                            kind: crate::plugin::instance::ErrorKind::Io,
                            message: format!("cannot open {}: {e}", f.shown),
                            retryable: false,
                        },
                        false,
                    ));
                }
            },
            None => None,
        };
        let reader = match self.ensure_reader(ctx) {
            Ok(r) => r,
            Err(e) => {
                self.slots = router.into_slots();
                let _ = ctx.writer.send(WriterMsg::Abort(unit));
                return fail(e);
            }
        };
        let input_file = file.map(|f| f.input_file());
        let reading = Instant::now();
        let downstream = Downstream { router, rows: 0, inside: Duration::ZERO };
        let result = reader.read(split, input_file.as_ref(), input, Box::new(downstream));
        let read_time = reading.elapsed();
        let downstream = result
            .emitter
            .and_then(|e| e.into_any().downcast::<Downstream>().ok())
            .expect("the emitter handed to read comes back");
        let Downstream { mut router, rows, inside } = *downstream;
        record.rows = rows;
        record.times.reader += read_time.saturating_sub(inside);
        record.bytes_read += result.call.bytes_read;
        merge_counters(&mut record.counters, result.call.counters);
        record.rejected += result.call.rejected;
        record.rejects = result.call.rejects;
        let mut outcome = result.outcome.map_err(|e| {
            let retryable = e.retryable();
            (e, retryable)
        });
        if outcome.is_ok()
            && let Err(e) = router.finish_all()
        {
            outcome = Err((CallError::Trap(e.to_string()), false));
        }
        let states: Vec<(usize, Vec<Vec<u8>>)> = std::mem::take(&mut router.states)
            .into_iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .collect();
        record.sink_rows = router.sink_rows.clone();
        add_times(&mut record.times.transforms, &router.transform_time);
        record.times.backpressure += router.send_wait;
        self.slots = router.into_slots();
        match outcome {
            Ok(partial) => {
                if !states.is_empty()
                    && let Err(e) = ctx.send_states(states)
                {
                    let _ = ctx.writer.send(WriterMsg::Abort(unit));
                    return fail(e.to_string());
                }
                let _ = ctx.writer.send(WriterMsg::Commit(unit));
                Ok(partial)
            }
            Err(e) => {
                let _ = ctx.writer.send(WriterMsg::Abort(unit));
                record.rejects.clear();
                record.rejected = 0;
                Err(e)
            }
        }
    }
}

fn add_times(into: &mut Vec<Duration>, from: &[Duration]) {
    into.resize(into.len().max(from.len()), Duration::ZERO);
    for (a, b) in into.iter_mut().zip(from) {
        *a += *b;
    }
}

fn merge_counters(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}
