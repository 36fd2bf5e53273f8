//! `statectl mirror ...` and `statectl keys ...`.

use std::io::{IsTerminal as _, Write};
use std::sync::Arc;

use serde_json::json;

use super::CliError;
use super::args::{HoldCommand, KeysCommand, MirrorCommand, Selection};
use super::context::Context;
use crate::keys::{KeyProvider, LocalKeyFile};
use crate::mirror::config::{self, Keys, Location, MirrorConfig};
use crate::mirror::{
    Backend, LocalDir, Mirror, MirrorError, Progress, RestoreFilter, azure, envelope, layout,
    retention,
};
use crate::model::{Interval, Stack};
use crate::store::Store;

/// A progress bar on terminals; nothing elsewhere (CI logs get the summary).
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(what: &str) -> Self {
        if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            let b = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} objects, {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_prefix(what.to_string());
            Bar(Some(b))
        } else {
            Bar(None)
        }
    }
}

impl Progress for Bar {
    fn update(&mut self, done: usize, total: usize, bytes: u64) {
        if let Some(b) = &self.0
            && total > 8
        {
            b.set_length(total as u64);
            b.set_position(done as u64);
            b.set_message(human_bytes(bytes));
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", b as f64 / 1024.0),
        _ => format!("{:.1} MiB", b as f64 / 1_048_576.0),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))
}

/// The key provider a configuration names. `create` makes a missing local
/// key file (first push); otherwise it must exist.
pub fn key_provider(
    cfg: &MirrorConfig,
    create: bool,
    out: &mut dyn Write,
) -> Result<Arc<dyn KeyProvider>, CliError> {
    match &cfg.keys {
        Keys::Local(path) => {
            if !path.exists() {
                if !create {
                    return Err(CliError::Input(format!(
                        "the mirror's key file {} does not exist: copy it from where you keep it (without it the mirror cannot be read), or set STATECTL_MIRROR_KEY_FILE",
                        path.display()
                    )));
                }
                let k = LocalKeyFile::open_or_create(path)?;
                writeln!(
                    out,
                    "created the mirror key file {} (mode 0600): keep a copy somewhere safe; without it the mirror cannot be read",
                    path.display()
                )?;
                return Ok(Arc::new(k));
            }
            Ok(Arc::new(LocalKeyFile::load(path)?))
        }
        Keys::AzureKeyVault(url) => Ok(Arc::new(azure::KeyVaultKeys::new(url)?)),
    }
}

/// The backend a configuration names.
pub fn backend(cfg: &MirrorConfig) -> Result<Backend, CliError> {
    Ok(match &cfg.location {
        Location::Dir(p) => Backend::Local(LocalDir::new(p)),
        Location::Azure {
            account_url,
            container,
        } => Backend::Azure(Box::new(azure::AzureBlob::new(
            account_url,
            container,
            cfg.sas.as_deref(),
        )?)),
    })
}

/// The configured mirror, if any.
pub fn open_mirror(
    ctx: &Context,
    create_key: bool,
    out: &mut dyn Write,
) -> Result<Option<(Mirror, MirrorConfig)>, CliError> {
    let Some(cfg) = config::load(&ctx.project, &ctx.state_dir)? else {
        return Ok(None);
    };
    let keys = key_provider(&cfg, create_key, out)?;
    let m = Mirror::new(backend(&cfg)?, keys);
    Ok(Some((m, cfg)))
}

fn required(
    ctx: &Context,
    create_key: bool,
    out: &mut dyn Write,
) -> Result<(Mirror, MirrorConfig), CliError> {
    open_mirror(ctx, create_key, out)?.ok_or_else(|| {
        CliError::Input(format!(
            "no mirror is configured: add [mirror] url = \"dir:PATH\" (or an Azure container URL) to {}, or set STATECTL_MIRROR",
            ctx.project.join("statectl.toml").display()
        ))
    })
}

fn stacks_of(ctx: &Context, sel: &Selection) -> Result<Vec<Stack>, CliError> {
    let Ok(store) = ctx.existing_store() else {
        return Ok(Vec::new());
    };
    Ok(store
        .stacks()?
        .into_iter()
        .filter(|s| sel.estate.as_deref().is_none_or(|e| e == s.estate))
        .filter(|s| sel.env.as_deref().is_none_or(|e| e == s.env))
        .collect())
}

