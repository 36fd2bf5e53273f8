//! The one apply path every workflow ends in (apply, rollback, destroy,
//! `drift --fix`): report the plan, check the production rules (promotion
//! gate, verify gate, window, destroy protection), ask, back up the latest
//! generation when the environment says so, take the mirror lease, apply,
//! push, release the lease.

use std::collections::BTreeMap;

use super::{Cloud, Desired, Event, Hooks, Ops, OpsError, planning};
use crate::apply::{self, ApplyOptions, ApplyReport};
use crate::model::{Address, GenerationKind, ObservedResource, Stack};
use crate::plan::Plan;
use crate::policy::{self, Gate, GateInput, Promotion};
use crate::provider::Provider;
use crate::store::AuditEvent;

/// How one apply runs, besides its plan.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The kind of generation it records.
    pub kind: GenerationKind,
    /// Why (required in prod for some workflows; recorded).
    pub reason: Option<String>,
    /// `--emergency`: outside the maintenance window, with a reason.
    pub emergency: bool,
    /// `--skip-gate`: past the promotion gate, with a reason.
    pub skip_gate: bool,
    /// Operations at once.
    pub parallelism: usize,
    /// Check the promotion gate for this release.
    pub promote: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            kind: GenerationKind::Apply,
            reason: None,
            emergency: false,
            skip_gate: false,
            parallelism: 10,
            promote: None,
        }
    }
}

/// A finished apply: what ran and how it ended.
#[derive(Debug)]
pub struct Applied {
    /// The stack.
    pub stack: Stack,
    /// The kind of generation recorded.
    pub kind: GenerationKind,
    /// The release applied (canonical version).
    pub version: String,
    /// The plan that ran.
    pub plan: Plan,
    /// The applier's report (the generation, every operation, restores).
    pub report: ApplyReport,
    /// The parallelism it ran with.
    pub parallelism: usize,
    /// Whether its makespan is on the simulated clock.
    pub virtual_clock: bool,
    /// Whether the latest generation was backed up first.
    pub backed_up: Option<u64>,
}

/// How a workflow that may apply ended.
#[derive(Debug)]
pub enum Finished {
    /// The plan was empty: nothing ran, nothing was recorded.
    NoChanges(Box<Plan>),
    /// It applied (check `report.failures()`: a partial apply is an
    /// outcome, not an error).
    Applied(Box<Applied>),
}

impl Finished {
    /// The plan, in either case.
    pub fn plan(&self) -> &Plan {
        match self {
            Finished::NoChanges(p) => p,
            Finished::Applied(a) => &a.plan,
        }
    }
    /// The apply, if one ran.
    pub fn applied(&self) -> Option<&Applied> {
        match self {
            Finished::NoChanges(_) => None,
            Finished::Applied(a) => Some(a),
        }
    }
}

