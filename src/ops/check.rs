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
        let mut reports = Vec::new();
        for (estate, env) in self.selected(estate, env)? {
            let e = loader.load(&estate, &env)?;
            let exceptions = loader.load_exceptions(&estate)?;
            let stack =
                Stack::new(&estate, &env).map_err(|err| OpsError::Invalid(err.to_string()))?;
            let drills = match &store {
                Some(store) => store.restores(&stack)?,
                None => Vec::new(),
            };
            let evidence = verify::Evidence { drills: &drills };
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
