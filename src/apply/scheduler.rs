//! The scheduler: which of a plan's operations may start now, given the
//! dependency graph, the free slots and what has failed.
//!
//! It decides order only. It never calls a provider or writes the store;
//! the applier tells it what ended and asks it what to start next.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::error::ApplyError;
use crate::plan::Plan;

/// Operations in start order: the longest chain of work still behind it
/// (its "bottom level") first, ties to the lower plan index.
type Queue = BinaryHeap<(u64, Reverse<usize>)>;

/// What the applier should do next with a free slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Start this operation: it is ready and has its journal entry.
    Start(usize),
    /// The operation to start next has no journal entry yet: journal a
    /// batch, for (at least) this many free slots.
    Journal(usize),
    /// Every slot is busy, or nothing is ready.
    Wait,
}

/// The state of every operation of one apply: waiting for the actions it
/// needs, ready, ready and journaled, or settled (done, failed, skipped).
///
/// Invariants: an operation becomes ready only once every action it needs
/// has succeeded, and is handed out by [`Scheduler::next`] or
/// [`Scheduler::pop_ready`] at most once; among ready operations the
/// critical path goes first; an operation is settled once, and a failure
/// settles everything that needs it, transitively, as skipped; [`Next::Start`]
/// and [`Next::Journal`] are only answered while fewer than `parallelism`
/// operations run.
#[derive(Debug)]
pub(super) struct Scheduler {
    users: Vec<Vec<usize>>,
    remaining: Vec<usize>,
    level: Vec<u64>,
    settled: Vec<bool>,
    ready: Queue,
    journaled: Queue,
    waiting: Queue,
    parallelism: usize,
}

impl Scheduler {
    /// A scheduler for `plan` (each action's duration from the catalog).
    pub(super) fn for_plan(plan: &Plan, parallelism: usize) -> Result<Self, ApplyError> {
        let needs: Vec<&[usize]> = plan.actions.iter().map(|a| a.needs.as_slice()).collect();
        Scheduler::new(&needs, &plan.durations(), parallelism)
    }