/// Pushes to the configured mirror after an apply (or any command that
/// committed history), when it is configured to. A failure is reported and
/// left for the next push: the local commit is durable and nothing is lost.
pub fn push_after_commit(
    ctx: &Context,
    stack: &Stack,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let Some(cfg) = config::load(&ctx.project, &ctx.state_dir)? else {
        return Ok(());
    };
    if cfg.push == config::PushMode::Manual {
        return Ok(());
    }
    let result = (|| -> Result<crate::mirror::PushReport, CliError> {
        let keys = key_provider(&cfg, true, out)?;
        let m = Mirror::new(backend(&cfg)?, keys);
        let store = ctx.existing_store()?;
        let rt = runtime()?;
        // A backend that is briefly down (network, throttling, 5xx) gets a
        // few tries with backoff; anything else is reported at once.
        let mut delay = std::time::Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            let mut bar = Bar::new("mirror push");
            match rt.block_on(m.push(&store, std::slice::from_ref(stack), &mut bar)) {
                Err(MirrorError::Blob { source, .. }) if source.is_transient() && attempt < 4 => {
                    drop(bar);
                    writeln!(out, "mirror push: {source}; retrying in {delay:?}")?;
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
                other => return Ok(other?),
            }
        }
    })();
    match result {
        Ok(r) => writeln!(
            out,
            "mirrored to {}: {} blob(s), {} in {:.1?}",
            cfg_target(&cfg),
            r.blobs,
            human_bytes(r.bytes),
            r.elapsed
        )?,
        Err(e) => writeln!(
            out,
            "warning: the mirror push failed, the local state is safe and will be pushed by the next apply or `statectl mirror push` (`statectl mirror status` shows the lag): {e}"
        )?,
    }
    Ok(())
}

fn cfg_target(cfg: &MirrorConfig) -> String {
    match &cfg.location {
        Location::Dir(p) => p.display().to_string(),
        Location::Azure {
            account_url,
            container,
        } => format!("{account_url}/{container}"),
    }
}

