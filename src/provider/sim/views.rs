//! The simulator's contents as `statectl sim` prints them: what it holds
//! (a table or JSON), one resource with its secrets redacted, and the
//! soft-deleted vaults holding names.

use std::fmt::Write as _;

use serde_json::{Value as J, json};

use super::SoftDeleted;
use crate::model::{ObservedResource, Table};

/// Every simulated resource: address, type, ARM id.
pub fn list_table(all: &[ObservedResource]) -> Table {
    let rows = all
        .iter()
        .map(|r| vec![r.address.to_string(), r.arm_type.clone(), r.id.clone()]);
    Table::new(&["ADDRESS", "TYPE", "ID"], rows)
}

/// Every simulated resource as JSON: id, address, type, name.
pub fn list_json(all: &[ObservedResource]) -> J {
    let v: Vec<J> = all
        .iter()
        .map(|r| json!({"id": r.id, "address": r.address.to_string(), "type": r.arm_type, "name": r.name}))
        .collect();
    J::Array(v)
}

/// One resource, a `key = value` line per property and attribute; secrets
/// (sealed attributes and secret properties) print as `(sensitive)`, never
/// their value.
pub fn resource_text(r: &ObservedResource) -> String {
    let mut s = format!(
        "id = {}\ntype = {}\naddress = {}\n",
        r.id, r.arm_type, r.address
    );
    for (k, v) in &r.properties {
        if crate::catalog::is_secret(&r.arm_type, k) {
            let _ = writeln!(s, "properties.{k} = {}", crate::catalog::REDACTED);
        } else {
            let _ = writeln!(s, "properties.{k} = {v}");
        }
    }
    for (k, v) in &r.attributes {
        let _ = writeln!(s, "attributes.{k} = {v}");
    }
    for k in r.sensitive.keys() {
        let _ = writeln!(s, "sensitive.{k} = (sensitive)");
    }
    s
}

/// Soft-deleted Key Vaults: name, when deleted, retention, purge protection.
pub fn soft_deleted_table(vaults: Vec<(String, SoftDeleted)>) -> Table {
    let rows = vaults.into_iter().map(|(n, sd)| {
        let purge = if sd.purge_protection { "yes" } else { "no" };
        vec![
            n,
            sd.deleted_at.to_string(),
            format!("{}d", sd.retention_days),
            purge.into(),
        ]
    });
    Table::new(&["VAULT", "DELETED", "RETENTION", "PURGE-PROTECTED"], rows)
}
