//! The workflows that change state: apply (a release, a saved plan, a
//! resume, an emergency `--target/--replace`), rollback, destroy, drift and
//! `drift --fix`, refresh, `state push`, and the mirror sync around them
//! (lock and pull, lease with renewal, push with retry, behind checks), and
//! the mirror's own commands.
//!
//! Everything that decides what happens to state lives here, generic over
//! the [`Provider`]; the CLI, the Gherkin steps, the property tests and the
//! benchmarks all call it, so the apply they exercise is the one users run.
//! A caller talks to a workflow through [`Hooks`]: it is told what happens
//! ([`Event`], in order), asked to confirm, and given the applier's
//! progress. Outcomes and errors are typed ([`OpsError`] keeps its causes).
//!
//! [`Ops`] is the one context value: store, specs, clock, actor, the
//! optional mirror and, once [`Ops::with_provider`] attached one, the
//! provider with the runtime its operations run on. Workflows that never
//! touch the cloud (plan, state push, the mirror's commands) work without
//! one.

mod apply;
mod check;
mod drift;
mod error;
mod estates;
mod keys;
mod mirror;
mod planning;
mod rollback;
mod run;
mod state;
mod sync;
mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use apply::{ApplyRequest, DestroyRequest, SavedPlan};
pub use drift::{DriftCheck, FixRequest, Refreshed};
pub use error::OpsError;
pub use keys::{KeyInit, Rotated};
pub use mirror::{
    HeadCheck, HoldChange, Holds, MirrorCheck, MirrorOps, MirrorStatus, Pruned, Pushed, Rebuilt,
    Undeleted,
};
pub use planning::{
    Desired, Planned, desired, latest_settled, make_plan, nothing_to_do, plan_release, promotion,
    restore_targets, rollback_points,
};
pub use rollback::RollbackRequest;
pub use run::{Applied, Finished, RunOptions};
pub use state::git_commit;
pub use sync::{MirrorSync, StackLease};
pub use text::{human_bytes, plan_header};

use crate::apply::{Progress, ReconcileReport};
use crate::clock::Clock;
use crate::model::Stack;
use crate::plan::Plan;
use crate::policy::Violation;
use crate::provider::Provider;
use crate::settings::Settings;
use crate::spec::Loader;
use crate::store::{Actor, Store, StoreOptions};

