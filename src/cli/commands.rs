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
        Command::Validate(sel) => validate(&loader, sel, out),
        Command::Graph(stack) => graph(&loader, stack, out),
        Command::Estates(flag) => estates(&loader, flag, out),
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

pub(super) fn selected(
    loader: &Loader,
    sel: &Selection,
) -> Result<Vec<(String, String)>, CliError> {
    let estates = match &sel.estate {
        Some(e) => vec![e.clone()],
        None => loader.estate_names()?,
    };
    let envs = match &sel.env {
        Some(e) => vec![e.clone()],
        None => loader.environment_names()?,
    };
    Ok(estates
        .iter()
        .flat_map(|e| envs.iter().map(move |v| (e.clone(), v.clone())))
        .collect())
}

fn validate(loader: &Loader, sel: &Selection, out: &mut dyn Write) -> Result<(), CliError> {
    let stacks = selected(loader, sel)?;
    let mut failed = Vec::new();
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

fn estates(loader: &Loader, flag: &JsonFlag, out: &mut dyn Write) -> Result<(), CliError> {
    let envs = loader.environment_names()?;
    let mut rows = Vec::new();
    for estate in loader.estate_names()? {
        let mut counts = Vec::new();
        for env in &envs {
            let e = loader.load(&estate, env)?;
            counts.push((env.clone(), e.resources().len()));
        }
        rows.push((estate, counts));
    }
    if flag.json {
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, counts)| {
                serde_json::json!({
                    "estate": name,
                    "environments": counts.iter().map(|(e, n)| serde_json::json!({"name": e, "resources": n})).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        )?;
        return Ok(());
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(6).max(6);
    writeln!(
        out,
        "{:<width$}  {:<24}  RESOURCES",
        "ESTATE", "ENVIRONMENTS"
    )?;
    for (name, counts) in &rows {
        let envs = counts
            .iter()
            .map(|(e, _)| e.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let n = counts
            .iter()
            .map(|(e, n)| format!("{e}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        writeln!(out, "{name:<width$}  {envs:<24}  {n}")?;
    }
    Ok(())
}

fn types(flag: &JsonFlag, out: &mut dyn Write) -> Result<(), CliError> {
    let all = catalog::all();
    if flag.json {
        let json: Vec<serde_json::Value> = all.iter().map(|t| t.to_json()).collect();
        super::render::json(out, &json)?;
        return Ok(());
    }
    let width = all.iter().map(|t| t.arm_type.len()).max().unwrap_or(4);
    writeln!(out, "{:<width$}  TAGS  DATA  PRIVATE-LINK ZONE", "TYPE")?;
    for t in all {
        writeln!(
            out,
            "{:<width$}  {:<4}  {:<4}  {}",
            t.arm_type,
            if t.taggable { "yes" } else { "-" },
            if t.stateful { "yes" } else { "-" },
            t.private_link.map_or("-", |p| p.dns_zone)
        )?;
    }
    Ok(())
}
