use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::progress::Progress;
use crate::catalog;
use crate::model::{
    Address, Estate, Generation, GenerationKind, ObservedResource, Outcome, Reference,
    RestoreReport, Stack, UtcTime, Value,
};
use crate::plan::{Action, ActionKind, Plan};
use crate::provider::{DeleteMode, Operation, Provider, ProviderError, ResolvedResource};
use crate::store::{Actor, Change, JournalIntent, JournalState, NewGeneration, Store, StoreError};

/// How to apply.
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

/// How one operation ended.
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

/// Why an apply could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed; the journal says what was in flight.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plan has blocked actions.
    #[error("the plan has {0} blocked action(s); nothing was applied")]
    Blocked(usize),
    /// An internal invariant broke.
    #[error("bug in statectl: {0}")]
    Bug(String),
}

/// Operations journaled ahead of their start, beyond the free slots (ready
/// ones first, then ones still waiting for their dependencies): a slot
/// that frees up starts one of them without a durable commit. More means
/// fewer commits, and more open journal entries for `--resume` to check
/// with the provider after a crash.
pub const JOURNAL_AHEAD: usize = 64;

/// Results that commit together at most: the work a crash can make
/// `--resume` re-read from the provider is bounded by this.
pub const PENDING_MAX: usize = 256;

/// How long a finished operation's result waits for others to commit with
/// it (on the runtime's clock, which is virtual time on the simulator).
pub const PENDING_WAIT: Duration = Duration::from_millis(200);

struct Finished {
    index: usize,
    seq: u64,
    result: Result<Option<ObservedResource>, ProviderError>,
    started: Duration,
    ended: Duration,
}

/// The value of `re` from observed state, as the provider reported it.
fn lookup(observed: &BTreeMap<Address, ObservedResource>, re: &Reference) -> Option<Value> {
    let o = observed.get(&re.address)?;
    match re.attr.as_str() {
        "id" => Some(Value::String(o.id.clone())),
        "name" => Some(Value::String(o.name.clone())),
        a => o.attributes.get(a).or_else(|| o.properties.get(a)).cloned(),
    }
}

/// Resolves a desired resource against observed state.
fn resolve(
    desired: &Estate,
    address: &Address,
    observed: &BTreeMap<Address, ObservedResource>,
) -> Result<ResolvedResource, String> {
    let r = desired
        .resource(address)
        .ok_or_else(|| format!("{address} is not in the release"))?;
    let mut properties = BTreeMap::new();
    for (k, v) in &r.properties {
        let resolved = v.resolve(&|re| lookup(observed, re)).map_err(|re| {
            let sensitive = catalog::lookup(&observed.get(&re.address).map_or(String::new(), |o| o.arm_type.clone()))
                .is_ok_and(|rt| rt.is_sensitive(&re.attr));
            if sensitive {
                format!("property `{k}` references the sensitive attribute {re}; pass secrets through Key Vault references, never in clear")
            } else {
                format!("property `{k}`: {re} has no value (its resource is not in observed state)")
            }
        })?;
        properties.insert(k.clone(), resolved);
    }
    Ok(ResolvedResource {
        address: address.clone(),
        arm_type: r.arm_type.clone(),
        name: r.name.clone(),
        subscription: desired.environment.subscription_id.clone(),
        properties,
        tags: r.tags.clone(),
        dependencies: r.dependencies(),
        prevent_destroy: r.lifecycle.prevent_destroy,
    })
}

