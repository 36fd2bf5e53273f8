//! The mirror sync around every workflow that records a generation: lock
//! the stack and take in what another machine pushed since (pull if
//! behind), hold the stack's mirror lease while applying (renewed in the
//! background), push after the commit (with retries), and warn read-only
//! commands whose view is stale.
//!
//! The mirror runs on a runtime of its own with a real clock: the
//! applier's may be the simulator's paused one, on which network timeouts
//! would fire at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Event, Hooks, Ops, OpsError};
use crate::keys::{KeyProvider, LocalKeyFile};
use crate::mirror::config::{Keys, Location, MirrorConfig, PushMode};
use crate::mirror::{
    Backend, LeaseHolder, LeaseId, LocalDir, Mirror, MirrorError, RebuildFilter, azure,
};
use crate::model::Stack;
use crate::store::{AuditEvent, StackLock, Store};

/// Seconds a mirror lease lasts unless renewed.
const LEASE_SECS: u32 = 60;
/// Tries of a push after a commit when the backend is briefly down.
const PUSH_TRIES: u32 = 4;

/// A runtime with a real clock, for mirror calls.
pub(crate) fn mirror_runtime() -> Result<tokio::runtime::Runtime, OpsError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(OpsError::Runtime)
}

/// The configured mirror: where it is and which key seals it.
///
/// Invariant: opening it never creates a key unless asked to (the first
/// push on a machine), and a created key is reported.
#[derive(Clone, Debug)]
pub struct MirrorSync {
    cfg: MirrorConfig,
}

impl MirrorSync {
    /// The mirror a configuration names.
    pub fn new(cfg: MirrorConfig) -> Self {
        MirrorSync { cfg }
    }

    /// The configuration.
    pub fn config(&self) -> &MirrorConfig {
        &self.cfg
    }

    /// Where it is, for messages.
    pub fn target(&self) -> String {
        match &self.cfg.location {
            Location::Dir(p) => p.display().to_string(),
            Location::Azure {
                account_url,
                container,
            } => format!("{account_url}/{container}"),
        }
    }

    /// The backend the configuration names.
    pub fn backend(&self) -> Result<Backend, OpsError> {
        Ok(match &self.cfg.location {
            Location::Dir(p) => Backend::Local(LocalDir::new(p)),
            Location::Azure {
                account_url,
                container,
            } => Backend::Azure(Box::new(azure::AzureBlob::new(
                account_url,
                container,
                self.cfg.sas.as_deref(),
                self.cfg.azure,
            )?)),
        })
    }

    /// The key provider the configuration names. `create` makes a missing
    /// local key file (first push), reported through `hooks`; otherwise it
    /// must exist.
    pub fn keys(
        &self,
        create: bool,
        hooks: &mut dyn Hooks,
    ) -> Result<Arc<dyn KeyProvider>, OpsError> {
        match &self.cfg.keys {
            Keys::Local(path) => {
                if path.exists() {
                    return Ok(Arc::new(LocalKeyFile::load(path)?));
                }
                if !create {
                    return Err(OpsError::Invalid(format!(
                        "the mirror's key file {} does not exist: copy it from where you keep it (without it the mirror cannot be read), or set STATECTL_MIRROR_KEY_FILE",
                        path.display()
                    )));
                }
                let k = LocalKeyFile::open_or_create(path)?;
                hooks.event(Event::KeyCreated(path))?;
                Ok(Arc::new(k))
            }
            Keys::AzureKeyVault(url) => {
                Ok(Arc::new(azure::KeyVaultKeys::new(url, self.cfg.azure)?))
            }
        }
    }

    /// The mirror, opened with its key (created when `create`).
    pub fn open(&self, create: bool, hooks: &mut dyn Hooks) -> Result<Mirror, OpsError> {
        let keys = self.keys(create, hooks)?;
        Ok(Mirror::new(self.backend()?, keys))
    }
}

/// A stack's mirror lease, held for the length of an apply and renewed
/// from a background thread on the wall clock. Released on drop.
pub struct StackLease {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    mirror: Mirror,
    stack: Stack,
    lease: LeaseId,
}

impl Drop for StackLease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Ok(rt) = mirror_runtime() {
            let _ = rt.block_on(self.mirror.release_stack(&self.stack, &self.lease));
        }
    }
}

impl StackLease {
    fn renewed(mirror: Mirror, stack: &Stack, lease: LeaseId) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, m, stack, lease) =
                (stop.clone(), mirror.clone(), stack.clone(), lease.clone());
            std::thread::spawn(move || {
                let Ok(rt) = mirror_runtime() else {
                    return;
                };
                let mut waited = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(250));
                    waited += 250;
                    if waited >= LEASE_SECS * 1000 / 3 {
                        waited = 0;
                        let _ = rt.block_on(m.renew_stack(&stack, &lease));
                    }
                }
            })
        };
        StackLease {
            stop,
            thread: Some(thread),
            mirror,
            stack: stack.clone(),
            lease,
        }
    }
}