    /// A scheduler for operations that need `needs[i]` and take
    /// `durations[i]`; every action with nothing to wait for is ready.
    pub(super) fn new(
        needs: &[&[usize]],
        durations: &[u64],
        parallelism: usize,
    ) -> Result<Self, ApplyError> {
        let n = needs.len();
        let remaining: Vec<usize> = needs.iter().map(|ns| ns.len()).collect();
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, ns) in needs.iter().enumerate() {
            for &j in *ns {
                if j >= n {
                    return Err(ApplyError::Bug(format!(
                        "action {i} needs {j}, beyond the plan"
                    )));
                }
                users[j].push(i);
            }
        }
        // Actions come after everything they need, so one backward pass
        // sees every user's level before its own.
        let mut level = vec![0u64; n];
        for i in (0..n).rev() {
            let below = users[i].iter().map(|u| level[*u]).max().unwrap_or(0);
            level[i] = durations.get(i).copied().unwrap_or(0) + below;
        }
        let queue = |waits: bool| -> Queue {
            (0..n)
                .filter(|i| (remaining[*i] > 0) == waits)
                .map(|i| (level[i], Reverse(i)))
                .collect()
        };
        Ok(Scheduler {
            ready: queue(false),
            waiting: queue(true),
            journaled: BinaryHeap::new(),
            settled: vec![false; n],
            users,
            remaining,
            level,
            parallelism: parallelism.max(1),
        })
    }

    /// What to do with the slots while `running` operations run. A
    /// [`Next::Start`] is taken off the queue: start it.
    pub(super) fn next(&mut self, running: usize) -> Next {
        if running >= self.parallelism {
            return Next::Wait;
        }
        // Critical path first, whether journaled already or not.
        let take_journaled = match (self.journaled.peek(), self.ready.peek()) {
            (Some(j), Some(r)) => j.0 >= r.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return Next::Wait,
        };
        if !take_journaled {
            return Next::Journal(self.parallelism - running);
        }
        match self.journaled.pop() {
            Some((_, Reverse(i))) => Next::Start(i),
            None => Next::Wait,
        }
    }

    /// The ready operation on the longest path, to journal.
    pub(super) fn pop_ready(&mut self) -> Option<usize> {
        self.ready.pop().map(|(_, Reverse(i))| i)
    }

    /// Queues a ready operation that has no journal entry (yet, or any more).
    pub(super) fn push_ready(&mut self, i: usize) {
        self.ready.push((self.level[i], Reverse(i)));
    }

    /// Queues a ready operation whose journal entry is written.
    pub(super) fn push_journaled(&mut self, i: usize) {
        self.journaled.push((self.level[i], Reverse(i)));
    }

    /// The operation on the longest path among those still waiting for
    /// their dependencies, to journal ahead; each is handed out once.
    pub(super) fn pop_waiting(&mut self) -> Option<usize> {
        while let Some((_, Reverse(i))) = self.waiting.pop() {
            // Ready since (it is queued or journaled from there) or settled.
            if self.remaining[i] == 0 || self.settled[i] {
                continue;
            }
            return Some(i);
        }
        None
    }

    /// Whether the operation has ended (done, failed or skipped).
    pub(super) fn is_settled(&self, i: usize) -> bool {
        self.settled[i]
    }

    /// Records that `i` succeeded; returns the operations that became
    /// ready by it, in plan order, without queueing them (the applier
    /// decides whether they need a journal entry).
    pub(super) fn succeeded(&mut self, i: usize) -> Vec<usize> {
        self.settled[i] = true;
        let mut newly_ready = Vec::new();
        for &u in &self.users[i] {
            self.remaining[u] -= 1;
            if self.remaining[u] == 0 && !self.settled[u] {
                newly_ready.push(u);
            }
        }
        newly_ready
    }

    /// Records that `i` failed and skips everything that needs it,
    /// transitively; returns the skipped operations in the order they are
    /// reported.
    pub(super) fn failed(&mut self, i: usize) -> Vec<usize> {
        self.settled[i] = true;
        let mut skipped = Vec::new();
        let mut stack: Vec<usize> = self.users[i].clone();
        while let Some(u) = stack.pop() {
            if self.settled[u] {
                continue;
            }
            self.settled[u] = true;
            skipped.push(u);
            stack.extend(self.users[u].iter().copied());
        }
        skipped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::PlanOptions;
    use crate::plan::testkit::{addr, chain, digests, observe, plan_of};

    fn sched(needs: &[&[usize]], durations: &[u64], parallelism: usize) -> Scheduler {
        Scheduler::new(needs, durations, parallelism).unwrap()
    }

    /// Everything ready, in the order it is handed out.
    fn drain_ready(s: &mut Scheduler) -> Vec<usize> {
        std::iter::from_fn(|| s.pop_ready()).collect()
    }

    #[test]
    fn only_operations_with_their_dependencies_done_are_ready() {
        let e = chain();
        let plan = plan_of(
            Some(&e),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &PlanOptions::default(),
        )
        .unwrap();
        // core.rg, net.vnet (needs 0), app.web (needs 0 and 1).
        let mut s = Scheduler::for_plan(&plan, 10).unwrap();
        assert_eq!(s.next(0), Next::Journal(10));
        assert_eq!(drain_ready(&mut s), [0]);
        s.push_journaled(0);
        assert_eq!(s.next(0), Next::Start(0));
        assert_eq!(s.next(1), Next::Wait);
        assert_eq!(s.succeeded(0), [1]);
        assert_eq!(s.succeeded(1), [2]);
        assert_eq!(s.succeeded(2), Vec::<usize>::new());
        assert!((0..3).all(|i| s.is_settled(i)));
    }

    #[test]
    fn deletes_become_ready_in_reverse_dependency_order() {
        let e = chain();
        let destroy = PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        };
        let plan = plan_of(Some(&e), &observe(&e), &digests(&e), &destroy).unwrap();
        let order: Vec<String> = plan.actions.iter().map(|a| a.address.to_string()).collect();
        assert_eq!(order, ["app.web", "net.vnet", "core.rg"]);
        let mut s = Scheduler::for_plan(&plan, 10).unwrap();
        assert_eq!(drain_ready(&mut s), [0]);
        assert_eq!(s.succeeded(0), [1]);
        assert_eq!(drain_ready(&mut s), Vec::<usize>::new());
        assert_eq!(s.succeeded(1), [2]);
    }

    #[test]
    fn a_replacement_waits_for_the_delete_of_what_depends_on_it() {
        let before = chain();
        let desired = before
            .with_resources(|r| {
                r.remove(&addr("app.web"));
                let vnet = r.get_mut(&addr("net.vnet")).unwrap();
                vnet.properties.insert(
                    "location".into(),
                    crate::model::Value::String("westus".into()),
                );
            })
            .unwrap();
        let plan = plan_of(
            Some(&desired),
            &observe(&before),
            &digests(&before),
            &PlanOptions::default(),
        )
        .unwrap();
        let kinds: Vec<String> = plan
            .actions
            .iter()
            .map(|a| format!("{} {}", a.kind, a.address))
            .collect();
        assert_eq!(kinds, ["delete app.web", "replace net.vnet"]);
        let mut s = Scheduler::for_plan(&plan, 10).unwrap();
        assert_eq!(drain_ready(&mut s), [0]);
        assert_eq!(s.pop_waiting(), Some(1));
        assert_eq!(s.succeeded(0), [1]);
    }

    #[test]
    fn the_longest_chain_of_work_starts_first_ties_by_index() {
        // 2 needs 1; levels: 0 -> 5, 1 -> 1 + 10, 2 -> 10.
        let mut s = sched(&[&[], &[], &[1]], &[5, 1, 10], 4);
        assert_eq!(drain_ready(&mut s), [1, 0]);
        let mut s = sched(&[&[], &[], &[]], &[3, 3, 3], 4);
        assert_eq!(drain_ready(&mut s), [0, 1, 2]);
        // Journaled or not, the longer chain goes first.
        let mut s = sched(&[&[], &[], &[1]], &[5, 1, 10], 4);
        assert_eq!(drain_ready(&mut s), [1, 0]);
        s.push_journaled(0);
        s.push_ready(1);
        assert_eq!(s.next(0), Next::Journal(4));
        s.pop_ready();
        s.push_journaled(1);
        assert_eq!(s.next(0), Next::Start(1));
        assert_eq!(s.next(1), Next::Start(0));
        // On a tie the journaled one starts: no commit needed.
        let mut s = sched(&[&[], &[]], &[3, 3], 4);
        assert_eq!(drain_ready(&mut s), [0, 1]);
        s.push_ready(0);
        s.push_journaled(1);
        assert_eq!(s.next(0), Next::Start(1));
    }

    #[test]
    fn no_more_than_parallelism_operations_start() {
        let none: &[usize] = &[];
        let mut s = sched(&[none; 5], &[1; 5], 2);
        assert_eq!(s.next(0), Next::Journal(2));
        assert_eq!(s.next(1), Next::Journal(1));
        assert_eq!(s.next(2), Next::Wait);
        for i in drain_ready(&mut s) {
            s.push_journaled(i);
        }
        assert_eq!(s.next(2), Next::Wait);
        assert_eq!(s.next(3), Next::Wait);
        assert_eq!(s.next(1), Next::Start(0));
        assert_eq!(s.next(1), Next::Start(1));
        // Parallelism 0 means one at a time.
        let mut s = sched(&[none; 2], &[1; 2], 0);
        assert_eq!(s.next(0), Next::Journal(1));
        assert_eq!(s.next(1), Next::Wait);
    }

    #[test]
    fn a_failure_skips_everything_that_needs_it_transitively() {
        // 1 and 2 need 0, 3 needs 2, 4 needs nothing.
        let mut s = sched(&[&[], &[0], &[0], &[2], &[]], &[1; 5], 4);
        assert_eq!(s.failed(0), [2, 3, 1]);
        assert!((0..4).all(|i| s.is_settled(i)));
        assert!(!s.is_settled(4));
        assert_eq!(s.succeeded(4), Vec::<usize>::new());
        // Skipped operations are never handed out to be journaled ahead.
        assert_eq!(s.pop_waiting(), None);
        // The applier names the failure in each skip.
        let plan = plan_of(
            Some(&chain()),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &PlanOptions::default(),
        )
        .unwrap();
        let o = super::super::operation::skipped(
            &plan.actions[2],
            &addr("core.rg"),
            std::time::Duration::from_secs(7),
        );
        assert_eq!(
            o.result,
            super::super::report::OpResult::Skipped("needs core.rg, which failed".into())
        );
        assert_eq!((o.started, o.took), (o.ended, std::time::Duration::ZERO));
    }

    #[test]
    fn waiting_operations_are_handed_out_once_longest_chain_first() {
        // 1 needs 0, 2 needs 1, 3 needs 0.
        let mut s = sched(&[&[], &[0], &[1], &[0]], &[1, 1, 1, 5], 4);
        assert_eq!(s.pop_waiting(), Some(3));
        assert_eq!(s.succeeded(0), [1, 3]);
        // 1 is ready now: not handed out as waiting.
        assert_eq!(s.pop_waiting(), Some(2));
        assert_eq!(s.pop_waiting(), None);
    }

    #[test]
    fn a_dependency_beyond_the_plan_is_a_bug() {
        let e = Scheduler::new(&[&[], &[5]], &[1, 1], 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bug in statectl: action 1 needs 5, beyond the plan"
        );
    }
}
