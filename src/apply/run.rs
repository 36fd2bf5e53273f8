//! One apply in progress: the loop that asks the [`Scheduler`] what may
//! start, journals through the [`GroupCommit`], runs operations on the
//! provider and feeds their results back to both.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::applier::ApplyOptions;
use super::error::ApplyError;
use super::group_commit::GroupCommit;
use super::journaled::{JOURNAL_AHEAD, Journaled};
use super::operation::{self, Finished, run_op};
use super::progress::Progress;
use super::report::{OpOutcome, OpResult};
use super::resolve::{predict_id, resolve, written_id};
use super::scheduler::{Next, Scheduler};
use crate::model::{Address, Estate, ObservedResource, RestoreReport};
use crate::plan::{Action, ActionKind, Plan};
use crate::provider::{Provider, ResolvedResource};
use crate::store::JournalIntent;

/// One apply in progress.
///
/// Invariant: `observed` is observed state as of the results seen so far
/// (committed or waiting in `commit`); every operation in `running` has an
/// open journal entry.
pub(super) struct Run<'a, P> {
    pub(super) plan: &'a Plan,
    pub(super) desired: &'a Estate,
    pub(super) opts: &'a ApplyOptions,
    pub(super) provider: Arc<P>,
    pub(super) progress: &'a mut dyn Progress,
    pub(super) observed: BTreeMap<Address, ObservedResource>,
    pub(super) sched: Scheduler,
    pub(super) commit: GroupCommit<'a>,
    pub(super) journal: Journaled,
    pub(super) running: JoinSet<Finished>,
    pub(super) outcomes: Vec<OpOutcome>,
    pub(super) restores: Vec<RestoreReport>,
    pub(super) start: Instant,
}

impl<P: Provider + 'static> Run<'_, P> {
    /// Starts operations until none is left to start, then waits for them,
    /// as long as anything runs.
    pub(super) async fn run(&mut self) -> Result<(), ApplyError> {
        loop {
            self.fill_slots()?;
            if self.running.is_empty() {
                break;
            }
            let finished = self.commit.gather(&mut self.running).await?;
            if finished.is_empty() {
                break;
            }
            self.settle(finished)?;
        }
        // Every operation became ready or was skipped, and both close their
        // entry; these are left only if the apply ended early.
        self.journal.close_all(&mut self.commit);
        Ok(())
    }

    /// Starts operations while there are free slots and ready work,
    /// journaling a batch when the next one to start has no entry.
    fn fill_slots(&mut self) -> Result<(), ApplyError> {
        loop {
            match self.sched.next(self.running.len()) {
                Next::Wait => return Ok(()),
                Next::Start(i) => self.start_op(i)?,
                Next::Journal(free) => self.journal_batch(free + JOURNAL_AHEAD)?,
            }
        }
    }

