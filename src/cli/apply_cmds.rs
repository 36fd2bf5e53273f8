//! Handlers of plan, apply, rollback, destroy, drift, refresh and sim:
//! arguments in, one workflow call, results out.

use std::io::Write;
use std::time::Duration;

use super::CliError;
use super::args::{
    ApplyArgs, DestroyArgs, DriftArgs, FaultCommand, PlanArgs, PlanSelection, RefreshArgs,
    RollbackArgs, SimCommand,
};
use super::context::Context;
use super::render::{self, finish};
use crate::ops::Hooks as _;
use crate::ops::{
    self, ApplyRequest, DestroyRequest, Event, Finished, FixRequest, RollbackRequest, SavedPlan,
};
use crate::plan::{self, PlanOptions, Target};
use crate::provider::sim::{FailNth, FaultPlan, views};

fn targets(list: &[String]) -> Result<Vec<Target>, CliError> {
    list.iter()
        .map(|t| Target::parse(t).map_err(CliError::Input))
        .collect()
}

fn required<'a>(v: &'a Option<String>, flag: &str) -> Result<&'a str, CliError> {
    v.as_deref()
        .ok_or_else(|| CliError::Input(format!("{flag} is required (see --help)")))
}

fn options(sel: &PlanSelection) -> Result<PlanOptions, CliError> {
    Ok(PlanOptions {
        targets: targets(&sel.targets)?,
        replace: targets(&sel.replace)?,
        allow_data_loss: sel.allow_data_loss,
        destroy: false,
        keep_stateful: false,
    })
}

/// An outcome that applied: its restores and failures; blocked plans and
/// empty ones were reported as events.
fn outcome(out: &mut dyn Write, o: &Finished) -> Result<(), CliError> {
    match o.applied() {
        Some(a) => finish(out, a),
        None => Ok(()),
    }
}

pub fn plan(ctx: &Context, args: &PlanArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(
        required(&args.sel.estate, "--estate")?,
        required(&args.sel.env, "--env")?,
    )?;
    let version = required(&args.sel.version, "--version")?;
    let ops = ctx.ops()?;
    // On stderr, so `--json` output stays a document.
    if let Some(w) = ops.behind_warning(&stack) {
        eprintln!("{w}");
    }
    let planned = ops::plan_release(
        ops.store(),
        ops.loader(),
        &stack,
        version,
        &options(&args.sel)?,
        None,
    )?;
    let p = &planned.plan;
    if args.json {
        // One line, as `terraform show -json` prints it (tools read it so).
        writeln!(out, "{}", plan::json::terraform_json(p))?;
    } else {
        let mut term = ctx.term(out, args.no_color, true);
        term.event(Event::Plan {
            plan: p,
            desired: planned.desired.as_ref(),
        })?;
    }
    if let Some(file) = &args.out {
        std::fs::write(file, plan::json::to_saved(p))
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", file.display())))?;
        if !args.json {
            writeln!(
                out,
                "\nSaved the plan to {}; apply it with `statectl apply --plan {}`.",
                file.display(),
                file.display()
            )?;
        }
    }
    let blocked = p.blocked().count();
    if blocked > 0 {
        return Err(CliError::Failed(format!(
            "{blocked} action(s) blocked; see the plan above"
        )));
    }
    if args.detailed_exitcode && !p.is_empty() {
        return Err(CliError::Changes);
    }
    Ok(())
}

pub fn apply(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let saved = args.plan.as_deref().map(SavedPlan::read).transpose()?;
    let stack = match &saved {
        Some(p) => p.plan.stack.clone(),
        None => ctx.stack(
            required(&args.sel.estate, "--estate")?,
            required(&args.sel.env, "--env")?,
        )?,
    };
    let req = ApplyRequest {
        stack,
        version: args.sel.version.clone(),
        plan_options: options(&args.sel)?,
        saved,
        resume: args.resume,
        emergency: args.why.emergency,
        skip_gate: args.skip_gate,
        reason: args.why.reason.clone(),
        parallelism: usize::from(args.parallelism),
        lock_timeout: Duration::from_secs(args.confirm.lock_timeout),
        pull: !args.no_pull,
        git_commit: ops::git_commit(ctx.root()),
    };
    let ops = ctx.sim_ops(false)?;
    let o = ops.apply(
        &req,
        &mut ctx.term(out, args.confirm.no_color, args.confirm.auto_approve),
    )?;
    outcome(out, &o)
}

pub fn rollback(ctx: &Context, args: &RollbackArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    if args.list {
        let ops = ctx.ops()?;
        let points = ops.rollback_list(&stack, &mut ctx.term(out, true, true))?;
        write!(
            out,
            "{}",
            crate::store::views::rollback_points_table(&points)
        )?;
        return Ok(());
    }
    let req = RollbackRequest {
        to: args.to.clone(),
        reason: args.why.reason.clone(),
        allow_data_loss: args.allow_data_loss,
        emergency: args.why.emergency,
        parallelism: usize::from(args.parallelism),
        lock_timeout: Duration::from_secs(args.confirm.lock_timeout),
    };
    let ops = ctx.sim_ops(false)?;
    let o = ops.rollback(
        &stack,
        &req,
        &mut ctx.term(out, args.confirm.no_color, args.confirm.auto_approve),
    )?;
    outcome(out, &o)?;
    if !o.plan().kept.is_empty() {
        let kept: Vec<String> = o.plan().kept.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "kept (they hold data; pass --allow-data-loss to delete them): {}",
            kept.join(", ")
        )?;
    }
    Ok(())
}

