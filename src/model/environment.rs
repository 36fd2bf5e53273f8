use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::value::Value;

/// One deployment environment (`dev`, `staging`, `prod`), loaded from
/// `environments/<name>.toml`: where it runs and the rules that govern changes.
///
/// Invariant: `name` is the file stem it was loaded from; `promote_from`, when
/// set, names another environment (checked by the loader against the files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// The environment name, e.g. `prod`.
    pub name: String,
    /// The Azure subscription the environment deploys into.
    pub subscription_id: String,
    /// The primary Azure region, e.g. `eastus`.
    pub region: String,
    /// The disaster-recovery region, when the environment has one.
    pub dr_region: Option<String>,
    /// Services must spread across availability zones (seed 004: 3+ zones).
    pub zone_redundant: bool,
    /// Data services must be reachable only through private endpoints.
    pub private_endpoints_only: bool,
    /// Deleting resources is refused unless a policy exception covers it.
    pub destroy_protection: bool,
    /// A release may be applied here only after it succeeded in this one.
    pub promote_from: Option<String>,
    /// Take a backup of the current state before every apply.
    pub backup_before_apply: bool,
    /// Days a pruned state generation stays recoverable (soft delete).
    pub state_retention_days: u32,
    /// When changes may be applied; `None` means any time.
    pub maintenance_window: Option<MaintenanceWindow>,
    /// Variables every estate sees as `${var.*}` in this environment.
    pub vars: BTreeMap<String, Value>,
}

impl Environment {
    /// An environment in `region` of subscription `subscription_id` with
    /// nothing switched on: no DR region, zone redundancy, private-only rule,
    /// destroy protection, promotion, backup before apply or window; 7 days
    /// of state retention. What generated estates and tests start from.
    pub fn plain(name: &str, subscription_id: &str, region: &str) -> Self {
        Environment {
            name: name.to_string(),
            subscription_id: subscription_id.to_string(),
            region: region.to_string(),
            dr_region: None,
            zone_redundant: false,
            private_endpoints_only: false,
            destroy_protection: false,
            promote_from: None,
            backup_before_apply: false,
            state_retention_days: 7,
            maintenance_window: None,
            vars: std::collections::BTreeMap::new(),
        }
    }
}

/// A weekly window in which changes may be applied, in a named time zone.
///
/// Invariant: `start` and `end` are minutes after midnight (0..1440) and
/// `start < end`; `days` is non-empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Days of the week the window opens.
    pub days: Vec<Weekday>,
    /// Opening time, minutes after local midnight.
    pub start: u16,
    /// Closing time, minutes after local midnight.
    pub end: u16,
    /// IANA time zone name, e.g. `America/New_York`.
    pub timezone: String,
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// All seven days, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Parses a lowercase English day name (`sunday`).
    pub fn parse(s: &str) -> Option<Weekday> {
        Weekday::ALL
            .into_iter()
            .find(|d| d.to_string().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        };
        f.write_str(s)
    }
}

/// Parses `HH:MM` (24-hour) into minutes after midnight; `24:00` is allowed as
/// an end of day.
pub fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Formats minutes after midnight as `HH:MM`.
pub fn format_clock(mins: u16) -> String {
    format!("{:02}:{:02}", mins / 60, mins % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_round_trip() {
        assert_eq!(parse_clock("02:00"), Some(120));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(format_clock(360), "06:00");
        for bad in ["2:00", "25:00", "02:60", "24:01", "ab:cd", "0200"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
    }

    #[test]
    fn weekday_names() {
        assert_eq!(Weekday::parse("Sunday"), Some(Weekday::Sunday));
        assert_eq!(Weekday::parse("sun"), None);
    }
}
