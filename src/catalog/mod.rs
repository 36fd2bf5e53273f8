//! The catalog of Azure resource types: per-type facts every other stage
//! relies on (taggable, stateful, private-link zone, force-new properties,
//! computed and sensitive attributes, ARM id template, durations, backup
//! model, seed prices).
//!
//! It takes in an ARM type name and hands back a [`ResourceType`]; it holds no
//! state and does no I/O. Adding a type means adding one entry to
//! `types::TYPES`; the unit tests below check the table's invariants.

mod resource_type;
mod types;

use std::collections::BTreeMap;

pub use resource_type::{Backup, Price, PrivateLink, ResourceType, Timing};

use crate::model::Value;

/// A type name the catalog does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource type `{name}`{}", suggestion_text(.suggestion))]
pub struct UnknownType {
    /// The name as written.
    pub name: String,
    /// The closest known type, when one is close enough.
    pub suggestion: Option<&'static str>,
}

fn suggestion_text(s: &Option<&'static str>) -> String {
    match s {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

/// Every known type, sorted by ARM type name.
pub fn all() -> &'static [ResourceType] {
    types::TYPES
}

/// Words that make a property name a secret's.
const SECRETISH: &[&str] = &[
    "password",
    "secret",
    "access_key",
    "connection_string",
    "api_key",
    "token",
    "private_key",
    "passphrase",
    "sas",
];

/// Whether a property name names a secret: it holds one of [`SECRETISH`]
/// and is not an id, a name, a type, a reference, a flag or a rotation or
/// expiry setting about one (`password_auth_enabled`, `key_vault_secret_id`).
pub fn is_secret_name(name: &str) -> bool {
    let k = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    let word = |w: &str| {
        // `sas` only as a word of its own (`sas_token`, not `mssas`).
        if w == "sas" {
            k == "sas" || k.starts_with("sas_") || k.contains("_sas")
        } else {
            k.contains(w)
        }
    };
    SECRETISH.iter().any(|w| word(w))
        && !k.ends_with("_id")
        && !k.ends_with("_ids")
        && !k.ends_with("_name")
        && !k.ends_with("enabled")
        && !k.ends_with("_type")
        && !k.ends_with("_ref")
        && !k.ends_with("_uri")
        && !k.contains("rotation")
        && !k.contains("expir")
}

/// Whether a property of `arm_type` holds a secret: the catalog marks it
/// sensitive, its name says so ([`is_secret_name`]), or it is a Key Vault
/// secret's `value`.
pub fn is_secret(arm_type: &str, name: &str) -> bool {
    let n = name.rsplit('.').next().unwrap_or(name);
    let kv_value =
        n == "value" && arm_type.eq_ignore_ascii_case("Microsoft.KeyVault/vaults/secrets");
    is_secret_name(n) || kv_value || lookup(arm_type).is_ok_and(|t| t.is_sensitive(n))
}

/// What a secret's value prints as, everywhere.
pub const REDACTED: &str = "(sensitive)";

/// Every known type with its tags, data and private-link facts
/// (`statectl types`).
pub fn table() -> crate::model::Table {
    let rows = all().iter().map(|t| {
        let yes = |b: bool| if b { "yes" } else { "-" }.to_string();
        let zone = t.private_link.map_or("-", |p| p.dns_zone);
        vec![
            t.arm_type.to_string(),
            yes(t.taggable),
            yes(t.stateful),
            zone.to_string(),
        ]
    });
    crate::model::Table::new(&["TYPE", "TAGS", "DATA", "PRIVATE-LINK ZONE"], rows)
}

/// Looks a type up by its ARM name. ARM type names are case-insensitive, so
/// is this; the spec loader still insists on the canonical spelling.
pub fn lookup(arm_type: &str) -> Result<&'static ResourceType, UnknownType> {
    types::TYPES
        .iter()
        .find(|t| t.arm_type.eq_ignore_ascii_case(arm_type))
        .ok_or_else(|| UnknownType {
            name: arm_type.to_string(),
            suggestion: nearest(arm_type),
        })
}

/// The known type closest to `name`: first by its last path segment, then by
/// edit distance over the whole name, within a third of its length.
pub fn nearest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let last = lower.rsplit('/').next().unwrap_or(&lower);
    if let Some(t) = types::TYPES
        .iter()
        .find(|t| t.short_name().eq_ignore_ascii_case(last))
    {
        return Some(t.arm_type);
    }
    crate::util::closest(&lower, types::TYPES.iter().map(|t| t.arm_type), |c| {
        c.to_ascii_lowercase()
    })
}

