//! Why a unit of work (a split attempt, the final phase, a side table)
//! could not go on: the stage that failed and the reason, as the run
//! report shows them.

/// A failure inside the execution of a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// A stage failed: its id (`transforms.labels`) and why.
    #[error("{stage}: {reason}")]
    Stage { stage: String, reason: String },
    /// A stage's instance did not initialise.
    #[error("{stage}: init failed: {reason}")]
    Init { stage: String, reason: String },
    /// A transform got a batch outside of an open unit (a bug).
    #[error("{stage}: no open transformer")]
    NotOpen { stage: String },
    /// A side table could not be read completely.
    #[error("{stage}: {problem}")]
    SideTable { stage: String, problem: String },
    #[error("the writer has stopped")]
    WriterStopped,
    #[error("the final stage has stopped")]
    FinalStopped,
    #[error("partial states but no final stage")]
    NoFinalStage,
    /// A thread of the run panicked (a bug in the runtime, or a dependency
    /// that panicked on what a plugin handed it).
    #[error("the {place} panicked: {message}")]
    Panicked { place: &'static str, message: String },
}

impl ExecError {
    pub fn stage(stage: &str, reason: impl std::fmt::Display) -> Self {
        ExecError::Stage { stage: stage.to_string(), reason: reason.to_string() }
    }
    pub fn side_table(stage: &str, problem: impl std::fmt::Display) -> Self {
        ExecError::SideTable { stage: stage.to_string(), problem: problem.to_string() }
    }
}