/// Something a workflow did or found, reported to its caller as it
/// happens (the CLI prints each one; tests may record them).
#[derive(Debug)]
pub enum Event<'a> {
    /// The plan a workflow is about to apply (or found empty).
    Plan {
        /// The plan.
        plan: &'a Plan,
        /// What it was planned from, when it was loaded.
        desired: Option<&'a Desired>,
    },
    /// An interrupted generation was reconciled with the provider.
    Reconciled {
        /// The generation.
        generation: u64,
        /// What the provider said.
        report: &'a ReconcileReport,
    },
    /// A rollback chose its target.
    RollingBack {
        /// The stack.
        stack: &'a Stack,
        /// The release it is at.
        from: &'a str,
        /// The release it goes back to.
        to: &'a str,
    },
    /// Newer generations were taken in from the mirror before planning.
    Pulled {
        /// The stack.
        stack: &'a Stack,
        /// The first generation taken in.
        from: u64,
        /// The last.
        to: u64,
        /// The mirror, described.
        mirror: String,
        /// Objects read.
        objects: usize,
        /// Bytes read.
        bytes: u64,
    },
    /// Something the user should know that does not stop the workflow.
    Warning(String),
    /// A read-only view rests on stale state: the mirror holds newer
    /// generations than this store (or cannot be read to tell). Kept apart
    /// from results (the CLI prints it on stderr, so `--json` stays a
    /// document).
    Stale(String),
    /// A production-rule note: an override used, an exception applied or
    /// expired (also recorded in the generation's reason).
    Note(&'a str),
    /// The production rules refuse the apply (also audited).
    Refused(&'a [Violation]),
    /// The latest generation was backed up before a production apply.
    BackedUp {
        /// The stack.
        stack: &'a Stack,
        /// The generation backed up.
        generation: u64,
    },
    /// The applier finished.
    Applied(&'a Applied),
    /// A mirror push failed transiently and is retried.
    PushRetry {
        /// What failed.
        error: String,
        /// The wait before the next try.
        delay: std::time::Duration,
    },
    /// The mirror push after a commit finished.
    Pushed {
        /// Where.
        target: String,
        /// Blobs written.
        blobs: usize,
        /// Bytes written.
        bytes: u64,
        /// How long it took.
        elapsed: std::time::Duration,
    },
    /// A local mirror key file was created (first push on this machine).
    KeyCreated(&'a Path),
}

/// How a workflow talks to its caller.
pub trait Hooks {
    /// Reports an event, in the order they happen.
    fn event(&mut self, event: Event<'_>) -> Result<(), OpsError>;
    /// Asks whether to apply the plan just reported to `stack`; `false`
    /// cancels ([`OpsError::Cancelled`]).
    fn confirm(&mut self, stack: &Stack) -> Result<bool, OpsError>;
    /// Where the applier reports progress for `total` operations.
    fn progress(&mut self, total: usize) -> Box<dyn Progress + '_>;
    /// Where a mirror transfer (`what`: "mirror push", ...) reports progress.
    fn transfer(&mut self, what: &'static str) -> Box<dyn crate::mirror::TransferProgress>;
}

/// Hooks that approve everything and report nothing: for tests, benchmarks
/// and callers that read the typed outcome only.
#[derive(Debug, Default)]
pub struct Quiet;

impl Hooks for Quiet {
    fn event(&mut self, _: Event<'_>) -> Result<(), OpsError> {
        Ok(())
    }
    fn confirm(&mut self, _: &Stack) -> Result<bool, OpsError> {
        Ok(true)
    }
    fn progress(&mut self, _: usize) -> Box<dyn Progress + '_> {
        Box::new(crate::apply::QuietProgress)
    }
    fn transfer(&mut self, _: &'static str) -> Box<dyn crate::mirror::TransferProgress> {
        Box::new(crate::mirror::NoProgress)
    }
}

/// Where a project and its state live, and who acts on them: what every
/// workflow needs before it opens anything.
#[derive(Clone, Debug)]
pub struct Project {
    /// The project folder (specs/, environments/, statectl.toml).
    pub root: PathBuf,
    /// The state directory (default `<root>/.statectl`).
    pub state_dir: PathBuf,
    /// The command line, for audit records and lock holders.
    pub command_line: String,
    /// What the environment says.
    pub settings: Settings,
}

impl Project {
    /// A project at `root` with its state in `<root>/.statectl`.
    pub fn new(root: impl Into<PathBuf>, settings: Settings) -> Self {
        let root = root.into();
        Project {
            state_dir: root.join(".statectl"),
            root,
            command_line: String::new(),
            settings,
        }
    }

    /// The clock: the override when the settings hold one, else the
    /// system clock.
    pub fn clock(&self) -> Result<Arc<dyn Clock>, crate::clock::NowError> {
        crate::clock::from_override(self.settings.now.as_deref())
    }

    /// Who acts. Under a clock override, how they act says so, with the
    /// real time beside it: every audit record of the run then shows both.
    pub fn actor(&self) -> Actor {
        let mut actor = Actor::new(&self.settings.identity, &self.command_line);
        if let Some(now) = self
            .settings
            .now
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        {
            let real = crate::clock::Clock::now(&crate::clock::SystemClock);
            actor.how = format!(
                "{} (clock override STATECTL_NOW={now}; real time {real})",
                actor.how
            );
        }
        actor
    }

    /// How to open the store.
    pub fn store_options(&self, clock: Arc<dyn Clock>) -> StoreOptions {
        StoreOptions {
            clock,
            key_file: self.settings.key_file.clone(),
        }
    }

    /// The configured mirror, if any.
    pub fn mirror(&self) -> Result<Option<MirrorSync>, OpsError> {
        Ok(
            crate::mirror::config::load(&self.root, &self.state_dir, &self.settings)?
                .map(MirrorSync::new),
        )
    }
}

/// The provider a workflow applies through, and the runtime its
/// operations run on.
///
/// Invariant: with `virtual_clock`, the runtime's clock is paused, so the
/// simulator's per-type durations pass instantly and makespans are exact;
/// the mirror never runs on this runtime (its network timeouts need real
/// time).
pub struct Cloud<P> {
    provider: Arc<P>,
    runtime: tokio::runtime::Runtime,
    virtual_clock: bool,
    interrupt: Option<Arc<tokio::sync::Notify>>,
}

impl<P> Cloud<P> {
    /// The provider.
    pub fn provider(&self) -> &Arc<P> {
        &self.provider
    }
    /// Whether operations run on the virtual clock.
    pub fn virtual_clock(&self) -> bool {
        self.virtual_clock
    }
}

/// The context every workflow runs in: store, specs, clock, actor, the
/// optional mirror and (`C` = [`Cloud`]) the provider.
///
/// Invariant: every workflow that records a generation holds the stack's
/// lock for its length and, with a mirror, takes in newer generations
/// first and holds the mirror lease while it applies.
pub struct Ops<C = ()> {
    store: Store,
    loader: Loader,
    clock: Arc<dyn Clock>,
    actor: Actor,
    project: Project,
    mirror: Option<MirrorSync>,
    cloud: C,
}

impl Ops<()> {
    /// A context over an open store, with no provider yet.
    pub fn new(project: Project, store: Store) -> Result<Self, OpsError> {
        let mirror = project.mirror()?;
        Ok(Ops {
            clock: store.clock().clone(),
            loader: Loader::new(&project.root),
            actor: project.actor(),
            store,
            project,
            mirror,
            cloud: (),
        })
    }

    /// Opens (creating if needed) the project's store.
    pub fn open(project: Project) -> Result<Self, OpsError> {
        let clock = project.clock()?;
        let store = Store::open(&project.state_dir, project.store_options(clock))?;
        Self::new(project, store)
    }

    /// Opens the project's store, which must exist.
    pub fn open_existing(project: Project) -> Result<Self, OpsError> {
        let clock = project.clock()?;
        let store = Store::open_existing(&project.state_dir, project.store_options(clock))?;
        Self::new(project, store)
    }

    /// Attaches `provider`; its operations run on a runtime whose clock is
    /// paused when `virtual_clock` (the simulator's catalog durations).
    pub fn with_provider<P: Provider + 'static>(
        self,
        provider: Arc<P>,
        virtual_clock: bool,
    ) -> Result<Ops<Cloud<P>>, OpsError> {
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_time();
        if virtual_clock {
            b.start_paused(true);
        }
        let runtime = b.build().map_err(OpsError::Runtime)?;
        Ok(Ops {
            store: self.store,
            loader: self.loader,
            clock: self.clock,
            actor: self.actor,
            project: self.project,
            mirror: self.mirror,
            cloud: Cloud {
                provider,
                runtime,
                virtual_clock,
                interrupt: None,
            },
        })
    }
}

impl<C> Ops<C> {
    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// The spec loader.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }
    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    /// Who acts.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }
    /// The configured mirror, if any.
    pub fn mirror(&self) -> Option<&MirrorSync> {
        self.mirror.as_ref()
    }
    /// Replaces the actor (tests and benchmarks name their own).
    pub fn set_actor(&mut self, actor: Actor) {
        self.actor = actor;
    }
}

impl<P: Provider + 'static> Ops<Cloud<P>> {
    /// The provider and its runtime.
    pub fn cloud(&self) -> &Cloud<P> {
        &self.cloud
    }

    /// Drops an apply in flight when `notify` fires, as if the process died
    /// at that point: the journal keeps what was in flight and `--resume`
    /// finishes it. For crash tests and drills.
    pub fn set_interrupt(&mut self, notify: Arc<tokio::sync::Notify>) {
        self.cloud.interrupt = Some(notify);
    }
}

/// Requires a non-empty reason for `why`.
pub fn require_reason(reason: Option<&str>, why: &str) -> Result<(), OpsError> {
    match reason {
        Some(r) if !r.trim().is_empty() => Ok(()),
        _ => Err(OpsError::ReasonRequired { why: why.into() }),
    }
}

/// The embedded simulator of the project's state directory, and whether it
/// runs on the virtual clock (unless the settings ask for scaled real time,
/// for demos).
pub fn open_sim(
    project: &Project,
    clock: Arc<dyn Clock>,
) -> Result<(crate::provider::sim::Sim, bool), OpsError> {
    use crate::provider::sim::{Sim, SimDurability, SimTiming};
    let (timing, virtual_clock) = match project.settings.sim_speed {
        Some(f) => (SimTiming::Scaled(f), false),
        None => (SimTiming::Catalog, true),
    };
    let sim = Sim::open(&project.state_dir, clock, timing, SimDurability::Durable)?;
    Ok((sim, virtual_clock))
}

impl Ops<()> {
    /// Attaches the embedded simulator of the state directory.
    pub fn with_sim(self) -> Result<Ops<Cloud<crate::provider::sim::Sim>>, OpsError> {
        let (sim, virtual_clock) = open_sim(&self.project, self.clock.clone())?;
        self.with_provider(Arc::new(sim), virtual_clock)
    }
}
