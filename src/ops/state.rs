//! Workflows on recorded state that involve no provider: storing a release
//! from the working tree, importing a state file (`state push`), and
//! removing a stale lock (with the stack's mirror lease).

use std::path::Path;
use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};

use super::{Ops, OpsError};
use crate::model::{Address, Generation, ObservedResource, Stack};
use crate::store::statefile::{self, StateFileError};
use crate::store::{AuditEvent, LockInfo, ReleaseOutcome, display_version};

/// The project's git commit (`-dirty` when specs or environments have
/// uncommitted changes), recorded with a release; `None` outside git.
pub fn git_commit(project: &Path) -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(project)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "HEAD"])?;
    let dirty = run(&["status", "--porcelain", "--", "specs", "environments"])
        .is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

impl<C> Ops<C> {
    /// Generation `n` of `stack`, or its latest.
    pub fn generation(&self, stack: &Stack, n: Option<u64>) -> Result<Generation, OpsError> {
        match n {
            Some(n) => Ok(self.store.generation(stack, n)?),
            None => self.store.latest_generation(stack)?.ok_or_else(|| {
                OpsError::Invalid(format!(
                    "{stack} has no generations yet; apply a release first (`statectl apply --estate {} --env {} --version ...`)",
                    stack.estate, stack.env
                ))
            }),
        }
    }

    /// The observed resources of a generation (`at`: one address, or all);
    /// with `show_sensitive`, their secrets decrypted, and the read audited
    /// (who read which secrets, when) before anything is shown.
    pub fn state_read(
        &self,
        g: &Generation,
        at: Option<&Address>,
        show_sensitive: bool,
    ) -> Result<BTreeMap<Address, ObservedResource>, OpsError> {
        let mut resources = match at {
            Some(a) => BTreeMap::from([(a.clone(), self.store.observed_resource(g, a)?)]),
            None => self.store.observed(g)?,
        };
        if show_sensitive {
            let with_secrets: Vec<String> = resources
                .values()
                .filter(|r| !r.sensitive.is_empty())
                .map(|r| r.address.to_string())
                .collect();
            self.store.audit(
                &self.actor,
                AuditEvent {
                    action: "state.show-sensitive".into(),
                    target: g.stack.key(),
                    region: None,
                    reason: None,
                    details: format!(
                        "generation {}: secrets of {}",
                        g.number,
                        if with_secrets.is_empty() {
                            "(none)".to_string()
                        } else {
                            with_secrets.join(", ")
                        }
                    ),
                },
            )?;
            for r in resources.values_mut() {
                self.store.unseal(&g.stack, r)?;
            }
        }
        Ok(resources)
    }

    /// Stores the working tree's desired state of every environment of
    /// `estate` as release `version`.
    pub fn release_create(&self, estate: &str, version: &str) -> Result<ReleaseOutcome, OpsError> {
        let mut envs = Vec::new();
        for env in self.loader.environment_names()? {
            envs.push(self.loader.load(estate, &env)?);
        }
        Ok(self.store.create_release(
            estate,
            version,
            &envs,
            git_commit(&self.project.root),
            &self.actor,
        )?)
    }

    /// Imports a `state pull` file as the next generation of `stack`, under
    /// the stack's lock (audited).
    pub fn state_push(
        &self,
        stack: &Stack,
        file: &Path,
        force: bool,
        lock_timeout: Duration,
    ) -> Result<Generation, OpsError> {
        let text = std::fs::read_to_string(file).map_err(|source| OpsError::Read {
            path: file.display().to_string(),
            source,
        })?;
        let (template, resources) =
            statefile::from_json(&text).map_err(|source| OpsError::StateFile {
                file: file.display().to_string(),
                source,
            })?;
        if template.stack != *stack {
            return Err(OpsError::Invalid(format!(
                "{} holds state of {}, not {stack}; pass --estate {} --env {}",
                file.display(),
                template.stack,
                template.stack.estate,
                template.stack.env
            )));
        }
        self.check_pushed(&template, &resources)
            .map_err(|source| OpsError::StateFile {
                file: file.display().to_string(),
                source,
            })?;
        let _lock =
            self.store
                .lock(stack, &self.actor, &self.project.command_line, lock_timeout)?;
        Ok(self
            .store
            .import_generation(template, resources, force, &self.actor)?)
    }

    /// What a state file must satisfy beyond its syntax before it may
    /// become a generation: its release exists here, and every resource
    /// has a known type, an id, and dependencies inside the file.
    fn check_pushed(
        &self,
        g: &Generation,
        resources: &[ObservedResource],
    ) -> Result<(), StateFileError> {
        let bad = |path: String, message: String| StateFileError { path, message };
        if let Some(v) = &g.release
            && self.store.release(&g.stack.estate, v).is_err()
        {
            return Err(bad(
                "generation.release".into(),
                format!(
                    "release {} of {} is not in this store (`statectl release list --estate {}` lists them)",
                    display_version(v),
                    g.stack.estate,
                    g.stack.estate
                ),
            ));
        }
        let addresses: BTreeSet<&Address> = resources.iter().map(|r| &r.address).collect();
        for r in resources {
            let at = |k: &str| format!("resources[{}].{k}", r.address);
            if let Err(e) = crate::catalog::lookup(&r.arm_type) {
                return Err(bad(
                    at("type"),
                    format!("{e} (`statectl types` lists them)"),
                ));
            }
            if r.id.trim().is_empty() {
                return Err(bad(
                    at("id"),
                    "is empty; a resource needs its ARM id".into(),
                ));
            }
            if let Some(d) = r.dependencies.iter().find(|d| !addresses.contains(d)) {
                return Err(bad(
                    at("dependencies"),
                    format!("`{d}` is not a resource in this file"),
                ));
            }
        }
        Ok(())
    }

    /// Removes the stack's local lock record when its holder is gone
    /// (audited) and breaks its mirror lease. Returns the removed holder
    /// and the mirror whose lease was broken.
    pub fn force_unlock(
        &self,
        stack: &Stack,
        reason: Option<String>,
    ) -> Result<(Option<LockInfo>, Option<String>), OpsError> {
        let removed = self.store.force_unlock(stack, &self.actor, reason)?;
        let mirror = self.break_lease(stack)?;
        Ok((removed, mirror))
    }
}
