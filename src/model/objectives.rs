use serde::{Deserialize, Serialize};

use super::interval::Interval;

/// What an estate promises: recovery objectives, budget and required tags,
/// from the `[objectives]` table of its `estate.toml`.
///
/// Invariant: `required_tags` is sorted and has no duplicates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    /// Recovery time objective: the longest a restore may take.
    pub rto: Interval,
    /// Recovery point objective: the most data a restore may lose.
    pub rpo: Interval,
    /// Monthly budget in whole US dollars, when the seed states one.
    pub monthly_budget_usd: Option<u64>,
    /// Tags every taggable resource must carry.
    pub required_tags: Vec<String>,
}

/// A monthly cost that is not a resource (e.g. egress bandwidth), so that the
/// cost estimate can add up to a seed's table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostItem {
    /// What the line is for.
    pub name: String,
    /// Monthly cost in US cents.
    pub usd_cents: u64,
    /// Where the figure comes from.
    pub source: String,
}
