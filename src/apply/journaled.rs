//! Journal entries written before their operations start.
//!
//! Operations are journaled in batches ahead of their start (up to
//! [`JOURNAL_AHEAD`] beyond the free slots), so a slot that frees up
//! usually starts a journaled operation without a commit. A batch with
//! room after the ready operations also journals operations still waiting
//! for their dependencies (critical path first), under the ARM id they will
//! write (`resolve::predict_id`). When one becomes ready it is resolved,
//! and starts without a commit if it writes the id its entry names;
//! otherwise that entry is closed as superseded and it is journaled again.
//! So the entry of a started operation always names what it writes, and a
//! batch is not limited to what happens to be ready: on a layered estate
//! about 36 operations are ready at a time, a batch holds up to 74.

use std::collections::BTreeMap;

use super::error::ApplyError;
use super::group_commit::GroupCommit;
use super::scheduler::Scheduler;
use crate::model::Address;
use crate::provider::ResolvedResource;

/// Operations journaled ahead of their start, beyond the free slots (ready
/// ones first, then ones still waiting for their dependencies): a slot
/// that frees up starts one of them without a durable commit. More means
/// fewer commits, and more open journal entries for `--resume` to check
/// with the provider after a crash.
pub const JOURNAL_AHEAD: usize = 64;

/// The open journal entries of operations that have not started.
///
/// Invariants: an operation has at most one entry here, either as ready
/// (with what it writes, resolved) or as journaled ahead (with the id
/// predicted for it); an entry leaves only to start its operation or to be
/// closed through the group commit, so none is left open when the apply
/// ends.
#[derive(Debug, Default)]
pub(super) struct Journaled {
    ready: BTreeMap<usize, (u64, Option<ResolvedResource>)>,
    ahead: BTreeMap<usize, (u64, String)>,
    ids: BTreeMap<Address, String>,
}

impl Journaled {
    /// The ARM id each journaled operation's entry names, by address, for
    /// predicting the ids of what references them.
    pub(super) fn ids(&self) -> &BTreeMap<Address, String> {
        &self.ids
    }

    /// Notes the id an entry names for `address`.
    pub(super) fn name_id(&mut self, address: Address, id: String) {
        self.ids.insert(address, id);
    }

    /// Forgets the id noted for `address`: it is in observed state now,
    /// where predictions look first.
    pub(super) fn forget_id(&mut self, address: &Address) {
        self.ids.remove(address);
    }

    /// Ready operation `i` has entry `seq` and writes `resolved`.
    pub(super) fn add_ready(&mut self, i: usize, seq: u64, resolved: Option<ResolvedResource>) {
        self.ready.insert(i, (seq, resolved));
    }

    /// Waiting operation `i` has entry `seq`, naming `predicted`.
    pub(super) fn add_ahead(&mut self, i: usize, seq: u64, predicted: String) {
        self.ahead.insert(i, (seq, predicted));
    }

    /// Takes ready operation `i`'s entry, to start it.
    pub(super) fn take_ready(
        &mut self,
        i: usize,
    ) -> Result<(u64, Option<ResolvedResource>), ApplyError> {
        self.ready
            .remove(&i)
            .ok_or_else(|| ApplyError::Bug(format!("action {i} journaled twice")))
    }

    /// Takes operation `i`'s entry journaled ahead, if it has one: it is
    /// ready now.
    pub(super) fn take_ahead(&mut self, i: usize) -> Option<(u64, String)> {
        self.ahead.remove(&i)
    }

    /// Whether operation `i` is journaled ahead.
    pub(super) fn is_ahead(&self, i: usize) -> bool {
        self.ahead.contains_key(&i)
    }

    /// Closes the entries journaled ahead of operations a failure has since
    /// skipped: they will never start.
    pub(super) fn close_skipped(&mut self, sched: &Scheduler, commit: &mut GroupCommit<'_>) {
        self.ahead.retain(|i, (seq, _)| {
            if sched.is_settled(*i) {
                commit.close(*seq, "not started: something it needs failed".into());
                false
            } else {
                true
            }
        });
    }

    /// Closes every entry still journaled ahead: the apply ended first.
    pub(super) fn close_all(&mut self, commit: &mut GroupCommit<'_>) {
        for (_, (seq, _)) in std::mem::take(&mut self.ahead) {
            commit.close(seq, "not started: the apply ended first".into());
        }
    }
}
