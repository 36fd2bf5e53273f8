//! Reports as documents: JSON for tools, the text people read, and JUnit
//! XML for CI systems. One writer per format, so `statectl verify`, the
//! Gherkin runner and anything else that reports findings say the same.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::json;

use super::{RULES, Report, Rule, Verdict, rule};

/// Escapes text for XML attributes and content.
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The rules `selected` names (every rule when empty).
fn rules_of(selected: &[String]) -> Vec<&'static Rule> {
    RULES
        .iter()
        .filter(|x| selected.is_empty() || selected.iter().any(|s| s == x.id))
        .collect()
}

/// One report as JSON: its findings with rule, seed, address, message,
/// fix and outcome.
pub fn to_json(r: &Report, selected: &[String]) -> serde_json::Value {
    json!({
        "estate": r.estate, "env": r.env, "passed": r.passed(),
        "clean_rules": r.clean_rules(selected),
        "excepted_rules": r.excepted_rules(),
        "findings": r.findings.iter().map(|(f, o)| json!({
            "rule": f.rule,
            "seed": rule(f.rule).map(|x| x.seed),
            "address": f.address.as_ref().map(ToString::to_string),
            "message": f.message, "fix": f.fix, "outcome": o,
        })).collect::<Vec<_>>(),
    })
}

/// One report as text: a summary line, then each rule with findings and
/// each finding with its fix or its exception.
pub fn to_text(r: &Report, selected: &[String]) -> String {
    let mut s = String::new();
    let failing: BTreeSet<&str> = r.failures().map(|(f, _)| f.rule).collect();
    let _ = writeln!(
        s,
        "{}/{}: {} rules, {} passed, {} excepted, {} failed",
        r.estate,
        r.env,
        rules_of(selected).len(),
        r.clean_rules(selected).len(),
        r.excepted_rules().len(),
        failing.len()
    );
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
            .any(|(_, o)| !matches!(o, Verdict::Excepted { .. }));
        let verdict = if fails { "FAIL" } else { "EXCEPTED" };
        let _ = writeln!(s, "  {verdict} {} ({})", rule.id, rule.seed);
        for (f, o) in mine {
            let at = f
                .address
                .as_ref()
                .map_or(String::new(), |a| format!("{a}: "));
            let _ = match o {
                Verdict::Fail => writeln!(s, "    {at}{}\n      fix: {}", f.message, f.fix),
                Verdict::Expired { origin, expires } => writeln!(
                    s,
                    "    {at}{}\n      an exception ({origin}) expired on {expires} and no longer applies\n      fix: {}",
                    f.message, f.fix
                ),
                Verdict::Excepted {
                    origin,
                    justification,
                    expires,
                } => writeln!(
                    s,
                    "    {at}{} [excepted until {expires} by {origin}: {justification}]",
                    f.message
                ),
            };
        }
    }
    s
}

/// Reports as JUnit XML: a test suite per stack, a test case per rule,
/// a failure per rule with standing findings.
pub fn to_junit(reports: &[Report], selected: &[String], name: &str) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\">\n",
        xml(name)
    );
    for r in reports {
        let rules = rules_of(selected);
        let failures = rules
            .iter()
            .filter(|rule| r.failures().any(|(f, _)| f.rule == rule.id))
            .count();
        let (estate, env) = (xml(&r.estate), xml(&r.env));
        let _ = writeln!(
            x,
            "  <testsuite name=\"{estate}/{env}\" tests=\"{}\" failures=\"{failures}\">",
            rules.len()
        );
        for rule in rules {
            let _ = write!(
                x,
                "    <testcase classname=\"{estate}/{env}\" name=\"{}\">",
                xml(rule.id)
            );
            let fails: Vec<String> = r
                .failures()
                .filter(|(f, _)| f.rule == rule.id)
                .map(|(f, _)| {
                    let at = f.address.as_ref().map_or("-".into(), ToString::to_string);
                    format!("{at}: {}", f.message)
                })
                .collect();
            if let Some(first) = fails.first() {
                let _ = write!(
                    x,
                    "<failure message=\"{}\">{}</failure>",
                    xml(first),
                    xml(&fails.join("\n"))
                );
            }
            x.push_str("</testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Finding;

    fn report(rule: &'static str, outcome: Verdict) -> Report {
        Report {
            estate: "shop".into(),
            env: "prod".into(),
            findings: vec![(
                Finding {
                    rule,
                    address: None,
                    message: "a <bad> & \"quoted\" thing".into(),
                    fix: "do better".into(),
                    baseline: false,
                    measured: None,
                },
                outcome,
            )],
        }
    }

    #[test]
    fn junit_escapes_and_counts_the_failing_rule() {
        let id = RULES[0].id;
        let x = to_junit(&[report(id, Verdict::Fail)], &[], "statectl verify");
        assert!(x.contains("failures=\"1\""), "{x}");
        assert!(
            x.contains("a &lt;bad&gt; &amp; &quot;quoted&quot; thing"),
            "{x}"
        );
        assert!(!x.contains("<bad>"), "{x}");
        let clean = to_junit(
            &[report(
                id,
                Verdict::Excepted {
                    origin: "o".into(),
                    justification: "j".into(),
                    expires: "2099-01-01".into(),
                },
            )],
            &[],
            "n",
        );
        assert!(clean.contains("failures=\"0\""), "{clean}");
    }

    #[test]
    fn text_names_the_rule_its_seed_and_the_fix() {
        let r = &RULES[0];
        let t = to_text(&report(r.id, Verdict::Fail), &[]);
        assert!(t.contains(&format!("FAIL {} ({})", r.id, r.seed)), "{t}");
        assert!(t.contains("fix: do better"), "{t}");
        assert!(t.contains("1 failed"), "{t}");
    }
}
