//! Handlers of plan, apply and sim.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use super::CliError;
use super::args::{ApplyArgs, FaultCommand, PlanArgs, PlanSelection, SimCommand};
use super::context::Context;
use crate::apply::{self, ApplyOptions, LineProgress, OpResult};
use crate::model::{GenerationKind, Interval, Outcome, Stack, Value};
use crate::plan::{self, Plan, PlanOptions, Target};
use crate::provider::sim::{FailNth, FaultPlan, Sim, SimDurability, SimTiming};
use crate::workflow::{self, Desired};

fn colored(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

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
    })
}

/// The simulated cloud of this state directory, on the virtual clock unless
/// `STATECTL_SIM_SPEED` asks for scaled real time (demos).
pub fn open_sim(ctx: &Context) -> Result<(Sim, bool), CliError> {
    let (timing, virtual_clock) = match std::env::var("STATECTL_SIM_SPEED")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(f) if f > 0.0 => (SimTiming::Scaled(f), false),
        _ => (SimTiming::Catalog, true),
    };
    Ok((
        Sim::open(
            &ctx.state_dir,
            ctx.clock.clone(),
            timing,
            SimDurability::Durable,
        )?,
        virtual_clock,
    ))
}

fn runtime(virtual_clock: bool) -> Result<tokio::runtime::Runtime, CliError> {
    let mut b = tokio::runtime::Builder::new_current_thread();
    b.enable_time();
    if virtual_clock {
        b.start_paused(true);
    }
    b.build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))
}

fn show_plan(
    out: &mut dyn Write,
    plan: &Plan,
    desired: Option<&Desired>,
    color: bool,
) -> Result<(), CliError> {
    if let Some(d) = desired {
        if d.created {
            writeln!(
                out,
                "created release {} of {} from the working tree",
                workflow::version_text(&d.version),
                d.estate.name
            )?;
        } else if d.release.is_none() {
            writeln!(
                out,
                "release {} of {} is not stored yet; planning from the working tree (apply stores it)",
                workflow::version_text(&d.version),
                d.estate.name
            )?;
        }
    }
    write!(out, "{}", plan::render::render(plan, color))?;
    Ok(())
}

pub fn plan(ctx: &Context, args: &PlanArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let estate = required(&args.sel.estate, "--estate")?;
    let env = required(&args.sel.env, "--env")?;
    let version = required(&args.sel.version, "--version")?;
    let stack = ctx.stack(estate, env)?;
    let opts = options(&args.sel)?;
    let store = ctx.store()?;
    let planned = workflow::plan_release(&store, &ctx.loader(), &stack, version, &opts, None)?;
    let p = planned.plan;
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&plan::json::terraform_json(&p)).unwrap_or_default()
        )?;
    } else {
        show_plan(out, &p, planned.desired.as_ref(), colored(args.no_color))?;
    }
    if let Some(file) = &args.out {
        std::fs::write(file, plan::json::to_saved(&p))
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

fn confirm(out: &mut dyn Write, stack: &Stack) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Input("refusing to apply without confirmation: stdin is not a terminal; review the plan and pass --auto-approve".into()));
    }
    write!(
        out,
        "\nApply these changes to {stack}? Only 'yes' is accepted: "
    )?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "yes" {
        return Err(CliError::Failed("apply cancelled".into()));
    }
    Ok(())
}

