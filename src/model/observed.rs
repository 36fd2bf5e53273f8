use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::value::Value;

/// What the provider reported holding for one resource after an apply: the
/// properties as applied (references resolved), the attributes the cloud
/// computed, and the dependencies it was created with (so it can be deleted
/// in the right order even after it leaves the desired state).
///
/// Invariant: `properties` and `attributes` hold no references; every
/// sensitive attribute is in `sensitive`, never in `attributes` (the catalog
/// decides which are sensitive; the applier sorts them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedResource {
    /// The address it was declared at.
    pub address: Address,
    /// The ARM type.
    pub arm_type: String,
    /// The Azure name.
    pub name: String,
    /// The ARM resource id.
    pub id: String,
    /// Properties as applied.
    pub properties: BTreeMap<String, Value>,
    /// Non-secret attributes the cloud computed (fqdn, principal_id, ...).
    pub attributes: BTreeMap<String, Value>,
    /// Secret attributes the cloud returned (access keys, connection strings).
    pub sensitive: BTreeMap<String, Secret>,
    /// Tags as applied.
    pub tags: BTreeMap<String, String>,
    /// What it depended on when applied.
    pub dependencies: BTreeSet<Address>,
    /// Whether it was protected from destruction when applied.
    pub prevent_destroy: bool,
}

/// A secret value. In memory it may be plain (just read from a provider);
/// anything persisted is sealed with AES-256-GCM by the store.
///
/// Invariant: a `Plain` secret can never be serialized: its `Serialize`
/// implementation fails, so no code path can write it in clear to the store,
/// the mirror or JSON output. `Debug` and `Display` print `(sensitive)`.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// Clear text, in memory only.
    Plain(String),
    /// Nonce and AES-256-GCM ciphertext, bound to where it is stored.
    Sealed(Vec<u8>),
    /// The attribute exists but its value is not known here (imported from a
    /// redacted `state pull`); the next refresh reads it from the provider.
    Unknown,
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Secret::Sealed(bytes) => Some(bytes).serialize(s),
            Secret::Unknown => None::<&Vec<u8>>.serialize(s),
            Secret::Plain(_) => Err(serde::ser::Error::custom(
                "bug in statectl: attempted to serialize an unsealed secret",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Vec<u8>>::deserialize(d)? {
            Some(bytes) => Secret::Sealed(bytes),
            None => Secret::Unknown,
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_secrets_never_serialize() {
        assert!(serde_json::to_string(&Secret::Plain("hunter2".into())).is_err());
        assert!(bincode::serialize(&Secret::Plain("hunter2".into())).is_err());
        assert_eq!(
            format!("{:?}", Secret::Plain("hunter2".into())),
            "(sensitive)"
        );
        let sealed = Secret::Sealed(vec![1, 2, 3]);
        let bytes = bincode::serialize(&sealed).unwrap();
        assert_eq!(bincode::deserialize::<Secret>(&bytes).unwrap(), sealed);
        let bytes = bincode::serialize(&Secret::Unknown).unwrap();
        assert_eq!(
            bincode::deserialize::<Secret>(&bytes).unwrap(),
            Secret::Unknown
        );
    }
}
