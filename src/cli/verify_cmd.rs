//! `statectl verify`: runs the guarantee checks and reports them by rule.

use std::io::Write;

use super::CliError;
use super::args::VerifyArgs;
use super::commands::selected;
use super::context::Context;
use crate::model::{RestoreReport, Stack};
use crate::verify::{self, Report, output};

/// Restores measured by drills on this stack, if there is a store.
fn drills(ctx: &Context, stack: &Stack) -> Result<Vec<RestoreReport>, CliError> {
    match ctx.existing_store() {
        Ok(store) => Ok(store.restores(stack)?),
        // No store: no drills have run here.
        Err(CliError::Store(crate::store::StoreError::Missing(_))) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

pub fn verify(ctx: &Context, args: &VerifyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // `--rule` is checked by clap against RULES (a usage error, exit 2).
    let loader = ctx.loader();
    let today = crate::policy::today(ctx.clock.now());
    let mut reports: Vec<Report> = Vec::new();
    for (estate, env) in selected(&loader, &args.sel)? {
        let e = loader.load(&estate, &env)?;
        let exceptions = loader.load_exceptions(&estate)?;
        let stack = ctx.stack(&estate, &env)?;
        let drills = drills(ctx, &stack)?;
        let report = verify::verify(
            &e,
            &exceptions,
            &today,
            &verify::Evidence { drills: &drills },
        )
        .only(&args.rules);
        reports.push(report);
    }
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
