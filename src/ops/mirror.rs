//! The mirror's own commands: push, status, restore, prune, undelete, gc,
//! legal holds and the account check. Each works with or without a local
//! store where it can (a machine that only administers the mirror has
//! none), and audits what it changes in the store when there is one.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use super::sync::mirror_runtime;
use super::{Hooks, MirrorSync, OpsError, Project, Quiet, human_bytes};
use crate::clock::Clock;
use crate::mirror::retention::{self, GcReport, Hold, PruneReport, PruneRule};
use crate::mirror::{MirrorError, PushReport, RebuildFilter, RebuildReport, StackStatus, layout};
use crate::model::{Stack, UtcTime};
use crate::spec::Loader;
use crate::store::{Actor, AuditEvent, CheckReport, Store};

/// The mirror with what its commands need: the local store when there is
/// one, the clock, the actor and the environments' retention.
///
/// Invariant: a mirror is configured (opening one without fails with
/// [`OpsError::NoMirror`]).
pub struct MirrorOps {
    sync: MirrorSync,
    project: Project,
    store: Option<Store>,
    clock: Arc<dyn Clock>,
    actor: Actor,
}

/// How far behind the mirror is, per stack, as of `now`.
#[derive(Debug)]
pub struct MirrorStatus {
    /// The mirror, described.
    pub mirror: String,
    /// Each stack's local and mirrored generation.
    pub stacks: Vec<StackStatus>,
    /// When it was read.
    pub now: UtcTime,
}

impl MirrorStatus {
    /// Stacks not fully mirrored (or whose mirror cannot be read).
    pub fn behind(&self) -> usize {
        self.stacks
            .iter()
            .filter(|s| s.mirrored.is_none_or(|m| m < s.local))
            .count()
    }

    /// As JSON: per stack, generations and lag.
    pub fn to_json(&self) -> serde_json::Value {
        let v: Vec<_> = self
            .stacks
            .iter()
            .map(|s| {
                serde_json::json!({
                    "stack": s.stack.to_string(),
                    "local_generation": s.local,
                    "mirrored_generation": s.mirrored,
                    "generations_behind": s.mirrored.map(|m| s.local.saturating_sub(m)),
                    "behind_since": s.behind_since.map(|t| t.to_string()),
                    "lag_seconds": s.behind_since.map(|t| self.now.millis_since(t) / 1000),
                })
            })
            .collect();
        serde_json::Value::Array(v)
    }
}

impl std::fmt::Display for MirrorStatus {
    /// A table: stack, local and mirrored generation, how far behind, lag.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "mirror: {}", self.mirror)?;
        writeln!(
            f,
            "{:<32} {:>6} {:>9} {:>7}  LAG",
            "STACK", "LOCAL", "MIRRORED", "BEHIND"
        )?;
        for s in &self.stacks {
            let mirrored = s.mirrored.map_or("?".to_string(), |m| m.to_string());
            let behind = s
                .mirrored
                .map_or("?".to_string(), |m| s.local.saturating_sub(m).to_string());
            let lag = match s.behind_since {
                Some(t) => {
                    crate::model::Interval::from_secs(self.now.millis_since(t) / 1000).to_string()
                }
                None if s.mirrored.is_some() => "-".to_string(),
                None => "unreachable".to_string(),
            };
            let name = s.stack.to_string();
            writeln!(
                f,
                "{name:<32} {:>6} {mirrored:>9} {behind:>7}  {lag}",
                s.local
            )?;
        }
        Ok(())
    }
}