pub fn mirror(ctx: &Context, cmd: &MirrorCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        MirrorCommand::Push(sel) => {
            let (m, _) = required(ctx, true, out)?;
            let store = ctx.existing_store()?;
            let stacks = stacks_of(ctx, sel)?;
            if stacks.is_empty() && (sel.estate.is_some() || sel.env.is_some()) {
                return Err(CliError::Input(
                    "no stack matches --estate/--env in this store (`statectl history` lists them)"
                        .into(),
                ));
            }
            let mut bar = Bar::new("mirror push");
            let r = runtime()?.block_on(m.push(&store, &stacks, &mut bar))?;
            drop(bar);
            for (s, from, to) in &r.generations {
                if from == to {
                    writeln!(out, "{s}: generation {to}")?;
                } else {
                    writeln!(out, "{s}: generations {from}..{to}")?;
                }
            }
            writeln!(
                out,
                "pushed {} blob(s), {} to {} in {:.1?}",
                r.blobs,
                human_bytes(r.bytes),
                m.describe(),
                r.elapsed
            )?;
            Ok(())
        }
        MirrorCommand::Status { sel, json } => {
            let (m, _) = required(ctx, false, out)?;
            let store = ctx.existing_store()?;
            let stacks = stacks_of(ctx, sel)?;
            let st = runtime()?.block_on(m.status(&store, &stacks))?;
            let now = ctx.clock.now();
            if *json {
                let v: Vec<_> = st
                    .iter()
                    .map(|s| {
                        json!({
                            "stack": s.stack.to_string(),
                            "local_generation": s.local,
                            "mirrored_generation": s.mirrored,
                            "generations_behind": s.mirrored.map(|m| s.local.saturating_sub(m)),
                            "behind_since": s.behind_since.map(|t| t.to_string()),
                            "lag_seconds": s.behind_since.map(|t| now.millis_since(t) / 1000),
                        })
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                )?;
            } else {
                writeln!(out, "mirror: {}", m.describe())?;
                writeln!(
                    out,
                    "{:<32} {:>6} {:>9} {:>7}  LAG",
                    "STACK", "LOCAL", "MIRRORED", "BEHIND"
                )?;
                for s in &st {
                    let mirrored = s.mirrored.map_or("?".to_string(), |m| m.to_string());
                    let behind = s
                        .mirrored
                        .map_or("?".to_string(), |m| s.local.saturating_sub(m).to_string());
                    let lag = match s.behind_since {
                        Some(t) => Interval::from_secs(now.millis_since(t) / 1000).to_string(),
                        None if s.mirrored.is_some() => "-".to_string(),
                        None => "unreachable".to_string(),
                    };
                    writeln!(
                        out,
                        "{:<32} {:>6} {:>9} {:>7}  {lag}",
                        s.stack.to_string(),
                        s.local,
                        mirrored,
                        behind
                    )?;
                }
            }
            let behind = st
                .iter()
                .filter(|s| s.mirrored.is_none_or(|m| m < s.local))
                .count();
            if behind > 0 {
                return Err(CliError::Failed(format!(
                    "{behind} stack(s) are not fully mirrored: run `statectl mirror push`"
                )));
            }
            Ok(())
        }
        MirrorCommand::Restore { sel, generation } => {
            let (m, _) = required(ctx, false, out)?;
            let mut store = ctx.store()?;
            let filter = RestoreFilter {
                estate: sel.estate.clone(),
                env: sel.env.clone(),
                generation: *generation,
            };
            let mut bar = Bar::new("mirror restore");
            let r = runtime()?.block_on(m.restore(&store, &filter, &mut bar))?;
            drop(bar);
            for (s, upto, count) in &r.generations {
                writeln!(
                    out,
                    "{s}: {count} generation(s) restored, now at generation {upto}"
                )?;
            }
            writeln!(
                out,
                "restored {} object(s), {} release(s), {} audit record(s), {} read, from {} in {:.2?} (the state's RTO)",
                r.objects,
                r.releases,
                r.audit,
                human_bytes(r.bytes),
                m.describe(),
                r.elapsed
            )?;
            let check = store.check()?;
            if !check.problems.is_empty() {
                return Err(CliError::Failed(format!(
                    "the restored store does not check out: {}",
                    check.problems.join("; ")
                )));
            }
            writeln!(
                out,
                "store check: ok ({} releases, {} generations, {} objects verified)",
                check.releases, check.generations, check.objects
            )?;
            Ok(())
        }
        MirrorCommand::Prune {
            stack,
            keep,
            older_than,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            let (m, _) = required(ctx, false, out)?;
            let store = ctx.existing_store()?;
            let now = ctx.clock.now();
            let rule = match (keep, older_than) {
                (Some(k), _) => retention::PruneRule::Keep(*k),
                (None, Some(age)) => {
                    let i: Interval = age.parse().map_err(|e| {
                        CliError::Input(format!("--older-than {age}: {e} (write e.g. 90d or 12h)"))
                    })?;
                    retention::PruneRule::EndedBefore(crate::model::UtcTime(
                        now.0 - i64::try_from(i.secs()).unwrap_or(i64::MAX / 2000) * 1000,
                    ))
                }
                (None, None) => {
                    return Err(CliError::Input("give --keep N or --older-than AGE".into()));
                }
            };
            let r = runtime()?.block_on(m.prune(&store, &s, rule, now))?;
            if r.pruned.is_empty() {
                writeln!(
                    out,
                    "{s}: nothing to prune (oldest kept: generation {})",
                    r.oldest_kept
                )?;
            } else {
                let set: std::collections::BTreeSet<u64> = r.pruned.iter().copied().collect();
                let days = retention_days(ctx, &s);
                writeln!(
                    out,
                    "{s}: moved generation(s) {} to tombstones, recoverable with `statectl mirror undelete` for {days} days; the oldest restorable generation is now {}",
                    retention::range_text(&set),
                    r.oldest_kept
                )?;
                store.audit(
                    &ctx.actor(),
                    crate::store::AuditEvent {
                        action: "mirror.prune".into(),
                        target: s.key(),
                        region: None,
                        reason: reason.clone(),
                        details: format!(
                            "generations {} to tombstones",
                            retention::range_text(&set)
                        ),
                    },
                )?;
            }
            if let Some(h) = r.held.first() {
                writeln!(out, "kept generation {h} and later: under legal hold")?;
            }
            Ok(())
        }
        MirrorCommand::Undelete { stack } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            let (m, _) = required(ctx, false, out)?;
            let back = runtime()?.block_on(m.undelete(&s))?;
            if back.is_empty() {
                writeln!(
                    out,
                    "{s}: no tombstones to bring back (purged by gc, or never pruned)"
                )?;
            } else {
                let set: std::collections::BTreeSet<u64> = back.iter().copied().collect();
                writeln!(
                    out,
                    "{s}: generation(s) {} are back",
                    retention::range_text(&set)
                )?;
                if let Ok(store) = ctx.existing_store() {
                    store.audit(
                        &ctx.actor(),
                        crate::store::AuditEvent {
                            action: "mirror.undelete".into(),
                            target: s.key(),
                            region: None,
                            reason: None,
                            details: format!("generations {}", retention::range_text(&set)),
                        },
                    )?;
                }
            }
            Ok(())
        }
        MirrorCommand::Gc => {
            let (m, _) = required(ctx, false, out)?;
            let r = runtime()?.block_on(m.gc(ctx.clock.now(), &|s| retention_days(ctx, s)))?;
            writeln!(
                out,
                "purged {} tombstone(s); kept {} within retention and {} under legal hold",
                r.purged, r.within_retention, r.held
            )?;
            if r.purged > 0
                && let Ok(store) = ctx.existing_store()
            {
                store.audit(
                    &ctx.actor(),
                    crate::store::AuditEvent {
                        action: "mirror.gc".into(),
                        target: "mirror".into(),
                        region: None,
                        reason: None,
                        details: format!("{} tombstone(s) purged", r.purged),
                    },
                )?;
            }
            Ok(())
        }
        MirrorCommand::Hold(cmd) => hold(ctx, cmd, out),
        MirrorCommand::Check => {
            let (m, _) = required(ctx, false, out)?;
            let rt = runtime()?;
            let props =
                rt.block_on(m.backend().properties())
                    .map_err(|source| MirrorError::Blob {
                        backend: m.backend().describe(),
                        source,
                    })?;
            writeln!(out, "mirror: {}", m.describe())?;
            // The longest retention any environment asks for (prod: 30 days).
            let loader = ctx.loader();
            let required = loader
                .environment_names()
                .unwrap_or_default()
                .iter()
                .filter_map(|e| loader.load_environment(e).ok())
                .map(|e| e.state_retention_days)
                .max()
                .unwrap_or(30);
            let mut weak = false;
            match props.delete_retention_days {
                Some(0) => {
                    weak = true;
                    writeln!(
                        out,
                        "blob soft delete: OFF (the environments ask for {required} days)"
                    )?;
                }
                Some(d) if d < required => {
                    weak = true;
                    writeln!(
                        out,
                        "blob soft delete: {d} days, under the {required} days the environments ask for"
                    )?;
                }
                Some(d) => writeln!(
                    out,
                    "blob soft delete: {d} days (at least the {required} required)"
                )?,
                None => writeln!(out, "blob soft delete: not reported")?,
            }
            match props.versioning {
                Some(v) => writeln!(out, "blob versioning: {}", if v { "on" } else { "OFF" })?,
                None => writeln!(out, "blob versioning: not reported")?,
            }
            for n in &props.notes {
                writeln!(out, "note: {n}")?;
            }
            let heads: Vec<String> = rt
                .block_on(m.backend().list(&layout::stacks()))
                .map_err(|source| MirrorError::Blob {
                    backend: m.backend().describe(),
                    source,
                })?
                .into_iter()
                .filter(|p| layout::parse_head(p).is_some())
                .collect();
            let mut bad = 0;
            for h in &heads {
                let r = rt.block_on(m.backend().get(h));
                match r
                    .map_err(|source| MirrorError::Blob {
                        backend: m.backend().describe(),
                        source,
                    })
                    .and_then(|(b, _)| key_check(&m, h, &b))
                {
                    Ok(()) => writeln!(out, "ok {h}")?,
                    Err(e) => {
                        bad += 1;
                        writeln!(out, "BAD {h}: {e}")?;
                    }
                }
            }
            if bad > 0 {
                return Err(CliError::Failed(format!("{bad} HEAD(s) cannot be read")));
            }
            if weak {
                return Err(CliError::Failed(
                    "enable blob soft delete on the account for at least the retention the environments ask for (az storage account blob-service-properties update --enable-delete-retention true --delete-retention-days N)".into(),
                ));
            }
            writeln!(
                out,
                "{} stack HEAD(s) open with the configured key",
                heads.len()
            )?;
            Ok(())
        }
    }
}

