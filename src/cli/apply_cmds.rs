//! Handlers of plan, apply and sim.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use super::CliError;
use super::args::{
    ApplyArgs, DestroyArgs, DriftArgs, FaultCommand, PlanArgs, PlanSelection, RefreshArgs,
    RollbackArgs, SimCommand,
};
use super::context::Context;
use crate::apply::{self, ApplyOptions, LineProgress, OpResult};
use crate::model::{GenerationKind, Interval, Outcome, Stack, Value};
use crate::plan::{self, Plan, PlanOptions, Target};
use crate::policy::{self, GateInput, Promotion};
use crate::provider::sim::{FailNth, FaultPlan, Sim, SimDurability, SimTiming};
use crate::store::{AuditEvent, Change, NewGeneration, Store};
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
        keep_stateful: false,
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
    // On stderr, so `--json` output stays a document.
    if let Some(w) = super::mirror_cmds::behind_warning(ctx, &store, &stack) {
        eprintln!("{w}");
    }
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

/// What one apply run needs besides the plan.
struct Run<'a> {
    stack: &'a Stack,
    kind: GenerationKind,
    reason: Option<String>,
    emergency: bool,
    skip_gate: bool,
    parallelism: usize,
    auto_approve: bool,
    color: bool,
    /// Check the promotion gate for this release.
    promote: Option<String>,
}