/// How far the mirror is ahead of `store` for `stack`: `Ok(Some(n))` when
/// it holds generation `n` and the store less.
fn mirror_ahead(
    rt: &tokio::runtime::Runtime,
    m: &Mirror,
    store: &Store,
    stack: &Stack,
) -> Result<Option<(u64, u64)>, MirrorError> {
    let st = rt.block_on(m.status(store, std::slice::from_ref(stack)))?;
    Ok(st
        .first()
        .and_then(|s| s.mirrored.filter(|m| *m > s.local).map(|m| (s.local, m))))
}

impl<C> Ops<C> {
    /// For commands that only read: a warning when the mirror holds newer
    /// generations of `stack` than this store (what they show rests on
    /// stale state), or when the mirror cannot be read. `None` when there
    /// is no mirror or it is not ahead.
    pub fn behind_warning(&self, stack: &Stack) -> Option<String> {
        let m = self.mirror.as_ref()?.open(false, &mut super::Quiet).ok()?;
        let rt = mirror_runtime().ok()?;
        match mirror_ahead(&rt, &m, &self.store, stack) {
            Ok(Some((local, mirrored))) => Some(format!(
                "warning: the mirror holds generation {mirrored} of {stack} and this store only generation {local}: another machine applied since, so this rests on stale state; `statectl apply` takes those generations in before it plans, or run `statectl mirror restore --estate {} --env {}`",
                stack.estate, stack.env
            )),
            Ok(None) => None,
            Err(e) => Some(format!(
                "warning: could not read the mirror to check for newer generations ({e}); this rests on this store's state"
            )),
        }
    }

    /// Locks `stack` for a workflow that records a generation, then (when
    /// `pull`) takes in what another machine pushed to the mirror since, so
    /// the workflow works from the latest state.
    pub fn lock_and_pull(
        &self,
        stack: &Stack,
        lock_timeout: Duration,
        pull: bool,
        hooks: &mut dyn Hooks,
    ) -> Result<StackLock, OpsError> {
        let lock = self
            .store
            .lock(stack, &self.actor, &self.project.command_line, lock_timeout)?;
        if pull {
            self.pull_if_behind(stack, hooks)?;
        }
        Ok(lock)
    }

    /// For a workflow that records a generation only in some of its modes:
    /// [`Ops::lock_and_pull`] when it `writes`; otherwise no lock, and a
    /// warning when the mirror is ahead.
    pub fn lock_and_pull_if(
        &self,
        stack: &Stack,
        lock_timeout: Duration,
        writes: bool,
        hooks: &mut dyn Hooks,
    ) -> Result<Option<StackLock>, OpsError> {
        if writes {
            return self
                .lock_and_pull(stack, lock_timeout, true, hooks)
                .map(Some);
        }
        if let Some(w) = self.behind_warning(stack) {
            hooks.event(Event::Stale(w))?;
        }
        Ok(None)
    }

    /// When the mirror holds newer generations of `stack` than this store
    /// (another machine applied since), takes them in, so a plan rests on
    /// the latest state rather than being refused by the lease step. Runs
    /// under the stack's lock. A mirror that cannot be read is a warning
    /// here; the lease step decides.
    pub fn pull_if_behind(&self, stack: &Stack, hooks: &mut dyn Hooks) -> Result<(), OpsError> {
        let Some(sync) = &self.mirror else {
            return Ok(());
        };
        // As the lease step would: a first apply on this machine makes the key.
        let m = sync.open(true, hooks)?;
        let rt = mirror_runtime()?;
        let (local, mirrored) = match mirror_ahead(&rt, &m, &self.store, stack) {
            Ok(Some(ahead)) => ahead,
            Ok(None) => return Ok(()),
            Err(e) => {
                return hooks.event(Event::Warning(format!(
                    "warning: could not read the mirror to check for newer generations ({e}); planning on this store's state"
                )));
            }
        };
        let filter = RebuildFilter {
            estate: Some(stack.estate.clone()),
            env: Some(stack.env.clone()),
            generation: None,
        };
        let r = rt.block_on(m.rebuild(&self.store, &filter, &mut crate::mirror::NoProgress))?;
        hooks.event(Event::Pulled {
            stack,
            from: local + 1,
            to: mirrored,
            mirror: m.describe(),
            objects: r.objects,
            bytes: r.bytes,
        })
    }

