/// What statectl knows about one Azure Resource Manager resource type.
///
/// Invariant: the table in `catalog::types` holds exactly one entry per
/// `arm_type` (compared case-insensitively), every name in `sensitive` is also
/// in `computed`, and `id_template` uses only the placeholders `{subscription}`,
/// `{resource_group}`, `{parent}`, `{scope}` and `{name}`. A unit test checks
/// all three over the whole table.
#[derive(Debug)]
pub struct ResourceType {
    /// The ARM type, e.g. `Microsoft.Network/privateEndpoints`.
    pub arm_type: &'static str,
    /// One line saying what it is.
    pub summary: &'static str,
    /// Whether ARM accepts tags on it.
    pub taggable: bool,
    /// Whether it holds data that a delete or replace would lose.
    pub stateful: bool,
    /// How its ARM id is formed. `{resource_group}`, `{parent}` and `{scope}`
    /// are filled from the properties of the same name, which are therefore
    /// required.
    pub id_template: &'static str,
    /// Present when this is a data service that must be reached only through
    /// a private endpoint.
    pub private_link: Option<PrivateLink>,
    /// Properties whose change forces a replacement (delete then create).
    pub force_new: &'static [&'static str],
    /// Read-only attributes the cloud computes (always including `id`).
    pub computed: &'static [&'static str],
    /// The computed attributes that are secrets: never stored in clear, never
    /// printed.
    pub sensitive: &'static [&'static str],
    /// Whether it emits resource logs that a diagnostic setting can send to
    /// Log Analytics.
    pub diagnostics: bool,
    /// Typical operation durations.
    pub timing: Timing,
    /// How its data is backed up and restored, for stateful types.
    pub backup: Option<Backup>,
    /// Monthly prices a seed states, first match wins.
    pub prices: &'static [Price],
}

/// The private endpoint facts of a data service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateLink {
    /// The private DNS zone its private endpoint must be registered in.
    pub dns_zone: &'static str,
    /// The private-link sub-resource (group id) the endpoint connects to.
    pub group_id: &'static str,
}

/// Typical durations of operations on one type, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Create (PUT of a new resource) until it reports Succeeded.
    pub create: u32,
    /// In-place update.
    pub update: u32,
    /// Delete.
    pub delete: u32,
    /// Restore from backup, for stateful types.
    pub restore: Option<u32>,
    /// Where the figures come from (a source or a stated assumption).
    pub source: &'static str,
}

/// How a stateful type's data comes back after a loss, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backup {
    /// Continuous backup with point-in-time restore within the retention in
    /// property `retention_days`; the restore point can be at most
    /// `granularity_secs` old.
    PointInTime {
        /// Property holding the retention in days.
        retention_days: &'static str,
        /// Worst-case age of the newest restore point.
        granularity_secs: u32,
    },
    /// Periodic snapshots; the interval in minutes is in property
    /// `interval_minutes`, which is also the worst-case data loss.
    Snapshot {
        /// Property holding the snapshot interval in minutes.
        interval_minutes: &'static str,
    },
    /// Asynchronous geo-replication; recovery fails over to the replica,
    /// losing what was not yet replicated.
    GeoReplica {
        /// Property holding the replication kind (e.g. `GRS`).
        replication: &'static str,
        /// Worst-case replication lag.
        lag_secs: u32,
    },
    /// Deleted items are kept and can be recovered whole (soft delete).
    SoftDelete {
        /// Property holding the soft-delete retention in days.
        retention_days: &'static str,
    },
}

/// A monthly price from a seed, applying when every `(property, value)` pair
/// in `when` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Conditions on the resource's properties (value compared as text).
    pub when: &'static [(&'static str, &'static str)],
    /// Monthly price in US cents.
    pub usd_cents: u64,
    /// Where the figure comes from.
    pub source: &'static str,
}

impl ResourceType {
    /// Its catalog facts as JSON (`statectl types --json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.arm_type,
            "summary": self.summary,
            "taggable": self.taggable,
            "stateful": self.stateful,
            "private_dns_zone": self.private_link.map(|p| p.dns_zone),
            "id_template": self.id_template,
            "force_new": self.force_new,
            "computed": self.computed,
            "sensitive": self.sensitive,
            "diagnostics": self.diagnostics,
            "create_secs": self.timing.create,
            "restore_secs": self.timing.restore,
            "timing_source": self.timing.source,
        })
    }

    /// Whether a computed attribute is a secret.
    pub fn is_sensitive(&self, attr: &str) -> bool {
        self.sensitive.contains(&attr)
    }

    /// Whether `attr` is a computed attribute of this type.
    pub fn is_computed(&self, attr: &str) -> bool {
        self.computed.contains(&attr)
    }

    /// Whether a change of `property` forces replacement (`location` always
    /// does, for every located type).
    pub fn forces_new(&self, property: &str) -> bool {
        property == "location" || self.force_new.contains(&property)
    }

    /// The properties the id template needs (`resource_group`, `parent`,
    /// `scope`), which every resource of this type must set.
    pub fn placement_properties(&self) -> impl Iterator<Item = &'static str> {
        ["resource_group", "parent", "scope"]
            .into_iter()
            .filter(|p| self.id_template.contains(&format!("{{{p}}}")))
    }

    /// The ARM id of a resource of this type named `name`, filling the
    /// template from `lookup` (which answers `resource_group`, `parent` and
    /// `scope` with their resolved property values). The error names the
    /// missing or non-text placement property.
    pub fn arm_id(
        &self,
        subscription: &str,
        name: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        let mut id = self
            .id_template
            .replace("{subscription}", subscription)
            .replace("{name}", name);
        for p in ["resource_group", "parent", "scope"] {
            let placeholder = format!("{{{p}}}");
            if id.contains(&placeholder) {
                let v =
                    lookup(p).ok_or_else(|| format!("property `{p}` is missing or not text"))?;
                id = id.replace(&placeholder, v.trim_end_matches('/'));
            }
        }
        Ok(id)
    }

    /// The last path segment of the type, e.g. `privateEndpoints`.
    pub fn short_name(&self) -> &'static str {
        self.arm_type.rsplit('/').next().unwrap_or(self.arm_type)
    }
}
