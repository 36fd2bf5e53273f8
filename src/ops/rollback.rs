//! `rollback`: back to the most recent release applied successfully before
//! the current one (or one named), keeping resources that hold data and
//! were added since.

use std::time::Duration;

use super::run::{Finished, RunOptions};
use super::{Cloud, Event, Hooks, Ops, OpsError, planning, require_reason};
use crate::model::{Generation, GenerationKind, Stack};
use crate::plan::PlanOptions;
use crate::provider::Provider;

/// A rollback request.
#[derive(Clone, Debug, Default)]
pub struct RollbackRequest {
    /// The release to go back to (default: the previous good one).
    pub to: Option<String>,
    /// Why (required where the environment has production rules).
    pub reason: Option<String>,
    /// Delete resources that hold data and were added since.
    pub allow_data_loss: bool,
    /// `--emergency` (with a reason): outside the maintenance window.
    pub emergency: bool,
    /// Operations at once.
    pub parallelism: usize,
    /// How long to wait for the stack's lock.
    pub lock_timeout: Duration,
}

impl<C> Ops<C> {
    /// The stack's rollback points, newest first, without a lock (a warning
    /// event when the mirror is ahead).
    pub fn rollback_list(
        &self,
        stack: &Stack,
        hooks: &mut dyn Hooks,
    ) -> Result<Vec<Generation>, OpsError> {
        self.lock_and_pull_if(stack, Duration::ZERO, false, hooks)?;
        planning::rollback_points(&self.store, stack)
    }
}

impl<P: Provider + 'static> Ops<Cloud<P>> {
    /// Rolls `stack` back under its lock, after taking in newer generations
    /// from the mirror (the target is chosen from the latest state).
    pub fn rollback(
        &self,
        stack: &Stack,
        req: &RollbackRequest,
        hooks: &mut dyn Hooks,
    ) -> Result<Finished, OpsError> {
        let _lock = self.lock_and_pull(stack, req.lock_timeout, true, hooks)?;
        let points = planning::rollback_points(&self.store, stack)?;
        let latest = planning::latest_settled(&self.store, stack)?.ok_or_else(|| {
            OpsError::NeverApplied {
                stack: stack.to_string(),
                what: "roll back",
            }
        })?;
        let current = latest.release.clone().unwrap_or_default();
        let target = target(stack, &points, &current, req.to.as_deref())?;
        let desired = planning::desired(
            &self.store,
            &self.loader,
            &stack.estate,
            &stack.env,
            &target,
            None,
        )?;
        let env = &desired.estate.environment;
        if env.destroy_protection || env.maintenance_window.is_some() {
            require_reason(
                req.reason.as_deref(),
                &format!("a rollback of {}", stack.env),
            )?;
        }
        let opts = PlanOptions {
            allow_data_loss: req.allow_data_loss,
            keep_stateful: true,
            ..PlanOptions::default()
        };
        let (plan, observed) = planning::make_plan(&self.store, stack, &desired, &opts)?;
        hooks.event(Event::RollingBack {
            stack,
            from: &current,
            to: &target,
        })?;
        let run = RunOptions {
            kind: GenerationKind::Rollback,
            reason: Some(format!(
                "rollback from v{current} to v{target}{}",
                req.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            emergency: req.emergency,
            parallelism: req.parallelism,
            ..RunOptions::default()
        };
        self.execute(stack, &run, plan, observed, &desired, hooks)
    }
}

/// The release to roll back to: `to` when it is a rollback point, else the
/// newest point with another release than `current`.
fn target(
    stack: &Stack,
    points: &[Generation],
    current: &str,
    to: Option<&str>,
) -> Result<String, OpsError> {
    match to {
        Some(v) => {
            let v = crate::store::parse_version(v)?.to_string();
            if !points
                .iter()
                .any(|g| g.release.as_deref() == Some(v.as_str()))
            {
                return Err(OpsError::NotARollbackPoint {
                    version: v,
                    stack: stack.to_string(),
                    estate: stack.estate.clone(),
                    env: stack.env.clone(),
                });
            }
            Ok(v)
        }
        None => points
            .iter()
            .find(|g| g.release.as_deref() != Some(current))
            .and_then(|g| g.release.clone())
            .ok_or_else(|| OpsError::NoEarlierRelease {
                stack: stack.to_string(),
                current: current.to_string(),
            }),
    }
}
