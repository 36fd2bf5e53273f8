//! Handlers of the store commands: release, history, state, audit, store,
//! force-unlock.

use std::io::Write;
use std::time::Duration;

use super::CliError;
use super::args::{
    AuditArgs, DebugCommand, ForceUnlockArgs, HistoryArgs, ReleaseCommand, StateCommand,
    StoreCommand,
};
use super::context::Context;
use super::render::{self, table};
use crate::model::{Address, Generation};
use crate::store::statefile;
use crate::store::{ReleaseOutcome, display_version, json};

pub fn release(ctx: &Context, cmd: &ReleaseCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        ReleaseCommand::Create { version, estate } => {
            let text = match ctx.ops()?.release_create(estate, version)? {
                ReleaseOutcome::Created {
                    release: r,
                    new_objects,
                } => format!(
                    "created release {} of {estate}: content {}, {} ({new_objects} new objects)",
                    display_version(&r.version),
                    r.content.short(),
                    counts(&r)
                ),
                ReleaseOutcome::Unchanged(r) => format!(
                    "release {} of {estate} already exists with the same content; nothing to do",
                    display_version(&r.version)
                ),
            };
            writeln!(out, "{text}")?;
            Ok(())
        }
        ReleaseCommand::List { estate, json } => {
            let releases = ctx.existing_store()?.releases(estate)?;
            if *json {
                let v: Vec<_> = releases.iter().map(json::release_summary).collect();
                return Ok(render::json(out, &v)?);
            }
            let rows: Vec<Vec<String>> = releases.iter().map(release_row).collect();
            let header = ["VERSION", "CONTENT", "CREATED", "BY", "COMMIT", "RESOURCES"];
            Ok(table(out, &header, &rows)?)
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
                return Ok(render::json(out, &json::release(&r, resources.as_ref()))?);
            }
            write!(out, "{}", json::release_text(&r))?;
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

/// `dev=12 prod=14`.
fn counts(r: &crate::model::Release) -> String {
    let c: Vec<String> = r
        .resource_counts
        .iter()
        .map(|(e, n)| format!("{e}={n}"))
        .collect();
    c.join(" ")
}

fn release_row(r: &crate::model::Release) -> Vec<String> {
    let commit = r
        .git_commit
        .as_ref()
        .map_or_else(|| "-".into(), |c| c.chars().take(12).collect());
    vec![
        display_version(&r.version),
        r.content.short(),
        r.created_at.to_string(),
        r.created_by.clone(),
        commit,
        counts(r),
    ]
}

fn duration_text(g: &Generation) -> String {
    let secs = g.ended_at.millis_since(g.started_at) / 1000;
    crate::model::Interval::from_secs(secs).to_string()
}

pub fn history(ctx: &Context, args: &HistoryArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    let store = ctx.existing_store()?;
    let gens = store.generations(&stack)?;
    if args.json {
        let v: Vec<_> = gens.iter().map(json::generation).collect();
        return Ok(render::json(out, &v)?);
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

pub fn state(ctx: &Context, cmd: &StateCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        StateCommand::List {
            stack,
            generation,
            json,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let ops = ctx.existing_ops()?;
            let g = ops.generation(&stack, *generation)?;
            let addrs: Vec<String> = ops
                .store()
                .addresses(&g)?
                .iter()
                .map(Address::to_string)
                .collect();
            if *json {
                render::json(out, &addrs)?;
            } else if !addrs.is_empty() {
                writeln!(out, "{}", addrs.join("\n"))?;
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
            let ops = ctx.existing_ops()?;
            let g = ops.generation(&stack, *generation)?;
            for r in ops.state_read(&g, Some(&addr), *show_sensitive)?.values() {
                write!(out, "{}", statefile::to_text(r, &g))?;
            }
            Ok(())
        }
        StateCommand::Pull {
            stack,
            generation,
            show_sensitive,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let ops = ctx.existing_ops()?;
            let g = ops.generation(&stack, *generation)?;
            let resources = ops.state_read(&g, None, *show_sensitive)?;
            render::json(out, &statefile::to_json(&g, &resources, *show_sensitive))?;
            Ok(())
        }
        StateCommand::Backups { stack, generation } => backups(
            ctx,
            &ctx.stack(&stack.estate, &stack.env)?,
            *generation,
            out,
        ),
        StateCommand::Push {
            file,
            stack,
            force,
            lock_timeout,
        } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let timeout = Duration::from_secs(*lock_timeout);
            let g = ctx.ops()?.state_push(&stack, file, *force, timeout)?;
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

fn backups(
    ctx: &Context,
    stack: &crate::model::Stack,
    generation: Option<u64>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let backups = ctx.existing_store()?.backups(stack)?;
    if let Some(n) = generation {
        let b = backups.iter().find(|b| b.generation == n).ok_or_else(|| {
            CliError::Input(format!(
                "{stack} has no backup of generation {n}; `statectl state backups --estate {} --env {}` lists them",
                stack.estate, stack.env
            ))
        })?;
        writeln!(out, "{}", b.state)?;
        return Ok(());
    }
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
    Ok(table(out, &["GENERATION", "TAKEN", "SIZE"], &rows)?)
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
        let v: Vec<_> = entries.iter().map(json::audit).collect();
        render::json(out, &v)?;
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
    let (removed, mirror) = ctx
        .existing_ops()?
        .force_unlock(&stack, args.reason.clone())?;
    match removed {
        Some(info) => writeln!(out, "removed the stale lock of {info} on {stack}")?,
        None => writeln!(out, "{stack} is not locked locally; nothing to do here")?,
    }
    if let Some(m) = mirror {
        writeln!(out, "broke the mirror lease on {stack} ({m})")?;
    }
    Ok(())
}

pub fn debug(ctx: &Context, cmd: &DebugCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        DebugCommand::CommitLoop { stack, count, rows } => {
            let stack = ctx.stack(&stack.estate, &stack.env)?;
            let ops = ctx.ops()?;
            for _ in 0..*count {
                let g = crate::synthetic::commit_next(ops.store(), &stack, *rows, ops.actor())?;
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
            let ops = ctx.ops()?;
            let _lock = ops.lock_and_pull(&stack, Duration::ZERO, false, &mut crate::ops::Quiet)?;
            writeln!(out, "locked")?;
            out.flush()?;
            std::thread::sleep(Duration::from_secs(*seconds));
            Ok(())
        }
    }
}
