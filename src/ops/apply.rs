//! `apply`: a release (stored, or stored from the working tree), a saved
//! plan (refused when observed state moved since), a resume after a crash
//! (reconcile the journal with the provider, then apply the release
//! again), and emergency `--target/--replace` restores; and `destroy`.

use std::path::Path;
use std::time::Duration;

use super::run::{Finished, RunOptions};
use super::{Cloud, Event, Hooks, Ops, OpsError, planning, require_reason};
use crate::model::{GenerationKind, Outcome as GenOutcome, Stack};
use crate::plan::{self, Plan, PlanOptions};
use crate::provider::Provider;

/// A plan saved by `statectl plan --out FILE`.
#[derive(Clone, Debug)]
pub struct SavedPlan {
    /// The file it came from, for messages.
    pub path: String,
    /// The plan (its hash checked when read).
    pub plan: Plan,
}

impl SavedPlan {
    /// Reads and checks a saved plan.
    pub fn read(path: &Path) -> Result<Self, OpsError> {
        let text = std::fs::read_to_string(path).map_err(|source| OpsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let plan = plan::json::from_saved(&text).map_err(|message| OpsError::BadPlanFile {
            path: path.display().to_string(),
            message,
        })?;
        Ok(SavedPlan {
            path: path.display().to_string(),
            plan,
        })
    }
}

/// What to apply, and how.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    /// The stack (a saved plan's own stack wins).
    pub stack: Stack,
    /// The release; with `resume`, defaults to the interrupted one's.
    pub version: Option<String>,
    /// Targets, replacements, data loss.
    pub plan_options: PlanOptions,
    /// Apply this saved plan instead of planning.
    pub saved: Option<SavedPlan>,
    /// Reconcile an interrupted apply first, then finish it.
    pub resume: bool,
    /// `--emergency` (with a reason): outside the maintenance window.
    pub emergency: bool,
    /// `--skip-gate` (with a reason): past the promotion gate.
    pub skip_gate: bool,
    /// Why.
    pub reason: Option<String>,
    /// Operations at once.
    pub parallelism: usize,
    /// How long to wait for the stack's lock.
    pub lock_timeout: Duration,
    /// Take in newer generations from the mirror before planning.
    pub pull: bool,
    /// The project's git commit, recorded with a release created here.
    pub git_commit: Option<String>,
}

impl ApplyRequest {
    /// Apply `version` to `stack` with the defaults.
    pub fn new(stack: Stack, version: impl Into<String>) -> Self {
        ApplyRequest {
            stack,
            version: Some(version.into()),
            plan_options: PlanOptions::default(),
            saved: None,
            resume: false,
            emergency: false,
            skip_gate: false,
            reason: None,
            parallelism: 10,
            lock_timeout: Duration::ZERO,
            pull: true,
            git_commit: None,
        }
    }
}

/// A destroy request.
#[derive(Clone, Debug, Default)]
pub struct DestroyRequest {
    /// Delete resources that hold data too.
    pub allow_data_loss: bool,
    /// `--emergency` (with a reason).
    pub emergency: bool,
    /// Why.
    pub reason: Option<String>,
    /// How long to wait for the stack's lock.
    pub lock_timeout: Duration,
}

