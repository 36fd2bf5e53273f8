use std::time::Duration;

use crate::model::{Address, Generation, RestoreReport};
use crate::plan::ActionKind;

/// How one operation ended.
///
/// Invariant: `Skipped` operations never reached the provider; `Failed`
/// ones may have (the provider refused or failed part way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// It took effect and is recorded.
    Done,
    /// The provider refused or failed.
    Failed(String),
    /// Not attempted because something it needs failed.
    Skipped(String),
}

/// One operation's outcome and timing (on the runtime's clock: virtual time
/// on a paused runtime).
///
/// Invariant: `started <= ended` and `took == ended - started`; an
/// operation that never ran (skipped, or its references could not be
/// resolved) took zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpOutcome {
    /// The resource.
    pub address: Address,
    /// What was done.
    pub kind: ActionKind,
    /// How it ended.
    pub result: OpResult,
    /// When it started, from the start of the apply.
    pub started: Duration,
    /// When it ended, from the start of the apply.
    pub ended: Duration,
    /// How long it took.
    pub took: Duration,
}

/// What an apply did.
///
/// Invariant: `outcomes` holds exactly one entry per action of the plan,
/// and `generation` is finished (its outcome and summary follow from them).
#[derive(Clone, Debug)]
pub struct ApplyReport {
    /// The generation it committed.
    pub generation: Generation,
    /// Every action's outcome, in completion order.
    pub outcomes: Vec<OpOutcome>,
    /// From first start to last end, on the runtime's clock.
    pub makespan: Duration,
    /// Stateful resources restored from backup, with the RPO and RTO achieved.
    pub restores: Vec<RestoreReport>,
}

impl ApplyReport {
    /// Outcomes that failed or were skipped.
    pub fn failures(&self) -> impl Iterator<Item = &OpOutcome> {
        self.outcomes
            .iter()
            .filter(|o| !matches!(o.result, OpResult::Done))
    }
}
