//! `statectl mirror ...` and `statectl keys ...`: arguments in, one
//! workflow call, results out.

use std::io::Write;

use super::CliError;
use super::args::{HoldCommand, KeysCommand, MirrorCommand, Selection};
use super::context::Context;
use super::render::Term;
use crate::mirror::RebuildFilter;
use crate::mirror::retention::PruneRule;
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
            Ok(write!(out, "{}", m.prune(&s, rule, reason.clone())?)?)
        }
        MirrorCommand::Undelete { stack } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            Ok(write!(out, "{}", open(ctx)?.undelete(&s)?)?)
        }
        MirrorCommand::Gc => Ok(write!(out, "{}", open(ctx)?.gc()?)?),
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
    let pushed = m.push(&stacks, &mut term(ctx, out))?;
    Ok(write!(out, "{pushed}")?)
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
    let rebuilt = open(ctx)?.rebuild(&filter, &mut term(ctx, out))?;
    write!(out, "{rebuilt}")?;
    let problems = &rebuilt.check.problems;
    if !problems.is_empty() {
        return Err(CliError::Failed(format!(
            "the restored store does not check out: {}",
            problems.join("; ")
        )));
    }
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
        KeysCommand::Init => write!(out, "{}", ctx.project.keys_init()?)?,
        KeysCommand::Rotate => {
            let r = ctx.project.keys_rotate(&mut term(ctx, out))?;
            write!(out, "{r}")?;
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
            write!(out, "{}", m.hold(&s, *generation, reason)?)?;
        }
        HoldCommand::Clear {
            generation,
            stack,
            reason,
        } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            write!(out, "{}", m.clear_hold(&s, *generation, reason)?)?;
        }
        HoldCommand::List { stack } => {
            let s = ctx.stack(&stack.estate, &stack.env)?;
            write!(out, "{}", m.holds(&s)?)?;
        }
    }
    Ok(())
}
