//! `drift` (compare what the latest generation recorded with what the
//! provider holds now), `drift --fix` (plan from the cloud's current view
//! back to the last applied release, and apply), and `refresh` (record what
//! the cloud holds as a generation).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::run::{Finished, RunOptions};
use super::{Cloud, Hooks, Ops, OpsError, planning, require_reason};
use crate::apply::DriftReport;
use crate::model::{
    Address, Generation, GenerationKind, ObservedResource, Outcome as GenOutcome, Stack,
};
use crate::plan::{self, PlanOptions};
use crate::provider::Provider;
use crate::store::{Change, NewGeneration, StackLock};

/// What `drift` found, and (when it may fix) the stack's lock, held until
/// the fix is done or this value is dropped.
#[derive(Debug)]
pub struct DriftCheck {
    /// The stack.
    pub stack: Stack,
    /// The generation compared with.
    pub generation: Generation,
    /// The differences.
    pub report: DriftReport,
    /// The guarantees the cloud's current view breaks that no exception
    /// covers (the rules over observed state), for the drifted resources.
    pub breaks: Vec<crate::verify::Finding>,
    recorded: BTreeMap<Address, ObservedResource>,
    lock: Option<StackLock>,
}

/// How `drift --fix` applies.
#[derive(Clone, Debug, Default)]
pub struct FixRequest {
    /// Why.
    pub reason: Option<String>,
    /// `--emergency` (with a reason).
    pub emergency: bool,
    /// Delete or replace resources that hold data.
    pub allow_data_loss: bool,
}

/// What `refresh` recorded.
#[derive(Debug)]
pub struct Refreshed {
    /// The new generation.
    pub generation: Generation,
    /// Changes recorded.
    pub changes: usize,
}

