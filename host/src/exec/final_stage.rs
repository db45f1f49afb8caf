//! The final phase of aggregations, on its own thread.
//!
//! Every successful split sends the partial state of each mergeable
//! transform here, where one *final* transformer per aggregation merges it
//! as it arrives (memory grows with the number of groups, not with the
//! input). When all splits are done, the final transformers finish, and
//! their rows flow through whatever stages follow to the sinks, as the
//! writer's `Final` unit.

use super::error::ExecError;
use super::router::Router;
use super::{Ctx, FinalMsg};
use crate::prepare::Phase;
use crate::report::FinalReport;
use crate::sink::{Unit, WriterMsg};
use crossbeam_channel::Receiver;
use std::sync::atomic::Ordering;

/// Runs the final phase until the channel closes. An error here fails the
/// run: the aggregate would be incomplete.
pub fn run(ctx: &Ctx, rx: Receiver<FinalMsg>) -> Result<FinalReport, ExecError> {
    crate::panics::injected("final");
    let prepared = ctx.prepared.clone();
    let mut slots = Vec::new();
    let mut setup: Result<(), ExecError> = Ok(());
    for t in 0..prepared.transforms.len() {
        if Router::runs_here(&prepared, t, Phase::Final) && setup.is_ok() {
            match ctx.new_slot(t) {
                Ok(s) => slots.push(Some(s)),
                Err(e) => {
                    setup = Err(e);
                    slots.push(None);
                }
            }
        } else {
            slots.push(None);
        }
    }
    let mut router = Router::new(prepared.clone(), Unit::Final, ctx.writer.clone(), slots);
    if setup.is_ok() {
        setup = router.open_all("final");
    }
    let mut report = FinalReport::default();
    let mut error = setup.err();
    for msg in rx {
        // Keep draining after an error so that workers never block on us.
        let FinalMsg::States(states) = msg;
        if error.is_some() {
            continue;
        }
        for (t, list) in states {
            report.states_merged += list.len() as u64;
            if let Err(e) = router.merge(t, &list) {
                error = Some(e);
                ctx.stop.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    if let Some(e) = error {
        router.close_all();
        let _ = ctx.writer.send(WriterMsg::Abort(Unit::Final));
        return Err(e);
    }
    if ctx.stop.load(Ordering::SeqCst) {
        router.close_all();
        let _ = ctx.writer.send(WriterMsg::Abort(Unit::Final));
        return Ok(report);
    }
    if let Err(e) = router.finish_all() {
        let _ = ctx.writer.send(WriterMsg::Abort(Unit::Final));
        return Err(e);
    }
    report.sink_rows = router.sink_rows.clone();
    report.transform_time = router.transform_time.clone();
    report.send_wait = router.send_wait;
    let _ = ctx.writer.send(WriterMsg::Commit(Unit::Final));
    Ok(report)
}