fn key_check(m: &Mirror, path: &str, blob: &[u8]) -> Result<(), MirrorError> {
    m.open(path, blob).map(|_| ())
}

pub fn keys(ctx: &Context, cmd: &KeysCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let cfg = config::load(&ctx.project, &ctx.state_dir)?;
    match cmd {
        KeysCommand::Init => {
            let path = match cfg.as_ref().map(|c| &c.keys) {
                Some(Keys::AzureKeyVault(url)) => {
                    return Err(CliError::Input(format!(
                        "the mirror is sealed by the Key Vault key {url}: create and rotate it in Key Vault (az keyvault key create --kty RSA --size 3072); there is no local key file to create"
                    )));
                }
                Some(Keys::Local(p)) => p.clone(),
                None => std::env::var_os("STATECTL_MIRROR_KEY_FILE")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_else(|| config::default_key_file(&ctx.state_dir)),
            };
            if path.exists() {
                let k = LocalKeyFile::load(&path)?;
                writeln!(
                    out,
                    "{} exists: {} (version {})",
                    path.display(),
                    k.describe(),
                    k.current_version()
                )?;
                return Ok(());
            }
            let k = LocalKeyFile::open_or_create(&path)?;
            writeln!(
                out,
                "created {} (mode 0600), {}: keep a copy somewhere safe; without it the mirror cannot be read",
                path.display(),
                k.describe()
            )?;
            Ok(())
        }
        KeysCommand::Rotate => {
            let Some(cfg) = cfg else {
                return Err(CliError::Input(
                    "no mirror is configured: nothing to re-wrap (see `statectl mirror push --help`)"
                        .into(),
                ));
            };
            let keys: Arc<dyn KeyProvider> = match &cfg.keys {
                Keys::Local(path) => {
                    let mut k = LocalKeyFile::load(path)?;
                    let v = k.rotate()?;
                    writeln!(out, "{}: version {v} is now current", path.display())?;
                    Arc::new(k)
                }
                Keys::AzureKeyVault(_) => key_provider(&cfg, false, out)?,
            };
            let b = backend(&cfg)?;
            let rt = runtime()?;
            let all = rt
                .block_on(b.list(&format!("{}/", layout::ROOT)))
                .map_err(|source| MirrorError::Blob {
                    backend: b.describe(),
                    source,
                })?;
            let mut bar = Bar::new("re-wrap");
            let (mut changed, mut total) = (0, 0);
            for (i, path) in all.iter().enumerate() {
                if path.ends_with("/lock") {
                    continue;
                }
                total += 1;
                let blob_err = |source| MirrorError::Blob {
                    backend: b.describe(),
                    source,
                };
                let (sealed, etag) = rt.block_on(b.get(path)).map_err(blob_err)?;
                // A tombstone is still sealed for the path it came from.
                let sealed_for = layout::parse_tombstone(path).map_or(path.clone(), |(_, o)| o);
                if let Some(new) = envelope::rewrap(keys.as_ref(), &sealed_for, &sealed)
                    .map_err(MirrorError::from)?
                {
                    rt.block_on(b.put_if(path, &new, &etag)).map_err(blob_err)?;
                    changed += 1;
                }
                bar.update(i + 1, all.len(), 0);
            }
            drop(bar);
            writeln!(
                out,
                "re-wrapped the data keys of {changed} of {total} mirrored object(s) under {}; payloads unchanged",
                keys.describe()
            )?;
            Ok(())
        }
    }
}