/// The monthly price of a resource of type `rt` with these properties, in US
/// cents, and the source of the figure; `None` when no seed prices it.
pub fn price(
    rt: &ResourceType,
    properties: &BTreeMap<String, Value>,
) -> Option<(u64, &'static str)> {
    rt.prices
        .iter()
        .find(|p| {
            p.when.iter().all(|(key, want)| {
                properties.get(*key).is_some_and(|v| match v {
                    Value::String(s) => s.eq_ignore_ascii_case(want),
                    Value::Int(i) => i.to_string() == *want,
                    Value::Bool(b) => b.to_string() == *want,
                    _ => false,
                })
            })
        })
        .map(|p| (p.usd_cents, p.source))
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_known_by_catalog_or_name_and_flags_are_not_secrets() {
        use super::is_secret;
        let pg = "Microsoft.DBforPostgreSQL/flexibleServers";
        assert!(is_secret(pg, "administrator_password"));
        assert!(is_secret(pg, "properties.administrator_password"));
        assert!(!is_secret(pg, "password_auth_enabled"));
        assert!(!is_secret(
            "Microsoft.Storage/storageAccounts",
            "shared_access_key_enabled"
        ));
        assert!(is_secret("Microsoft.Cache/redis", "primary_access_key"));
        assert!(is_secret("Microsoft.KeyVault/vaults/secrets", "value"));
        assert!(!is_secret("Microsoft.Network/virtualNetworks", "value"));
        assert!(is_secret(
            "Microsoft.Web/sites",
            "storage_connection_string"
        ));
    }

    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let names: Vec<String> = all()
            .iter()
            .map(|t| t.arm_type.to_ascii_lowercase())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            names, sorted,
            "catalog must be sorted by type, without duplicates"
        );
    }

    #[test]
    fn every_entry_is_consistent() {
        for t in all() {
            assert!(t.computed.contains(&"id"), "{} must compute id", t.arm_type);
            for s in t.sensitive {
                assert!(
                    t.computed.contains(s),
                    "{}: sensitive {s} is not computed",
                    t.arm_type
                );
            }
            let mut rest = t.id_template.to_string();
            for p in [
                "{subscription}",
                "{resource_group}",
                "{parent}",
                "{scope}",
                "{name}",
            ] {
                rest = rest.replace(p, "");
            }
            assert!(
                !rest.contains('{'),
                "{}: unknown placeholder in {}",
                t.arm_type,
                t.id_template
            );
            assert!(t.id_template.ends_with("{name}"), "{}", t.arm_type);
            assert!(!t.timing.source.is_empty());
            if t.backup.is_some() {
                assert!(
                    t.stateful,
                    "{} has a backup model but is not stateful",
                    t.arm_type
                );
            }
            if t.private_link.is_some() {
                assert!(
                    t.private_link
                        .is_some_and(|p| p.dns_zone.starts_with("privatelink."))
                );
            }
        }
    }

    #[test]
    fn seed_000_private_link_zones() {
        let zone = |t: &str| lookup(t).unwrap().private_link.unwrap().dns_zone;
        assert_eq!(
            zone("Microsoft.DBforPostgreSQL/flexibleServers"),
            "privatelink.postgres.database.azure.com"
        );
        assert_eq!(
            zone("Microsoft.Storage/storageAccounts"),
            "privatelink.blob.core.windows.net"
        );
        assert_eq!(
            zone("Microsoft.KeyVault/vaults"),
            "privatelink.vaultcore.azure.net"
        );
        assert_eq!(
            zone("Microsoft.ContainerRegistry/registries"),
            "privatelink.azurecr.io"
        );
    }

    #[test]
    fn unknown_types_suggest_the_nearest() {
        let e = lookup("Microsoft.Network/privateEndpoint").unwrap_err();
        assert_eq!(e.suggestion, Some("Microsoft.Network/privateEndpoints"));
        let e = lookup("Microsoft.Foo/privateendpoints").unwrap_err();
        assert_eq!(e.suggestion, Some("Microsoft.Network/privateEndpoints"));
        assert_eq!(
            lookup("Totally/Different/Thing!!").unwrap_err().suggestion,
            None
        );
        assert!(lookup("microsoft.network/virtualnetworks").is_ok());
    }

    #[test]
    fn prices_match_on_properties() {
        let pg = lookup("Microsoft.DBforPostgreSQL/flexibleServers").unwrap();
        let props = BTreeMap::from([(
            "sku_name".to_string(),
            Value::String("B_Standard_B1ms".into()),
        )]);
        assert_eq!(price(pg, &props).map(|p| p.0), Some(7500));
        assert_eq!(price(pg, &BTreeMap::new()), None);
    }
}
