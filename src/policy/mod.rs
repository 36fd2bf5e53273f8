//! Production rules from `environments/<env>.toml` (seed 004), enforced
//! before an apply: destroy protection, the maintenance window, the
//! promotion gate. Policy exceptions (`specs/<estate>/exceptions.toml`)
//! cover a rule for a scope until they expire; an expired one no longer
//! applies and is reported.
//!
//! It takes a plan, the environment, the exceptions, "now" and what the
//! history says about promotion, and hands back a [`Gate`]: violations (the
//! apply must not run) and notes (overrides used, exceptions applied or
//! expired). It reads no clock and no store of its own.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::model::{
    Address, Environment, MaintenanceWindow, PolicyException, UtcTime, Weekday, format_clock,
};
use crate::plan::{ActionKind, Plan};

/// Rule id: deleting resources in an environment with destroy protection.
pub const DESTROY_PROTECTION: &str = "prod.destroy-protection";
/// Rule id: changes only inside the maintenance window.
pub const MAINTENANCE_WINDOW: &str = "prod.maintenance-window";
/// Rule id: a release reaches this environment only after the previous one.
pub const PROMOTION_GATE: &str = "prod.promotion-gate";

/// One rule an apply would break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule id.
    pub rule: &'static str,
    /// The resource, when the rule is about one.
    pub address: Option<Address>,
    /// What is wrong.
    pub message: String,
    /// How to proceed legitimately.
    pub fix: String,
}

/// The verdict on an apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gate {
    /// Rules broken: the apply must not run.
    pub violations: Vec<Violation>,
    /// Overrides used and exceptions applied or expired, for the output and
    /// the audit log.
    pub notes: Vec<String>,
}

/// Whether a promotion gate is satisfied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Promotion {
    /// The environment has no upstream.
    NotRequired,
    /// The release succeeded upstream (in generation `n`).
    Satisfied {
        /// The upstream environment.
        from: String,
        /// The generation it succeeded in.
        generation: u64,
    },
    /// It did not (yet).
    Missing {
        /// The upstream environment.
        from: String,
    },
}

/// What the gate looks at.
pub struct GateInput<'a> {
    /// The environment's rules.
    pub env: &'a Environment,
    /// The plan to apply.
    pub plan: &'a Plan,
    /// The estate's exceptions.
    pub exceptions: &'a [PolicyException],
    /// Now.
    pub now: UtcTime,
    /// `--emergency` (with a reason) was given.
    pub emergency: bool,
    /// `--skip-gate` (with a reason) was given.
    pub skip_gate: bool,
    /// The reason given, if any.
    pub reason: Option<&'a str>,
    /// What the history says about promotion.
    pub promotion: Promotion,
    /// The verification checks (`statectl verify`) the promoted release
    /// fails in this environment, one line each; empty when they pass or
    /// when no promotion is gated.
    pub failed_checks: Vec<String>,
}

/// The UTC date of `now`, `YYYY-MM-DD`.
pub fn today(now: UtcTime) -> String {
    now.timestamp().to_zoned(TimeZone::UTC).date().to_string()
}

/// Finds an exception covering `rule` at `address`: the active one if any,
/// else the expired one (reported, not honoured).
pub fn exception_for<'a>(
    exceptions: &'a [PolicyException],
    rule: &str,
    address: Option<&Address>,
    today: &str,
) -> (Option<&'a PolicyException>, Option<&'a PolicyException>) {
    exception_for_measured(exceptions, rule, address, None, today)
}

/// [`exception_for`] a finding that measured `measured` (an RTO estimate, a
/// data loss): a bounded exception covers it only within its bound.
pub fn exception_for_measured<'a>(
    exceptions: &'a [PolicyException],
    rule: &str,
    address: Option<&Address>,
    measured: Option<crate::model::Interval>,
    today: &str,
) -> (Option<&'a PolicyException>, Option<&'a PolicyException>) {
    let matching = exceptions
        .iter()
        .filter(|e| e.rule == rule && e.scope.covers(address) && e.accepts(measured));
    let mut active = None;
    let mut expired = None;
    for e in matching {
        if e.active_on(today) {
            active.get_or_insert(e);
        } else {
            expired.get_or_insert(e);
        }
    }
    (active, expired)
}

