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

