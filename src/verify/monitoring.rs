//! Alerts that reach someone: seed 000 "Metric Alerts: CPU, memory, and
//! availability monitoring", "Action Groups: Email and webhook
//! notifications"; seed 004 "Warning Alerts (P2): High resource usage
//! (>80%)". Which alerts an estate must have is the baseline's (by
//! address, rule `monitoring.alerts`); how every alert behaves is here.

use super::{Finding, refs};
use crate::model::{Estate, Value};

const ALERT: &str = "Microsoft.Insights/metricAlerts";
const GROUP: &str = "Microsoft.Insights/actionGroups";
/// Seed 004: "High resource usage (>80%)".
const USAGE_THRESHOLD: f64 = 80.0;

pub(super) fn check(estate: &Estate) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in estate.of_type(ALERT) {
        let mut push = |msg: String, fix: &str| {
            out.push(Finding::new(
                "monitoring.alerts",
                Some(&a.address),
                msg,
                fix,
            ));
        };
        if a.property("enabled") == Some(&Value::Bool(false)) {
            push(
                format!("alert `{}` is disabled", a.name),
                "remove `enabled = false`",
            );
        }
        let notifies = refs(a.property("action_group_ids")).iter().any(|r| {
            estate
                .resource(&r.address)
                .is_some_and(|g| g.arm_type == GROUP)
        });
        if !notifies {
            push(
                format!(
                    "alert `{}` notifies no action group: it fires into the void",
                    a.name
                ),
                "set `action_group_ids = [\"${<module>.<action_group>.id}\"]`",
            );
        }
        let all = criteria(a.property("criteria"));
        if all.is_empty() {
            push(
                format!("alert `{}` has no criteria: it watches nothing", a.name),
                "add `criteria = { metric_name = ..., operator = ..., threshold = ... }`",
            );
        }
        for c in all {
            let usage = c
                .get_path("metric_name")
                .and_then(Value::as_str)
                .is_some_and(|m| m.to_ascii_lowercase().contains("percent"));
            let above = c.get_path("operator").and_then(Value::as_str) == Some("GreaterThan");
            let threshold = match c.get_path("threshold") {
                Some(Value::Int(i)) => Some(*i as f64),
                Some(Value::Float(f)) => Some(*f),
                _ => None,
            };
            if threshold.is_none() {
                push(
                    format!(
                        "alert `{}` has no numeric threshold: it can never fire as meant",
                        a.name
                    ),
                    "set `threshold` to a number",
                );
            }
            if usage && !above {
                push(
                    format!(
                        "alert `{}` watches resource usage but does not fire when it rises",
                        a.name
                    ),
                    "set `operator = \"GreaterThan\"`",
                );
            }
            if usage && above && threshold.is_some_and(|t| t > USAGE_THRESHOLD) {
                push(
                    format!(
                        "alert `{}` fires above {}%, later than seed 004's 80%",
                        a.name,
                        threshold.unwrap_or_default()
                    ),
                    "set `threshold = 80` (or lower)",
                );
            }
        }
    }
    for g in estate.of_type(GROUP) {
        let emails = g
            .property("email_receivers")
            .and_then(Value::as_list)
            .is_some_and(|l| {
                l.iter().any(|r| {
                    r.get_path("email_address")
                        .and_then(Value::as_str)
                        .is_some_and(|e| e.contains('@'))
                })
            })
            && g.property("enabled") != Some(&Value::Bool(false));
        if !emails {
            out.push(Finding::new(
                "monitoring.alerts",
                Some(&g.address),
                format!(
                    "action group `{}` emails no one (no address, or switched off)",
                    g.name
                ),
                "add an `email_receivers` entry (the on-call address)",
            ));
        }
    }
    out
}

/// The criteria of an alert, written as one table or a list of them.
fn criteria(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::List(l)) => l.iter().collect(),
        Some(m @ Value::Map(_)) => vec![m],
        _ => Vec::new(),
    }
}
