use std::fmt;

use serde::{Deserialize, Serialize};

use super::address::Address;

/// A policy exception from `specs/<estate>/exceptions.toml`: a named rule
/// does not apply to a scope until a date, for a stated reason, approved by
/// someone.
///
/// Invariant (upheld by the loader): `expires` is an ISO date `YYYY-MM-DD`,
/// so dates compare as text; `justification` and `approver` are non-empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyException {
    /// The rule id it exempts from, e.g. `prod.destroy-protection`.
    pub rule: String,
    /// What it covers.
    pub scope: ExceptionScope,
    /// Why.
    pub justification: String,
    /// Who approved it.
    pub approver: String,
    /// The last day it applies (UTC), `YYYY-MM-DD`.
    pub expires: String,
    /// The issue or PR that tracks it, if given.
    pub issue: Option<String>,
    /// Where it is declared (`file:line`), for messages.
    pub origin: String,
    /// The deviation it accepts, for rules that measure one (`up_to = "1h30m"`:
    /// an RTO estimate or a data loss up to this): a finding that measures
    /// more is not covered, so a further regression still fails. Required
    /// for `recovery.rto`, whose finding is about the whole estate.
    pub up_to: Option<super::Interval>,
    /// The mitigations its justification relies on, as (resource, property
    /// path, condition) (`mitigated_by = ["data.uploads.soft_delete_retention_days >= 30",
    /// "data.rdb.network_rules.default_action = Deny"]`; a bare path means
    /// "set"): each must hold in the estate, or the exception does not apply.
    pub mitigated_by: Vec<(Address, String, Option<Condition>)>,
}

/// What an exception covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExceptionScope {
    /// Every resource of the estate (`*`).
    All,
    /// Every resource of a module (`module.data`).
    Module(String),
    /// One resource (`data.redis`).
    Resource(Address),
}

impl ExceptionScope {
    /// Whether the scope covers `address` (`None`: a finding about the
    /// whole estate, covered only by `*`).
    pub fn covers(&self, address: Option<&Address>) -> bool {
        match (self, address) {
            (ExceptionScope::All, _) => true,
            (ExceptionScope::Module(m), Some(a)) => a.module() == m,
            (ExceptionScope::Resource(r), Some(a)) => r == a,
            _ => false,
        }
    }
}

impl fmt::Display for ExceptionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExceptionScope::All => f.write_str("*"),
            ExceptionScope::Module(m) => write!(f, "module.{m}"),
            ExceptionScope::Resource(a) => write!(f, "{a}"),
        }
    }
}

/// What a cited mitigation must hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// Exactly this text (`= Deny`).
    Equals(String),
    /// A number at least this (`>= 30`).
    AtLeast(i64),
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Equals(v) => write!(f, " = {v}"),
            Condition::AtLeast(n) => write!(f, " >= {n}"),
        }
    }
}

impl PolicyException {
    /// Whether it still applies on `today` (`YYYY-MM-DD`, UTC).
    pub fn active_on(&self, today: &str) -> bool {
        self.expires.as_str() >= today
    }

    /// Whether it accepts a finding that measured `measured` (`None`: the
    /// finding measures nothing, or nothing finite): unbounded exceptions
    /// accept anything, bounded ones only what is within their bound.
    pub fn accepts(&self, measured: Option<super::Interval>) -> bool {
        match (self.up_to, measured) {
            (None, _) => true,
            (Some(max), Some(m)) => m <= max,
            (Some(_), None) => false,
        }
    }
}