fn arm_id(r: &ResolvedResource) -> String {
    catalog::lookup(&r.arm_type)
        .ok()
        .and_then(|rt| {
            rt.arm_id(&r.subscription, &r.name, &|p| {
                r.properties
                    .get(p)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .ok()
        })
        .unwrap_or_default()
}

/// The ARM id an action will write, predicted before its dependencies
/// have finished: references resolve from observed state where it has
/// them, otherwise a dependency's `name` from the release and its `id`
/// from the id its own journal entry names. `None` when that is not enough
/// (the id needs a value only the cloud computes).
fn predict_id(
    desired: &Estate,
    a: &Action,
    observed: &BTreeMap<Address, ObservedResource>,
    journaled_ids: &BTreeMap<Address, String>,
) -> Option<String> {
    if a.kind == ActionKind::Delete {
        return observed.get(&a.address).map(|o| o.id.clone());
    }
    let r = desired.resource(&a.address)?;
    let rt = catalog::lookup(&r.arm_type).ok()?;
    let find = |re: &Reference| -> Option<Value> {
        if let Some(v) = lookup(observed, re) {
            return Some(v);
        }
        match re.attr.as_str() {
            "id" => journaled_ids.get(&re.address).cloned().map(Value::String),
            "name" => desired
                .resource(&re.address)
                .map(|t| Value::String(t.name.clone())),
            _ => None,
        }
    };
    let id = rt
        .arm_id(&desired.environment.subscription_id, &r.name, &|p| {
            r.properties
                .get(p)?
                .resolve(&find)
                .ok()?
                .as_str()
                .map(str::to_string)
        })
        .ok()?;
    Some(id)
}

/// Applies `plan` (made against `observed`) for the release `desired`.
#[allow(clippy::too_many_arguments)]
pub async fn apply<P: Provider + 'static>(
    store: &Store,
    provider: Arc<P>,
    stack: &Stack,
    plan: &Plan,
    desired: &Estate,
    mut observed: BTreeMap<Address, ObservedResource>,
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
    let n = plan.actions.len();
    let mut remaining: Vec<usize> = plan.actions.iter().map(|a| a.needs.len()).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, a) in plan.actions.iter().enumerate() {
        for &j in &a.needs {
            if j >= n {
                return Err(ApplyError::Bug(format!(
                    "action {i} needs {j}, beyond the plan"
                )));
            }
            users[j].push(i);
        }
    }
    // Critical path first: among ready actions, start the one with the
    // longest chain of work still behind it (its "bottom level").
    let durations = plan.durations();
    let mut level = vec![0u64; n];
    for i in (0..n).rev() {
        let below = users[i].iter().map(|u| level[*u]).max().unwrap_or(0);
        level[i] = durations[i] + below;
    }
    let mut ready: BinaryHeap<(u64, Reverse<usize>)> = (0..n)
        .filter(|i| remaining[*i] == 0)
        .map(|i| (level[i], Reverse(i)))
        .collect();
    let mut settled = vec![false; n];
    let mut outcomes: Vec<OpOutcome> = Vec::with_capacity(n);
    let mut restores: Vec<RestoreReport> = Vec::new();
    let mut running: JoinSet<Finished> = JoinSet::new();
    let start = Instant::now();
    let parallelism = opts.parallelism.max(1);
    let region = Some(desired.environment.region.clone());

    // Group commit. Operations are journaled in batches ahead of their start
    // (up to JOURNAL_AHEAD beyond the free slots, all with their dependencies
    // done), so a slot that frees up usually starts a journaled operation
    // without a commit. Results wait in `pending` and commit with the next
    // batch of journal entries, or once PENDING_MAX of them have gathered, or
    // when no result has come for PENDING_WAIT while some are waiting. A crash
    // loses none of them: each waiting result has a journal entry that is
    // still open, and `apply --resume` reads the provider for every open entry.
    let mut pending_changes: Vec<Change> = Vec::new();
    let mut pending_resolves: Vec<(u64, JournalState, Option<String>)> = Vec::new();
    let mut journaled: BinaryHeap<(u64, Reverse<usize>)> = BinaryHeap::new();
    let mut journaled_ops: BTreeMap<usize, (u64, Option<ResolvedResource>)> = BTreeMap::new();
    // Journaling ahead of readiness. A batch that has room after the ready
    // operations also journals operations still waiting for their
    // dependencies (critical path first), under the ARM id they will write
    // (`predict_id`). When one becomes ready it is resolved, and starts
    // without a commit if it writes the id its entry names; otherwise that
    // entry is closed as superseded and it is journaled again. So the
    // entry of a started operation always names what it writes, and a
    // batch is not limited to what happens to be ready: on a layered
    // estate about 36 operations are ready at a time, a batch holds up to
    // 74.
    let mut waiting: BinaryHeap<(u64, Reverse<usize>)> = (0..n)
        .filter(|i| remaining[*i] > 0)
        .map(|i| (level[i], Reverse(i)))
        .collect();
    let mut ahead: BTreeMap<usize, (u64, String)> = BTreeMap::new();
    let mut journaled_ids: BTreeMap<Address, String> = BTreeMap::new();
    loop {
        while running.len() < parallelism {
            // Critical path first, whether journaled already or not.
            let take_journaled = match (journaled.peek(), ready.peek()) {
                (Some(j), Some(r)) => j.0 >= r.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_journaled {
                let Some((_, Reverse(i))) = journaled.pop() else {
                    break;
                };
                let (seq, resolved) = journaled_ops
                    .remove(&i)
                    .ok_or_else(|| ApplyError::Bug(format!("action {i} journaled twice")))?;
                let a = &plan.actions[i];
                progress.started(a, running.len() + 1, start.elapsed());
                let provider = provider.clone();
                let old = observed.get(&a.address).cloned();
                let kind = a.kind;
                let restore = opts.restore.contains(&a.address);
                running.spawn(async move {
                    let started = start.elapsed();
                    let result = run_op(provider.as_ref(), kind, old, resolved, restore).await;
                    Finished {
                        index: i,
                        seq,
                        result,
                        started,
                        ended: start.elapsed(),
                    }
                });
                continue;
            }
            // The next operation to start has no journal entry yet: journal a
            // batch of ready operations, with the waiting results, in one
            // durable transaction.
            let want = parallelism - running.len() + JOURNAL_AHEAD;
            let mut batch: Vec<(usize, Option<ResolvedResource>)> = Vec::new();
            let mut early: Vec<(usize, OpOutcome)> = Vec::new();
            while batch.len() < want {
                let Some((_, Reverse(i))) = ready.pop() else {
                    break;
                };
                let a = &plan.actions[i];
                if a.kind == ActionKind::Delete {
                    batch.push((i, None));
                    continue;
                }
                match resolve(desired, &a.address, &observed) {
                    Ok(r) => batch.push((i, Some(r))),
                    Err(e) => early.push((i, unresolvable(a, e, start.elapsed()))),
                }
            }
            for (i, o) in early {
                settle_failure(
                    plan,
                    i,
                    o,
                    &mut settled,
                    &mut outcomes,
                    &users,
                    start,
                    progress,
                    running.len(),
                );
            }
            close_skipped(&mut ahead, &settled, &mut pending_resolves);
            if batch.is_empty() {
                continue;
            }
            let mut intents: Vec<JournalIntent> = batch
                .iter()
                .map(|(i, r)| {
                    let a = &plan.actions[*i];
                    JournalIntent {
                        address: a.address.clone(),
                        action: a.kind.to_string(),
                        arm_type: a.arm_type.clone(),
                        resource_id: match r {
                            Some(r) => arm_id(r),
                            None => observed
                                .get(&a.address)
                                .map(|o| o.id.clone())
                                .unwrap_or_default(),
                        },
                        desired: a.desired,
                    }
                })
                .collect();
            let mut speculative: Vec<usize> = Vec::new();
            while intents.len() < want {
                let Some((_, Reverse(i))) = waiting.pop() else {
                    break;
                };
                // Ready (it is in `ready` or was journaled from there),
                // settled, or journaled ahead already: nothing to do. One
                // whose id cannot be predicted waits to be journaled ready.
                if remaining[i] == 0 || settled[i] || ahead.contains_key(&i) {
                    continue;
                }
                let a = &plan.actions[i];
                let Some(id) = predict_id(desired, a, &observed, &journaled_ids) else {
                    continue;
                };
                intents.push(JournalIntent {
                    address: a.address.clone(),
                    action: a.kind.to_string(),
                    arm_type: a.arm_type.clone(),
                    resource_id: id,
                    desired: a.desired,
                });
                speculative.push(i);
            }
            let (_, seqs) = store.record_and_begin(
                stack,
                g.number,
                std::mem::take(&mut pending_changes),
                &std::mem::take(&mut pending_resolves),
                &intents,
            )?;
            if seqs.len() != intents.len() {
                return Err(ApplyError::Bug(format!(
                    "journaled {} operations, got {} entries",
                    intents.len(),
                    seqs.len()
                )));
            }
            let mut entries = seqs.into_iter().zip(intents);
            for ((i, resolved), (seq, intent)) in batch.into_iter().zip(entries.by_ref()) {
                journaled_ids.insert(intent.address, intent.resource_id);
                journaled.push((level[i], Reverse(i)));
                journaled_ops.insert(i, (seq, resolved));
            }
            for (i, (seq, intent)) in speculative.into_iter().zip(entries) {
                journaled_ids.insert(intent.address, intent.resource_id.clone());
                ahead.insert(i, (seq, intent.resource_id));
            }
        }
        if running.is_empty() {
            break;
        }
        // Wait for one operation, then collect every other that finished at
        // the same moment. Results that have waited PENDING_WAIT for company
        // commit on their own.
        let mut finished = Vec::new();
        let first = if pending_resolves.is_empty() {
            running.join_next().await
        } else {
            tokio::select! {
                f = running.join_next() => f,
                () = tokio::time::sleep(PENDING_WAIT) => {
                    store.record(
                        stack,
                        g.number,
                        std::mem::take(&mut pending_changes),
                        &std::mem::take(&mut pending_resolves),
                    )?;
                    running.join_next().await
                }
            }
        };
        match first {
            Some(Ok(f)) => finished.push(f),
            Some(Err(e)) => return Err(ApplyError::Bug(format!("operation task failed: {e}"))),
            None => break,
        }
        loop {
            tokio::task::yield_now().await;
            let before = finished.len();
            while let Some(r) = running.try_join_next() {
                finished
                    .push(r.map_err(|e| ApplyError::Bug(format!("operation task failed: {e}")))?);
            }
            if finished.len() == before {
                break;
            }
        }
        for f in &finished {
            let a = &plan.actions[f.index];
            match &f.result {
                Ok(Some(o)) => {
                    pending_changes.push(Change::Put {
                        observed: Box::new(o.clone()),
                        applied: a.desired,
                    });
                    pending_resolves.push((f.seq, JournalState::Done, None));
                }
                Ok(None) => {
                    pending_changes.push(Change::Remove(a.address.clone()));
                    pending_resolves.push((f.seq, JournalState::Done, None));
                }
                Err(e) => pending_resolves.push((f.seq, JournalState::Failed, Some(e.to_string()))),
            }
        }
        if pending_resolves.len() >= PENDING_MAX {
            store.record(
                stack,
                g.number,
                std::mem::take(&mut pending_changes),
                &std::mem::take(&mut pending_resolves),
            )?;
        }
        let mut newly_ready: Vec<usize> = Vec::new();
        for f in finished {
            let a = &plan.actions[f.index];
            let took = f.ended.saturating_sub(f.started);
            match f.result {
                Ok(res) => {
                    match res {
                        Some(o) => {
                            if opts.restore.contains(&a.address) {
                                restores.push(restore_report(&o, took));
                            }
                            observed.insert(a.address.clone(), o);
                        }
                        None => {
                            observed.remove(&a.address);
                        }
                    }
                    settled[f.index] = true;
                    // Its id is in observed state now, where predictions look first.
                    journaled_ids.remove(&a.address);
                    let o = OpOutcome {
                        address: a.address.clone(),
                        kind: a.kind,
                        result: OpResult::Done,
                        started: f.started,
                        ended: f.ended,
                        took,
                    };
                    outcomes.push(o.clone());
                    progress.finished(&o, outcomes.len(), n, running.len());
                    for &u in &users[f.index] {
                        remaining[u] -= 1;
                        if remaining[u] == 0 && !settled[u] {
                            newly_ready.push(u);
                        }
                    }
                }
                Err(e) => {
                    let o = OpOutcome {
                        address: a.address.clone(),
                        kind: a.kind,
                        result: OpResult::Failed(e.to_string()),
                        started: f.started,
                        ended: f.ended,
                        took,
                    };
                    settle_failure(
                        plan,
                        f.index,
                        o,
                        &mut settled,
                        &mut outcomes,
                        &users,
                        start,
                        progress,
                        running.len(),
                    );
                }
            }
        }
        // Operations journaled ahead that are ready now: start them without
        // a commit if they write the id their entry names.
        for u in newly_ready {
            if settled[u] {
                continue;
            }
            let Some((seq, predicted)) = ahead.remove(&u) else {
                ready.push((level[u], Reverse(u)));
                continue;
            };
            let a = &plan.actions[u];
            let resolved = if a.kind == ActionKind::Delete {
                Ok(None)
            } else {
                resolve(desired, &a.address, &observed).map(Some)
            };
            match resolved {
                Ok(r) => {
                    let actual = match &r {
                        Some(r) => arm_id(r),
                        None => observed
                            .get(&a.address)
                            .map(|o| o.id.clone())
                            .unwrap_or_default(),
                    };
                    if actual == predicted {
                        journaled.push((level[u], Reverse(u)));
                        journaled_ops.insert(u, (seq, r));
                    } else {
                        pending_resolves.push((
                            seq,
                            JournalState::Failed,
                            Some(format!(
                                "not started: journaled ahead as {predicted}, it writes {actual}; journaled again"
                            )),
                        ));
                        ready.push((level[u], Reverse(u)));
                    }
                }
                Err(e) => {
                    pending_resolves.push((seq, JournalState::Failed, Some(e.clone())));
                    settle_failure(
                        plan,
                        u,
                        unresolvable(a, e, start.elapsed()),
                        &mut settled,
                        &mut outcomes,
                        &users,
                        start,
                        progress,
                        running.len(),
                    );
                }
            }
        }
        close_skipped(&mut ahead, &settled, &mut pending_resolves);
    }
    // Nothing journaled ahead is left open: every operation either became
    // ready or was skipped, and both close their entry.
    for (_, (seq, _)) in std::mem::take(&mut ahead) {
        pending_resolves.push((
            seq,
            JournalState::Failed,
            Some("not started: the apply ended first".into()),
        ));
    }
    let makespan = start.elapsed();
    store
        .clock()
        .elapse(i64::try_from(makespan.as_millis()).unwrap_or(i64::MAX));
    if !pending_changes.is_empty() || !pending_resolves.is_empty() {
        store.record(stack, g.number, pending_changes, &pending_resolves)?;
    }
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
    let generation = store.finish_generation(
        stack,
        g.number,
        outcome,
        summary,
        restores.clone(),
        actor,
        region,
    )?;
    Ok(ApplyReport {
        generation,
        outcomes,
        makespan,
        restores,
    })
}

/// What a provider reported about a restore, in the attributes a restored
/// resource carries (`restore_point`, RFC 3339, and `data_loss_seconds`).
fn restore_report(o: &ObservedResource, took: Duration) -> RestoreReport {
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
fn unresolvable(a: &Action, e: String, t: Duration) -> OpOutcome {
    OpOutcome {
        address: a.address.clone(),
        kind: a.kind,
        result: OpResult::Failed(e),
        started: t,
        ended: t,
        took: Duration::ZERO,
    }
}

/// Closes the journal entries of operations journaled ahead that a
/// failure has since skipped: they will never start.
fn close_skipped(
    ahead: &mut BTreeMap<usize, (u64, String)>,
    settled: &[bool],
    resolves: &mut Vec<(u64, JournalState, Option<String>)>,
) {
    ahead.retain(|i, (seq, _)| {
        if settled[*i] {
            resolves.push((
                *seq,
                JournalState::Failed,
                Some("not started: something it needs failed".into()),
            ));
            false
        } else {
            true
        }
    });
}

/// Records a failure and skips everything that needs it, transitively.
#[allow(clippy::too_many_arguments)]
fn settle_failure(
    plan: &Plan,
    index: usize,
    outcome: OpOutcome,
    settled: &mut [bool],
    outcomes: &mut Vec<OpOutcome>,
    users: &[Vec<usize>],
    start: Instant,
    progress: &mut dyn Progress,
    running: usize,
) {
    let n = plan.actions.len();
    let failed_addr = outcome.address.clone();
    settled[index] = true;
    outcomes.push(outcome.clone());
    progress.finished(&outcome, outcomes.len(), n, running);
    let mut stack: Vec<usize> = users[index].clone();
    while let Some(u) = stack.pop() {
        if settled[u] {
            continue;
        }
        settled[u] = true;
        let a: &Action = &plan.actions[u];
        let t = start.elapsed();
        let o = OpOutcome {
            address: a.address.clone(),
            kind: a.kind,
            result: OpResult::Skipped(format!("needs {failed_addr}, which failed")),
            started: t,
            ended: t,
            took: Duration::ZERO,
        };
        outcomes.push(o.clone());
        progress.finished(&o, outcomes.len(), n, running);
        stack.extend(users[u].iter().copied());
    }
}

/// Runs one action's provider calls: `Ok(Some)` is the new observed state,
/// `Ok(None)` a completed delete.
async fn run_op<P: Provider>(
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