impl<P: Provider + 'static> Ops<Cloud<P>> {
    /// Compares the latest generation of `stack` with the provider. With
    /// `fix`, the stack is locked first and newer generations are taken in
    /// from the mirror (a fix writes); without, a stale record is a warning.
    pub fn drift(
        &self,
        stack: &Stack,
        fix: bool,
        lock_timeout: Duration,
        hooks: &mut dyn Hooks,
    ) -> Result<DriftCheck, OpsError> {
        let mut check = self.compare(stack, fix, lock_timeout, hooks)?;
        if !check.report.is_clean() && check.generation.release.is_some() {
            let drifted = check.report.drifted();
            check.breaks = self
                .observed_report(stack, &check.generation, &check.report, &[])?
                .report
                .failures()
                .filter(|(f, _)| f.address.as_ref().is_some_and(|a| drifted.contains(a)))
                .map(|(f, _)| f.clone())
                .collect();
        }
        Ok(check)
    }

    /// [`Ops::drift`] without judging what the drift breaks (`breaks` left
    /// empty), for callers that judge the whole observed estate themselves.
    pub(super) fn compare(
        &self,
        stack: &Stack,
        fix: bool,
        lock_timeout: Duration,
        hooks: &mut dyn Hooks,
    ) -> Result<DriftCheck, OpsError> {
        let lock = self.lock_and_pull_if(stack, lock_timeout, fix, hooks)?;
        let generation = planning::latest_settled(&self.store, stack)?.ok_or_else(|| {
            OpsError::NeverApplied {
                stack: stack.to_string(),
                what: "compare",
            }
        })?;
        let recorded = self.store.observed(&generation)?;
        let report = self
            .cloud
            .runtime
            .block_on(crate::apply::detect(
                self.cloud.provider.as_ref(),
                &recorded,
            ))
            .map_err(OpsError::Provider)?;
        Ok(DriftCheck {
            stack: stack.clone(),
            generation,
            report,
            breaks: Vec::new(),
            recorded,
            lock,
        })
    }

    /// Plans from the cloud's current view back to the release the checked
    /// generation applied, and applies it. `check` must come from
    /// [`Ops::drift`] with `fix`.
    pub fn fix_drift(
        &self,
        check: DriftCheck,
        req: &FixRequest,
        hooks: &mut dyn Hooks,
    ) -> Result<Finished, OpsError> {
        if req.emergency {
            require_reason(req.reason.as_deref(), "--emergency")?;
        }
        let DriftCheck {
            stack,
            generation: latest,
            report,
            recorded,
            lock,
            ..
        } = check;
        if lock.is_none() {
            return Err(OpsError::Invalid(
                "a drift fix needs the check made with fix (under the stack's lock)".into(),
            ));
        }
        let version = latest.release.clone().ok_or_else(|| OpsError::NoRelease {
            stack: stack.to_string(),
            generation: latest.number,
        })?;
        let desired = planning::desired(
            &self.store,
            &self.loader,
            &stack.estate,
            &stack.env,
            &version,
            None,
        )?;
        let mut applied = self.store.applied(&latest)?;
        for a in &report.drifted() {
            applied.insert(a.clone(), crate::store::UNKNOWN_DESIRED);
        }
        for a in &report.deleted {
            applied.remove(a);
        }
        let live: BTreeMap<_, _> = recorded
            .into_iter()
            .filter(|(a, _)| !report.deleted.contains(a))
            .map(|(a, o)| match report.live.get(&a) {
                Some(l) => (a, l.clone()),
                None => (a, o),
            })
            .collect();
        let input = plan::PlanInput {
            stack: &stack,
            release: Some(&desired.version),
            release_content: desired.release.as_ref().map(|r| r.content),
            desired: Some(&desired.estate),
            desired_digests: &desired.digests,
            base_generation: Some(latest.number),
            observed: &live,
            applied: &applied,
        };
        let plan = plan::plan(
            &input,
            &PlanOptions {
                allow_data_loss: req.allow_data_loss,
                ..PlanOptions::default()
            },
        )?;
        let run = RunOptions {
            reason: Some(format!(
                "drift fix{}",
                req.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            emergency: req.emergency,
            ..RunOptions::default()
        };
        let out = self.execute(&stack, &run, plan, live, &desired, hooks);
        drop(lock);
        out
    }

    /// Records what the provider holds for `stack` as a generation of kind
    /// `refresh`: on the latest state, under the mirror lease, pushed when
    /// done.
    pub fn refresh(
        &self,
        stack: &Stack,
        reason: Option<String>,
        lock_timeout: Duration,
        hooks: &mut dyn Hooks,
    ) -> Result<Refreshed, OpsError> {
        let _lock = self.lock_and_pull(stack, lock_timeout, true, hooks)?;
        self.store.check_data_key()?;
        let lease = self.lease(stack, hooks)?;
        let latest = planning::latest_settled(&self.store, stack)?.ok_or_else(|| {
            OpsError::NeverApplied {
                stack: stack.to_string(),
                what: "refresh",
            }
        })?;
        let recorded = self.store.observed(&latest)?;
        let report = self
            .cloud
            .runtime
            .block_on(crate::apply::detect(
                self.cloud.provider.as_ref(),
                &recorded,
            ))
            .map_err(OpsError::Provider)?;
        let mut changes = Vec::new();
        let changed: BTreeSet<&Address> = report.changed.iter().map(|c| &c.address).collect();
        for a in changed {
            if let Some(live) = report.live.get(a) {
                changes.push(Change::Put {
                    observed: Box::new(live.clone()),
                    applied: None,
                });
            }
        }
        for a in &report.deleted {
            changes.push(Change::Remove(a.clone()));
        }
        let n = changes.len();
        let g = self.store.commit_generation(
            stack,
            NewGeneration {
                kind: GenerationKind::Refresh,
                release: latest.release.clone(),
                plan_hash: None,
                reason,
            },
            changes,
            GenOutcome::Succeeded,
            &self.actor,
        )?;
        self.push_after_commit(stack, hooks)?;
        drop(lease);
        Ok(Refreshed {
            generation: g,
            changes: n,
        })
    }
}