impl std::fmt::Display for MirrorCheck {
    /// The account's settings against the environments' retention, and
    /// every HEAD: ok, or why it cannot be read.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "mirror: {}", self.mirror)?;
        let required = self.required_days;
        match self.soft_delete_days {
            Some(0) => writeln!(
                f,
                "blob soft delete: OFF (the environments ask for {required} days)"
            )?,
            Some(d) if d < required => writeln!(
                f,
                "blob soft delete: {d} days, under the {required} days the environments ask for"
            )?,
            Some(d) => writeln!(
                f,
                "blob soft delete: {d} days (at least the {required} required)"
            )?,
            None => writeln!(f, "blob soft delete: not reported")?,
        }
        match self.versioning {
            Some(v) => writeln!(f, "blob versioning: {}", if v { "on" } else { "OFF" })?,
            None => writeln!(f, "blob versioning: not reported")?,
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        for h in &self.heads {
            match &h.error {
                None => writeln!(f, "ok {}", h.path)?,
                Some(e) => writeln!(f, "BAD {}: {e}", h.path)?,
            }
        }
        Ok(())
    }
}

/// What `mirror prune` did.
#[derive(Debug)]
pub struct Pruned {
    /// The stack.
    pub stack: Stack,
    /// The mirror's report.
    pub report: PruneReport,
    /// Days a pruned generation stays recoverable.
    pub retention_days: u32,
}

impl fmt::Display for Pruned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, r) = (&self.stack, &self.report);
        if r.pruned.is_empty() {
            writeln!(
                f,
                "{s}: nothing to prune (oldest kept: generation {})",
                r.oldest_kept
            )?;
        } else {
            let set: BTreeSet<u64> = r.pruned.iter().copied().collect();
            writeln!(
                f,
                "{s}: moved generation(s) {} to tombstones, recoverable with `statectl mirror undelete` for {} days; the oldest restorable generation is now {}",
                retention::range_text(&set),
                self.retention_days,
                r.oldest_kept
            )?;
        }
        if let Some(h) = r.held.first() {
            writeln!(f, "kept generation {h} and later: under legal hold")?;
        }
        Ok(())
    }
}

/// What `mirror undelete` brought back.
#[derive(Debug)]
pub struct Undeleted {
    /// The stack.
    pub stack: Stack,
    /// The generations back from their tombstones (empty: none were there).
    pub generations: BTreeSet<u64>,
}

impl fmt::Display for Undeleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stack;
        if self.generations.is_empty() {
            writeln!(
                f,
                "{s}: no tombstones to bring back (purged by gc, or never pruned)"
            )
        } else {
            let back = retention::range_text(&self.generations);
            writeln!(f, "{s}: generation(s) {back} are back")
        }
    }
}

/// What `mirror push` sent, and where.
#[derive(Debug)]
pub struct Pushed {
    /// The mirror, described.
    pub mirror: String,
    /// The transfer.
    pub report: PushReport,
}

impl fmt::Display for Pushed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        for (s, from, to) in &r.generations {
            if from == to {
                writeln!(f, "{s}: generation {to}")?;
            } else {
                writeln!(f, "{s}: generations {from}..{to}")?;
            }
        }
        writeln!(
            f,
            "pushed {} blob(s), {} to {} in {:.1?}",
            r.blobs,
            human_bytes(r.bytes),
            self.mirror,
            r.elapsed
        )
    }
}

/// What `mirror restore` rebuilt, and the check of the store after it.
#[derive(Debug)]
pub struct Rebuilt {
    /// The mirror, described.
    pub mirror: String,
    /// The transfer.
    pub report: RebuildReport,
    /// The whole store, checked after the rebuild.
    pub check: CheckReport,
}

impl fmt::Display for Rebuilt {
    /// What came back and how long it took; the check's counts only when
    /// it found nothing (its problems are the command's error).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        for (s, upto, count) in &r.generations {
            writeln!(
                f,
                "{s}: {count} generation(s) restored, now at generation {upto}"
            )?;
        }
        writeln!(
            f,
            "restored {} object(s), {} release(s), {} audit record(s), {} read, from {} in {:.2?} (the state's RTO)",
            r.objects,
            r.releases,
            r.audit,
            human_bytes(r.bytes),
            self.mirror,
            r.elapsed
        )?;
        let c = &self.check;
        if c.problems.is_empty() {
            writeln!(
                f,
                "store check: ok ({} releases, {} generations, {} objects verified)",
                c.releases, c.generations, c.objects
            )?;
        }
        Ok(())
    }
}

