//! The read-only attributes the simulated cloud computes, shaped like the
//! real ones (host names under the right Azure domains, GUIDs for principal
//! ids). Values are derived from the resource id, so they are stable across
//! runs; secrets are derived too, so the simulator never stores one.

use std::collections::BTreeMap;

use crate::catalog::ResourceType;
use crate::model::{Digest, Secret, Value};

fn guid(seed: &str) -> String {
    let h = Digest::of(seed.as_bytes()).to_hex();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn short(seed: &str, n: usize) -> String {
    Digest::of(seed.as_bytes()).to_hex()[..n].to_string()
}

fn prop(props: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    props.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

/// The vault name of a Key Vault child id (`.../vaults/<name>/secrets/x`).
fn vault_of(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    lower
        .split("/vaults/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("vault")
        .to_string()
}

/// Non-sensitive computed attributes (except `id`) and sensitive ones, for a
/// resource of type `rt` with this id, name and properties.
pub fn computed(
    rt: &ResourceType,
    id: &str,
    name: &str,
    props: &BTreeMap<String, Value>,
) -> (BTreeMap<String, Value>, BTreeMap<String, Secret>) {
    let mut attrs = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    let location = prop(props, "location").unwrap_or_else(|| "eastus".into());
    let t = rt.arm_type;
    for attr in rt.computed.iter().filter(|a| **a != "id") {
        let seed = format!("{}#{attr}", id.to_ascii_lowercase());
        if rt.is_sensitive(attr) {
            let key = format!(
                "{}{}",
                short(&format!("{seed}#a"), 32),
                short(&format!("{seed}#b"), 12)
            );
            let value = if attr.contains("connection_string") {
                format!("Endpoint={name};AccountKey={key}")
            } else {
                key
            };
            secrets.insert(attr.to_string(), Secret::Plain(value));
            continue;
        }
        let v: Value = match *attr {
            "fqdn" if t.contains("DBforPostgreSQL") => {
                format!("{name}.postgres.database.azure.com").into()
            }
            "fqdn" if t.contains("trafficManager") => format!(
                "{}.trafficmanager.net",
                prop(props, "relative_name").unwrap_or_else(|| name.into())
            )
            .into(),
            "fqdn" if t.contains("publicIPAddresses") => {
                format!("{name}.{location}.cloudapp.azure.com").into()
            }
            "fqdn" if t.contains("Cdn") => format!("{name}.azureedge.net").into(),
            "fqdn" => format!("{name}.azure.example").into(),
            "hostname" if t.contains("Cache") => format!("{name}.redis.cache.windows.net").into(),
            "hostname" if t.contains("SignalR") => format!("{name}.service.signalr.net").into(),
            "private_fqdn" => format!(
                "{}-{}.privatelink.{location}.azmk8s.io",
                prop(props, "dns_prefix").unwrap_or_else(|| name.into()),
                short(&seed, 8)
            )
            .into(),
            "vault_uri" => format!("https://{name}.vault.azure.net/").into(),
            "secret_id" | "id_with_version" => format!(
                "https://{}.vault.azure.net/secrets/{name}/{}",
                vault_of(id),
                short(&seed, 32)
            )
            .into(),
            "versionless_secret_id" | "versionless_id" => {
                let kind = if t.ends_with("/keys") {
                    "keys"
                } else {
                    "secrets"
                };
                format!("https://{}.vault.azure.net/{kind}/{name}", vault_of(id)).into()
            }
            "version" => short(&seed, 32).into(),
            "thumbprint" => short(&seed, 40).to_ascii_uppercase().into(),
            "login_server" => format!("{name}.azurecr.io").into(),
            "default_hostname" => format!("{name}.azurewebsites.net").into(),
            "default_host_name" => format!("{name}.azurestaticapps.net").into(),
            "endpoint" if t.contains("CognitiveServices") => {
                format!("https://{name}.openai.azure.com/").into()
            }
            "endpoint" if t.contains("DocumentDB") => {
                format!("https://{name}.documents.azure.com:443/").into()
            }
            "endpoint" if t.contains("AppConfiguration") => {
                format!("https://{name}.azconfig.io").into()
            }
            "endpoint" => format!("https://{name}.azure.example/").into(),
            "primary_blob_endpoint" => format!("https://{name}.blob.core.windows.net/").into(),
            "workspace_url" => format!(
                "adb-{}.azuredatabricks.net",
                u64::from_str_radix(&short(&seed, 12), 16).unwrap_or(1)
            )
            .into(),
            "oidc_issuer_url" => format!(
                "https://{location}.oic.prod-aks.azure.com/{}/{}/",
                guid(&format!("{seed}#t")),
                guid(&seed)
            )
            .into(),
            "node_resource_group" => format!(
                "MC_{}_{name}_{location}",
                prop(props, "resource_group").unwrap_or_default()
            )
            .into(),
            "latest_revision_fqdn" | "default_domain" => format!(
                "{name}.{}.{location}.azurecontainerapps.io",
                short(&seed, 10)
            )
            .into(),
            "ip_address" | "static_ip_address" => {
                let d = Digest::of(seed.as_bytes()).0;
                format!("20.{}.{}.{}", d[0], d[1], d[2].max(1)).into()
            }
            "private_ip_address" => {
                let d = Digest::of(seed.as_bytes()).0;
                format!("10.{}.{}.{}", d[0] % 200, d[1], d[2].max(4)).into()
            }
            "ssl_port" => Value::Int(6380),
            "number_of_record_sets" => Value::Int(1),
            "network_interface_id" => format!("{id}/networkInterfaces/nic").into(),
            "principal_type" => "ServicePrincipal".into(),
            "outbound_ip_addresses" => "20.1.2.3,20.1.2.4".into(),
            "backend_address_pools" => Value::List(vec!["appGatewayBackendPool".into()]),
            "workspace_id" if t.contains("Databricks") => {
                u64::from_str_radix(&short(&seed, 12), 16)
                    .unwrap_or(1)
                    .to_string()
                    .into()
            }
            a if a.ends_with("_id") || a == "guid" => guid(&seed).into(),
            other => format!("{other}-{}", short(&seed, 8)).into(),
        };
        attrs.insert(attr.to_string(), v);
    }
    (attrs, secrets)
}
