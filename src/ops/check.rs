//! The checks that read specs across many stacks: which stacks a selection
//! names, and `statectl verify` over them with the drills the store recorded.

use super::{OpsError, Project};
use crate::model::Stack;
use crate::spec::Loader;
use crate::store::{Store, StoreError};
use crate::verify::{self, Report};

impl Project {
    /// The (estate, environment) pairs a selection names; a missing side
    /// means every estate or every environment of the project.
    pub fn selected(
        &self,
        estate: Option<&str>,
        env: Option<&str>,
    ) -> Result<Vec<(String, String)>, OpsError> {
        let loader = Loader::new(&self.root);
        let estates = match estate {
            Some(e) => vec![e.to_string()],
            None => loader.estate_names()?,
        };
        let envs = match env {
            Some(e) => vec![e.to_string()],
            None => loader.environment_names()?,
        };
        Ok(estates
            .iter()
            .flat_map(|e| envs.iter().map(move |v| (e.clone(), v.clone())))
            .collect())
    }

    /// The store drills are read from: none when there is no store yet, an
    /// error when it cannot be opened (never "no drills").
    fn drill_store(&self) -> Result<Option<Store>, OpsError> {
        match Store::open_existing(&self.state_dir, self.store_options(self.clock()?)) {
            Ok(store) => Ok(Some(store)),
            Err(StoreError::Missing(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the guarantee checks on every selected stack, judging
    /// exceptions on the clock's date; only `rules` when not empty.
    pub fn verify(
        &self,
        estate: Option<&str>,
        env: Option<&str>,
        rules: &[String],
    ) -> Result<Vec<Report>, OpsError> {
        let loader = Loader::new(&self.root);
        let today = crate::policy::today(self.clock()?.now());
        let store = self.drill_store()?;
        let baseline = loader.load_baseline(&crate::verify::rule_ids())?;
        let mut reports = Vec::new();
        for (estate, env) in self.selected(estate, env)? {
            let e = loader.load(&estate, &env)?;
            let exceptions = loader.load_exceptions(&estate)?;
            let stack =
                Stack::new(&estate, &env).map_err(|err| OpsError::Invalid(err.to_string()))?;
            let (past, previous) = match &store {
                Some(store) => {
                    let past = History::read(store, &stack, self.clock()?.now())?;
                    let previous = past.previous(store, &stack)?;
                    (past, previous)
                }
                None => (History::none(), None),
            };
            let floor = baseline.as_ref().map(|b| b.floor(&estate, &env));
            let evidence = past.evidence(floor.as_ref(), previous.as_ref());
            reports.push(verify::verify_rules(
                &e,
                &exceptions,
                &today,
                &evidence,
                rules,
            ));
        }
        Ok(reports)
    }
}

/// What `verify --observed` judged for one stack: the rules run over the
/// cloud's view of the release the latest generation applied.
#[derive(Debug)]
pub struct ObservedReport {
    /// The verdict, as for the desired estate.
    pub report: Report,
    /// The release whose estate the cloud's view was laid over.
    pub release: String,
    /// The generation compared with.
    pub generation: u64,
    /// Resources the cloud no longer has (judged as desired; `drift` reports them).
    pub missing: Vec<crate::model::Address>,
}

impl<P: crate::provider::Provider + 'static> super::Ops<super::Cloud<P>> {
    /// Runs the guarantee checks on what the provider reports now for
    /// `stack`, read-only: the estate of the release last applied with every
    /// literal property and tag as the cloud holds it. `None` when the
    /// stack was never applied (nothing observed).
    pub fn verify_observed(
        &self,
        stack: &Stack,
        rules: &[String],
        hooks: &mut dyn super::Hooks,
    ) -> Result<Option<ObservedReport>, OpsError> {
        let check = match self.compare(stack, false, std::time::Duration::ZERO, hooks) {
            Err(OpsError::NeverApplied { .. }) => return Ok(None),
            other => other?,
        };
        self.observed_report(stack, &check.generation, &check.report, rules)
            .map(Some)
    }

    /// The guarantee checks over the estate of the release `generation`
    /// applied, with what `drift` found the cloud holds laid over it.
    pub(super) fn observed_report(
        &self,
        stack: &Stack,
        generation: &crate::model::Generation,
        drift: &crate::apply::DriftReport,
        rules: &[String],
    ) -> Result<ObservedReport, OpsError> {
        let version = generation
            .release
            .clone()
            .ok_or_else(|| OpsError::NoRelease {
                stack: stack.to_string(),
                generation: generation.number,
            })?;
        let release = self.store.release(&stack.estate, &version)?;
        let estate = self.store.release_estate(&release, &stack.env)?;
        let drifted = drift
            .changed
            .iter()
            .map(|c| (c.address.clone(), c.path.clone()))
            .collect();
        let seen = verify::as_observed(&estate, &drift.live, &drifted)
            .map_err(|e| OpsError::Invalid(format!("the cloud's view of {stack}: {e}")))?;
        let exceptions = self.loader.load_exceptions(&stack.estate)?;
        let floor = self
            .loader
            .load_baseline(&verify::rule_ids())?
            .map(|b| b.floor(&stack.estate, &stack.env));
        let past = History::read(&self.store, stack, self.clock.now())?;
        let evidence = past.evidence(floor.as_ref(), None);
        let today = crate::policy::today(self.clock.now());
        Ok(ObservedReport {
            report: verify::verify_rules(&seen, &exceptions, &today, &evidence, rules),
            release: version,
            generation: generation.number,
            missing: drift.deleted.clone(),
        })
    }
}

/// What a stack's history shows for verify, from one read of its
/// generations: the restores drills measured, how long it has gone without
/// one as of `now` (live since its first successful apply), and the release
/// that last succeeded in its environment (the ratchet's reference).
pub(super) struct History {
    pub drills: Vec<crate::model::RestoreReport>,
    pub drill_age: verify::DrillAge,
    pub last_release: Option<String>,
}

impl History {
    /// A stack with no store yet: nothing applied, nothing drilled.
    fn none() -> Self {
        History {
            drills: Vec::new(),
            drill_age: verify::DrillAge::NotLive,
            last_release: None,
        }
    }

    pub(super) fn read(
        store: &Store,
        stack: &Stack,
        now: crate::model::UtcTime,
    ) -> Result<Self, OpsError> {
        use crate::model::{Interval, Outcome};
        let gens = store.generations(stack)?;
        let since = |t: crate::model::UtcTime| Interval::from_secs(now.millis_since(t) / 1000);
        let succeeded = || gens.iter().filter(|g| g.outcome == Outcome::Succeeded);
        let live = succeeded().next().map(|g| g.ended_at);
        let drilled = gens
            .iter()
            .filter(|g| !g.restores.is_empty())
            .map(|g| g.ended_at)
            .max();
        let drill_age = match (live, drilled) {
            (_, Some(t)) => verify::DrillAge::Last { ago: since(t) },
            (Some(t), None) => verify::DrillAge::Never { live_for: since(t) },
            (None, None) => verify::DrillAge::NotLive,
        };
        Ok(History {
            drills: gens
                .iter()
                .flat_map(|g| g.restores.iter().cloned())
                .collect(),
            drill_age,
            last_release: succeeded().next_back().and_then(|g| g.release.clone()),
        })
    }

    /// The estate of the release that last succeeded here, for the ratchet.
    pub(super) fn previous(
        &self,
        store: &Store,
        stack: &Stack,
    ) -> Result<Option<(String, crate::model::Estate)>, OpsError> {
        let Some(v) = &self.last_release else {
            return Ok(None);
        };
        let release = store.release(&stack.estate, v)?;
        Ok(Some((
            v.clone(),
            store.release_estate(&release, &stack.env)?,
        )))
    }

    /// The evidence verify judges a stack with.
    pub(super) fn evidence<'a>(
        &'a self,
        floor: Option<&'a crate::model::Floor>,
        previous: Option<&'a (String, crate::model::Estate)>,
    ) -> verify::Evidence<'a> {
        verify::Evidence {
            drills: &self.drills,
            baseline: floor,
            drill_age: Some(self.drill_age),
            previous: previous.map(|(v, e)| (v.as_str(), e)),
        }
    }
}