pub fn apply(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let color = colored(args.no_color);
    let saved = match &args.plan {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", f.display())))?;
            Some(
                plan::json::from_saved(&text)
                    .map_err(|e| CliError::Input(format!("{}: {e}", f.display())))?,
            )
        }
        None => None,
    };
    let (estate, env) = match &saved {
        Some(p) => (p.stack.estate.clone(), p.stack.env.clone()),
        None => (
            required(&args.sel.estate, "--estate")?.to_string(),
            required(&args.sel.env, "--env")?.to_string(),
        ),
    };
    let stack = ctx.stack(&estate, &env)?;
    let store = ctx.store()?;
    let actor = ctx.actor();
    let _lock = store.lock(
        &stack,
        &actor,
        &ctx.command_line,
        Duration::from_secs(args.lock_timeout),
    )?;
    let (sim, virtual_clock) = open_sim(ctx)?;
    let sim = Arc::new(sim);
    let rt = runtime(virtual_clock)?;

    // An interrupted apply: reconcile first, then apply its release again.
    let mut version = args.sel.version.clone();
    if let Some(g) = store.latest_generation(&stack)?
        && g.outcome == Outcome::InProgress
    {
        if !args.resume {
            return Err(workflow::WorkflowError::Interrupted {
                stack: stack.to_string(),
                estate: estate.clone(),
                env: env.clone(),
                generation: g.number,
            }
            .into());
        }
        let report = rt.block_on(apply::reconcile(&store, sim.as_ref(), &stack, &actor))?;
        writeln!(
            out,
            "reconciled interrupted generation {} from the provider: {} operation(s) had taken effect, {} had not",
            g.number,
            report.took_effect.len(),
            report.did_not.len()
        )?;
        if version.is_none() {
            version = g.release.clone();
        }
    } else if args.resume && args.sel.version.is_none() {
        version = store.latest_generation(&stack)?.and_then(|g| g.release);
    }

    let (p, observed, desired) = match saved {
        Some(p) => {
            let latest = workflow::latest_settled(&store, &stack)?;
            if latest.as_ref().map(|g| g.number) != p.base_generation {
                return Err(CliError::Input(format!(
                    "the saved plan was made against generation {} of {stack}, but it is now at {}: observed state moved since; make a new plan",
                    p.base_generation.map_or("none".into(), |g| g.to_string()),
                    latest.map_or("none".into(), |g| g.number.to_string())
                )));
            }
            let v = p
                .release
                .clone()
                .ok_or_else(|| CliError::Input("the saved plan names no release".into()))?;
            let desired = workflow::desired(&store, &ctx.loader(), &estate, &env, &v, None)?;
            if desired.release.as_ref().map(|r| r.content) != p.release_content {
                return Err(CliError::Input(format!(
                    "the saved plan was made for other content of release v{v}; make a new plan"
                )));
            }
            let observed = match &latest {
                Some(g) => store.observed(g)?,
                None => Default::default(),
            };
            (p, observed, desired)
        }
        None => {
            let version = version
                .ok_or_else(|| CliError::Input("--version is required (see --help)".into()))?;
            let git = super::store_cmds::git_commit(&ctx.project);
            let planned = workflow::plan_release(
                &store,
                &ctx.loader(),
                &stack,
                &version,
                &options(&args.sel)?,
                Some((&actor, git)),
            )?;
            match planned.desired {
                Some(d) => (planned.plan, planned.observed, d),
                None => {
                    write!(out, "{}", plan::render::render(&planned.plan, color))?;
                    return Ok(());
                }
            }
        }
    };
    show_plan(out, &p, Some(&desired), color)?;
    let blocked = p.blocked().count();
    if blocked > 0 {
        return Err(CliError::Failed(format!(
            "{blocked} action(s) blocked; nothing was applied"
        )));
    }
    if p.is_empty() {
        return Ok(());
    }
    if !args.auto_approve {
        confirm(out, &stack)?;
    }
    writeln!(out)?;
    let parallelism = usize::from(args.parallelism);
    let opts = ApplyOptions {
        parallelism,
        kind: GenerationKind::Apply,
        reason: args.reason.clone(),
        restore: Vec::new(),
    };
    let bar = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let report = {
        let mut progress = LineProgress::new(&mut *out, bar, p.actions.len());
        rt.block_on(apply::apply(
            &store,
            sim.clone(),
            &stack,
            &p,
            &desired.estate,
            observed,
            &actor,
            &opts,
            &mut progress,
        ))
        .map_err(workflow::WorkflowError::from)?
    };
    let g = &report.generation;
    let (bound, critical, spread) = p.makespan_bound(parallelism);
    let clock = if virtual_clock {
        "on the simulated clock"
    } else {
        "scaled"
    };
    writeln!(
        out,
        "\nApply {}: generation {} of {stack}, release {}; {} operation(s), makespan {} {clock} (bound {} = max(critical path {}, work/parallelism {})).",
        g.outcome,
        g.number,
        workflow::version_text(&desired.version),
        report.outcomes.len(),
        Interval::from_secs(report.makespan.as_secs()),
        Interval::from_secs(bound),
        Interval::from_secs(critical),
        Interval::from_secs(spread)
    )?;
    let failures: Vec<String> = report
        .failures()
        .map(|o| match &o.result {
            OpResult::Failed(e) => format!("  {} {}: {e}", o.kind, o.address),
            OpResult::Skipped(w) => format!("  {} {}: skipped, {w}", o.kind, o.address),
            OpResult::Done => String::new(),
        })
        .collect();
    if !failures.is_empty() {
        writeln!(out, "Not applied:\n{}", failures.join("\n"))?;
        return Err(CliError::Failed(format!(
            "apply {} with {} operation(s) not applied; fix the cause and apply again",
            g.outcome,
            failures.len()
        )));
    }
    Ok(())
}