/// A stack's mirror lease, held for the length of an apply and renewed
/// from a background thread on the wall clock (the applier's clock may be
/// the simulator's virtual one). Released on drop.
pub struct StackLease {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    mirror: Mirror,
    stack: Stack,
    lease: crate::mirror::LeaseId,
}

impl Drop for StackLease {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Ok(rt) = runtime() {
            let _ = rt.block_on(self.mirror.release_stack(&self.stack, &self.lease));
        }
    }
}

/// Seconds a mirror lease lasts unless renewed.
const LEASE_SECS: u32 = 60;

/// For `plan`, which only reads: a warning when the mirror holds newer
/// generations of `stack` than this store (the plan would rest on stale
/// state), or when the mirror cannot be read. `None` when there is no
/// mirror or it is not ahead.
pub fn behind_warning(ctx: &Context, store: &Store, stack: &Stack) -> Option<String> {
    let mut sink = Vec::new();
    let (m, _) = open_mirror(ctx, false, &mut sink).ok()??;
    let rt = runtime().ok()?;
    match rt.block_on(m.status(store, std::slice::from_ref(stack))) {
        Ok(st) => {
            let s = st.first()?;
            let mirrored = s.mirrored.filter(|m| *m > s.local)?;
            Some(format!(
                "warning: the mirror holds generation {mirrored} of {stack} and this store only generation {}: another machine applied since, so this plan rests on stale state; `statectl apply` takes those generations in before it plans, or run `statectl mirror restore --estate {} --env {}`",
                s.local, stack.estate, stack.env
            ))
        }
        Err(e) => Some(format!(
            "warning: could not read the mirror to check for newer generations ({e}); this plan rests on this store's state"
        )),
    }
}

