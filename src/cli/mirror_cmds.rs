//! `statectl mirror ...` and `statectl keys ...`: arguments in, one
//! workflow call, results out.

use std::collections::BTreeSet;
use std::io::Write;

use super::CliError;
use super::args::{HoldCommand, KeysCommand, MirrorCommand, Selection};
use super::context::Context;
use super::render::{Term, human_bytes};
use crate::mirror::RebuildFilter;
use crate::mirror::retention::{self, PruneRule};
use crate::ops::{MirrorCheck, MirrorOps};

fn open(ctx: &Context) -> Result<MirrorOps, CliError> {
    Ok(MirrorOps::open(ctx.project.clone())?)
}

fn term<'a>(ctx: &Context, out: &'a mut dyn Write) -> Term<'a> {
    ctx.term(out, true, true)
}

pub fn mirror(ctx: &Context, cmd: &MirrorCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        MirrorCommand::Push(sel) => push(ctx, sel, out),
        MirrorCommand::Status { sel, json } => status(ctx, sel, *json, out),
        MirrorCommand::Restore { sel, generation } => restore(ctx, sel, *generation, out),
        MirrorCommand::Prune {
            stack,
            keep,
            older_than,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            let m = open(ctx)?;
            let rule = match (keep, older_than) {
                (Some(k), _) => PruneRule::Keep(*k),
                (None, Some(age)) => m.older_than(age)?,
                (None, None) => {
                    return Err(CliError::Input("give --keep N or --older-than AGE".into()));
                }
            };
            let p = m.prune(&s, rule, reason.clone())?;
            let r = &p.report;
            if r.pruned.is_empty() {
                writeln!(
                    out,
                    "{s}: nothing to prune (oldest kept: generation {})",
                    r.oldest_kept
                )?;
            } else {
                let set: BTreeSet<u64> = r.pruned.iter().copied().collect();
                writeln!(
                    out,
                    "{s}: moved generation(s) {} to tombstones, recoverable with `statectl mirror undelete` for {} days; the oldest restorable generation is now {}",
                    retention::range_text(&set),
                    p.retention_days,
                    r.oldest_kept
                )?;
            }
            if let Some(h) = r.held.first() {
                writeln!(out, "kept generation {h} and later: under legal hold")?;
            }
            Ok(())
        }
        MirrorCommand::Undelete { stack } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            let back = open(ctx)?.undelete(&s)?;
            if back.is_empty() {
                writeln!(
                    out,
                    "{s}: no tombstones to bring back (purged by gc, or never pruned)"
                )?;
            } else {
                let set: BTreeSet<u64> = back.iter().copied().collect();
                writeln!(
                    out,
                    "{s}: generation(s) {} are back",
                    retention::range_text(&set)
                )?;
            }
            Ok(())
        }
        MirrorCommand::Gc => {
            let r = open(ctx)?.gc()?;
            writeln!(
                out,
                "purged {} tombstone(s); kept {} within retention and {} under legal hold",
                r.purged, r.within_retention, r.held
            )?;
            Ok(())
        }
        MirrorCommand::Hold(cmd) => hold(ctx, cmd, out),
        MirrorCommand::Check => check(&open(ctx)?.check()?, out),
    }
}

fn push(ctx: &Context, sel: &Selection, out: &mut dyn Write) -> Result<(), CliError> {
    let m = open(ctx)?;
    let stacks = m.stacks(sel.estate.as_deref(), sel.env.as_deref())?;
    if stacks.is_empty() && (sel.estate.is_some() || sel.env.is_some()) {
        return Err(CliError::Input(
            "no stack matches --estate/--env in this store (`statectl history` lists them)".into(),
        ));
    }
    let (mirror, r) = m.push(&stacks, &mut term(ctx, out))?;
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
        mirror.describe(),
        r.elapsed
    )?;
    Ok(())
}

fn status(
    ctx: &Context,
    sel: &Selection,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let m = open(ctx)?;
    let stacks = m.stacks(sel.estate.as_deref(), sel.env.as_deref())?;
    let st = m.status(&stacks)?;
    if as_json {
        super::render::json(out, &st.to_json())?;
    } else {
        write!(out, "{st}")?;
    }
    let behind = st.behind();
    if behind > 0 {
        return Err(CliError::Failed(format!(
            "{behind} stack(s) are not fully mirrored: run `statectl mirror push`"
        )));
    }
    Ok(())
}

fn restore(
    ctx: &Context,
    sel: &Selection,
    generation: Option<u64>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let filter = RebuildFilter {
        estate: sel.estate.clone(),
        env: sel.env.clone(),
        generation,
    };
    let (m, r, check) = open(ctx)?.rebuild(&filter, &mut term(ctx, out))?;
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

fn check(c: &MirrorCheck, out: &mut dyn Write) -> Result<(), CliError> {
    write!(out, "{c}")?;
    let bad = c.heads.iter().filter(|h| h.error.is_some()).count();
    if bad > 0 {
        return Err(CliError::Failed(format!("{bad} HEAD(s) cannot be read")));
    }
    if c.weak_soft_delete() {
        return Err(CliError::Failed(
            "enable blob soft delete on the account for at least the retention the environments ask for (az storage account blob-service-properties update --enable-delete-retention true --delete-retention-days N)".into(),
        ));
    }
    writeln!(
        out,
        "{} stack HEAD(s) open with the configured key",
        c.heads.len()
    )?;
    Ok(())
}

pub fn keys(ctx: &Context, cmd: &KeysCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Init => {
            let k = ctx.project.keys_init()?;
            if k.created {
                writeln!(
                    out,
                    "created {} (mode 0600), {}: keep a copy somewhere safe; without it the mirror cannot be read",
                    k.path.display(),
                    k.describe
                )?;
            } else {
                writeln!(
                    out,
                    "{} exists: {} (version {})",
                    k.path.display(),
                    k.describe,
                    k.version
                )?;
            }
        }
        KeysCommand::Rotate => {
            let r = ctx.project.keys_rotate(&mut term(ctx, out))?;
            if let Some((path, v)) = &r.local_version {
                writeln!(out, "{}: version {v} is now current", path.display())?;
            }
            writeln!(
                out,
                "re-wrapped the data keys of {} of {} mirrored object(s) under {}; payloads unchanged",
                r.changed, r.total, r.keys
            )?;
        }
    }
    Ok(())
}

fn hold(ctx: &Context, cmd: &HoldCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let m = open(ctx)?;
    match cmd {
        HoldCommand::Set {
            generation,
            stack,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            if m.hold(&s, *generation, reason)? {
                writeln!(
                    out,
                    "generation {generation} of {s} is under legal hold: {reason}"
                )?;
            } else {
                writeln!(
                    out,
                    "generation {generation} of {s} was already under legal hold"
                )?;
            }
        }
        HoldCommand::Clear {
            generation,
            stack,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            if m.clear_hold(&s, *generation, reason)? {
                writeln!(
                    out,
                    "lifted the legal hold on generation {generation} of {s}"
                )?;
            } else {
                writeln!(
                    out,
                    "generation {generation} of {s} is not under legal hold"
                )?;
            }
        }
        HoldCommand::List { stack } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            let holds = m.holds(&s)?;
            if holds.is_empty() {
                writeln!(out, "{s}: no legal holds")?;
            }
            for (n, h) in holds {
                writeln!(out, "{n:>6}  {}  {}  {}", h.at, h.actor, h.reason)?;
            }
        }
    }
    Ok(())
}