/// Whether `now` falls inside the window, in the window's time zone.
pub fn in_window(w: &MaintenanceWindow, now: UtcTime) -> Result<bool, String> {
    let tz = TimeZone::get(&w.timezone).map_err(|e| format!("time zone `{}`: {e}", w.timezone))?;
    let local = Timestamp::from_millisecond(now.0)
        .map_err(|e| e.to_string())?
        .to_zoned(tz);
    let day = match local.weekday() {
        jiff::civil::Weekday::Monday => Weekday::Monday,
        jiff::civil::Weekday::Tuesday => Weekday::Tuesday,
        jiff::civil::Weekday::Wednesday => Weekday::Wednesday,
        jiff::civil::Weekday::Thursday => Weekday::Thursday,
        jiff::civil::Weekday::Friday => Weekday::Friday,
        jiff::civil::Weekday::Saturday => Weekday::Saturday,
        jiff::civil::Weekday::Sunday => Weekday::Sunday,
    };
    let minutes =
        u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
    Ok(w.days.contains(&day) && minutes >= w.start && minutes < w.end)
}

/// Describes the window for messages: `sunday 02:00-06:00 America/New_York`.
pub fn describe_window(w: &MaintenanceWindow) -> String {
    let days: Vec<String> = w.days.iter().map(ToString::to_string).collect();
    format!(
        "{} {}-{} {}",
        days.join(","),
        format_clock(w.start),
        format_clock(w.end),
        w.timezone
    )
}