/// Before an apply plans: when the mirror holds newer generations of `stack`
/// than this store (another machine applied since), takes them in, so the
/// plan rests on the latest state rather than being refused later by
/// [`lease_for_apply`]. Runs under the stack's local lock. A mirror that
/// cannot be read is a warning here; the lease step decides.
pub fn pull_if_behind(
    ctx: &Context,
    store: &Store,
    stack: &Stack,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // As the lease step would: a first apply on this machine makes the key.
    let Some((m, _)) = open_mirror(ctx, true, out)? else {
        return Ok(());
    };
    let rt = runtime()?;
    let status = match rt.block_on(m.status(store, std::slice::from_ref(stack))) {
        Ok(st) => st,
        Err(e) => {
            writeln!(
                out,
                "warning: could not read the mirror to check for newer generations ({e}); planning on this store's state"
            )?;
            return Ok(());
        }
    };
    let Some(s) = status.first() else {
        return Ok(());
    };
    let Some(mirrored) = s.mirrored.filter(|m| *m > s.local) else {
        return Ok(());
    };
    let filter = RestoreFilter {
        estate: Some(stack.estate.clone()),
        env: Some(stack.env.clone()),
        generation: None,
    };
    let r = rt.block_on(m.restore(store, &filter, &mut crate::mirror::NoProgress))?;
    writeln!(
        out,
        "pulled generation(s) {}-{mirrored} of {stack} from {} (another machine applied since; {} object(s), {} read); planning on them",
        s.local + 1,
        m.describe(),
        r.objects,
        human_bytes(r.bytes)
    )?;
    Ok(())
}

