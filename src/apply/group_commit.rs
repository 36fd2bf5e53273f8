//! Group commit: the results of finished operations wait in memory and
//! commit to the store together, so an apply of thousands of operations
//! costs far fewer durable transactions than operations.
//!
//! A waiting result commits with the next batch of journal entries, or once
//! [`PENDING_MAX`] results wait, or when no operation has ended for
//! [`PENDING_WAIT`] while some wait, or when the apply ends. A crash loses
//! none of them: each waiting result's journal entry is still open, and
//! `apply --resume` reads the provider for every open entry.

use std::time::Duration;

use tokio::task::JoinSet;

use super::error::ApplyError;
use crate::model::{ObservedResource, Stack};
use crate::plan::Action;
use crate::provider::ProviderError;
use crate::store::{Change, JournalIntent, JournalState, Store, StoreError};

/// Results that commit together at most: the work a crash can make
/// `--resume` re-read from the provider is bounded by this.
pub const PENDING_MAX: usize = 256;

/// How long a finished operation's result waits for others to commit with
/// it (on the runtime's clock, which is virtual time on the simulator).
pub const PENDING_WAIT: Duration = Duration::from_millis(200);

/// The results and journal resolutions of one apply's generation that are
/// not committed yet.
///
/// Invariants: a journal entry is resolved in the same transaction that
/// records its operation's result; nothing added is dropped (each commit
/// takes everything waiting, and [`GroupCommit::finish`] commits the rest);
/// results commit in the order they were added.
pub(super) struct GroupCommit<'a> {
    store: &'a Store,
    stack: &'a Stack,
    generation: u64,
    changes: Vec<Change>,
    resolves: Vec<(u64, JournalState, Option<String>)>,
}

impl<'a> GroupCommit<'a> {
    /// Nothing waiting yet, for generation `generation` of `stack`
    /// (begun, not finished).
    pub(super) fn new(store: &'a Store, stack: &'a Stack, generation: u64) -> Self {
        GroupCommit {
            store,
            stack,
            generation,
            changes: Vec::new(),
            resolves: Vec::new(),
        }
    }

    /// Adds the result of `action`, which ran under journal entry `seq`.
    pub(super) fn add(
        &mut self,
        seq: u64,
        action: &Action,
        result: &Result<Option<ObservedResource>, ProviderError>,
    ) {
        match result {
            Ok(Some(o)) => {
                self.changes.push(Change::Put {
                    observed: Box::new(o.clone()),
                    applied: action.desired,
                });
                self.resolves.push((seq, JournalState::Done, None));
            }
            Ok(None) => {
                self.changes.push(Change::Remove(action.address.clone()));
                self.resolves.push((seq, JournalState::Done, None));
            }
            Err(e) => self
                .resolves
                .push((seq, JournalState::Failed, Some(e.to_string()))),
        }
    }

    /// Closes journal entry `seq`, whose operation will not start under it,
    /// saying `why`.
    pub(super) fn close(&mut self, seq: u64, why: String) {
        self.resolves.push((seq, JournalState::Failed, Some(why)));
    }

    /// How many journal resolutions wait.
    pub(super) fn waiting(&self) -> usize {
        self.resolves.len()
    }

