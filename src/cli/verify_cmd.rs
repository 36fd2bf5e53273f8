//! `statectl verify`: runs the guarantee checks and reports them by rule.

use std::io::Write;

use serde_json::json;

use super::CliError;
use super::args::VerifyArgs;
use super::commands::selected;
use super::context::Context;
use crate::model::{RestoreReport, Stack};
use crate::store::{Store, StoreOptions};
use crate::verify::{self, Outcome, RULES, Report};

/// Restores measured by drills on this stack, if there is a store.
fn drills(ctx: &Context, stack: &Stack) -> Vec<RestoreReport> {
    let Ok(store) = Store::open_existing(
        &ctx.state_dir,
        StoreOptions {
            clock: ctx.clock.clone(),
            key_file: None,
        },
    ) else {
        return Vec::new();
    };
    store.restores(stack).unwrap_or_default()
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
        let drills = drills(ctx, &stack);
        let report = verify::verify(
            &e,
            &exceptions,
            &today,
            &verify::Context { drills: &drills },
        )
        .only(&args.rules);
        reports.push(report);
    }
    let failed: usize = reports.iter().filter(|r| !r.passed()).count();
    if args.json {
        let v: Vec<_> = reports
            .iter()
            .map(|r| {
                json!({
                    "estate": r.estate, "env": r.env, "passed": r.passed(),
                    "clean_rules": r.clean_rules(&args.rules),
                    "excepted_rules": r.excepted_rules(),
                    "findings": r.findings.iter().map(|(f, o)| json!({
                        "rule": f.rule,
                        "seed": verify::rule(f.rule).map(|x| x.seed),
                        "address": f.address.as_ref().map(ToString::to_string),
                        "message": f.message, "fix": f.fix, "outcome": o,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
    } else {
        for r in &reports {
            let selected = if args.rules.is_empty() {
                RULES.len()
            } else {
                args.rules.len()
            };
            let excepted = r.excepted_rules().len();
            let failing: std::collections::BTreeSet<&str> =
                r.failures().map(|(f, _)| f.rule).collect();
            writeln!(
                out,
                "{}/{}: {} rules, {} passed, {} excepted, {} failed",
                r.estate,
                r.env,
                selected,
                r.clean_rules(&args.rules).len(),
                excepted,
                failing.len()
            )?;
            for rule in RULES {
                let mine: Vec<_> = r
                    .findings
                    .iter()
                    .filter(|(f, _)| f.rule == rule.id)
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let fails = mine
                    .iter()
                    .any(|(_, o)| !matches!(o, Outcome::Excepted { .. }));
                writeln!(
                    out,
                    "  {} {} ({})",
                    if fails { "FAIL" } else { "EXCEPTED" },
                    rule.id,
                    rule.seed
                )?;
                for (f, o) in mine {
                    let at = f
                        .address
                        .as_ref()
                        .map_or(String::new(), |a| format!("{a}: "));
                    match o {
                        Outcome::Fail => {
                            writeln!(out, "    {at}{}\n      fix: {}", f.message, f.fix)?
                        }
                        Outcome::Expired { origin, expires } => writeln!(
                            out,
                            "    {at}{}\n      an exception ({origin}) expired on {expires} and no longer applies\n      fix: {}",
                            f.message, f.fix
                        )?,
                        Outcome::Excepted {
                            origin,
                            justification,
                            expires,
                        } => writeln!(
                            out,
                            "    {at}{} [excepted until {expires} by {origin}: {justification}]",
                            f.message
                        )?,
                    }
                }
            }
        }
        writeln!(
            out,
            "{} of {} stack(s) pass",
            reports.len() - failed,
            reports.len()
        )?;
    }
    if let Some(file) = &args.junit {
        let mut x = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"statectl verify\">\n",
        );
        for r in &reports {
            let rules: Vec<&verify::Rule> = RULES
                .iter()
                .filter(|x| args.rules.is_empty() || args.rules.iter().any(|s| s == x.id))
                .collect();
            let failures = rules
                .iter()
                .filter(|rule| r.failures().any(|(f, _)| f.rule == rule.id))
                .count();
            x.push_str(&format!(
                "  <testsuite name=\"{}/{}\" tests=\"{}\" failures=\"{failures}\">\n",
                xml(&r.estate),
                xml(&r.env),
                rules.len()
            ));
            for rule in rules {
                x.push_str(&format!(
                    "    <testcase classname=\"{}/{}\" name=\"{}\">",
                    xml(&r.estate),
                    xml(&r.env),
                    xml(rule.id)
                ));
                let fails: Vec<String> = r
                    .failures()
                    .filter(|(f, _)| f.rule == rule.id)
                    .map(|(f, _)| {
                        format!(
                            "{}: {}",
                            f.address.as_ref().map_or("-".into(), ToString::to_string),
                            f.message
                        )
                    })
                    .collect();
                if !fails.is_empty() {
                    x.push_str(&format!(
                        "<failure message=\"{}\">{}</failure>",
                        xml(&fails[0]),
                        xml(&fails.join("\n"))
                    ));
                }
                x.push_str("</testcase>\n");
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
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