/// Takes the stack's mirror lease when a mirror is configured. Another
/// holder refuses the apply, naming it; an unreachable mirror does not
/// (the local lock still holds, and the push will catch up), with a warning.
pub fn lease_for_apply(
    ctx: &Context,
    store: &Store,
    stack: &Stack,
    out: &mut dyn Write,
) -> Result<Option<StackLease>, CliError> {
    let Some((m, _)) = open_mirror(ctx, true, out)? else {
        return Ok(None);
    };
    let holder = format!(
        "{} on {} (pid {}) since {}",
        ctx.actor().name,
        crate::store::hostname(),
        std::process::id(),
        ctx.clock.now()
    );
    let rt = runtime()?;
    let lease = match rt.block_on(m.lease_stack(stack, &holder, LEASE_SECS)) {
        Ok(l) => l,
        Err(e @ MirrorError::Locked { .. }) => return Err(e.into()),
        Err(e) => {
            writeln!(
                out,
                "warning: could not take the mirror lease ({e}); applying under the local lock only"
            )?;
            return Ok(None);
        }
    };
    // Holding the lease, make sure no other machine applied since this
    // store last saw the mirror (its plan would rest on stale state).
    if let Ok(st) = rt.block_on(m.status(store, std::slice::from_ref(stack)))
        && let Some(s) = st.first()
        && let Some(mirrored) = s.mirrored
        && mirrored > s.local
    {
        let _ = rt.block_on(m.release_stack(stack, &lease));
        return Err(MirrorError::Behind {
            stack: stack.to_string(),
            estate: stack.estate.clone(),
            env: stack.env.clone(),
            mirrored,
            local: s.local,
        }
        .into());
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thread = {
        let (stop, m, stack, lease) = (stop.clone(), m.clone(), stack.clone(), lease.clone());
        std::thread::spawn(move || {
            let Ok(rt) = runtime() else {
                return;
            };
            let mut waited = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(250));
                waited += 250;
                if waited >= LEASE_SECS * 1000 / 3 {
                    waited = 0;
                    let _ = rt.block_on(m.renew_stack(&stack, &lease));
                }
            }
        })
    };
    Ok(Some(StackLease {
        stop,
        thread: Some(thread),
        mirror: m,
        stack: stack.clone(),
        lease,
    }))
}

/// Breaks the stack's mirror lease (force-unlock), when a mirror is configured.
pub fn break_lease(ctx: &Context, stack: &Stack, out: &mut dyn Write) -> Result<(), CliError> {
    let Some((m, _)) = open_mirror(ctx, false, out)? else {
        return Ok(());
    };
    runtime()?.block_on(m.break_stack(stack))?;
    writeln!(out, "broke the mirror lease on {stack} ({})", m.describe())?;
    Ok(())
}

/// The environment's state retention in days (30 when it does not say).
fn retention_days(ctx: &Context, s: &Stack) -> u32 {
    ctx.loader()
        .load_environment(&s.env)
        .map(|e| e.state_retention_days)
        .ok()
        .filter(|d| *d > 0)
        .unwrap_or(30)
}

fn hold(ctx: &Context, cmd: &HoldCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let (m, _) = required(ctx, false, out)?;
    let rt = runtime()?;
    let audit = |action: &str, s: &Stack, reason: &str, details: String| -> Result<(), CliError> {
        if let Ok(store) = ctx.existing_store() {
            store.audit(
                &ctx.actor(),
                crate::store::AuditEvent {
                    action: action.into(),
                    target: s.key(),
                    region: None,
                    reason: Some(reason.to_string()),
                    details,
                },
            )?;
        }
        Ok(())
    };
    match cmd {
        HoldCommand::Set {
            generation,
            stack,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            if reason.trim().is_empty() {
                return Err(CliError::Input("--reason must say why".into()));
            }
            let h = retention::Hold {
                reason: reason.clone(),
                actor: ctx.actor().name,
                at: ctx.clock.now(),
            };
            if rt.block_on(m.hold(&s, *generation, &h))? {
                writeln!(
                    out,
                    "generation {generation} of {s} is under legal hold: {reason}"
                )?;
                audit(
                    "mirror.hold.set",
                    &s,
                    reason,
                    format!("generation {generation}"),
                )?;
            } else {
                writeln!(
                    out,
                    "generation {generation} of {s} was already under legal hold"
                )?;
            }
            Ok(())
        }
        HoldCommand::Clear {
            generation,
            stack,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            if rt.block_on(m.clear_hold(&s, *generation))? {
                writeln!(
                    out,
                    "lifted the legal hold on generation {generation} of {s}"
                )?;
                audit(
                    "mirror.hold.clear",
                    &s,
                    reason,
                    format!("generation {generation}"),
                )?;
            } else {
                writeln!(
                    out,
                    "generation {generation} of {s} is not under legal hold"
                )?;
            }
            Ok(())
        }
        HoldCommand::List { stack } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            let holds = rt.block_on(m.holds(&s))?;
            if holds.is_empty() {
                writeln!(out, "{s}: no legal holds")?;
            }
            for (n, h) in holds {
                writeln!(out, "{n:>6}  {}  {}  {}", h.at, h.actor, h.reason)?;
            }
            Ok(())
        }
    }
}
