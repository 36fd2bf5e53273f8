use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Address, ObservedResource, Value};
use crate::provider::{Provider, ProviderError};

/// One property that differs between what statectl recorded and what the
/// cloud holds now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftedProperty {
    /// The resource.
    pub address: Address,
    /// `sku_name`, `tags.owner`.
    pub path: String,
    /// What the last apply recorded.
    pub recorded: Option<serde_json::Value>,
    /// What the cloud holds.
    pub live: Option<serde_json::Value>,
}

/// What `statectl drift` found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DriftReport {
    /// Properties changed outside statectl.
    pub changed: Vec<DriftedProperty>,
    /// Resources deleted outside statectl.
    pub deleted: Vec<Address>,
    /// Resources in the stack's resource groups that statectl does not manage:
    /// (ARM id, type).
    pub unmanaged: Vec<(String, String)>,
    /// The cloud's current view of every managed resource still there.
    #[serde(skip)]
    pub live: BTreeMap<Address, ObservedResource>,
}

impl DriftReport {
    /// Whether anything drifted.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.deleted.is_empty() && self.unmanaged.is_empty()
    }

    /// Addresses whose live state differs from the record.
    pub fn drifted(&self) -> BTreeSet<Address> {
        self.changed
            .iter()
            .map(|c| c.address.clone())
            .chain(self.deleted.iter().cloned())
            .collect()
    }
}

fn json(v: Option<&Value>) -> Option<serde_json::Value> {
    v.map(Value::to_json)
}

/// Reads every recorded resource from the provider and compares; lists
/// resources under the stack's resource groups that nothing records.
pub async fn detect<P: Provider>(
    provider: &P,
    recorded: &BTreeMap<Address, ObservedResource>,
) -> Result<DriftReport, ProviderError> {
    let mut report = DriftReport::default();
    for (a, rec) in recorded {
        match provider.read(&rec.arm_type, &rec.id).await? {
            None => report.deleted.push(a.clone()),
            Some(live) => {
                let keys: BTreeSet<&String> = rec
                    .properties
                    .keys()
                    .chain(live.properties.keys())
                    .collect();
                for k in keys {
                    if rec.properties.get(k) != live.properties.get(k) {
                        // A secret changed out of band is reported, never shown.
                        let shown = |v: Option<&Value>| {
                            if crate::catalog::is_secret(&rec.arm_type, k) {
                                v.map(|_| {
                                    serde_json::Value::String(crate::catalog::REDACTED.into())
                                })
                            } else {
                                json(v)
                            }
                        };
                        report.changed.push(DriftedProperty {
                            address: a.clone(),
                            path: k.clone(),
                            recorded: shown(rec.properties.get(k)),
                            live: shown(live.properties.get(k)),
                        });
                    }
                }
                let tags: BTreeSet<&String> = rec.tags.keys().chain(live.tags.keys()).collect();
                for k in tags {
                    if rec.tags.get(k) != live.tags.get(k) {
                        report.changed.push(DriftedProperty {
                            address: a.clone(),
                            path: format!("tags.{k}"),
                            recorded: rec
                                .tags
                                .get(k)
                                .map(|v| serde_json::Value::String(v.clone())),
                            live: live
                                .tags
                                .get(k)
                                .map(|v| serde_json::Value::String(v.clone())),
                        });
                    }
                }
                report.live.insert(a.clone(), live);
            }
        }
    }
    let known: BTreeSet<String> = recorded
        .values()
        .map(|r| r.id.to_ascii_lowercase())
        .collect();
    let groups: Vec<String> = recorded
        .values()
        .filter(|r| r.arm_type == "Microsoft.Resources/resourceGroups")
        .map(|r| format!("{}/", r.id))
        .collect();
    for g in groups {
        for r in provider.list(&g).await? {
            if !known.contains(&r.id.to_ascii_lowercase()) {
                report.unmanaged.push((r.id, r.arm_type));
            }
        }
    }
    report.unmanaged.sort();
    report.unmanaged.dedup();
    Ok(report)
}