/// Checks an apply against the environment's production rules.
pub fn check(input: &GateInput<'_>) -> Gate {
    let mut gate = Gate::default();
    let today = today(input.now);
    let env = input.env;

    if env.destroy_protection {
        for a in input
            .plan
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Delete)
        {
            let (active, expired) = exception_for(
                input.exceptions,
                DESTROY_PROTECTION,
                Some(&a.address),
                &today,
            );
            if let Some(e) = expired {
                gate.notes.push(format!(
                    "exception {} for {} ({}) expired on {}; not applied",
                    e.rule, e.scope, e.origin, e.expires
                ));
            }
            match active {
                Some(e) => gate.notes.push(format!("deleting {} allowed by exception ({}, approved by {}, until {}): {}", a.address, e.origin, e.approver, e.expires, e.justification)),
                None => gate.violations.push(Violation {
                    rule: DESTROY_PROTECTION,
                    address: Some(a.address.clone()),
                    message: format!("{} forbids destroying resources, and the plan deletes {}", env.name, a.address),
                    fix: format!("add an exception for `{DESTROY_PROTECTION}` covering {} to exceptions.toml (with justification, approver and expiry), or keep the resource in the release", a.address),
                }),
            }
        }
    }

    if let Some(w) = &env.maintenance_window {
        match in_window(w, input.now) {
            Ok(true) => {}
            Ok(false) if input.emergency && input.reason.is_some() => {
                gate.notes.push(format!("emergency apply outside the maintenance window ({}): {}", describe_window(w), input.reason.unwrap_or_default()));
            }
            Ok(false) => gate.violations.push(Violation {
                rule: MAINTENANCE_WINDOW,
                address: None,
                message: format!("{} takes changes only in its maintenance window ({}); it is now {}", env.name, describe_window(w), input.now),
                fix: "wait for the window, or for an emergency pass --emergency --reason \"...\" (audited)".into(),
            }),
            Err(e) => gate.violations.push(Violation {
                rule: MAINTENANCE_WINDOW,
                address: None,
                message: format!("cannot evaluate the maintenance window: {e}"),
                fix: "fix the time zone in the environment file".into(),
            }),
        }
    }

    match &input.promotion {
        Promotion::NotRequired | Promotion::Satisfied { .. } => {}
        Promotion::Missing { from } if input.skip_gate && input.reason.is_some() => {
            gate.notes.push(format!("promotion gate skipped (release not yet succeeded in {from}): {}", input.reason.unwrap_or_default()));
        }
        Promotion::Missing { from } => gate.violations.push(Violation {
            rule: PROMOTION_GATE,
            address: None,
            message: format!(
                "release {} has not succeeded in {from}, and {} takes only releases promoted from {from}",
                input.plan.release.as_deref().map(|r| format!("v{r}")).unwrap_or_default(),
                env.name
            ),
            fix: format!("apply it to {from} first, or pass --skip-gate --reason \"...\" (audited)"),
        }),
    }
    if !input.failed_checks.is_empty() {
        let release = input
            .plan
            .release
            .as_deref()
            .map(|r| format!("v{r}"))
            .unwrap_or_default();
        let shown: Vec<&str> = input
            .failed_checks
            .iter()
            .take(5)
            .map(String::as_str)
            .collect();
        let more = input.failed_checks.len().saturating_sub(shown.len());
        let list = format!(
            "{}{}",
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        );
        if input.skip_gate && input.reason.is_some() {
            gate.notes.push(format!(
                "promotion gate skipped ({release} fails {} check(s): {list}): {}",
                input.failed_checks.len(),
                input.reason.unwrap_or_default()
            ));
        } else {
            gate.violations.push(Violation {
                rule: PROMOTION_GATE,
                address: None,
                message: format!(
                    "release {release} fails {} verification check(s) in {}: {list}",
                    input.failed_checks.len(),
                    env.name
                ),
                fix: format!(
                    "`statectl verify --env {}` shows each finding and its fix; fix the specs and release again, cover a finding with an exception in exceptions.toml, or pass --skip-gate --reason \"...\" (audited)",
                    env.name
                ),
            });
        }
    }
    gate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExceptionScope;

    fn window() -> MaintenanceWindow {
        MaintenanceWindow {
            days: vec![Weekday::Sunday],
            start: 120,
            end: 360,
            timezone: "America/New_York".into(),
        }
    }

    fn at(s: &str) -> UtcTime {
        UtcTime::from_timestamp(s.parse().unwrap())
    }

    #[test]
    fn the_window_follows_us_eastern_time_with_daylight_saving() {
        let w = window();
        // Sunday 2026-11-29 03:00 EST = 08:00 UTC: inside.
        assert!(in_window(&w, at("2026-11-29T08:00:00Z")).unwrap());
        // 01:59 EST: before.
        assert!(!in_window(&w, at("2026-11-29T06:59:00Z")).unwrap());
        // 06:00 EST: the window has closed.
        assert!(!in_window(&w, at("2026-11-29T11:00:00Z")).unwrap());
        // Summer: Sunday 2026-07-05 02:30 EDT = 06:30 UTC: inside.
        assert!(in_window(&w, at("2026-07-05T06:30:00Z")).unwrap());
        // A Monday at 03:00 local: outside.
        assert!(!in_window(&w, at("2026-11-30T08:00:00Z")).unwrap());
    }

    #[test]
    fn exceptions_apply_until_they_expire() {
        let e = PolicyException {
            rule: DESTROY_PROTECTION.into(),
            scope: ExceptionScope::Module("data".into()),
            justification: "migration".into(),
            approver: "cab".into(),
            expires: "2026-12-31".into(),
            issue: None,
            origin: "x:1".into(),
            up_to: None,
            mitigated_by: Vec::new(),
        };
        let a: Address = "data.old".parse().unwrap();
        let list = [e];
        assert!(
            exception_for(&list, DESTROY_PROTECTION, Some(&a), "2026-12-31")
                .0
                .is_some()
        );
        let (active, expired) = exception_for(&list, DESTROY_PROTECTION, Some(&a), "2027-01-01");
        assert!(active.is_none() && expired.is_some());
        assert!(
            exception_for(
                &list,
                DESTROY_PROTECTION,
                Some(&"net.x".parse().unwrap()),
                "2026-01-01"
            )
            .0
            .is_none()
        );
        assert_eq!(today(at("2026-11-29T23:30:00-05:00")), "2026-11-30");
    }
}
