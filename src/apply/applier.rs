//! The entry point of an apply: it checks the plan, begins the
//! generation, hands the work to a [`Run`] and finishes the generation
//! with what the run reports.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::ApplyError;
use super::group_commit::GroupCommit;
use super::journaled::Journaled;
use super::progress::Progress;
use super::report::{ApplyReport, OpOutcome, OpResult};
use super::run::Run;
use super::scheduler::Scheduler;
use crate::model::{Address, Estate, GenerationKind, ObservedResource, Outcome, Stack};
use crate::plan::Plan;
use crate::provider::Provider;
use crate::store::{Actor, NewGeneration, Store};

/// How to apply.
///
/// Invariant: none of its own; `parallelism` 0 is read as 1.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Most operations in flight at once.
    pub parallelism: usize,
    /// What the generation is.
    pub kind: GenerationKind,
    /// Why (recorded in history and audit).
    pub reason: Option<String>,
    /// Operations on these addresses restore from backup instead of creating
    /// empty (emergency restore of stateful resources).
    pub restore: Vec<Address>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            kind: GenerationKind::Apply,
            reason: None,
            restore: Vec::new(),
        }
    }
}

/// Applies `plan` (made against `observed`) for the release `desired`.
#[allow(clippy::too_many_arguments)]
pub async fn apply<P: Provider + 'static>(
    store: &Store,
    provider: Arc<P>,
    stack: &Stack,
    plan: &Plan,
    desired: &Estate,
    observed: BTreeMap<Address, ObservedResource>,
    actor: &Actor,
    opts: &ApplyOptions,
    progress: &mut dyn Progress,
) -> Result<ApplyReport, ApplyError> {
    let blocked = plan.blocked().count();
    if blocked > 0 {
        return Err(ApplyError::Blocked(blocked));
    }
    let g = store.begin_generation(
        stack,
        NewGeneration {
            kind: opts.kind,
            release: plan.release.clone(),
            plan_hash: Some(plan.hash),
            reason: opts.reason.clone(),
        },
        actor,
    )?;
    let mut run = Run {
        sched: Scheduler::for_plan(plan, opts.parallelism)?,
        commit: GroupCommit::new(store, stack, g.number),
        journal: Journaled::default(),
        running: JoinSet::new(),
        outcomes: Vec::with_capacity(plan.actions.len()),
        restores: Vec::new(),
        start: Instant::now(),
        plan,
        desired,
        observed,
        opts,
        provider,
        progress,
    };
    run.run().await?;
    let Run {
        commit,
        outcomes,
        restores,
        start,
        ..
    } = run;
    let makespan = start.elapsed();
    store
        .clock()
        .elapse(i64::try_from(makespan.as_millis()).unwrap_or(i64::MAX));
    commit.finish()?;
    let (outcome, summary) = summarize(&outcomes);
    let generation = store.finish_generation(
        stack,
        g.number,
        outcome,
        summary,
        restores.clone(),
        actor,
        Some(desired.environment.region.clone()),
    )?;
    Ok(ApplyReport {
        generation,
        outcomes,
        makespan,
        restores,
    })
}

/// How the generation ends, and a line for each action that did not.
fn summarize(outcomes: &[OpOutcome]) -> (Outcome, Vec<String>) {
    let failed: Vec<&OpOutcome> = outcomes
        .iter()
        .filter(|o| !matches!(o.result, OpResult::Done))
        .collect();
    let succeeded = outcomes.len() - failed.len();
    let outcome = if failed.is_empty() {
        Outcome::Succeeded
    } else if succeeded > 0 {
        Outcome::Partial
    } else {
        Outcome::Failed
    };
    let summary: Vec<String> = failed
        .iter()
        .map(|o| match &o.result {
            OpResult::Failed(e) => format!("{} {} failed: {e}", o.kind, o.address),
            OpResult::Skipped(w) => format!("{} {} skipped: {w}", o.kind, o.address),
            OpResult::Done => String::new(),
        })
        .collect();
    (outcome, summary)
}