fn parse_assignment(s: &str) -> Result<(String, Value), CliError> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| CliError::Input(format!("`{s}` is not PROPERTY=VALUE")))?;
    let value = match serde_json::from_str::<serde_json::Value>(v) {
        Ok(j) => json_to_value(&j)
            .ok_or_else(|| CliError::Input(format!("`{v}`: null is not a property value")))?,
        Err(_) => Value::String(v.to_string()),
    };
    Ok((k.to_string(), value))
}

fn json_to_value(j: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match j {
        J::Null => return None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_f64().map(Value::Float))?,
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::List(a.iter().map(json_to_value).collect::<Option<_>>()?),
        J::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| Some((k.clone(), json_to_value(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

pub fn sim(ctx: &Context, cmd: &SimCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let (sim, _) = open_sim(ctx)?;
    match cmd {
        SimCommand::List { json } => {
            let all = sim.resources();
            if *json {
                let v: Vec<_> = all.iter().map(|r| serde_json::json!({"id": r.id, "address": r.address.to_string(), "type": r.arm_type, "name": r.name})).collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                )?;
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|r| vec![r.address.to_string(), r.arm_type.clone(), r.id.clone()])
                    .collect();
                super::store_cmds::table(out, &["ADDRESS", "TYPE", "ID"], &rows)?;
            }
        }
        SimCommand::Show { key } => {
            let r = sim
                .find(key)
                .ok_or_else(|| crate::provider::sim::SimError::NotFound(key.clone()))?;
            writeln!(
                out,
                "id = {}\ntype = {}\naddress = {}",
                r.id, r.arm_type, r.address
            )?;
            for (k, v) in &r.properties {
                writeln!(out, "properties.{k} = {v}")?;
            }
            for (k, v) in &r.attributes {
                writeln!(out, "attributes.{k} = {v}")?;
            }
            for k in r.sensitive.keys() {
                writeln!(out, "sensitive.{k} = (sensitive)")?;
            }
        }
        SimCommand::Set { key, assignment } => {
            let (k, v) = parse_assignment(assignment)?;
            let r = sim.set_property(key, &k, v)?;
            writeln!(
                out,
                "changed {} out of band: {k} = {}",
                r.id,
                r.properties
                    .get(&k)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )?;
        }
        SimCommand::Delete { key } => {
            let r = sim.remove(key)?;
            writeln!(out, "deleted {} out of band", r.id)?;
        }
        SimCommand::SoftDeleted => {
            let rows: Vec<Vec<String>> = sim
                .soft_deleted()
                .into_iter()
                .map(|(n, sd)| {
                    vec![
                        n,
                        sd.deleted_at.to_string(),
                        format!("{}d", sd.retention_days),
                        if sd.purge_protection {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                    ]
                })
                .collect();
            super::store_cmds::table(
                out,
                &["VAULT", "DELETED", "RETENTION", "PURGE-PROTECTED"],
                &rows,
            )?;
        }
        SimCommand::Purge { name } => {
            sim.purge(name)?;
            writeln!(out, "purged soft-deleted vault {name}")?;
        }
        SimCommand::Fault(f) => {
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
                FaultCommand::Show => {
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&plan).unwrap_or_default()
                    )?;
                    return Ok(());
                }
            }
            sim.set_faults(plan.clone())?;
            writeln!(
                out,
                "faults now: {}",
                serde_json::to_string(&plan).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