/// Shows the plan, checks the production rules, asks, backs up (prod),
/// applies and reports. Shared by apply, rollback, destroy and drift --fix.
#[allow(clippy::too_many_arguments)]
fn execute(
    ctx: &Context,
    store: &Store,
    sim: &Arc<Sim>,
    rt: &tokio::runtime::Runtime,
    run: &Run<'_>,
    p: &Plan,
    observed: std::collections::BTreeMap<crate::model::Address, crate::model::ObservedResource>,
    desired: &Desired,
    virtual_clock: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    show_plan(out, p, Some(desired), run.color)?;
    let blocked = p.blocked().count();
    if blocked > 0 {
        return Err(CliError::Failed(format!(
            "{blocked} action(s) blocked; nothing was applied"
        )));
    }
    if p.is_empty() {
        return Ok(());
    }
    let env = &desired.estate.environment;
    let exceptions = ctx.loader().load_exceptions(&run.stack.estate)?;
    let promotion = match &run.promote {
        Some(v) => workflow::promotion(store, &run.stack.estate, env, v)?,
        None => Promotion::NotRequired,
    };
    // A promoted release must also pass the guarantee checks for this
    // environment, with the drills this stack has run.
    let failed_checks = match (&run.promote, &env.promote_from) {
        (Some(_), Some(_)) => {
            let drills = store.restores(run.stack)?;
            let report = crate::verify::verify(
                &desired.estate,
                &exceptions,
                &policy::today(ctx.clock.now()),
                &crate::verify::Context { drills: &drills },
            );
            report
                .failures()
                .map(|(f, _)| match &f.address {
                    Some(a) => format!("{} at {a}", f.rule),
                    None => f.rule.to_string(),
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let gate = policy::check(&GateInput {
        env,
        plan: p,
        exceptions: &exceptions,
        now: ctx.clock.now(),
        emergency: run.emergency,
        skip_gate: run.skip_gate,
        reason: run.reason.as_deref(),
        promotion,
        failed_checks,
    });
    for n in &gate.notes {
        writeln!(out, "note: {n}")?;
    }
    if !gate.violations.is_empty() {
        let actor = ctx.actor();
        let detail: Vec<String> = gate
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.rule, v.message))
            .collect();
        store.audit(
            &actor,
            AuditEvent {
                action: "apply.refused".into(),
                target: run.stack.key(),
                region: Some(env.region.clone()),
                reason: run.reason.clone(),
                details: detail.join("; "),
            },
        )?;
        writeln!(out)?;
        for v in &gate.violations {
            writeln!(
                out,
                "refused by {}: {}\n  to proceed: {}",
                v.rule, v.message, v.fix
            )?;
        }
        return Err(CliError::Failed(format!(
            "{} production rule(s) refuse this apply; nothing was applied",
            gate.violations.len()
        )));
    }
    if !run.auto_approve {
        confirm(out, run.stack)?;
    }
    writeln!(out)?;
    if env.backup_before_apply
        && let Some(g) = store.latest_generation(run.stack)?
    {
        let resources = store.observed(&g)?;
        let doc = crate::store::statefile::to_json(&g, &resources, false);
        store.put_backup(
            run.stack,
            g.number,
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
        )?;
        writeln!(
            out,
            "backed up generation {} of {} before applying (statectl state backups)",
            g.number, run.stack
        )?;
    }
    let restore = workflow::restore_targets(p);
    let mut reason = run.reason.clone();
    if !gate.notes.is_empty() {
        let notes = gate.notes.join("; ");
        reason = Some(match reason {
            Some(r) => format!("{r} [{notes}]"),
            None => notes,
        });
    }
    let opts = ApplyOptions {
        parallelism: run.parallelism,
        kind: run.kind,
        reason,
        restore,
    };
    let actor = ctx.actor();
    // Applies from other machines sharing the mirror wait for this one.
    let lease = super::mirror_cmds::lease_for_apply(ctx, store, run.stack, out)?;
    let bar = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let report = {
        let mut progress = LineProgress::new(&mut *out, bar, p.actions.len());
        rt.block_on(apply::apply(
            store,
            sim.clone(),
            run.stack,
            p,
            &desired.estate,
            observed,
            &actor,
            &opts,
            &mut progress,
        ))
        .map_err(workflow::WorkflowError::from)?
    };
    let g = &report.generation;
    let (bound, critical, spread) = p.makespan_bound(run.parallelism);
    let clock = if virtual_clock {
        "on the simulated clock"
    } else {
        "scaled"
    };
    writeln!(
        out,
        "\n{} {}: generation {} of {}, release {}; {} operation(s), makespan {} {clock} (bound {} = max(critical path {}, work/parallelism {})).",
        match run.kind {
            GenerationKind::Rollback => "Rollback",
            GenerationKind::Emergency => "Emergency apply",
            _ => "Apply",
        },
        g.outcome,
        g.number,
        run.stack,
        workflow::version_text(&desired.version),
        report.outcomes.len(),
        Interval::from_secs(report.makespan.as_secs()),
        Interval::from_secs(bound),
        Interval::from_secs(critical),
        Interval::from_secs(spread)
    )?;
    // Pushed before the lease is released, so the next holder sees it.
    super::mirror_cmds::push_after_commit(ctx, run.stack, out)?;
    drop(lease);
    for r in &report.restores {
        writeln!(
            out,
            "restored {} from its backup at {}: data-loss window {} (RPO achieved), took {} (RTO achieved)",
            r.address,
            r.restore_point,
            Interval::from_secs(r.data_loss_secs),
            Interval::from_secs(r.elapsed_secs)
        )?;
    }
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

fn require_reason(reason: &Option<String>, why: &str) -> Result<(), CliError> {
    match reason {
        Some(r) if !r.trim().is_empty() => Ok(()),
        _ => Err(CliError::Input(format!(
            "{why} needs --reason \"...\" (recorded in history and the audit log)"
        ))),
    }
}

pub fn apply(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if args.emergency {
        require_reason(&args.reason, "--emergency")?;
    }
    if args.skip_gate {
        require_reason(&args.reason, "--skip-gate")?;
    }
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
    let _lock = lock_and_pull(ctx, &store, &stack, args.lock_timeout, !args.no_pull, out)?;
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
            "reconciled interrupted generation {} from the provider: {} operation(s) had taken effect, {} had not, {} exist and are checked against the release by the plan below",
            g.number,
            report.took_effect.len(),
            report.did_not.len(),
            report.to_check.len()
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
    let run = Run {
        stack: &stack,
        kind: if args.emergency {
            GenerationKind::Emergency
        } else {
            GenerationKind::Apply
        },
        reason: args.reason.clone(),
        emergency: args.emergency,
        skip_gate: args.skip_gate,
        parallelism: usize::from(args.parallelism),
        auto_approve: args.auto_approve,
        color,
        // An emergency restore re-applies what is there; promotion concerns new releases.
        promote: (!args.emergency).then(|| desired.version.clone()),
    };
    execute(
        ctx,
        &store,
        &sim,
        &rt,
        &run,
        &p,
        observed,
        &desired,
        virtual_clock,
        out,
    )
}

pub fn rollback(ctx: &Context, args: &RollbackArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.estate, &args.env)?;
    let store = ctx.store()?;
    // A rollback chooses its target from the latest state: lock the stack,
    // then take in what another machine pushed to the mirror since.
    let _lock = lock_and_pull_if(ctx, &store, &stack, args.lock_timeout, !args.list, out)?;
    let points = workflow::rollback_points(&store, &stack)?;
    if args.list {
        let rows: Vec<Vec<String>> = points
            .iter()
            .map(|g| {
                vec![
                    workflow::version_text(g.release.as_deref().unwrap_or("")),
                    g.number.to_string(),
                    g.ended_at.to_string(),
                    g.actor.clone(),
                    g.outcome.to_string(),
                    g.kind.to_string(),
                ]
            })
            .collect();
        super::store_cmds::table(
            out,
            &["RELEASE", "GENERATION", "WHEN", "WHO", "OUTCOME", "KIND"],
            &rows,
        )?;
        return Ok(());
    }
    let latest = workflow::latest_settled(&store, &stack)?.ok_or_else(|| {
        CliError::Input(format!(
            "{stack} has never been applied; there is nothing to roll back"
        ))
    })?;
    let current = latest.release.clone().unwrap_or_default();
    let target = match &args.to {
        Some(v) => {
            let v = crate::store::parse_version(v)?.to_string();
            if !points
                .iter()
                .any(|g| g.release.as_deref() == Some(v.as_str()))
            {
                return Err(CliError::Input(format!(
                    "release v{v} was never applied successfully to {stack}; `statectl rollback --estate {} --env {} --list` shows the rollback points",
                    stack.estate, stack.env
                )));
            }
            v
        }
        None => points
            .iter()
            .find(|g| g.release.as_deref() != Some(current.as_str()))
            .and_then(|g| g.release.clone())
            .ok_or_else(|| {
                CliError::Input(format!(
                    "{stack} has no earlier successful release than v{current} to roll back to"
                ))
            })?,
    };
    let desired = workflow::desired(
        &store,
        &ctx.loader(),
        &stack.estate,
        &stack.env,
        &target,
        None,
    )?;
    if desired.estate.environment.destroy_protection
        || desired.estate.environment.maintenance_window.is_some()
    {
        require_reason(&args.reason, &format!("a rollback of {}", stack.env))?;
    }
    let opts = PlanOptions {
        allow_data_loss: args.allow_data_loss,
        keep_stateful: true,
        ..PlanOptions::default()
    };
    let (p, observed) = workflow::make_plan(&store, &stack, &desired, &opts)?;
    writeln!(out, "rolling back {stack} from v{current} to v{target}")?;
    let (sim, virtual_clock) = open_sim(ctx)?;
    let sim = Arc::new(sim);
    let rt = runtime(virtual_clock)?;
    let reason = Some(format!(
        "rollback from v{current} to v{target}{}",
        args.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    ));
    let run = Run {
        stack: &stack,
        kind: GenerationKind::Rollback,
        reason,
        emergency: args.emergency,
        skip_gate: false,
        parallelism: usize::from(args.parallelism),
        auto_approve: args.auto_approve,
        color: colored(args.no_color),
        promote: None,
    };
    execute(
        ctx,
        &store,
        &sim,
        &rt,
        &run,
        &p,
        observed,
        &desired,
        virtual_clock,
        out,
    )?;
    if !p.kept.is_empty() {
        let kept: Vec<String> = p.kept.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "kept (they hold data; pass --allow-data-loss to delete them): {}",
            kept.join(", ")
        )?;
    }
    Ok(())
}

/// Locks `stack` for a command that records a generation, then takes in
/// what another machine pushed to the mirror since (unless `pull` is off),
/// so the command works from the latest state.
fn lock_and_pull(
    ctx: &Context,
    store: &Store,
    stack: &Stack,
    lock_timeout: u64,
    pull: bool,
    out: &mut dyn Write,
) -> Result<crate::store::StackLock, CliError> {
    let lock = store.lock(
        stack,
        &ctx.actor(),
        &ctx.command_line,
        Duration::from_secs(lock_timeout),
    )?;
    if pull {
        super::mirror_cmds::pull_if_behind(ctx, store, stack, out)?;
    }
    Ok(lock)
}

/// For a command that records a generation only in some of its modes
/// (`rollback` without `--list`, `drift --fix`): [`lock_and_pull`] when it
/// `writes`; otherwise no lock, and a warning on stderr (so `--json` stays
/// a document) when the mirror holds newer generations than this store.
fn lock_and_pull_if(
    ctx: &Context,
    store: &Store,
    stack: &Stack,
    lock_timeout: u64,
    writes: bool,
    out: &mut dyn Write,
) -> Result<Option<crate::store::StackLock>, CliError> {
    if writes {
        return lock_and_pull(ctx, store, stack, lock_timeout, true, out).map(Some);
    }
    if let Some(w) = super::mirror_cmds::behind_warning(ctx, store, stack) {
        eprintln!("{w}");
    }
    Ok(None)
}

pub fn destroy(ctx: &Context, args: &DestroyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.estate, &args.env)?;
    let store = ctx.store()?;
    // What to destroy comes from the latest state: lock the stack, then take
    // in what another machine pushed to the mirror since.
    let _lock = lock_and_pull(ctx, &store, &stack, args.lock_timeout, true, out)?;
    let latest = workflow::latest_settled(&store, &stack)?
        .ok_or_else(|| CliError::Input(format!("{stack} has nothing to destroy")))?;
    let version = latest
        .release
        .clone()
        .ok_or_else(|| CliError::Input(format!("{stack}'s latest generation has no release")))?;
    let desired = workflow::desired(
        &store,
        &ctx.loader(),
        &stack.estate,
        &stack.env,
        &version,
        None,
    )?;
    let opts = PlanOptions {
        allow_data_loss: args.allow_data_loss,
        destroy: true,
        ..PlanOptions::default()
    };
    let (p, observed) = workflow::make_plan(&store, &stack, &desired, &opts)?;
    let (sim, virtual_clock) = open_sim(ctx)?;
    let sim = Arc::new(sim);
    let rt = runtime(virtual_clock)?;
    let run = Run {
        stack: &stack,
        kind: GenerationKind::Apply,
        reason: args.reason.clone(),
        emergency: args.emergency,
        skip_gate: false,
        parallelism: 10,
        auto_approve: args.auto_approve,
        color: colored(args.no_color),
        promote: None,
    };
    execute(
        ctx,
        &store,
        &sim,
        &rt,
        &run,
        &p,
        observed,
        &desired,
        virtual_clock,
        out,
    )
}