impl<P: Provider + 'static> Ops<Cloud<P>> {
    /// Runs `plan` (made against `observed` for `desired`) through the
    /// production rules, the confirmation, the backup, the mirror lease,
    /// the applier and the push. The caller holds the stack's lock.
    pub(super) fn execute(
        &self,
        stack: &Stack,
        opts: &RunOptions,
        plan: Plan,
        observed: BTreeMap<Address, ObservedResource>,
        desired: &Desired,
        hooks: &mut dyn Hooks,
    ) -> Result<Finished, OpsError> {
        hooks.event(Event::Plan {
            plan: &plan,
            desired: Some(desired),
        })?;
        let blocked = plan.blocked().count();
        if blocked > 0 {
            return Err(OpsError::Blocked(blocked));
        }
        if plan.is_empty() {
            return Ok(Finished::NoChanges(Box::new(plan)));
        }
        // A key file that cannot open the store's secrets would fail the
        // commit after the cloud changed: find out before.
        self.store.check_data_key()?;
        let gate = self.gate(stack, opts, &plan, desired)?;
        for n in &gate.notes {
            hooks.event(Event::Note(n))?;
        }
        if !gate.violations.is_empty() {
            self.refuse(stack, opts, desired, &gate)?;
            hooks.event(Event::Refused(&gate.violations))?;
            return Err(OpsError::Refused(gate.violations.len()));
        }
        if !hooks.confirm(stack)? {
            return Err(OpsError::Cancelled);
        }
        let backed_up = self.backup_before_apply(stack, desired, hooks)?;
        let mut reason = opts.reason.clone();
        if !gate.notes.is_empty() {
            let notes = gate.notes.join("; ");
            reason = Some(match reason {
                Some(r) => format!("{r} [{notes}]"),
                None => notes,
            });
        }
        let apply_opts = ApplyOptions {
            parallelism: opts.parallelism,
            kind: opts.kind,
            reason,
            restore: planning::restore_targets(&plan),
        };
        // Applies from other machines sharing the mirror wait for this one.
        let lease = self.lease(stack, hooks)?;
        let report = self.run_applier(stack, &plan, desired, observed, &apply_opts, hooks)?;
        let applied = Applied {
            stack: stack.clone(),
            kind: opts.kind,
            version: desired.version.clone(),
            plan,
            report,
            parallelism: opts.parallelism,
            virtual_clock: self.cloud.virtual_clock,
            backed_up,
        };
        hooks.event(Event::Applied(&applied))?;
        // Pushed before the lease is released, so the next holder sees it.
        self.push_after_commit(stack, hooks)?;
        drop(lease);
        Ok(Finished::Applied(Box::new(applied)))
    }

    /// The production rules' verdict on `plan`.
    fn gate(
        &self,
        stack: &Stack,
        opts: &RunOptions,
        plan: &Plan,
        desired: &Desired,
    ) -> Result<Gate, OpsError> {
        let env = &desired.estate.environment;
        let exceptions = self.loader.load_exceptions(&stack.estate)?;
        let promotion = match &opts.promote {
            Some(v) => planning::promotion(&self.store, &stack.estate, env, v)?,
            None => Promotion::NotRequired,
        };
        // A promoted release must also pass the guarantee checks for this
        // environment, with the drills this stack has run and against the
        // release that last succeeded here (the ratchet).
        let failed_checks = match (&opts.promote, &env.promote_from) {
            (Some(_), Some(_)) => {
                let floor = self
                    .loader
                    .load_baseline(&crate::verify::rule_ids())?
                    .map(|b| b.floor(&stack.estate, &stack.env));
                let past = super::check::History::read(&self.store, stack, self.clock.now())?;
                let previous = past.previous(&self.store, stack)?;
                let report = crate::verify::verify(
                    &desired.estate,
                    &exceptions,
                    &policy::today(self.clock.now()),
                    &past.evidence(floor.as_ref(), previous.as_ref()),
                );
                report
                    .failures()
                    .map(|(f, _)| match &f.address {
                        Some(a) => format!("{} at {a}", f.rule),
                        None => f.rule.to_string(),
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(policy::check(&GateInput {
            env,
            plan,
            exceptions: &exceptions,
            now: self.clock.now(),
            emergency: opts.emergency,
            skip_gate: opts.skip_gate,
            reason: opts.reason.as_deref(),
            promotion,
            failed_checks,
        }))
    }

    /// Audits a refusal.
    fn refuse(
        &self,
        stack: &Stack,
        opts: &RunOptions,
        desired: &Desired,
        gate: &Gate,
    ) -> Result<(), OpsError> {
        let detail: Vec<String> = gate
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.rule, v.message))
            .collect();
        self.store.audit(
            &self.actor,
            AuditEvent {
                action: "apply.refused".into(),
                target: stack.key(),
                region: Some(desired.estate.environment.region.clone()),
                reason: opts.reason.clone(),
                details: detail.join("; "),
            },
        )?;
        Ok(())
    }

    /// Backs up the latest generation when the environment asks for it
    /// (prod), returning its number.
    fn backup_before_apply(
        &self,
        stack: &Stack,
        desired: &Desired,
        hooks: &mut dyn Hooks,
    ) -> Result<Option<u64>, OpsError> {
        if !desired.estate.environment.backup_before_apply {
            return Ok(None);
        }
        let Some(g) = self.store.latest_generation(stack)? else {
            return Ok(None);
        };
        let resources = self.store.observed(&g)?;
        let doc = crate::store::statefile::to_json(&g, &resources, false);
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| OpsError::Invalid(format!("cannot write the backup: {e}")))?;
        self.store.put_backup(stack, g.number, text)?;
        hooks.event(Event::BackedUp {
            stack,
            generation: g.number,
        })?;
        Ok(Some(g.number))
    }

    /// Runs the applier on the provider's runtime, dropping it when the
    /// interrupt fires.
    fn run_applier(
        &self,
        stack: &Stack,
        plan: &Plan,
        desired: &Desired,
        observed: BTreeMap<Address, ObservedResource>,
        opts: &ApplyOptions,
        hooks: &mut dyn Hooks,
    ) -> Result<ApplyReport, OpsError> {
        let mut progress = hooks.progress(plan.actions.len());
        let run = apply::apply(
            &self.store,
            self.cloud.provider.clone(),
            stack,
            plan,
            &desired.estate,
            observed,
            &self.actor,
            opts,
            progress.as_mut(),
        );
        let aborted = || OpsError::Aborted {
            stack: stack.to_string(),
            estate: stack.estate.clone(),
            env: stack.env.clone(),
        };
        let report = match &self.cloud.interrupt {
            None => self.cloud.runtime.block_on(run)?,
            Some(stop) => self.cloud.runtime.block_on(async {
                tokio::select! {
                    r = run => r.map_err(OpsError::from),
                    () = stop.notified() => Err(aborted()),
                }
            })?,
        };
        Ok(report)
    }
}
