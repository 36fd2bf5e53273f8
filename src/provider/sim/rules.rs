//! The checks the simulated control plane makes before it accepts a write,
//! modelled on what Azure Resource Manager rejects. They are what makes an
//! ordering bug visible: a resource written before something it needs gets
//! an ARM-style error instead of quietly succeeding.

use std::collections::{BTreeMap, BTreeSet};

use super::SimRecord;
use crate::catalog::ResourceType;
use crate::model::Value;
use crate::provider::{ProviderError, ResolvedResource};

/// Indexes over the simulated resources that the rules consult.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// Principal ids of identities that exist (managed identities, cluster
    /// and kubelet identities, site identities).
    pub principals: BTreeSet<String>,
    /// (zone id, vnet id) pairs linked by a private DNS zone link.
    pub links: BTreeSet<(String, String)>,
    /// Key Vault secret ids of certificates and secrets that exist.
    pub vault_secrets: BTreeSet<String>,
    /// (principal id, scope id, role name) of role assignments.
    pub roles: BTreeSet<(String, String, String)>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Index {
    /// Adds what one record contributes.
    pub fn add(&mut self, r: &SimRecord, attrs: &BTreeMap<String, Value>) {
        for key in ["principal_id", "kubelet_identity_object_id"] {
            if let Some(p) = attrs.get(key).and_then(Value::as_str) {
                self.principals.insert(lower(p));
            }
        }
        let prop = |k: &str| r.properties.get(k).and_then(Value::as_str).map(lower);
        match r.arm_type.as_str() {
            "Microsoft.Network/privateDnsZones/virtualNetworkLinks" => {
                if let (Some(zone), Some(vnet)) = (prop("parent"), prop("virtual_network_id")) {
                    self.links.insert((zone, vnet));
                }
            }
            "Microsoft.KeyVault/vaults/certificates" | "Microsoft.KeyVault/vaults/secrets" => {
                for k in ["secret_id", "versionless_secret_id", "versionless_id"] {
                    if let Some(s) = attrs.get(k).and_then(Value::as_str) {
                        self.vault_secrets.insert(lower(s));
                    }
                }
            }
            "Microsoft.Authorization/roleAssignments" => {
                if let (Some(p), Some(scope), Some(role)) = (
                    prop("principal_id"),
                    prop("scope"),
                    prop("role_definition_name"),
                ) {
                    self.roles.insert((p, scope, role));
                }
            }
            _ => {}
        }
    }
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::List(l) => l.iter().for_each(|x| strings(x, out)),
        Value::Map(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Checks a write of `r` (ARM id `id`) against what exists.
pub fn check_put(
    r: &ResolvedResource,
    rt: &ResourceType,
    records: &BTreeMap<String, SimRecord>,
    index: &Index,
) -> Result<(), ProviderError> {
    let exists = |x: &str| records.contains_key(&lower(x.trim_end_matches('/')));
    // The resource group, parent and scope the id is built from.
    if rt.arm_type != "Microsoft.Resources/resourceGroups"
        && rt.id_template.contains("{resource_group}")
    {
        let rg = r
            .properties
            .get("resource_group")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let rg_id = format!("/subscriptions/{}/resourceGroups/{rg}", r.subscription);
        if !exists(&rg_id) {
            return Err(ProviderError::fatal(
                "ResourceGroupNotFound",
                format!(
                    "Resource group '{rg}' could not be found (creating {} `{}`).",
                    rt.arm_type, r.name
                ),
            ));
        }
    }
    for (p, code) in [
        ("parent", "ParentResourceNotFound"),
        ("scope", "InvalidScope"),
    ] {
        if rt.id_template.contains(&format!("{{{p}}}")) {
            let target = r
                .properties
                .get(p)
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !exists(target) {
                return Err(ProviderError::fatal(
                    code,
                    format!(
                        "Can not perform requested operation on {} `{}` because its {p} '{target}' was not found.",
                        rt.arm_type, r.name
                    ),
                ));
            }
        }
    }
    // Every other linked resource id must exist.
    for (k, v) in &r.properties {
        if matches!(k.as_str(), "parent" | "scope" | "resource_group") {
            continue;
        }
        let mut found = Vec::new();
        strings(v, &mut found);
        for s in found {
            if s.starts_with("/subscriptions/") && !exists(s) {
                return Err(ProviderError::fatal(
                    "LinkedResourceNotFound",
                    format!(
                        "{} `{}`: property `{k}` refers to '{s}', which was not found.",
                        rt.arm_type, r.name
                    ),
                ));
            }
        }
    }
    // A role assignment needs its principal. Users and groups live in Entra
    // ID, outside the simulated control plane, so only service principals
    // (managed identities) are checked.
    let directory_object = r
        .properties
        .get("principal_type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("User") || t.eq_ignore_ascii_case("Group"));
    if let Some(p) = r.properties.get("principal_id").and_then(Value::as_str)
        && rt.arm_type == "Microsoft.Authorization/roleAssignments"
        && !directory_object
        && !index.principals.contains(&lower(p))
    {
        return Err(ProviderError::fatal(
            "PrincipalNotFound",
            format!(
                "Principal {p} does not exist in the directory (role assignment `{}`).",
                r.name
            ),
        ));
    }
    // A private endpoint needs its zone linked to the VNet of its subnet.
    if rt.arm_type == "Microsoft.Network/privateEndpoints" {
        let subnet = lower(
            r.properties
                .get("subnet_id")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let vnet = subnet
            .split("/subnets/")
            .next()
            .unwrap_or_default()
            .to_string();
        let mut zones = Vec::new();
        if let Some(z) = r.properties.get("private_dns_zone_ids") {
            strings(z, &mut zones);
        }
        for z in zones {
            if !index.links.contains(&(lower(z), vnet.clone())) {
                return Err(ProviderError::fatal(
                    "PrivateDnsZoneNotLinked",
                    format!(
                        "Private endpoint `{}`: private DNS zone '{z}' is not linked to virtual network '{vnet}'; create the virtual network link first.",
                        r.name
                    ),
                ));
            }
        }
    }
    // An Application Gateway needs its Key Vault certificate, and an identity allowed to read it.
    if rt.arm_type == "Microsoft.Network/applicationGateways" {
        let mut secret_ids = Vec::new();
        if let Some(c) = r.properties.get("ssl_certificates") {
            strings(c, &mut secret_ids);
        }
        let identities: Vec<&str> = {
            let mut v = Vec::new();
            if let Some(i) = r.properties.get("identity_ids") {
                strings(i, &mut v);
            }
            v
        };
        for sid in secret_ids
            .into_iter()
            .filter(|s| s.contains(".vault.azure.net/"))
        {
            if !index.vault_secrets.contains(&lower(sid)) {
                return Err(ProviderError::fatal(
                    "ApplicationGatewayKeyVaultSecretNotFound",
                    format!(
                        "Application Gateway `{}`: Key Vault secret '{sid}' was not found.",
                        r.name
                    ),
                ));
            }
            let vault = sid
                .split("://")
                .nth(1)
                .and_then(|h| h.split('.').next())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let allowed = identities.iter().any(|ident| {
                let principal = records
                    .get(&lower(ident))
                    .and_then(|rec| rec.principal.clone())
                    .unwrap_or_default();
                index.roles.iter().any(|(p, scope, role)| {
                    *p == lower(&principal)
                        && scope.contains(&format!("/vaults/{vault}"))
                        && matches!(
                            role.as_str(),
                            "key vault secrets user"
                                | "key vault administrator"
                                | "key vault certificate user"
                        )
                })
            });
            if !allowed {
                return Err(ProviderError::fatal(
                    "ApplicationGatewayKeyVaultSecretAccessDenied",
                    format!(
                        "Application Gateway `{}`: none of its identities may read secrets of vault '{vault}'; assign `Key Vault Secrets User` first.",
                        r.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The ids of a resource's subtree: itself and its children, recursively
/// (records whose `parent` is in the subtree). ARM deletes children with
/// their parent.
pub fn subtree(id: &str, records: &BTreeMap<String, SimRecord>) -> Vec<String> {
    let mut out = vec![lower(id)];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].clone();
        for (k, rec) in records {
            if rec
                .properties
                .get("parent")
                .and_then(Value::as_str)
                .is_some_and(|p| lower(p) == parent)
                && !out.contains(k)
            {
                out.push(k.clone());
            }
        }
        i += 1;
    }
    out
}

/// Checks a delete: nothing outside the resource's subtree may still use it
/// or one of its children as a scope, a resource group or a linked resource
/// (the dependent must be deleted first). A delete that makes way for a
/// restore skips this: what links to it reconnects to the same id.
pub fn check_delete(id: &str, records: &BTreeMap<String, SimRecord>) -> Result<(), ProviderError> {
    let tree = subtree(id, records);
    let rg_name = records
        .get(&lower(id))
        .filter(|r| r.arm_type == "Microsoft.Resources/resourceGroups")
        .map(|r| lower(&r.name));
    for (k, rec) in records {
        if tree.contains(k) {
            continue;
        }
        if let Some(rg) = &rg_name
            && rec
                .properties
                .get("resource_group")
                .and_then(Value::as_str)
                .is_some_and(|g| lower(g) == *rg)
        {
            return Err(ProviderError::fatal(
                "ResourceGroupNotEmpty",
                format!(
                    "Cannot delete resource group '{rg}': it still contains {} `{}`.",
                    rec.arm_type, rec.name
                ),
            ));
        }
        let mut found = Vec::new();
        for v in rec.properties.values() {
            strings(v, &mut found);
        }
        if let Some(used) = found
            .into_iter()
            .find(|s| tree.contains(&lower(s.trim_end_matches('/'))))
        {
            return Err(ProviderError::fatal(
                "ResourceInUse",
                format!(
                    "Cannot delete '{id}': {} `{}` still uses '{used}'; delete or update it first.",
                    rec.arm_type, rec.name
                ),
            ));
        }
    }
    Ok(())
}