pub fn drift(ctx: &Context, args: &DriftArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.estate, &args.env)?;
    let store = ctx.existing_store()?;
    if args.fix && args.emergency {
        require_reason(&args.reason, "--emergency")?;
    }
    // A fix writes: lock the stack and take in what another machine pushed
    // to the mirror since, so drift is measured against the latest record.
    // A report only reads: it warns (on stderr, so `--json` stays a
    // document) when that record is stale.
    let _lock = lock_and_pull_if(ctx, &store, &stack, args.lock_timeout, args.fix, out)?;
    let latest = workflow::latest_settled(&store, &stack)?.ok_or_else(|| {
        CliError::Input(format!(
            "{stack} has never been applied; there is nothing to compare"
        ))
    })?;
    let recorded = store.observed(&latest)?;
    let (sim, virtual_clock) = open_sim(ctx)?;
    let rt = runtime(virtual_clock)?;
    let report = rt
        .block_on(apply::detect(&sim, &recorded))
        .map_err(|e| CliError::Input(format!("cannot read the provider: {e}")))?;
    let release = latest.release.clone();
    if args.json {
        let v = serde_json::json!({
            "stack": stack.key(),
            "generation": latest.number,
            "release": release.as_deref().map(workflow::version_text),
            "drift": !report.is_clean(),
            "changed": report.changed,
            "deleted": report.deleted.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unmanaged": report.unmanaged.iter().map(|(id, t)| serde_json::json!({"id": id, "type": t})).collect::<Vec<_>>(),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
    } else {
        let rel = release
            .as_deref()
            .map(workflow::version_text)
            .unwrap_or_else(|| "-".into());
        if report.is_clean() {
            writeln!(
                out,
                "no drift: the cloud holds what generation {} of {stack} (release {rel}) recorded",
                latest.number
            )?;
        } else {
            writeln!(
                out,
                "drift in {stack} against generation {} (release {rel}):",
                latest.number
            )?;
            for c in &report.changed {
                let show = |v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map_or("(absent)".to_string(), ToString::to_string)
                };
                writeln!(
                    out,
                    "  ~ {} {}: {} -> {} (changed outside statectl)",
                    c.address,
                    c.path,
                    show(&c.recorded),
                    show(&c.live)
                )?;
            }
            for a in &report.deleted {
                writeln!(out, "  - {a} was deleted outside statectl")?;
            }
            for (id, t) in &report.unmanaged {
                writeln!(out, "  ? {id} ({t}) is not managed by statectl")?;
            }
        }
    }
    if report.is_clean() {
        return Ok(());
    }
    if !args.fix {
        return Err(CliError::Changes);
    }
    // Fix: plan from the cloud's current view toward the last applied release.
    let version = release.ok_or_else(|| {
        CliError::Input(format!(
            "generation {} has no release to return to",
            latest.number
        ))
    })?;
    let desired = workflow::desired(
        &store,
        &ctx.loader(),
        &stack.estate,
        &stack.env,
        &version,
        None,
    )?;
    let drifted = report.drifted();
    let mut applied = store.applied(&latest)?;
    for a in &drifted {
        applied.insert(a.clone(), crate::store::UNKNOWN_DESIRED);
    }
    let live: std::collections::BTreeMap<_, _> = recorded
        .into_iter()
        .filter(|(a, _)| !report.deleted.contains(a))
        .map(|(a, o)| match report.live.get(&a) {
            Some(l) => (a, l.clone()),
            None => (a, o),
        })
        .collect();
    for a in &report.deleted {
        applied.remove(a);
    }
    let input = plan::PlanInput {
        stack: &stack,
        release: Some(&desired.version),
        release_content: desired.release.as_ref().map(|r| r.content),
        desired: Some(&desired.estate),
        desired_digests: &desired.digests,
        base_generation: Some(latest.number),
        observed: &live,
        applied: &applied,
    };
    let p = plan::plan(
        &input,
        &PlanOptions {
            allow_data_loss: args.allow_data_loss,
            ..PlanOptions::default()
        },
    )
    .map_err(workflow::WorkflowError::from)?;
    let sim = Arc::new(sim);
    let run = Run {
        stack: &stack,
        kind: GenerationKind::Apply,
        reason: Some(format!(
            "drift fix{}",
            args.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )),
        emergency: args.emergency,
        skip_gate: false,
        parallelism: 10,
        auto_approve: args.auto_approve,
        color: colored(args.no_color),
        promote: None,
    };
    writeln!(out)?;
    execute(
        ctx,
        &store,
        &sim,
        &rt,
        &run,
        &p,
        live,
        &desired,
        virtual_clock,
        out,
    )
}