pub fn destroy(ctx: &Context, args: &DestroyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    let req = DestroyRequest {
        allow_data_loss: args.allow_data_loss,
        emergency: args.why.emergency,
        reason: args.why.reason.clone(),
        lock_timeout: Duration::from_secs(args.confirm.lock_timeout),
    };
    let ops = ctx.sim_ops(false)?;
    let o = ops.destroy(
        &stack,
        &req,
        &mut ctx.term(out, args.confirm.no_color, args.confirm.auto_approve),
    )?;
    outcome(out, &o)
}

pub fn drift(ctx: &Context, args: &DriftArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    if args.fix && args.why.emergency {
        ops::require_reason(args.why.reason.as_deref(), "--emergency")?;
    }
    let ops = ctx.sim_ops(true)?;
    let lock_timeout = Duration::from_secs(args.confirm.lock_timeout);
    let check = ops.drift(
        &stack,
        args.fix,
        lock_timeout,
        &mut ctx.term(out, true, true),
    )?;
    if args.json {
        render::json(out, &check.to_json())?;
    } else {
        write!(out, "{check}")?;
    }
    if check.report.is_clean() {
        return Ok(());
    }
    if !args.fix {
        return Err(CliError::Changes);
    }
    writeln!(out)?;
    let req = FixRequest {
        reason: args.why.reason.clone(),
        emergency: args.why.emergency,
        allow_data_loss: args.allow_data_loss,
    };
    let o = ops.fix_drift(
        check,
        &req,
        &mut ctx.term(out, args.confirm.no_color, args.confirm.auto_approve),
    )?;
    outcome(out, &o)
}

pub fn refresh(ctx: &Context, args: &RefreshArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.stack.estate, &args.stack.env)?;
    let ops = ctx.sim_ops(true)?;
    let lock_timeout = Duration::from_secs(args.lock_timeout);
    let r = ops.refresh(
        &stack,
        args.reason.clone(),
        lock_timeout,
        &mut ctx.term(out, true, true),
    )?;
    writeln!(
        out,
        "refreshed {stack}: generation {} records {} change(s) read from the provider ({} resources)",
        r.generation.number, r.changes, r.generation.resource_count
    )?;
    Ok(())
}

/// With `--env`, the ARM id of that environment's resource at an address
/// (environments deploy into their own subscriptions); else `key` itself.
fn sim_key(
    ctx: &Context,
    sim: &crate::provider::sim::Sim,
    key: &str,
    env: Option<&str>,
) -> Result<String, CliError> {
    let Some(env) = env else {
        return Ok(key.to_string());
    };
    let sub = ctx.loader().load_environment(env)?.subscription_id;
    sim.id_in_subscription(key, &sub).ok_or_else(|| {
        CliError::Input(format!(
            "the simulator holds no `{key}` in environment {env}"
        ))
    })
}

pub fn sim(ctx: &Context, cmd: &SimCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let (sim, _) = ops::open_sim(&ctx.project, ctx.clock.clone())?;
    let sim = &sim;
    match cmd {
        SimCommand::List { json } => {
            let all = sim.resources();
            if *json {
                render::json(out, &views::list_json(&all))?;
            } else {
                write!(out, "{}", views::list_table(&all))?;
            }
        }
        SimCommand::Show { key, env } => {
            let key = &sim_key(ctx, sim, key, env.as_deref())?;
            let r = sim
                .find(key)
                .ok_or_else(|| crate::provider::sim::SimError::NotFound(key.clone()))?;
            write!(out, "{}", views::resource_text(&r))?;
        }
        SimCommand::Set {
            key,
            assignment,
            env,
        } => {
            let key = &sim_key(ctx, sim, key, env.as_deref())?;
            let (k, v) =
                crate::provider::sim::parse_assignment(assignment).map_err(CliError::Input)?;
            let r = sim.set_property(key, &k, v)?;
            let shown = match r.properties.get(&k) {
                Some(_) if crate::catalog::is_secret(&r.arm_type, &k) => {
                    crate::catalog::REDACTED.to_string()
                }
                v => v.map(ToString::to_string).unwrap_or_default(),
            };
            writeln!(out, "changed {} out of band: {k} = {shown}", r.id)?;
        }
        SimCommand::Delete { key, env } => {
            let key = &sim_key(ctx, sim, key, env.as_deref())?;
            let r = sim.remove(key)?;
            writeln!(out, "deleted {} out of band", r.id)?;
        }
        SimCommand::SoftDeleted => {
            write!(out, "{}", views::soft_deleted_table(sim.soft_deleted()))?;
        }
        SimCommand::Purge { name } => {
            sim.purge(name)?;
            writeln!(out, "purged soft-deleted vault {name}")?;
        }
        SimCommand::Fault(f) => fault(sim, f, out)?,
    }
    Ok(())
}

fn fault(
    sim: &crate::provider::sim::Sim,
    f: &FaultCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut plan = sim.faults();
    match f {
        FaultCommand::FailNth { nth, arm_type } => plan.fail_nth.push(FailNth {
            arm_type: arm_type.clone(),
            nth: *nth,
        }),
        FaultCommand::FailRandom { seed, probability } => {
            if !(0.0..=1.0).contains(probability) {
                return Err(CliError::Input(format!(
                    "--probability {probability} is not between 0 and 1"
                )));
            }
            plan.fail_random = Some((*seed, *probability));
        }
        FaultCommand::CrashAt { op } => plan.crash_at = Some(*op),
        FaultCommand::Clear => plan = FaultPlan::default(),
        FaultCommand::Show => return Ok(render::json(out, &plan)?),
    }
    sim.set_faults(plan.clone())?;
    writeln!(
        out,
        "faults now: {}",
        serde_json::to_string(&plan).unwrap_or_default()
    )?;
    Ok(())
}
