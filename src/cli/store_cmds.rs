//! Handlers of the store commands: release, history, state, audit, store,
//! force-unlock.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::CliError;
use super::args::{
    AuditArgs, DebugCommand, ForceUnlockArgs, HistoryArgs, ReleaseCommand, StateCommand,
    StoreCommand,
};
use super::context::Context;
use crate::model::{
    Address, Generation, GenerationKind, ObservedResource, Outcome, Secret, Stack, Value,
};
use crate::store::statefile;
use crate::store::{Change, NewGeneration, ReleaseOutcome, Store, display_version};

/// Prints rows as aligned columns under a header.
pub fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

pub fn git_commit(project: &std::path::Path) -> Option<String> {
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

pub fn release(ctx: &Context, cmd: &ReleaseCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        ReleaseCommand::Create { version, estate } => {
            let loader = ctx.loader();
            let mut envs = Vec::new();
            for env in loader.environment_names()? {
                envs.push(loader.load(estate, &env)?);
            }
            let store = ctx.store()?;
            match store.create_release(
                estate,
                version,
                &envs,
                git_commit(&ctx.project),
                &ctx.actor(),
            )? {
                ReleaseOutcome::Created {
                    release,
                    new_objects,
                } => {
                    let counts: Vec<String> = release
                        .resource_counts
                        .iter()
                        .map(|(e, n)| format!("{e}={n}"))
                        .collect();
                    writeln!(
                        out,
                        "created release {} of {estate}: content {}, {} ({new_objects} new objects)",
                        display_version(&release.version),
                        release.content.short(),
                        counts.join(" ")
                    )?;
                }
                ReleaseOutcome::Unchanged(release) => {
                    writeln!(
                        out,
                        "release {} of {estate} already exists with the same content; nothing to do",
                        display_version(&release.version)
                    )?;
                }
            }
            Ok(())
        }
        ReleaseCommand::List { estate, json } => {
            let store = ctx.existing_store()?;
            let releases = store.releases(estate)?;
            if *json {
                let v: Vec<_> = releases
                    .iter()
                    .map(|r| {
                        json!({
                            "version": display_version(&r.version), "content": r.content.to_hex(),
                            "created_at": r.created_at.to_string(), "created_by": r.created_by,
                            "git_commit": r.git_commit, "resources": r.resource_counts,
                        })
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                )?;
                return Ok(());
            }
            let rows: Vec<Vec<String>> = releases
                .iter()
                .map(|r| {
                    vec![
                        display_version(&r.version),
                        r.content.short(),
                        r.created_at.to_string(),
                        r.created_by.clone(),
                        r.git_commit
                            .clone()
                            .map(|c| c.chars().take(12).collect())
                            .unwrap_or_else(|| "-".into()),
                        r.resource_counts
                            .iter()
                            .map(|(e, n)| format!("{e}={n}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect();
            table(
                out,
                &["VERSION", "CONTENT", "CREATED", "BY", "COMMIT", "RESOURCES"],
                &rows,
            )?;
            Ok(())
        }
        ReleaseCommand::Show {
            version,
            estate,
            env,
            json,
        } => {
            let store = ctx.existing_store()?;
            let r = store.release(estate, version)?;
            let resources = match env {
                Some(e) => Some(store.release_resources(&r, e)?),
                None => None,
            };
            if *json {
                let v = json!({
                    "estate": r.estate, "version": display_version(&r.version), "content": r.content.to_hex(),
                    "created_at": r.created_at.to_string(), "created_by": r.created_by, "git_commit": r.git_commit,
                    "environments": r.environments.iter().map(|(e, re)| (e.clone(), json!({"root": re.root.to_hex(), "header": re.header.to_hex(), "resources": r.resource_counts.get(e)}))).collect::<serde_json::Map<_, _>>(),
                    "resources": resources.as_ref().map(|m| m.iter().map(|(a, (d, res))| json!({"address": a.to_string(), "type": res.arm_type, "name": res.name, "digest": d.to_hex()})).collect::<Vec<_>>()),
                });
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                )?;
                return Ok(());
            }
            writeln!(
                out,
                "release {} of {}",
                display_version(&r.version),
                r.estate
            )?;
            writeln!(out, "  content:    {}", r.content)?;
            writeln!(out, "  created:    {} by {}", r.created_at, r.created_by)?;
            writeln!(
                out,
                "  git commit: {}",
                r.git_commit.as_deref().unwrap_or("-")
            )?;
            for (e, re) in &r.environments {
                writeln!(
                    out,
                    "  {e}: {} resources, tree {}",
                    r.resource_counts.get(e).copied().unwrap_or(0),
                    re.root.short()
                )?;
            }
            if let Some(m) = resources {
                writeln!(out)?;
                let rows: Vec<Vec<String>> = m
                    .iter()
                    .map(|(a, (d, res))| {
                        vec![
                            a.to_string(),
                            res.arm_type.clone(),
                            res.name.clone(),
                            d.short(),
                        ]
                    })
                    .collect();
                table(out, &["ADDRESS", "TYPE", "NAME", "DIGEST"], &rows)?;
            }
            Ok(())
        }
    }
}

fn duration_text(g: &Generation) -> String {
    let secs = g.ended_at.millis_since(g.started_at) / 1000;
    crate::model::Interval::from_secs(secs).to_string()
}

fn generation_json(g: &Generation) -> serde_json::Value {
    json!({
        "generation": g.number, "kind": g.kind.to_string(), "release": g.release.as_deref().map(display_version),
        "outcome": g.outcome.to_string(), "actor": g.actor, "reason": g.reason,
        "started_at": g.started_at.to_string(), "ended_at": g.ended_at.to_string(),
        "resources": g.resource_count, "plan_hash": g.plan_hash.map(|d| d.to_hex()), "summary": g.summary,
    })
}

pub fn history(ctx: &Context, args: &HistoryArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    let store = ctx.existing_store()?;
    let gens = store.generations(&stack)?;
    if args.json {
        let v: Vec<_> = gens.iter().map(generation_json).collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
        return Ok(());
    }
    if gens.is_empty() {
        writeln!(out, "{stack} has no generations yet")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = gens
        .iter()
        .map(|g| {
            vec![
                g.number.to_string(),
                g.kind.to_string(),
                g.release
                    .as_deref()
                    .map(display_version)
                    .unwrap_or_else(|| "-".into()),
                g.outcome.to_string(),
                g.actor.clone(),
                g.started_at.to_string(),
                duration_text(g),
                g.resource_count.to_string(),
                g.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "GEN",
            "KIND",
            "RELEASE",
            "OUTCOME",
            "ACTOR",
            "STARTED",
            "TOOK",
            "RESOURCES",
            "REASON",
        ],
        &rows,
    )?;
    Ok(())
}

fn pick_generation(store: &Store, stack: &Stack, n: Option<u64>) -> Result<Generation, CliError> {
    match n {
        Some(n) => Ok(store.generation(stack, n)?),
        None => store.latest_generation(stack)?.ok_or_else(|| {
            CliError::Input(format!("{stack} has no generations yet; apply a release first (`statectl apply --estate {} --env {} --version ...`)", stack.estate, stack.env))
        }),
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn state(ctx: &Context, cmd: &StateCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        StateCommand::List {
            stack,
            generation,
            json,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let store = ctx.existing_store()?;
            let g = pick_generation(&store, &stack, *generation)?;
            let addrs = store.addresses(&g)?;
            if *json {
                let v: Vec<String> = addrs.iter().map(Address::to_string).collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                )?;
            } else {
                for a in addrs {
                    writeln!(out, "{a}")?;
                }
            }
            Ok(())
        }
        StateCommand::Show {
            address,
            stack,
            generation,
            show_sensitive,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let addr: Address = address
                .parse()
                .map_err(|e: crate::model::AddressError| CliError::Input(e.to_string()))?;
            let store = ctx.existing_store()?;
            let g = pick_generation(&store, &stack, *generation)?;
            let mut r = store.observed_resource(&g, &addr)?;
            if *show_sensitive {
                store.unseal(&stack, &mut r)?;
            }
            print_resource(out, &r, &g)?;
            Ok(())
        }
        StateCommand::Pull {
            stack,
            generation,
            show_sensitive,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let store = ctx.existing_store()?;
            let g = pick_generation(&store, &stack, *generation)?;
            let mut resources = store.observed(&g)?;
            if *show_sensitive {
                for r in resources.values_mut() {
                    store.unseal(&stack, r)?;
                }
            }
            let doc = statefile::to_json(&g, &resources, *show_sensitive);
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )?;
            Ok(())
        }
        StateCommand::Backups { stack, generation } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let store = ctx.existing_store()?;
            let backups = store.backups(&stack)?;
            match generation {
                Some(n) => {
                    let b = backups.iter().find(|b| b.generation == *n).ok_or_else(|| CliError::Input(format!("{stack} has no backup of generation {n}; `statectl state backups --estate {} --env {}` lists them", stack.estate, stack.env)))?;
                    writeln!(out, "{}", b.state)?;
                }
                None => {
                    let rows: Vec<Vec<String>> = backups
                        .iter()
                        .map(|b| {
                            vec![
                                b.generation.to_string(),
                                b.taken_at.to_string(),
                                format!("{} bytes", b.state.len()),
                            ]
                        })
                        .collect();
                    table(out, &["GENERATION", "TAKEN", "SIZE"], &rows)?;
                }
            }
            Ok(())
        }
        StateCommand::Push {
            file,
            stack,
            force,
            lock_timeout,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", file.display())))?;
            let (template, resources) =
                statefile::from_json(&text).map_err(|source| CliError::StateFile {
                    file: file.display().to_string(),
                    source,
                })?;
            if template.stack != stack {
                return Err(CliError::Input(format!(
                    "{} holds state of {}, not {stack}; pass --estate {} --env {}",
                    file.display(),
                    template.stack,
                    template.stack.estate,
                    template.stack.env
                )));
            }
            let store = ctx.store()?;
            let actor = ctx.actor();
            let _lock = store.lock(
                &stack,
                &actor,
                &ctx.command_line,
                Duration::from_secs(*lock_timeout),
            )?;
            let g = store.import_generation(template, resources, *force, &actor)?;
            writeln!(
                out,
                "pushed {} as generation {} of {stack} ({} resources)",
                file.display(),
                g.number,
                g.resource_count
            )?;
            Ok(())
        }
    }
}

fn print_resource(
    out: &mut dyn Write,
    r: &ObservedResource,
    g: &Generation,
) -> std::io::Result<()> {
    writeln!(
        out,
        "# {} (generation {} of {})",
        r.address, g.number, g.stack
    )?;
    writeln!(out, "type = {}", r.arm_type)?;
    writeln!(out, "name = {}", r.name)?;
    writeln!(out, "id   = {}", r.id)?;
    if r.prevent_destroy {
        writeln!(out, "prevent_destroy = true")?;
    }
    for (k, v) in &r.properties {
        writeln!(out, "properties.{k} = {}", show_value(v))?;
    }
    for (k, v) in &r.attributes {
        writeln!(out, "attributes.{k} = {}", show_value(v))?;
    }
    for (k, s) in &r.sensitive {
        let text = match s {
            Secret::Plain(p) => p.clone(),
            _ => statefile::REDACTED.to_string(),
        };
        writeln!(out, "sensitive.{k} = {text}")?;
    }
    for (k, v) in &r.tags {
        writeln!(out, "tags.{k} = {v}")?;
    }
    if !r.dependencies.is_empty() {
        let d: Vec<String> = r.dependencies.iter().map(Address::to_string).collect();
        writeln!(out, "dependencies = [{}]", d.join(", "))?;
    }
    Ok(())
}

pub fn audit(ctx: &Context, args: &AuditArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let store = ctx.existing_store()?;
    let prefix = match (&args.estate, &args.env) {
        (Some(e), Some(v)) => Some(format!("{e}/{v}")),
        (Some(e), None) => Some(e.clone()),
        _ => None,
    };
    let entries = store.audit_log(prefix.as_deref())?;
    if args.json {
        let v: Vec<_> = entries
            .iter()
            .map(|e| json!({"seq": e.seq, "at": e.at.to_string(), "who": e.actor, "what": e.action, "where": e.target, "region": e.region, "why": e.reason, "how": e.how, "details": e.details}))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.at.to_string(),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.reason.clone().unwrap_or_else(|| "-".into()),
                e.details.clone(),
            ]
        })
        .collect();
    table(
        out,
        &["SEQ", "WHEN", "WHO", "WHAT", "WHERE", "WHY", "DETAILS"],
        &rows,
    )?;
    Ok(())
}

pub fn store(ctx: &Context, cmd: &StoreCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        StoreCommand::Check => {
            let mut store = ctx.existing_store()?;
            let r = store.check()?;
            writeln!(
                out,
                "checked {}: engine {}, {} releases, {} generations, {} objects, {} audit records, {} journal entries",
                store.path().display(),
                if r.engine_ok { "ok" } else { "NOT OK" },
                r.releases,
                r.generations,
                r.objects,
                r.audit_entries,
                r.journal_entries
            )?;
            if r.problems.is_empty() {
                writeln!(out, "no problems found")?;
                Ok(())
            } else {
                for p in &r.problems {
                    writeln!(out, "problem: {p}")?;
                }
                Err(CliError::Failed(format!(
                    "{} problem(s) in {}; restore it with `statectl mirror restore` or from a backup",
                    r.problems.len(),
                    store.path().display()
                )))
            }
        }
        StoreCommand::Compact => {
            let mut store = ctx.existing_store()?;
            let before = store.file_size();
            store.compact()?;
            writeln!(
                out,
                "compacted {}: {before} -> {} bytes",
                store.path().display(),
                store.file_size()
            )?;
            Ok(())
        }
    }
}

pub fn force_unlock(
    ctx: &Context,
    args: &ForceUnlockArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    let store = ctx.existing_store()?;
    match store.force_unlock(&stack, &ctx.actor(), args.reason.clone())? {
        Some(info) => writeln!(out, "removed the stale lock of {info} on {stack}")?,
        None => writeln!(out, "{stack} is not locked locally; nothing to do here")?,
    }
    super::mirror_cmds::break_lease(ctx, &stack, out)
}

pub fn debug(ctx: &Context, cmd: &DebugCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        DebugCommand::CommitLoop { stack, count, rows } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let store = ctx.store()?;
            let actor = ctx.actor();
            let start = store.latest_generation(&stack)?.map_or(0, |g| g.number);
            for i in 0..*count {
                let n = start + i + 1;
                let g = store.commit_generation(
                    &stack,
                    NewGeneration {
                        kind: GenerationKind::Apply,
                        release: None,
                        plan_hash: None,
                        reason: None,
                    },
                    (0..(*rows).max(1))
                        .map(|j| Change::Put {
                            observed: Box::new(crash_resource(n, j)),
                            applied: None,
                        })
                        .collect(),
                    Outcome::Succeeded,
                    &actor,
                )?;
                writeln!(out, "acked {}", g.number)?;
                out.flush()?;
            }
            Ok(())
        }
        DebugCommand::Generate {
            resources,
            width,
            out: dir,
            estate,
        } => {
            let e = crate::synthetic::layered(estate, (*resources).max(1), *width, 1);
            crate::spec::write_project(dir, &e)
                .map_err(|e| CliError::Input(format!("cannot write {}: {e}", dir.display())))?;
            writeln!(
                out,
                "wrote a {}-resource estate `{estate}` (environment dev) to {}",
                e.resources().len(),
                dir.display()
            )?;
            Ok(())
        }
        DebugCommand::HoldLock { stack, seconds } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let store = ctx.store()?;
            let _lock = store.lock(&stack, &ctx.actor(), &ctx.command_line, Duration::ZERO)?;
            writeln!(out, "locked")?;
            out.flush()?;
            std::thread::sleep(Duration::from_secs(*seconds));
            Ok(())
        }
    }
}

/// The deterministic resources the crash test expects generation `n` to
/// write: row 0 is `m.r<n mod 50>`, row j > 0 is `b.r<j-1>`; property `n`.
pub fn crash_resource(n: u64, row: u64) -> ObservedResource {
    let (module, name) = match row {
        0 => ("m", format!("r{}", n % 50)),
        j => ("b", format!("r{}", j - 1)),
    };
    let address = Address::new(module, &name).unwrap_or_else(|_| unreachable_address());
    ObservedResource {
        id: format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/{}",
            address.name()
        ),
        name: address.name().to_string(),
        address,
        arm_type: "Microsoft.Network/virtualNetworks".into(),
        properties: [("n".to_string(), Value::Int(n as i64))]
            .into_iter()
            .collect(),
        attributes: Default::default(),
        sensitive: Default::default(),
        tags: Default::default(),
        dependencies: Default::default(),
        prevent_destroy: false,
    }
}

fn unreachable_address() -> Address {
    // `m` and `r<digits>` are always identifiers; this is never reached.
    Address::new("m", "r").unwrap_or_else(|_| std::process::abort())
}