    /// Commits everything waiting, once [`PENDING_MAX`] results wait.
    pub(super) fn commit_if_full(&mut self) -> Result<(), StoreError> {
        if self.resolves.len() >= PENDING_MAX {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits everything waiting now.
    pub(super) fn commit(&mut self) -> Result<(), StoreError> {
        self.store.record(
            self.stack,
            self.generation,
            std::mem::take(&mut self.changes),
            &std::mem::take(&mut self.resolves),
        )?;
        Ok(())
    }

    /// Commits everything waiting with new journal entries for `intents`,
    /// in one durable transaction; returns their sequence numbers.
    pub(super) fn begin(&mut self, intents: &[JournalIntent]) -> Result<Vec<u64>, ApplyError> {
        let (_, seqs) = self.store.record_and_begin(
            self.stack,
            self.generation,
            std::mem::take(&mut self.changes),
            &std::mem::take(&mut self.resolves),
            intents,
        )?;
        if seqs.len() != intents.len() {
            return Err(ApplyError::Bug(format!(
                "journaled {} operations, got {} entries",
                intents.len(),
                seqs.len()
            )));
        }
        Ok(seqs)
    }

    /// Commits whatever still waits: the apply has ended.
    pub(super) fn finish(self) -> Result<(), StoreError> {
        if !self.changes.is_empty() || !self.resolves.is_empty() {
            self.store
                .record(self.stack, self.generation, self.changes, &self.resolves)?;
        }
        Ok(())
    }

    /// Waits for one of the `running` operations to end, then collects
    /// every other that ended at the same moment; empty once none runs.
    /// Results that have waited [`PENDING_WAIT`] for company commit on
    /// their own meanwhile.
    pub(super) async fn gather<T: 'static>(
        &mut self,
        running: &mut JoinSet<T>,
    ) -> Result<Vec<T>, ApplyError> {
        let mut finished = Vec::new();
        let first = if self.waiting() == 0 {
            running.join_next().await
        } else {
            tokio::select! {
                f = running.join_next() => f,
                () = tokio::time::sleep(PENDING_WAIT) => {
                    self.commit()?;
                    running.join_next().await
                }
            }
        };
        match first {
            Some(Ok(f)) => finished.push(f),
            Some(Err(e)) => return Err(ApplyError::Bug(format!("operation task failed: {e}"))),
            None => return Ok(finished),
        }
        loop {
            // Operations that end at this instant may not have been polled
            // yet: let them run before deciding who ended together.
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
        Ok(finished)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::GenerationKind;
    use crate::plan::testkit::{addr, chain, observe, plan_of, stack};
    use crate::plan::{ActionKind, PlanOptions};
    use crate::store::{Actor, NewGeneration, StoreOptions};

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        stack: Stack,
        generation: u64,
        action: Action,
    }

    /// A store with a generation begun, and a create action to report on.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let stack = stack();
        let actor = Actor {
            name: "test".into(),
            how: "unit test".into(),
        };
        let new = NewGeneration {
            kind: GenerationKind::Apply,
            release: None,
            plan_hash: None,
            reason: None,
        };
        let generation = store.begin_generation(&stack, new, &actor).unwrap().number;
        let e = chain();
        let plan = plan_of(
            Some(&e),
            &Default::default(),
            &Default::default(),
            &PlanOptions::default(),
        )
        .unwrap();
        let action = plan.actions[0].clone();
        assert_eq!(action.kind, ActionKind::Create);
        Fixture {
            _dir: dir,
            store,
            stack,
            generation,
            action,
        }
    }

    fn intents(n: usize) -> Vec<JournalIntent> {
        (0..n)
            .map(|i| JournalIntent {
                address: addr(&format!("m.r{i}")),
                action: "create".into(),
                arm_type: "Microsoft.Resources/resourceGroups".into(),
                resource_id: format!("/id/{i}"),
                desired: None,
            })
            .collect()
    }

    /// Each journal entry's state, in sequence order.
    fn states(f: &Fixture) -> Vec<JournalState> {
        f.store
            .journal(&f.stack)
            .unwrap()
            .into_iter()
            .map(|e| e.state)
            .collect()
    }

    fn observed_count(f: &Fixture) -> usize {
        let g = f.store.generation(&f.stack, f.generation).unwrap();
        f.store.observed(&g).unwrap().len()
    }

    fn done(f: &Fixture) -> Result<Option<ObservedResource>, ProviderError> {
        Ok(observe(&chain()).remove(&f.action.address))
    }

    #[test]
    fn results_commit_with_the_next_journal_batch() {
        use JournalState::{Begun, Done, Failed};
        let f = fixture();
        let mut c = GroupCommit::new(&f.store, &f.stack, f.generation);
        let seqs = c.begin(&intents(3)).unwrap();
        assert_eq!(seqs, [1, 2, 3]);
        c.add(seqs[0], &f.action, &done(&f));
        c.add(
            seqs[1],
            &f.action,
            &Err(ProviderError::fatal("Conflict", "taken")),
        );
        c.close(seqs[2], "not started: superseded".into());
        assert_eq!(c.waiting(), 3);
        // Nothing is durable until the next commit.
        assert_eq!(states(&f), [Begun, Begun, Begun]);
        assert_eq!(observed_count(&f), 0);
        let next = c.begin(&intents(1)).unwrap();
        assert_eq!(next, [4]);
        assert_eq!(c.waiting(), 0);
        assert_eq!(states(&f), [Done, Failed, Failed, Begun]);
        let journal = f.store.journal(&f.stack).unwrap();
        assert_eq!(journal[1].detail.as_deref(), Some("Conflict: taken"));
        assert_eq!(
            journal[2].detail.as_deref(),
            Some("not started: superseded")
        );
        assert_eq!(observed_count(&f), 1);
    }

    #[test]
    fn results_commit_on_their_own_at_pending_max() {
        let f = fixture();
        let mut c = GroupCommit::new(&f.store, &f.stack, f.generation);
        let seqs = c.begin(&intents(PENDING_MAX + 1)).unwrap();
        for &seq in &seqs[..PENDING_MAX - 1] {
            c.add(seq, &f.action, &done(&f));
        }
        c.commit_if_full().unwrap();
        assert_eq!(c.waiting(), PENDING_MAX - 1);
        let begun = |f: &Fixture| {
            states(f)
                .iter()
                .filter(|s| **s == JournalState::Begun)
                .count()
        };
        assert_eq!(begun(&f), PENDING_MAX + 1);
        c.add(seqs[PENDING_MAX - 1], &f.action, &done(&f));
        c.commit_if_full().unwrap();
        assert_eq!(c.waiting(), 0);
        assert_eq!(begun(&f), 1);
    }

    /// A task that ends after `ms` on the runtime's clock, saying so.
    fn after(running: &mut JoinSet<u64>, ms: u64) {
        running.spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        });
    }

    #[tokio::test(start_paused = true)]
    async fn a_result_waits_pending_wait_for_company_then_commits() {
        use JournalState::{Begun, Done};
        let f = fixture();
        let mut c = GroupCommit::new(&f.store, &f.stack, f.generation);
        let seqs = c.begin(&intents(2)).unwrap();
        let t0 = tokio::time::Instant::now();
        let mut running = JoinSet::new();
        after(&mut running, 100);
        after(&mut running, 100);
        after(&mut running, 150);
        after(&mut running, 1000);
        // Nothing waits: no timer; the two that end together come together.
        assert_eq!(c.gather(&mut running).await.unwrap(), [100, 100]);
        c.add(seqs[0], &f.action, &done(&f));
        // The next ends within PENDING_WAIT: the result keeps waiting.
        assert_eq!(c.gather(&mut running).await.unwrap(), [150]);
        assert_eq!(states(&f), [Begun, Begun]);
        c.add(seqs[1], &f.action, &done(&f));
        // The last ends long after: the results commit PENDING_WAIT after
        // the last end, without it.
        let mut running_last = std::mem::take(&mut running);
        let store = &f.store;
        let stack = &f.stack;
        let read = || -> Vec<JournalState> {
            store
                .journal(stack)
                .unwrap()
                .iter()
                .map(|e| e.state)
                .collect()
        };
        let commit_due = t0 + Duration::from_millis(150) + PENDING_WAIT;
        let watch = async {
            tokio::time::sleep_until(commit_due - Duration::from_millis(1)).await;
            let before = read();
            tokio::time::sleep_until(commit_due + Duration::from_millis(1)).await;
            (before, read())
        };
        let (gathered, (before, after)) = tokio::join!(c.gather(&mut running_last), watch);
        assert_eq!(gathered.unwrap(), [1000]);
        assert_eq!(t0.elapsed(), Duration::from_millis(1000));
        assert_eq!(before, [Begun, Begun]);
        assert_eq!(after, [Done, Done]);
        assert_eq!(c.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_lost_when_the_operations_run_out() {
        use JournalState::{Done, Failed};
        let f = fixture();
        let mut c = GroupCommit::new(&f.store, &f.stack, f.generation);
        let seqs = c.begin(&intents(3)).unwrap();
        let mut running = JoinSet::new();
        after(&mut running, 10);
        assert_eq!(c.gather(&mut running).await.unwrap(), [10]);
        c.add(seqs[0], &f.action, &done(&f));
        let remove = f.action.clone();
        c.add(seqs[1], &remove, &Ok(None));
        c.close(seqs[2], "not started: the apply ended first".into());
        // No operation left: gathering ends at once, committing nothing.
        let t = tokio::time::Instant::now();
        assert_eq!(c.gather(&mut running).await.unwrap(), Vec::<u64>::new());
        assert_eq!(t.elapsed(), Duration::ZERO);
        assert_eq!(c.waiting(), 3);
        c.finish().unwrap();
        assert_eq!(states(&f), [Done, Done, Failed]);
        // The put and the remove of the same address both applied, in order.
        assert_eq!(observed_count(&f), 0);
    }

    #[test]
    fn finishing_with_nothing_waiting_writes_nothing() {
        let f = fixture();
        let before = f.store.generation(&f.stack, f.generation).unwrap();
        GroupCommit::new(&f.store, &f.stack, f.generation)
            .finish()
            .unwrap();
        assert_eq!(f.store.generation(&f.stack, f.generation).unwrap(), before);
        assert!(states(&f).is_empty());
    }
}
