use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::value::{Reference, Value};

/// One desired resource: what a spec declares for one estate and environment,
/// after interpolation. It maps onto one Azure Resource Manager PUT.
///
/// Invariants (upheld by the spec loader): `arm_type` is a catalog type;
/// `tags` is empty when that type is not taggable; every address in
/// `depends_on` and every reference in `properties` names another resource of
/// the same estate (never this one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Where the resource is declared: `<module>.<name>`.
    pub address: Address,
    /// The ARM resource type, e.g. `Microsoft.Network/privateEndpoints`.
    pub arm_type: String,
    /// The Azure resource name, e.g. `chatwoot-prod-vnet-eastus`.
    pub name: String,
    /// The ARM properties, with references to other resources left symbolic.
    pub properties: BTreeMap<String, Value>,
    /// Resource tags (estate defaults merged with the resource's own).
    pub tags: BTreeMap<String, String>,
    /// Explicit dependencies (`depends_on`), beyond those references imply.
    pub depends_on: BTreeSet<Address>,
    /// Lifecycle flags.
    pub lifecycle: Lifecycle,
}

/// Lifecycle flags of a resource, as in Terraform's `lifecycle` block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The planner never deletes or replaces this resource unless the user
    /// passes `--allow-data-loss`.
    pub prevent_destroy: bool,
}

impl Resource {
    /// Every resource this one depends on: explicit `depends_on` plus every
    /// address referenced from its properties. Sorted and deduplicated.
    pub fn dependencies(&self) -> BTreeSet<Address> {
        let mut deps = self.depends_on.clone();
        for r in self.references() {
            deps.insert(r.address.clone());
        }
        deps
    }

    /// Every reference in the properties, in property order.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        for v in self.properties.values() {
            v.for_each_ref(&mut |r| out.push(r));
        }
        out
    }

    /// A property by dotted path (`"backup.retention_days"`).
    pub fn property(&self, path: &str) -> Option<&Value> {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let v = self.properties.get(head)?;
        match rest {
            Some(r) => v.get_path(r),
            None => Some(v),
        }
    }
}
