use std::collections::BTreeMap;

use serde::Serialize;

use super::{Address, Interval, MaintenanceWindow};

/// The organisation's floor for one estate in one environment: the figures
/// and switches its seeds state (seed 004 for production, each estate's own
/// seed for its objectives), read from `policy/baseline.toml`, which lives
/// apart from the estates so an estate or environment file can be stricter
/// but never looser without it being a finding.
///
/// Invariant: every field is a minimum (or an exact value where the seed
/// names one, such as a region); `None`/`false` means the baseline says
/// nothing, never "anything goes".
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Floor {
    /// Where the baseline was read from (`policy/baseline.toml`), for messages.
    pub origin: String,
    /// The loosest recovery time objective the estate may declare.
    pub rto: Option<Interval>,
    /// The loosest recovery point objective the estate may declare.
    pub rpo: Option<Interval>,
    /// The largest monthly budget the estate may declare (whole US dollars).
    pub monthly_budget_usd: Option<u64>,
    /// Tags the estate must require of every taggable resource.
    pub required_tags: Vec<String>,
    /// The primary region the environment must deploy to.
    pub region: Option<String>,
    /// The disaster-recovery region the environment must replicate to.
    pub dr_region: Option<String>,
    /// The environment must be zone redundant.
    pub zone_redundant: bool,
    /// The environment must allow data services only behind private endpoints.
    pub private_endpoints_only: bool,
    /// The environment must refuse deletions without an exception.
    pub destroy_protection: bool,
    /// The environment must back its state up before every apply.
    pub backup_before_apply: bool,
    /// Databases must run with zone-redundant high availability.
    pub high_availability: bool,
    /// The least state retention (soft delete) in days.
    pub state_retention_days: Option<u32>,
    /// The environment a release must have succeeded in first.
    pub promote_from: Option<String>,
    /// The widest maintenance window the environment may declare.
    pub maintenance_window: Option<MaintenanceWindow>,
    /// The least Key Vault soft-delete retention in days.
    pub key_vault_soft_delete_days: Option<u32>,
    /// The least Log Analytics retention in days.
    pub log_retention_days: Option<u32>,
    /// The least total (interactive and archive) log retention in days.
    pub log_archive_days: Option<u32>,
    /// The least database backup retention in days.
    pub backup_retention_days: Option<u32>,
    /// The longest interval between automatic secret rotations, in days.
    pub secret_rotation_days: Option<u32>,
    /// The least warning before a rotating secret expires, in days.
    pub rotation_notice_days: Option<u32>,
    /// The regions any resource may be placed in (`global` always may).
    pub allowed_regions: Vec<String>,
    /// The naming convention of regional resources; the one form statectl
    /// checks is `{product}-{environment}-{service}-{region}` (seed 001),
    /// with the estate's name as the product.
    pub naming: Option<String>,
    /// Vaults whose secrets the seed lets rotate by hand (`rotation =
    /// "manual"`); every other secret needs an automatic interval.
    pub manual_rotation_vaults: Vec<Address>,
    /// The longest a live stack may go without a restore drill (seed 000
    /// "Monthly restore testing", seed 001 "Quarterly full failover drills").
    pub drill_every: Option<Interval>,
    /// Resources the estate's seeds require by name.
    pub requires: Vec<Requirement>,
}

/// A resource an estate's seed requires, checked by address: it must exist,
/// be of `arm_type`, and have every listed property.
///
/// Invariant: `rule` is a registered verify rule id (checked when the
/// baseline is read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The rule whose finding reports it missing, e.g. `identity.roles`.
    pub rule: &'static str,
    /// The resource that must exist.
    pub resource: Address,
    /// Its ARM type.
    pub arm_type: String,
    /// Properties it must have, by dotted path.
    pub properties: BTreeMap<String, Expect>,
    /// The seed sentence that asks for it.
    pub seed: String,
    /// Where it is declared (`file:line`).
    pub origin: String,
}

