//! One handler per command. Handlers write results to `out` and return
//! typed errors; `cli::run` prints the errors.

use std::io::Write;

use super::CliError;
use super::args::{Cli, Command, JsonFlag, Selection, Stack};
use super::context::Context;
use super::{apply_cmds, mirror_cmds, store_cmds, verify_cmd};
use crate::catalog;
use crate::spec::Loader;

/// Runs the parsed command.
pub fn dispatch(cli: &Cli, ctx: &Context, out: &mut dyn Write) -> Result<(), CliError> {
    let loader = ctx.loader();
    match &cli.command {
        Command::Validate(sel) => validate(ctx, sel, out),
        Command::Graph(stack) => graph(&loader, stack, out),
        Command::Estates(flag) => estates(ctx, flag, out),
        Command::Types(flag) => types(flag, out),
        Command::Plan(args) => apply_cmds::plan(ctx, args, out),
        Command::Apply(args) => apply_cmds::apply(ctx, args, out),
        Command::Sim(cmd) => apply_cmds::sim(ctx, cmd, out),
        Command::Rollback(args) => apply_cmds::rollback(ctx, args, out),
        Command::Destroy(args) => apply_cmds::destroy(ctx, args, out),
        Command::Drift(args) => apply_cmds::drift(ctx, args, out),
        Command::Refresh(args) => apply_cmds::refresh(ctx, args, out),
        Command::Verify(args) => verify_cmd::verify(ctx, args, out),
        Command::Release(cmd) => store_cmds::release(ctx, cmd, out),
        Command::History(args) => store_cmds::history(ctx, args, out),
        Command::State(cmd) => store_cmds::state(ctx, cmd, out),
        Command::Audit(args) => store_cmds::audit(ctx, args, out),
        Command::Store(cmd) => store_cmds::store(ctx, cmd, out),
        Command::ForceUnlock(args) => store_cmds::force_unlock(ctx, args, out),
        Command::Mirror(cmd) => mirror_cmds::mirror(ctx, cmd, out),
        Command::Keys(cmd) => mirror_cmds::keys(ctx, cmd, out),
        Command::Debug(cmd) => store_cmds::debug(ctx, cmd, out),
    }
}

fn validate(ctx: &Context, sel: &Selection, out: &mut dyn Write) -> Result<(), CliError> {
    let loader = ctx.loader();
    let stacks = ctx
        .project
        .selected(sel.estate.as_deref(), sel.env.as_deref())?;
    let mut failed = Vec::new();
    match loader.load_baseline(&crate::verify::rule_ids()) {
        Ok(Some(_)) => writeln!(out, "ok      {}", crate::spec::BASELINE_FILE)?,
        Ok(None) => {}
        Err(errs) => {
            writeln!(
                out,
                "invalid {}: {} error(s)",
                crate::spec::BASELINE_FILE,
                errs.errors().len()
            )?;
            out.flush()?;
            eprintln!("{}", errs.render());
            failed.push(crate::spec::BASELINE_FILE.to_string());
        }
    }
    for (estate, env) in &stacks {
        match loader.load(estate, env) {
            Ok(e) => writeln!(
                out,
                "ok      {estate}/{env}: {} resources, {} dependencies",
                e.resources().len(),
                e.graph().edges().count()
            )?,
            Err(errs) => {
                writeln!(
                    out,
                    "invalid {estate}/{env}: {} error(s)",
                    errs.errors().len()
                )?;
                out.flush()?;
                eprintln!("{}", errs.render());
                failed.push(format!("{estate}/{env}"));
            }
        }
    }
    if failed.is_empty() {
        writeln!(out, "{} stack(s) valid", stacks.len())?;
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} of {} stack(s) invalid: {}",
            failed.len(),
            stacks.len(),
            failed.join(", ")
        )))
    }
}

fn graph(loader: &Loader, stack: &Stack, out: &mut dyn Write) -> Result<(), CliError> {
    let estate = loader.load(&stack.estate, &stack.env)?;
    write!(out, "{}", estate.to_dot())?;
    Ok(())
}

fn estates(ctx: &Context, flag: &JsonFlag, out: &mut dyn Write) -> Result<(), CliError> {
    let list = ctx.project.estates()?;
    if flag.json {
        super::render::json(out, &list.to_json())?;
    } else {
        write!(out, "{list}")?;
    }
    Ok(())
}

fn types(flag: &JsonFlag, out: &mut dyn Write) -> Result<(), CliError> {
    if flag.json {
        let json: Vec<serde_json::Value> = catalog::all().iter().map(|t| t.to_json()).collect();
        super::render::json(out, &json)?;
    } else {
        write!(out, "{}", catalog::table())?;
    }
    Ok(())
}