    /// Starts journaled operation `i` on the provider.
    fn start_op(&mut self, i: usize) -> Result<(), ApplyError> {
        let (seq, resolved) = self.journal.take_ready(i)?;
        let a = &self.plan.actions[i];
        self.progress
            .started(a, self.running.len() + 1, self.start.elapsed());
        let provider = self.provider.clone();
        let old = self.observed.get(&a.address).cloned();
        let kind = a.kind;
        let restore = self.opts.restore.contains(&a.address);
        let start = self.start;
        self.running.spawn(async move {
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
        Ok(())
    }

    /// Journals up to `want` operations in one durable transaction, with
    /// the results waiting to commit: ready ones first, then waiting ones
    /// whose id can be predicted.
    fn journal_batch(&mut self, want: usize) -> Result<(), ApplyError> {
        let batch = self.take_ready(want);
        if batch.is_empty() {
            return Ok(());
        }
        let mut intents: Vec<JournalIntent> = batch
            .iter()
            .map(|(i, r)| {
                let a = &self.plan.actions[*i];
                intent(a, written_id(r.as_ref(), &a.address, &self.observed))
            })
            .collect();
        let speculative = self.predict_waiting(&mut intents, want);
        let seqs = self.commit.begin(&intents)?;
        let mut entries = seqs.into_iter().zip(intents);
        for ((i, resolved), (seq, intent)) in batch.into_iter().zip(entries.by_ref()) {
            self.journal.name_id(intent.address, intent.resource_id);
            self.sched.push_journaled(i);
            self.journal.add_ready(i, seq, resolved);
        }
        for (i, (seq, intent)) in speculative.into_iter().zip(entries) {
            self.journal
                .name_id(intent.address, intent.resource_id.clone());
            self.journal.add_ahead(i, seq, intent.resource_id);
        }
        Ok(())
    }

    /// Takes up to `want` ready operations and resolves them; those that
    /// cannot be resolved fail (skipping what needs them) instead.
    fn take_ready(&mut self, want: usize) -> Vec<(usize, Option<ResolvedResource>)> {
        let plan = self.plan;
        let mut batch = Vec::new();
        let mut early: Vec<(usize, OpOutcome)> = Vec::new();
        while batch.len() < want {
            let Some(i) = self.sched.pop_ready() else {
                break;
            };
            let a = &plan.actions[i];
            if a.kind == ActionKind::Delete {
                batch.push((i, None));
                continue;
            }
            match resolve(self.desired, &a.address, &self.observed) {
                Ok(r) => batch.push((i, Some(r))),
                Err(e) => early.push((i, operation::unresolvable(a, e, self.start.elapsed()))),
            }
        }
        for (i, o) in early {
            self.fail(i, o);
        }
        self.journal.close_skipped(&self.sched, &mut self.commit);
        batch
    }

    /// Adds intents for operations still waiting for their dependencies,
    /// critical path first, until `intents` holds `want`; returns them.
    /// One whose id cannot be predicted waits to be journaled ready.
    fn predict_waiting(&mut self, intents: &mut Vec<JournalIntent>, want: usize) -> Vec<usize> {
        let mut speculative = Vec::new();
        while intents.len() < want {
            let Some(i) = self.sched.pop_waiting() else {
                break;
            };
            if self.journal.is_ahead(i) {
                continue;
            }
            let a = &self.plan.actions[i];
            let Some(id) = predict_id(self.desired, a, &self.observed, self.journal.ids()) else {
                continue;
            };
            intents.push(intent(a, id));
            speculative.push(i);
        }
        speculative
    }

    /// Records operations that ended: their results wait to commit, their
    /// outcomes are reported, and what they unblock is queued.
    fn settle(&mut self, finished: Vec<Finished>) -> Result<(), ApplyError> {
        let plan = self.plan;
        for f in &finished {
            self.commit.add(f.seq, &plan.actions[f.index], &f.result);
        }
        self.commit.commit_if_full()?;
        let mut newly_ready: Vec<usize> = Vec::new();
        for f in finished {
            let done = operation::ran(&plan.actions[f.index], &f);
            match f.result {
                Ok(res) => newly_ready.extend(self.succeeded(f.index, res, done)),
                Err(e) => {
                    let failed = OpOutcome {
                        result: OpResult::Failed(e.to_string()),
                        ..done
                    };
                    self.fail(f.index, failed);
                }
            }
        }
        for u in newly_ready {
            self.now_ready(u);
        }
        self.journal.close_skipped(&self.sched, &mut self.commit);
        Ok(())
    }

    /// Records that operation `i` succeeded with `res` (`None`: deleted);
    /// returns what became ready by it.
    fn succeeded(&mut self, i: usize, res: Option<ObservedResource>, o: OpOutcome) -> Vec<usize> {
        let a = &self.plan.actions[i];
        match res {
            Some(obs) => {
                if self.opts.restore.contains(&a.address) {
                    self.restores.push(operation::restore_report(&obs, o.took));
                }
                self.observed.insert(a.address.clone(), obs);
            }
            None => {
                self.observed.remove(&a.address);
            }
        }
        let newly_ready = self.sched.succeeded(i);
        self.journal.forget_id(&a.address);
        self.outcomes.push(o);
        self.report_last();
        newly_ready
    }

    /// Operation `u`'s dependencies are done: queue it to be journaled, or,
    /// if it was journaled ahead, to start under its entry when that names
    /// the id it writes (otherwise the entry is closed as superseded).
    fn now_ready(&mut self, u: usize) {
        if self.sched.is_settled(u) {
            return;
        }
        let Some((seq, predicted)) = self.journal.take_ahead(u) else {
            self.sched.push_ready(u);
            return;
        };
        let a = &self.plan.actions[u];
        let resolved = if a.kind == ActionKind::Delete {
            Ok(None)
        } else {
            resolve(self.desired, &a.address, &self.observed).map(Some)
        };
        match resolved {
            Ok(r) => {
                let actual = written_id(r.as_ref(), &a.address, &self.observed);
                if actual == predicted {
                    self.sched.push_journaled(u);
                    self.journal.add_ready(u, seq, r);
                } else {
                    self.commit.close(
                        seq,
                        format!(
                            "not started: journaled ahead as {predicted}, it writes {actual}; journaled again"
                        ),
                    );
                    self.sched.push_ready(u);
                }
            }
            Err(e) => {
                self.commit.close(seq, e.clone());
                let o = operation::unresolvable(a, e, self.start.elapsed());
                self.fail(u, o);
            }
        }
    }

    /// Records a failure and skips everything that needs it, transitively.
    fn fail(&mut self, i: usize, outcome: OpOutcome) {
        let plan = self.plan;
        let skipped = self.sched.failed(i);
        let failed = outcome.address.clone();
        self.outcomes.push(outcome);
        self.report_last();
        for u in skipped {
            let o = operation::skipped(&plan.actions[u], &failed, self.start.elapsed());
            self.outcomes.push(o);
            self.report_last();
        }
    }

    /// Reports the outcome just recorded.
    fn report_last(&mut self) {
        if let Some(o) = self.outcomes.last() {
            self.progress.finished(
                o,
                self.outcomes.len(),
                self.plan.actions.len(),
                self.running.len(),
            );
        }
    }
}

/// The journal intent of action `a`, writing `resource_id`.
fn intent(a: &Action, resource_id: String) -> JournalIntent {
    JournalIntent {
        address: a.address.clone(),
        action: a.kind.to_string(),
        arm_type: a.arm_type.clone(),
        resource_id,
        desired: a.desired,
    }
}
