//! `statectl verify`: runs the guarantee checks and reports them by rule.

use std::io::Write;

use super::CliError;
use super::args::VerifyArgs;
use super::context::Context;
use crate::verify::output;

pub fn verify(ctx: &Context, args: &VerifyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // `--rule` is checked by clap against RULES (a usage error, exit 2).
    let (estate, env) = (args.sel.estate.as_deref(), args.sel.env.as_deref());
    let reports = if args.observed {
        observed(ctx, args, out)?
    } else {
        ctx.project.verify(estate, env, &args.rules)?
    };
    let failed: usize = reports.iter().filter(|r| !r.passed()).count();
    if args.json {
        let v: Vec<_> = reports
            .iter()
            .map(|r| output::to_json(r, &args.rules))
            .collect();
        super::render::json(out, &v)?;
    } else {
        for r in &reports {
            write!(out, "{}", output::to_text(r, &args.rules))?;
        }
        let passed = reports.len() - failed;
        writeln!(out, "{passed} of {} stack(s) pass", reports.len())?;
    }
    if let Some(file) = &args.junit {
        let x = output::to_junit(&reports, &args.rules, "statectl verify");
        std::fs::write(file, x)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", file.display())))?;
    }
    if failed > 0 {
        return Err(CliError::Failed(format!(
            "{failed} stack(s) have findings that no exception covers"
        )));
    }
    Ok(())
}

/// The reports on what the cloud holds, for the stacks that were applied;
/// says which were skipped and what the cloud no longer has.
fn observed(
    ctx: &Context,
    args: &VerifyArgs,
    out: &mut dyn Write,
) -> Result<Vec<crate::verify::Report>, CliError> {
    let (estate, env) = (args.sel.estate.as_deref(), args.sel.env.as_deref());
    let ops = ctx.sim_ops(true)?;
    let mut reports = Vec::new();
    for (e, v) in ctx.project.selected(estate, env)? {
        let stack = ctx.stack(&e, &v)?;
        let seen = ops.verify_observed(
            &stack,
            &args.rules,
            &mut ctx.term(&mut std::io::sink(), true, true),
        )?;
        let Some(seen) = seen else {
            eprintln!("note: {stack} was never applied: nothing observed to verify");
            continue;
        };
        if !args.json {
            writeln!(
                out,
                "observed: {stack} as the provider reports it now (release {}, generation {})",
                seen.release, seen.generation
            )?;
        }
        for a in &seen.missing {
            eprintln!(
                "warning: {stack}: {a} is gone from the cloud (judged as declared; `statectl drift` reports it)"
            );
        }
        reports.push(seen.report);
    }
    if reports.is_empty() {
        return Err(CliError::Input(
            "no selected stack was ever applied: nothing observed to verify (apply first)".into(),
        ));
    }
    Ok(reports)
}