    /// Takes the stack's mirror lease when a mirror is configured. Another
    /// holder refuses the apply, naming it; an unreachable mirror does not
    /// (the local lock still holds, and the push will catch up), with a
    /// warning.
    pub fn lease(
        &self,
        stack: &Stack,
        hooks: &mut dyn Hooks,
    ) -> Result<Option<StackLease>, OpsError> {
        let Some(sync) = &self.mirror else {
            return Ok(None);
        };
        let m = sync.open(true, hooks)?;
        let holder = LeaseHolder {
            actor: self.actor.name.clone(),
            host: crate::store::hostname(),
            pid: std::process::id(),
            since: self.clock.now().to_string(),
        };
        let rt = mirror_runtime()?;
        let lease = match rt.block_on(m.lease_stack(stack, &holder, LEASE_SECS)) {
            Ok(l) => l,
            Err(MirrorError::Locked {
                holder: Some(gone), ..
            }) if gone.host == holder.host
                && gone.pid != holder.pid
                && !crate::store::pid_alive(gone.pid) =>
            {
                self.take_over(&rt, &m, stack, &gone, &holder, hooks)?
            }
            Err(e @ MirrorError::Locked { .. }) => return Err(e.into()),
            Err(e) => {
                hooks.event(Event::Warning(format!(
                    "warning: could not take the mirror lease ({e}); applying under the local lock only"
                )))?;
                return Ok(None);
            }
        };
        // Holding the lease, make sure no other machine applied since this
        // store last saw the mirror (its plan would rest on stale state).
        if let Ok(Some((local, mirrored))) = mirror_ahead(&rt, &m, &self.store, stack) {
            let _ = rt.block_on(m.release_stack(stack, &lease));
            return Err(MirrorError::Behind {
                stack: stack.to_string(),
                estate: stack.estate.clone(),
                env: stack.env.clone(),
                mirrored,
                local,
            }
            .into());
        }
        Ok(Some(StackLease::renewed(m, stack, lease)))
    }

    /// Breaks the lease of a holder on this host whose process is gone (a
    /// crashed apply: waiting out the lease would only delay `--resume`)
    /// and takes it, audited.
    fn take_over(
        &self,
        rt: &tokio::runtime::Runtime,
        m: &Mirror,
        stack: &Stack,
        gone: &LeaseHolder,
        holder: &LeaseHolder,
        hooks: &mut dyn Hooks,
    ) -> Result<LeaseId, OpsError> {
        rt.block_on(m.break_stack(stack))?;
        let details = format!(
            "took over the mirror lease of {gone}: pid {} no longer runs on {}",
            gone.pid, gone.host
        );
        self.store.audit(
            &self.actor,
            AuditEvent {
                action: "mirror.lease.takeover".into(),
                target: stack.key(),
                details: details.clone(),
                ..AuditEvent::default()
            },
        )?;
        hooks.event(Event::Warning(format!("warning: {details}")))?;
        Ok(rt.block_on(m.lease_stack(stack, holder, LEASE_SECS))?)
    }

    /// Pushes `stack` to the configured mirror after a commit, unless it is
    /// configured to push by hand. A backend that is briefly down gets a
    /// few tries with backoff; a failure is a warning and left for the next
    /// push: the local commit is durable and nothing is lost.
    pub fn push_after_commit(&self, stack: &Stack, hooks: &mut dyn Hooks) -> Result<(), OpsError> {
        let Some(sync) = &self.mirror else {
            return Ok(());
        };
        if sync.config().push == PushMode::Manual {
            return Ok(());
        }
        match self.push_with_retry(sync, stack, hooks) {
            Ok(r) => hooks.event(Event::Pushed {
                target: sync.target(),
                blobs: r.blobs,
                bytes: r.bytes,
                elapsed: r.elapsed,
            }),
            Err(OpsError::Output(e)) => Err(OpsError::Output(e)),
            Err(e) => hooks.event(Event::Warning(format!(
                "warning: the mirror push failed, the local state is safe and will be pushed by the next apply or `statectl mirror push` (`statectl mirror status` shows the lag): {e}"
            ))),
        }
    }

    fn push_with_retry(
        &self,
        sync: &MirrorSync,
        stack: &Stack,
        hooks: &mut dyn Hooks,
    ) -> Result<crate::mirror::PushReport, OpsError> {
        let m = sync.open(true, hooks)?;
        let rt = mirror_runtime()?;
        let mut delay = Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            let mut bar = hooks.transfer("mirror push");
            let r = rt.block_on(m.push(&self.store, std::slice::from_ref(stack), bar.as_mut()));
            drop(bar);
            match r {
                Err(MirrorError::Blob { source, .. })
                    if source.is_transient() && attempt < PUSH_TRIES =>
                {
                    hooks.event(Event::PushRetry {
                        error: source.to_string(),
                        delay,
                    })?;
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
                other => return Ok(other?),
            }
        }
    }

    /// Breaks the stack's mirror lease (force-unlock), when a mirror is
    /// configured; returns the mirror described.
    pub fn break_lease(&self, stack: &Stack) -> Result<Option<String>, OpsError> {
        let Some(sync) = &self.mirror else {
            return Ok(None);
        };
        let m = sync.open(false, &mut super::Quiet)?;
        mirror_runtime()?.block_on(m.break_stack(stack))?;
        Ok(Some(m.describe()))
    }
}
