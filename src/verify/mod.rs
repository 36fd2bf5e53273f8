//! The guarantees the seeds state, as checks: one set, used three ways (the
//! `statectl verify` command, the Gherkin step library in
//! `tests/acceptance`, and the property tests), so they can never disagree.
//!
//! Each check is a function over an [`Estate`] (and, where it needs them, a
//! plan, the history or a drill) returning [`Finding`]s that name the
//! estate, environment, resource, rule, the seed rule it enforces and how to
//! fix it. Findings are results, not errors. [`verify`] runs every check and
//! applies the estate's policy exceptions: a finding covered by an
//! unexpired exception is excepted; an expired one fails, and says so.

mod baseline;
mod findings;
pub mod inject;
mod monitoring;
mod observed;
mod ordering;
pub mod output;
mod private;
mod production;
mod recovery;
mod security;
mod tags;

pub use findings::{Finding, RULES, Report, Rule, Verdict, rule, rule_ids};
pub use observed::as_observed;
pub use ordering::{check_plan_order, first_apply_plan};
pub use recovery::{monthly_cost, rpo_worst_case, rto_estimate};

use crate::model::{Estate, Floor, PolicyException, RestoreReport};

/// What a stack has shown beyond its estate (restores measured by drills),
/// for the checks that judge it.
#[derive(Debug, Default, Clone)]
pub struct Evidence<'a> {
    /// Restores measured by drills (emergency applies on the simulator).
    pub drills: &'a [RestoreReport],
    /// The organisation's floor for this stack (`policy/baseline.toml`);
    /// `None` when the project has no baseline.
    pub baseline: Option<&'a Floor>,
    /// How long the stack has gone without a drill, when the store knows
    /// (`None`: not known, and the drill cadence is not judged).
    pub drill_age: Option<DrillAge>,
    /// The release that last succeeded in this environment and its estate,
    /// for the ratchet: a declaration looser than it is a finding.
    pub previous: Option<(&'a str, &'a Estate)>,
}

/// How long a stack has gone without a restore drill, for the cadence the
/// baseline sets (a stack that is not live has nothing to drill).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillAge {
    /// Never applied: nothing runs, nothing to drill.
    NotLive,
    /// Live for this long and never drilled.
    Never {
        /// Since its first successful apply.
        live_for: crate::model::Interval,
    },
    /// The last drill ended this long ago.
    Last {
        /// Since the last drill.
        ago: crate::model::Interval,
    },
}

/// Runs every check on one estate in one environment and applies the
/// exceptions (`today` is `YYYY-MM-DD`, UTC).
pub fn verify(
    estate: &Estate,
    exceptions: &[PolicyException],
    today: &str,
    ctx: &Evidence<'_>,
) -> Report {
    verify_rules(estate, exceptions, today, ctx, &[])
}

/// [`verify`] limited to `rules` (every rule when empty), already
/// filtered: a family of checks none of whose rules is asked for does not
/// run at all (`verify --rule tags.required` on a large estate no longer
/// pays for the others).
pub fn verify_rules(
    estate: &Estate,
    exceptions: &[PolicyException],
    today: &str,
    ctx: &Evidence<'_>,
    rules: &[String],
) -> Report {
    let wanted = |family: &str| {
        rules.is_empty() || rules.iter().any(|r| r.split('.').next() == Some(family))
    };
    let none = Floor::default();
    let floor = ctx.baseline.unwrap_or(&none);
    let objectives = baseline::effective(&estate.objectives, floor);
    let mut findings = baseline::check(estate, floor, &wanted);
    if let Some((version, previous)) = ctx.previous {
        findings.extend(baseline::ratchet(estate, version, previous, &wanted));
    }
    if wanted("tags") {
        findings.extend(tags::check(estate, &objectives.required_tags));
    }
    if wanted("private") {
        findings.extend(private::check(estate));
    }
    if wanted("ordering") {
        findings.extend(ordering::check(estate));
        findings.extend(ordering::check_create_plan(estate));
    }
    if wanted("recovery") {
        findings.extend(recovery::check(estate, &objectives, ctx.drills));
        findings.extend(recovery::check_cadence(floor, ctx.drill_age));
        findings.extend(recovery::check_retention(estate, floor));
    }
    if wanted("cost") {
        findings.extend(recovery::check_cost(estate, &objectives));
    }
    if wanted("security") {
        findings.extend(security::check(estate, floor));
    }
    if wanted("prod") {
        findings.extend(production::check(estate, floor));
    }
    if wanted("monitoring") {
        findings.extend(monitoring::check(estate));
    }
    Report::new(estate, findings, exceptions, today).only(rules)
}

use crate::model::{Address, Reference, Value};

/// The resource a whole-value reference points at.
fn target(v: Option<&Value>) -> Option<&Address> {
    match v {
        Some(Value::Ref(r)) => Some(&r.address),
        _ => None,
    }
}

/// Every reference inside a value.
fn refs(v: Option<&Value>) -> Vec<&Reference> {
    let mut out = Vec::new();
    if let Some(v) = v {
        v.for_each_ref(&mut |r| out.push(r));
    }
    out
}

/// The VNet a subnet reference belongs to (the subnet's `parent`).
fn vnet_of<'a>(estate: &'a Estate, subnet: Option<&Value>) -> Option<&'a Address> {
    let s = target(subnet)?;
    target(estate.resource(s)?.property("parent"))
}
