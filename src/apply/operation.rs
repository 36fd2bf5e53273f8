//! One operation: the provider calls of one action, and how its result
//! reads as an outcome.

use std::time::Duration;

use super::report::{OpOutcome, OpResult};
use crate::model::{ObservedResource, RestoreReport, UtcTime, Value};
use crate::plan::{Action, ActionKind};
use crate::provider::{DeleteMode, Operation, Provider, ProviderError, ResolvedResource};

/// A finished operation, as its task hands it back to the applier.
///
/// Invariant: `seq` is the journal entry the operation started under, and
/// stays open until `result` is committed.
#[derive(Debug)]
pub(super) struct Finished {
    /// Its action's index in the plan.
    pub(super) index: usize,
    /// Its journal entry.
    pub(super) seq: u64,
    /// `Ok(Some)` the new observed state, `Ok(None)` a completed delete.
    pub(super) result: Result<Option<ObservedResource>, ProviderError>,
    /// When it started, from the start of the apply.
    pub(super) started: Duration,
    /// When it ended, from the start of the apply.
    pub(super) ended: Duration,
}

/// Runs one action's provider calls: `Ok(Some)` is the new observed state,
/// `Ok(None)` a completed delete.
pub(super) async fn run_op<P: Provider>(
    provider: &P,
    kind: ActionKind,
    old: Option<ObservedResource>,
    resolved: Option<ResolvedResource>,
    restore: bool,
) -> Result<Option<ObservedResource>, ProviderError> {
    let missing = || {
        ProviderError::fatal(
            "InternalError",
            "bug in statectl: no resolved resource for a write",
        )
    };
    match kind {
        ActionKind::Delete => {
            if let Some(o) = old {
                provider.delete(&o, DeleteMode::Destroy).await?;
            }
            Ok(None)
        }
        ActionKind::Create => {
            let r = resolved.ok_or_else(missing)?;
            let op = if restore {
                Operation::Restore
            } else {
                Operation::Create
            };
            provider.put(op, &r).await.map(Some)
        }
        ActionKind::Update => {
            let r = resolved.ok_or_else(missing)?;
            provider.put(Operation::Update, &r).await.map(Some)
        }
        ActionKind::Replace => {
            let r = resolved.ok_or_else(missing)?;
            if let Some(o) = old {
                provider.delete(&o, DeleteMode::Replace).await?;
            }
            let op = if restore {
                Operation::Restore
            } else {
                Operation::Create
            };
            provider.put(op, &r).await.map(Some)
        }
    }
}

/// What a provider reported about a restore, in the attributes a restored
/// resource carries (`restore_point`, RFC 3339, and `data_loss_seconds`).
pub(super) fn restore_report(o: &ObservedResource, took: Duration) -> RestoreReport {
    let restore_point = o
        .attributes
        .get("restore_point")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map_or(UtcTime(0), UtcTime::from_timestamp);
    let data_loss_secs = o
        .attributes
        .get("data_loss_seconds")
        .and_then(Value::as_int)
        .and_then(|i| u64::try_from(i).ok())
        .unwrap_or(0);
    RestoreReport {
        address: o.address.clone(),
        restore_point,
        data_loss_secs,
        elapsed_secs: took.as_secs(),
    }
}

/// The outcome of an action whose properties could not be resolved at
/// time `t`: it fails without starting.
pub(super) fn unresolvable(a: &Action, e: String, t: Duration) -> OpOutcome {
    OpOutcome {
        address: a.address.clone(),
        kind: a.kind,
        result: OpResult::Failed(e),
        started: t,
        ended: t,
        took: Duration::ZERO,
    }
}

/// The outcome of an action that ran and succeeded (a failure is this
/// with the provider's error).
pub(super) fn ran(a: &Action, f: &Finished) -> OpOutcome {
    OpOutcome {
        address: a.address.clone(),
        kind: a.kind,
        result: OpResult::Done,
        started: f.started,
        ended: f.ended,
        took: f.ended.saturating_sub(f.started),
    }
}

/// The outcome of an action skipped at time `t` because `failed`, which it
/// needs (directly or not), failed.
pub(super) fn skipped(a: &Action, failed: &crate::model::Address, t: Duration) -> OpOutcome {
    OpOutcome {
        address: a.address.clone(),
        kind: a.kind,
        result: OpResult::Skipped(format!("needs {failed}, which failed")),
        started: t,
        ended: t,
        took: Duration::ZERO,
    }
}