/// What `mirror hold set` or `mirror hold clear` did.
#[derive(Debug)]
pub struct HoldChange {
    /// The stack.
    pub stack: Stack,
    /// The generation.
    pub generation: u64,
    /// Set (true) or cleared (false).
    pub set: bool,
    /// Whether anything changed (false: it already was so).
    pub changed: bool,
    /// Why.
    pub reason: String,
}

impl fmt::Display for HoldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, s) = (self.generation, &self.stack);
        match (self.set, self.changed) {
            (true, true) => writeln!(
                f,
                "generation {n} of {s} is under legal hold: {}",
                self.reason
            ),
            (true, false) => writeln!(f, "generation {n} of {s} was already under legal hold"),
            (false, true) => writeln!(f, "lifted the legal hold on generation {n} of {s}"),
            (false, false) => writeln!(f, "generation {n} of {s} is not under legal hold"),
        }
    }
}

/// The legal holds of one stack.
#[derive(Debug)]
pub struct Holds {
    /// The stack.
    pub stack: Stack,
    /// Held generations, oldest first.
    pub holds: Vec<(u64, Hold)>,
}

impl fmt::Display for Holds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.holds.is_empty() {
            writeln!(f, "{}: no legal holds", self.stack)?;
        }
        for (n, h) in &self.holds {
            writeln!(f, "{n:>6}  {}  {}  {}", h.at, h.actor, h.reason)?;
        }
        Ok(())
    }
}

/// One stack HEAD as `mirror check` read it.
#[derive(Debug)]
pub struct HeadCheck {
    /// The HEAD's path.
    pub path: String,
    /// Why it cannot be read, if it cannot.
    pub error: Option<String>,
}

/// What `mirror check` found.
#[derive(Debug)]
pub struct MirrorCheck {
    /// The mirror, described.
    pub mirror: String,
    /// The account's blob soft delete, in days (0: off; None: not reported).
    pub soft_delete_days: Option<u32>,
    /// The account's blob versioning (None: not reported).
    pub versioning: Option<bool>,
    /// The longest retention any environment asks for.
    pub required_days: u32,
    /// Notes from the backend.
    pub notes: Vec<String>,
    /// Every stack HEAD, opened with the configured key.
    pub heads: Vec<HeadCheck>,
}

impl MirrorCheck {
    /// Whether soft delete is off or shorter than the environments ask.
    pub fn weak_soft_delete(&self) -> bool {
        matches!(self.soft_delete_days, Some(d) if d < self.required_days)
    }
}

impl MirrorOps {
    /// The project's mirror and, if it exists, its store.
    pub fn open(project: Project) -> Result<Self, OpsError> {
        let sync = project.mirror()?.ok_or_else(|| OpsError::NoMirror {
            file: project.root.join("statectl.toml").display().to_string(),
        })?;
        let clock = project.clock()?;
        // No store is fine (a machine that only administers the mirror); a
        // store that does not open is an error, never "no store".
        let store =
            match Store::open_existing(&project.state_dir, project.store_options(clock.clone())) {
                Ok(s) => Some(s),
                Err(crate::store::StoreError::Missing(_)) => None,
                Err(e) => return Err(e.into()),
            };
        Ok(MirrorOps {
            sync,
            actor: project.actor(),
            project,
            store,
            clock,
        })
    }

    /// The mirror's configuration.
    pub fn sync(&self) -> &MirrorSync {
        &self.sync
    }