impl<P: Provider + 'static> Ops<Cloud<P>> {
    /// Plans and applies a release (or a saved plan, or a resume) under the
    /// stack's lock, through the production rules, the backup, the mirror
    /// lease and the push.
    pub fn apply(&self, req: &ApplyRequest, hooks: &mut dyn Hooks) -> Result<Finished, OpsError> {
        if req.emergency {
            require_reason(req.reason.as_deref(), "--emergency")?;
        }
        if req.skip_gate {
            require_reason(req.reason.as_deref(), "--skip-gate")?;
        }
        let stack = match &req.saved {
            Some(s) => s.plan.stack.clone(),
            None => req.stack.clone(),
        };
        let _lock = self.lock_and_pull(&stack, req.lock_timeout, req.pull, hooks)?;
        let version = self.resume_if_interrupted(&stack, req, hooks)?;
        let (plan, observed, desired) = match &req.saved {
            Some(saved) => self.saved_plan(&stack, saved)?,
            None => {
                let version = version.ok_or(OpsError::VersionRequired)?;
                let planned = planning::plan_release(
                    &self.store,
                    &self.loader,
                    &stack,
                    &version,
                    &req.plan_options,
                    Some((&self.actor, req.git_commit.clone())),
                )?;
                match planned.desired {
                    Some(d) => (planned.plan, planned.observed, d),
                    None => {
                        hooks.event(Event::Plan {
                            plan: &planned.plan,
                            desired: None,
                        })?;
                        return Ok(Finished::NoChanges(Box::new(planned.plan)));
                    }
                }
            }
        };
        // Promotion concerns new releases: re-applying the release the stack
        // runs (a restore, a resume) is not gated; any other release is, with
        // or without --emergency (which relaxes the window, not promotion).
        let running = planning::latest_settled(&self.store, &stack)?.and_then(|g| g.release);
        let opts = RunOptions {
            kind: if req.emergency {
                GenerationKind::Emergency
            } else {
                GenerationKind::Apply
            },
            reason: req.reason.clone(),
            emergency: req.emergency,
            skip_gate: req.skip_gate,
            parallelism: req.parallelism,
            promote: (running.as_deref() != Some(desired.version.as_str()))
                .then(|| desired.version.clone()),
        };
        self.execute(&stack, &opts, plan, observed, &desired, hooks)
    }

    /// An interrupted generation: refused without `resume`; with it,
    /// reconciled from the provider. Returns the version to apply.
    fn resume_if_interrupted(
        &self,
        stack: &Stack,
        req: &ApplyRequest,
        hooks: &mut dyn Hooks,
    ) -> Result<Option<String>, OpsError> {
        let latest = self.store.latest_generation(stack)?;
        match latest {
            Some(g) if g.outcome == GenOutcome::InProgress => {
                if !req.resume {
                    return Err(interrupted(stack, g.number));
                }
                self.store.check_data_key()?;
                let report = self.cloud.runtime.block_on(crate::apply::reconcile(
                    &self.store,
                    self.cloud.provider.as_ref(),
                    stack,
                    &self.actor,
                ))?;
                hooks.event(Event::Reconciled {
                    generation: g.number,
                    report: &report,
                })?;
                Ok(req.version.clone().or(g.release))
            }
            Some(g) if req.resume && req.version.is_none() => {
                if g.release.is_none() {
                    return Err(OpsError::NoRelease {
                        stack: stack.to_string(),
                        generation: g.number,
                    });
                }
                Ok(g.release)
            }
            None if req.resume && req.saved.is_none() && req.version.is_none() => {
                Err(OpsError::Invalid(format!(
                    "nothing to resume: {stack} has never been applied; apply a release with --version"
                )))
            }
            _ => Ok(req.version.clone()),
        }
    }

    /// A saved plan, checked against the stack's latest generation and its
    /// release's content.
    fn saved_plan(
        &self,
        stack: &Stack,
        saved: &SavedPlan,
    ) -> Result<(Plan, ObservedMap, planning::Desired), OpsError> {
        let p = &saved.plan;
        let latest = planning::latest_settled(&self.store, stack)?;
        if latest.as_ref().map(|g| g.number) != p.base_generation {
            return Err(OpsError::StalePlan(format!(
                "the saved plan was made against generation {} of {stack}, but it is now at {}: observed state moved since",
                p.base_generation.map_or("none".into(), |g| g.to_string()),
                latest.map_or("none".into(), |g| g.number.to_string())
            )));
        }
        let v = p.release.clone().ok_or_else(|| OpsError::BadPlanFile {
            path: saved.path.clone(),
            message: "the saved plan names no release".into(),
        })?;
        let desired = planning::desired(
            &self.store,
            &self.loader,
            &stack.estate,
            &stack.env,
            &v,
            None,
        )?;
        if desired.release.as_ref().map(|r| r.content) != p.release_content {
            return Err(OpsError::StalePlan(format!(
                "the saved plan was made for other content of release v{v}"
            )));
        }
        let observed = match &latest {
            Some(g) => self.store.observed(g)?,
            None => Default::default(),
        };
        Ok((p.clone(), observed, desired))
    }

    /// Deletes every resource of the stack's latest release (refused in
    /// prod without an exception, by the production rules).
    pub fn destroy(
        &self,
        stack: &Stack,
        req: &DestroyRequest,
        hooks: &mut dyn Hooks,
    ) -> Result<Finished, OpsError> {
        // What to destroy comes from the latest state: lock the stack, then
        // take in what another machine pushed to the mirror since.
        let _lock = self.lock_and_pull(stack, req.lock_timeout, true, hooks)?;
        let latest = planning::latest_settled(&self.store, stack)?.ok_or_else(|| {
            OpsError::NeverApplied {
                stack: stack.to_string(),
                what: "destroy",
            }
        })?;
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
        let opts = PlanOptions {
            allow_data_loss: req.allow_data_loss,
            destroy: true,
            ..PlanOptions::default()
        };
        let (plan, observed) = planning::make_plan(&self.store, stack, &desired, &opts)?;
        let run = RunOptions {
            reason: req.reason.clone(),
            emergency: req.emergency,
            ..RunOptions::default()
        };
        self.execute(stack, &run, plan, observed, &desired, hooks)
    }
}

type ObservedMap =
    std::collections::BTreeMap<crate::model::Address, crate::model::ObservedResource>;

/// The refusal of a stack whose last apply was interrupted.
pub(super) fn interrupted(stack: &Stack, generation: u64) -> OpsError {
    OpsError::Interrupted {
        stack: stack.to_string(),
        estate: stack.estate.clone(),
        env: stack.env.clone(),
        generation,
    }
}