pub fn refresh(ctx: &Context, args: &RefreshArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let stack = ctx.stack(&args.estate, &args.env)?;
    let store = ctx.existing_store()?;
    let actor = ctx.actor();
    // A refresh records a generation like an apply: on the latest state,
    // under the mirror lease, pushed when done.
    let _lock = lock_and_pull(ctx, &store, &stack, args.lock_timeout, true, out)?;
    let lease = super::mirror_cmds::lease_for_apply(ctx, &store, &stack, out)?;
    let latest = workflow::latest_settled(&store, &stack)?.ok_or_else(|| {
        CliError::Input(format!(
            "{stack} has never been applied; there is nothing to refresh"
        ))
    })?;
    let recorded = store.observed(&latest)?;
    let (sim, virtual_clock) = open_sim(ctx)?;
    let report = runtime(virtual_clock)?
        .block_on(apply::detect(&sim, &recorded))
        .map_err(|e| CliError::Input(format!("cannot read the provider: {e}")))?;
    let mut changes = Vec::new();
    for a in report
        .changed
        .iter()
        .map(|c| &c.address)
        .collect::<std::collections::BTreeSet<_>>()
    {
        if let Some(live) = report.live.get(a) {
            changes.push(Change::Put {
                observed: Box::new(live.clone()),
                applied: None,
            });
        }
    }
    for a in &report.deleted {
        changes.push(Change::Remove(a.clone()));
    }
    let n = changes.len();
    let g = store.commit_generation(
        &stack,
        NewGeneration {
            kind: GenerationKind::Refresh,
            release: latest.release.clone(),
            plan_hash: None,
            reason: args.reason.clone(),
        },
        changes,
        Outcome::Succeeded,
        &actor,
    )?;
    writeln!(
        out,
        "refreshed {stack}: generation {} records {n} change(s) read from the provider ({} resources)",
        g.number, g.resource_count
    )?;
    super::mirror_cmds::push_after_commit(ctx, &stack, out)?;
    drop(lease);
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

/// With `--env`, turns an address into the ARM id of that environment's
/// resource (environments deploy into their own subscriptions).
fn sim_key(ctx: &Context, sim: &Sim, key: &str, env: Option<&str>) -> Result<String, CliError> {
    let Some(env) = env else {
        return Ok(key.to_string());
    };
    let sub = ctx.loader().load_environment(env)?.subscription_id;
    let prefix = format!("/subscriptions/{}/", sub.to_ascii_lowercase());
    sim.resources()
        .into_iter()
        .find(|r| r.address.to_string() == key && r.id.to_ascii_lowercase().starts_with(&prefix))
        .map(|r| r.id)
        .ok_or_else(|| {
            CliError::Input(format!(
                "the simulator holds no `{key}` in environment {env}"
            ))
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
        SimCommand::Show { key, env } => {
            let key = &sim_key(ctx, &sim, key, env.as_deref())?;
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
        SimCommand::Set {
            key,
            assignment,
            env,
        } => {
            let key = &sim_key(ctx, &sim, key, env.as_deref())?;
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
        SimCommand::Delete { key, env } => {
            let key = &sim_key(ctx, &sim, key, env.as_deref())?;
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
