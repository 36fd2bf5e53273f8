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
use super::render;
use crate::model::Address;
use crate::store::{statefile, views};

pub fn release(ctx: &Context, cmd: &ReleaseCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        ReleaseCommand::Create { version, estate } => {
            let o = ctx.ops()?.release_create(estate, version)?;
            writeln!(out, "{}", views::release_created_text(&o))?;
        }
        ReleaseCommand::List { estate, json } => {
            let releases = ctx.existing_store()?.releases(estate)?;
            if *json {
                let v: Vec<_> = releases.iter().map(views::release_summary).collect();
                render::json(out, &v)?;
            } else {
                write!(out, "{}", views::releases_table(&releases))?;
            }
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
                render::json(out, &views::release(&r, resources.as_ref()))?;
            } else {
                write!(out, "{}", views::release_text(&r))?;
                if let Some(m) = resources {
                    write!(out, "\n{}", views::release_resources_table(&m))?;
                }
            }
        }
    }
    Ok(())
}

pub fn history(ctx: &Context, args: &HistoryArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    let gens = ctx.existing_store()?.generations(&stack)?;
    if args.json {
        let v: Vec<_> = gens.iter().map(views::generation).collect();
        render::json(out, &v)?;
    } else if gens.is_empty() {
        writeln!(out, "{}", views::no_generations_text(&stack))?;
    } else {
        write!(out, "{}", views::history_table(&gens))?;
    }
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
    let Some(n) = generation else {
        return Ok(write!(out, "{}", views::backups_table(&backups))?);
    };
    let b = backups.iter().find(|b| b.generation == n).ok_or_else(|| {
        CliError::Input(format!(
            "{stack} has no backup of generation {n}; `statectl state backups --estate {} --env {}` lists them",
            stack.estate, stack.env
        ))
    })?;
    writeln!(out, "{}", b.state)?;
    Ok(())
}

pub fn audit(ctx: &Context, args: &AuditArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let prefix = match (&args.estate, &args.env) {
        (Some(e), Some(v)) => Some(format!("{e}/{v}")),
        (Some(e), None) => Some(e.clone()),
        _ => None,
    };
    let entries = ctx.existing_store()?.audit_log(prefix.as_deref())?;
    if args.json {
        let v: Vec<_> = entries.iter().map(views::audit).collect();
        render::json(out, &v)?;
    } else {
        write!(out, "{}", views::audit_table(&entries))?;
    }
    Ok(())
}

pub fn store(ctx: &Context, cmd: &StoreCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let mut store = ctx.existing_store()?;
    let path = store.path().display().to_string();
    match cmd {
        StoreCommand::Check => {
            let r = store.check()?;
            write!(out, "checked {path}: {r}")?;
            if !r.problems.is_empty() {
                return Err(CliError::Failed(format!(
                    "{} problem(s) in {path}; restore it with `statectl mirror restore` or from a backup",
                    r.problems.len(),
                )));
            }
        }
        StoreCommand::Compact => {
            let before = store.file_size();
            store.compact()?;
            let after = store.file_size();
            writeln!(out, "compacted {path}: {before} -> {after} bytes")?;
        }
    }
    Ok(())
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
