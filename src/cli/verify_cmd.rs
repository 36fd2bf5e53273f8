//! `statectl verify`: runs the guarantee checks and reports them by rule.

use std::io::Write;

use super::CliError;
use super::args::VerifyArgs;
use super::context::Context;
use crate::verify::output;

pub fn verify(ctx: &Context, args: &VerifyArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // `--rule` is checked by clap against RULES (a usage error, exit 2).
    let (estate, env) = (args.sel.estate.as_deref(), args.sel.env.as_deref());
    let reports = ctx.project.verify(estate, env, &args.rules)?;
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