    /// The local store, if there is one.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    fn existing(&self) -> Result<&Store, OpsError> {
        self.store.as_ref().ok_or_else(|| {
            OpsError::Store(crate::store::StoreError::Missing(
                self.project.state_dir.clone(),
            ))
        })
    }

    fn audit(
        &self,
        action: &str,
        target: String,
        reason: Option<String>,
        details: String,
    ) -> Result<(), OpsError> {
        if let Some(store) = &self.store {
            store.audit(
                &self.actor,
                AuditEvent {
                    action: action.into(),
                    target,
                    region: None,
                    reason,
                    details,
                },
            )?;
        }
        Ok(())
    }

    /// The stacks of the local store that match `estate`/`env` (none
    /// without a store).
    pub fn stacks(&self, estate: Option<&str>, env: Option<&str>) -> Result<Vec<Stack>, OpsError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        Ok(store
            .stacks()?
            .into_iter()
            .filter(|s| estate.is_none_or(|e| e == s.estate))
            .filter(|s| env.is_none_or(|e| e == s.env))
            .collect())
    }

    /// Pushes `stacks` (every stack when empty); a first push on this
    /// machine creates the local key.
    pub fn push(&self, stacks: &[Stack], hooks: &mut dyn Hooks) -> Result<Pushed, OpsError> {
        let m = self.sync.open(true, hooks)?;
        let store = self.existing()?;
        let mut bar = hooks.transfer("mirror push");
        let report = mirror_runtime()?.block_on(m.push(store, stacks, bar.as_mut()))?;
        Ok(Pushed {
            mirror: m.describe(),
            report,
        })
    }

    /// How far behind the mirror is, per stack.
    pub fn status(&self, stacks: &[Stack]) -> Result<MirrorStatus, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        let store = self.existing()?;
        let st = mirror_runtime()?.block_on(m.status(store, stacks))?;
        Ok(MirrorStatus {
            mirror: m.describe(),
            stacks: st,
            now: self.clock.now(),
        })
    }

    /// Rebuilds the local store (created if missing) from the mirror
    /// (`statectl mirror restore`), then checks it whole.
    pub fn rebuild(
        &self,
        filter: &RebuildFilter,
        hooks: &mut dyn Hooks,
    ) -> Result<Rebuilt, OpsError> {
        let m = self.sync.open(false, hooks)?;
        let mut store = Store::open(
            &self.project.state_dir,
            self.project.store_options(self.clock.clone()),
        )?;
        let mut bar = hooks.transfer("mirror restore");
        let r = mirror_runtime()?.block_on(m.rebuild(&store, filter, bar.as_mut()))?;
        drop(bar);
        let check = store.check()?;
        Ok(Rebuilt {
            mirror: m.describe(),
            report: r,
            check,
        })
    }

    /// The environment's state retention in days (30 when it does not say).
    pub fn retention_days(&self, s: &Stack) -> u32 {
        Loader::new(&self.project.root)
            .load_environment(&s.env)
            .map(|e| e.state_retention_days)
            .ok()
            .filter(|d| *d > 0)
            .unwrap_or(30)
    }

    /// Moves old generations of `stack` to tombstones (audited).
    pub fn prune(
        &self,
        stack: &Stack,
        rule: PruneRule,
        reason: Option<String>,
    ) -> Result<Pruned, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        let store = self.existing()?;
        let r = mirror_runtime()?.block_on(m.prune(store, stack, rule, self.clock.now()))?;
        if !r.pruned.is_empty() {
            let set: BTreeSet<u64> = r.pruned.iter().copied().collect();
            self.audit(
                "mirror.prune",
                stack.key(),
                reason,
                format!("generations {} to tombstones", retention::range_text(&set)),
            )?;
        }
        Ok(Pruned {
            stack: stack.clone(),
            report: r,
            retention_days: self.retention_days(stack),
        })
    }

    /// The cut-off time of `--older-than AGE`.
    pub fn older_than(&self, age: &str) -> Result<PruneRule, OpsError> {
        let i: crate::model::Interval = age.parse().map_err(|e| {
            OpsError::Invalid(format!("--older-than {age}: {e} (write e.g. 90d or 12h)"))
        })?;
        let secs = i64::try_from(i.secs()).unwrap_or(i64::MAX / 2000);
        Ok(PruneRule::EndedBefore(UtcTime(
            self.clock.now().0.saturating_sub(secs.saturating_mul(1000)),
        )))
    }

    /// Brings back the tombstones of `stack` (audited).
    pub fn undelete(&self, stack: &Stack) -> Result<Undeleted, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        let back = mirror_runtime()?.block_on(m.undelete(stack))?;
        let generations: BTreeSet<u64> = back.iter().copied().collect();
        if !generations.is_empty() {
            self.audit(
                "mirror.undelete",
                stack.key(),
                None,
                format!("generations {}", retention::range_text(&generations)),
            )?;
        }
        Ok(Undeleted {
            stack: stack.clone(),
            generations,
        })
    }

    /// Purges tombstones past their environment's retention and not under
    /// legal hold (audited).
    pub fn gc(&self) -> Result<GcReport, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        let r = mirror_runtime()?.block_on(m.gc(self.clock.now(), &|s| self.retention_days(s)))?;
        if r.purged > 0 {
            self.audit(
                "mirror.gc",
                "mirror".into(),
                None,
                format!("{} tombstone(s) purged", r.purged),
            )?;
        }
        Ok(r)
    }

    /// Puts generation `n` of `stack` under legal hold (audited when it
    /// was not already).
    pub fn hold(&self, stack: &Stack, n: u64, reason: &str) -> Result<HoldChange, OpsError> {
        if reason.trim().is_empty() {
            return Err(OpsError::Invalid("--reason must say why".into()));
        }
        let m = self.sync.open(false, &mut Quiet)?;
        let h = Hold {
            reason: reason.to_string(),
            actor: self.actor.name.clone(),
            at: self.clock.now(),
        };
        let set = mirror_runtime()?.block_on(m.hold(stack, n, &h))?;
        if set {
            self.audit(
                "mirror.hold.set",
                stack.key(),
                Some(reason.into()),
                format!("generation {n}"),
            )?;
        }
        Ok(HoldChange {
            stack: stack.clone(),
            generation: n,
            set: true,
            changed: set,
            reason: reason.to_string(),
        })
    }

    /// Lifts the legal hold on generation `n` (audited when there was one).
    pub fn clear_hold(&self, stack: &Stack, n: u64, reason: &str) -> Result<HoldChange, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        let cleared = mirror_runtime()?.block_on(m.clear_hold(stack, n))?;
        if cleared {
            self.audit(
                "mirror.hold.clear",
                stack.key(),
                Some(reason.into()),
                format!("generation {n}"),
            )?;
        }
        Ok(HoldChange {
            stack: stack.clone(),
            generation: n,
            set: false,
            changed: cleared,
            reason: reason.to_string(),
        })
    }

    /// The legal holds on `stack`.
    pub fn holds(&self, stack: &Stack) -> Result<Holds, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        Ok(Holds {
            stack: stack.clone(),
            holds: mirror_runtime()?.block_on(m.holds(stack))?,
        })
    }

    /// Checks the account (soft delete, versioning) and that every stack
    /// HEAD opens with the configured key.
    pub fn check(&self) -> Result<MirrorCheck, OpsError> {
        let m = self.sync.open(false, &mut Quiet)?;
        let rt = mirror_runtime()?;
        let blob = |source| MirrorError::Blob {
            backend: m.backend().describe(),
            source,
        };
        let props = rt.block_on(m.backend().properties()).map_err(blob)?;
        // The longest retention any environment asks for (prod: 30 days).
        let loader = Loader::new(&self.project.root);
        let required_days = loader
            .environment_names()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| loader.load_environment(e).ok())
            .map(|e| e.state_retention_days)
            .max()
            .unwrap_or(30);
        let mut heads = Vec::new();
        for path in rt
            .block_on(m.backend().list(&layout::stacks()))
            .map_err(blob)?
            .into_iter()
            .filter(|p| layout::parse_head(p).is_some())
        {
            let error = rt
                .block_on(m.backend().get(&path))
                .map_err(blob)
                .and_then(|(b, _)| m.open(&path, &b).map(|_| ()))
                .err()
                .map(|e| e.to_string());
            heads.push(HeadCheck { path, error });
        }
        Ok(MirrorCheck {
            mirror: m.describe(),
            soft_delete_days: props.delete_retention_days,
            versioning: props.versioning,
            required_days,
            notes: props.notes,
            heads,
        })
    }
}