/// What a required property must hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Expect {
    /// This exact text (or the text of a boolean or number).
    Equals(String),
    /// A reference to this resource (written `@module.name`), to this
    /// attribute of it when given (`@module.name.attr`).
    References(Address, Option<String>),
    /// A number at least this (written `">= 30"`).
    AtLeast(i64),
    /// A number at most this (written `"<= 60"`).
    AtMost(i64),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Equals(s) => write!(f, "{s:?}"),
            Expect::References(a, None) => write!(f, "a reference to `{a}`"),
            Expect::References(a, Some(attr)) => write!(f, "a reference to `{a}.{attr}`"),
            Expect::AtLeast(n) => write!(f, "at least {n}"),
            Expect::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

impl Floor {
    /// Lays `over` on top of `self`: every figure `over` states replaces
    /// this one's, switches add up, requirements accumulate.
    pub fn merge(&mut self, over: Floor) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            rto,
            rpo,
            monthly_budget_usd,
            region,
            dr_region,
            state_retention_days,
            promote_from,
            maintenance_window,
            key_vault_soft_delete_days,
            log_retention_days,
            log_archive_days,
            backup_retention_days,
            secret_rotation_days,
            rotation_notice_days,
            naming,
            drill_every
        );
        self.manual_rotation_vaults
            .extend(over.manual_rotation_vaults.iter().cloned());
        if !over.allowed_regions.is_empty() {
            self.allowed_regions = over.allowed_regions;
        }
        for t in over.required_tags {
            if !self.required_tags.contains(&t) {
                self.required_tags.push(t);
            }
        }
        self.zone_redundant |= over.zone_redundant;
        self.private_endpoints_only |= over.private_endpoints_only;
        self.destroy_protection |= over.destroy_protection;
        self.backup_before_apply |= over.backup_before_apply;
        self.high_availability |= over.high_availability;
        self.requires.extend(over.requires);
        if !over.origin.is_empty() {
            self.origin = over.origin;
        }
    }
}

/// The whole baseline file: layers of [`Floor`]s, from the organisation's
/// (every estate) to one estate in one environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Baseline {
    /// `[all]`: every estate in every environment.
    pub all: Floor,
    /// `[environments.<env>]`: every estate in that environment.
    pub environments: BTreeMap<String, Floor>,
    /// `[estates.<estate>]`: that estate in every environment.
    pub estates: BTreeMap<String, Floor>,
    /// `[estates.<estate>.environments.<env>]`.
    pub estate_environments: BTreeMap<(String, String), Floor>,
}

impl Baseline {
    /// The floor for `estate` in `env`: the layers merged, most specific last.
    pub fn floor(&self, estate: &str, env: &str) -> Floor {
        let mut f = self.all.clone();
        if let Some(e) = self.environments.get(env) {
            f.merge(e.clone());
        }
        if let Some(e) = self.estates.get(estate) {
            f.merge(e.clone());
        }
        if let Some(e) = self
            .estate_environments
            .get(&(estate.to_string(), env.to_string()))
        {
            f.merge(e.clone());
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_layer_wins_and_switches_only_add_up() {
        let mut b = Baseline::default();
        b.environments.insert(
            "prod".into(),
            Floor {
                dr_region: Some("westus".into()),
                destroy_protection: true,
                required_tags: vec!["owner".into()],
                ..Floor::default()
            },
        );
        b.estates.insert(
            "x".into(),
            Floor {
                required_tags: vec!["project".into(), "owner".into()],
                ..Floor::default()
            },
        );
        b.estate_environments.insert(
            ("x".into(), "prod".into()),
            Floor {
                dr_region: Some("westus2".into()),
                ..Floor::default()
            },
        );
        let f = b.floor("x", "prod");
        assert_eq!(f.dr_region.as_deref(), Some("westus2"));
        assert!(
            f.destroy_protection,
            "a later layer cannot switch a rule off"
        );
        assert_eq!(f.required_tags, ["owner", "project"]);
        assert_eq!(b.floor("y", "prod").dr_region.as_deref(), Some("westus"));
        assert_eq!(
            b.floor("x", "dev"),
            Floor {
                required_tags: vec!["project".into(), "owner".into()],
                ..Floor::default()
            }
        );
    }
}
