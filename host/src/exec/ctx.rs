//! What every thread of a run shares: the prepared pipeline, the engine,
//! the side tables, the channels to the writer and the final stage, and
//! the run's stop flag and counters.

use super::error::ExecError;
use super::router::Slot;
use crate::plan::PlannedFile;
use crate::plugin::Runtime;
use crate::prepare::Prepared;
use crate::progress::Progress;
use crate::report::SideTableData;
use crate::sink::WriterTx;
use crossbeam_channel::Sender;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Partial aggregation states of one split, by transform.
pub enum FinalMsg {
    States(Vec<(usize, Vec<Vec<u8>>)>),
}

/// What every worker shares during a run.
pub struct Ctx {
    pub prepared: Arc<Prepared>,
    pub runtime: Arc<Runtime>,
    pub side_tables: Vec<SideTableData>,
    pub files: Vec<PlannedFile>,
    pub writer: WriterTx,
    /// To the final stage; taken (closed) when all splits are done.
    pub finals: Mutex<Option<Sender<FinalMsg>>>,
    pub stop: Arc<AtomicBool>,
    pub failed: AtomicU64,
    pub total: u64,
    pub progress: Progress,
    /// When the run started: split times are offsets from it.
    pub started: Instant,
}

impl Ctx {
    /// Sends a split's partial states to the final stage.
    pub fn send_states(&self, states: Vec<(usize, Vec<Vec<u8>>)>) -> Result<(), ExecError> {
        let tx = self.finals.lock().unwrap().clone();
        match tx {
            Some(tx) => tx.send(FinalMsg::States(states)).map_err(|_| ExecError::FinalStopped),
            None => Err(ExecError::NoFinalStage),
        }
    }

    /// A fresh, initialised instance of transform `t`, with its side tables.
    pub fn new_slot(&self, t: usize) -> Result<Slot, ExecError> {
        let tr = &self.prepared.transforms[t];
        let c = &tr.stage.common;
        let mut instance = self.runtime.transform(&tr.plugin, c).map_err(|e| ExecError::stage(&c.id, e))?;
        let tables: Vec<(String, Vec<Vec<u8>>)> = tr
            .stage
            .side_tables
            .iter()
            .filter_map(|n| self.side_tables.iter().find(|s| &s.name == n))
            .map(|s| (s.name.clone(), s.buffers.clone()))
            .collect();
        instance
            .init(&c.options, &tables)
            .map_err(|e| ExecError::Init { stage: c.id.clone(), reason: e.to_string() })?;
        Ok(Slot { instance, open: None, emitted: 0 })
    }
}
