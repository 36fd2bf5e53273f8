use super::{Finding, target};
use crate::catalog;
use std::collections::BTreeSet;

use crate::model::{Address, Estate, Floor, Resource, Value};

/// Types that terminate TLS and must say which version they require.
const TLS_TYPES: &[&str] = &[
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Cache/redis",
    "Microsoft.DBforPostgreSQL/flexibleServers",
    "Microsoft.Web/sites",
];
/// Types that must refuse plain HTTP.
const HTTPS_TYPES: &[&str] = &["Microsoft.Storage/storageAccounts", "Microsoft.Web/sites"];
fn tls_ok(v: &str) -> bool {
    let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
    // "1.2", "TLS1_2", "1.3", "TLS1_3"
    matches!(digits.as_str(), "12" | "13")
}

fn literal_secrets(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Map(m) => {
            for (k, x) in m {
                let path = format!("{prefix}.{k}");
                if catalog::is_secret_name(k)
                    && let Value::String(s) = x
                    && !s.is_empty()
                    && !s.starts_with("@Microsoft.KeyVault(")
                {
                    out.push(path.clone());
                }
                literal_secrets(&path, x, out);
            }
        }
        Value::List(l) => {
            for (i, x) in l.iter().enumerate() {
                literal_secrets(&format!("{prefix}[{i}]"), x, out);
            }
        }
        _ => {}
    }
}

/// The resources a diagnostic setting sends to a Log Analytics workspace,
/// found in one pass (asking per resource made `verify` quadratic).
fn diagnosed(estate: &Estate) -> BTreeSet<&Address> {
    estate
        .of_type("Microsoft.Insights/diagnosticSettings")
        .filter(|d| {
            target(d.property("log_analytics_workspace_id")).is_some_and(|w| {
                estate
                    .resource(w)
                    .is_some_and(|wr| wr.arm_type == "Microsoft.OperationalInsights/workspaces")
            })
        })
        .filter_map(|d| target(d.property("scope")))
        .collect()
}

pub(super) fn check(estate: &Estate, floor: &Floor) -> Vec<Finding> {
    let mut out = Vec::new();
    let diagnosed = diagnosed(estate);
    let kv_days = floor.key_vault_soft_delete_days.unwrap_or(7);
    waf(estate, &mut out);
    for r in estate.resources().values() {
        // A version written (or set in the portal) as a number is still one.
        let tls = r.property("minimum_tls_version").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Float(f) => Some(format!("{f:?}")),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        });
        match tls.as_deref() {
            Some(v) if !tls_ok(v) => out.push(Finding::new(
                "security.tls",
                Some(&r.address),
                format!("minimum TLS version is `{v}`"),
                "set `minimum_tls_version = \"1.2\"`",
            )),
            None if TLS_TYPES.contains(&r.arm_type.as_str()) => {
                out.push(Finding::new(
                    "security.tls",
                    Some(&r.address),
                    "no minimum TLS version is set",
                    "set `minimum_tls_version = \"1.2\"`",
                ));
            }
            _ => {}
        }
        if HTTPS_TYPES.contains(&r.arm_type.as_str())
            && r.property("https_only") != Some(&Value::Bool(true))
        {
            out.push(Finding::new(
                "security.https-only",
                Some(&r.address),
                "plain HTTP is not refused",
                "set `https_only = true`",
            ));
        }
        if r.arm_type == "Microsoft.KeyVault/vaults" {
            if let Some(f) = key_vault_retention(r, kv_days) {
                out.push(f);
            }
            if r.property("purge_protection_enabled") != Some(&Value::Bool(true)) {
                out.push(Finding::new(
                    "security.key-vault",
                    Some(&r.address),
                    "purge protection is off",
                    "set `purge_protection_enabled = true`",
                ));
            }
            if r.property("enable_rbac_authorization") != Some(&Value::Bool(true)) {
                out.push(Finding::new(
                    "security.key-vault",
                    Some(&r.address),
                    "RBAC authorization is off (access policies)",
                    "set `enable_rbac_authorization = true`",
                ));
            }
        }
        if catalog::lookup(&r.arm_type).is_ok_and(|rt| rt.diagnostics)
            && !diagnosed.contains(&r.address)
        {
            out.push(Finding::new(
                "security.diagnostics",
                Some(&r.address),
                format!("{} `{}` sends its resource logs nowhere", r.arm_type, r.name),
                format!("add a Microsoft.Insights/diagnosticSettings with scope = \"${{{}.id}}\" and log_analytics_workspace_id = the workspace", r.address),
            ));
        }
        out.extend(per_resource(r, floor));
        let mut secrets = Vec::new();
        literal_secrets(
            "properties",
            &Value::Map(r.properties.clone()),
            &mut secrets,
        );
        for path in secrets {
            out.push(Finding::new("security.no-secret-literals", Some(&r.address), format!("`{path}` holds a literal secret"), "store the secret in Key Vault and reference it: \"@Microsoft.KeyVault(SecretUri=${<module>.<secret>.versionless_id})\""));
        }
    }
    out
}

fn key_vault_retention(r: &Resource, days: u32) -> Option<Finding> {
    let have = r
        .property("soft_delete_retention_days")
        .and_then(Value::as_int);
    if have.is_some_and(|d| d >= i64::from(days)) {
        return None;
    }
    let shown = have.map_or("not set".to_string(), |d| format!("{d} days"));
    Some(Finding::new(
        "security.key-vault",
        Some(&r.address),
        format!("soft delete retention is {shown}, under {days} days"),
        format!("set `soft_delete_retention_days = {days}`"),
    ))
}

/// Subnets Azure reserves for its own gateways, where an NSG is refused or
/// unsupported.
const NSG_EXEMPT_SUBNETS: &[&str] = &[
    "GatewaySubnet",
    "AzureFirewallSubnet",
    "AzureFirewallManagementSubnet",
    "RouteServerSubnet",
];

/// A hardening switch: on `ty`, `key` must not hold `weak`; `absent_weak`
/// when Azure's default (the property left out) is the weak setting.
struct Switch {
    ty: &'static str,
    key: &'static str,
    weak: Value,
    absent_weak: bool,
    rule: &'static str,
    what: &'static str,
    fix: &'static str,
}

/// The switches the seeds' guarantees rest on, beyond TLS, HTTPS-only and
/// Key Vault: shared keys and local accounts where managed identities are
/// the rule (seed 002 "managed identities are used for authentication
/// between services"), plain-text ports and FTP (seed 001 "HTTPS only"),
/// public blobs (seed 001 "no public storage").
fn switches() -> [Switch; 7] {
    let on = || Value::Bool(true);
    [
        Switch {
            ty: "Microsoft.ContainerRegistry/registries",
            key: "admin_enabled",
            weak: on(),
            absent_weak: false,
            rule: "security.local-auth",
            what: "the registry's admin user (a shared password) is enabled",
            fix: "set `admin_enabled = false`; pull with a managed identity (AcrPull)",
        },
        Switch {
            ty: "Microsoft.AppConfiguration/configurationStores",
            key: "local_auth_enabled",
            weak: on(),
            absent_weak: true,
            rule: "security.local-auth",
            what: "access keys are enabled (Azure's default)",
            fix: "set `local_auth_enabled = false`; read with a managed identity",
        },
        Switch {
            ty: "Microsoft.SignalRService/signalR",
            key: "local_auth_enabled",
            weak: on(),
            absent_weak: true,
            rule: "security.local-auth",
            what: "access keys are enabled (Azure's default)",
            fix: "set `local_auth_enabled = false`; sign in with a managed identity",
        },
        Switch {
            ty: "Microsoft.CognitiveServices/accounts",
            key: "local_auth_enabled",
            weak: on(),
            absent_weak: true,
            rule: "security.local-auth",
            what: "API keys are enabled (Azure's default)",
            fix: "set `local_auth_enabled = false`; call it with a managed identity",
        },
        Switch {
            ty: "Microsoft.Cache/redis",
            key: "enable_non_ssl_port",
            weak: on(),
            absent_weak: false,
            rule: "security.tls",
            what: "the plain-text port 6379 is open",
            fix: "set `enable_non_ssl_port = false`",
        },
        Switch {
            ty: "Microsoft.Web/sites",
            key: "ftps_state",
            weak: Value::String("AllAllowed".into()),
            absent_weak: false,
            rule: "security.https-only",
            what: "plain FTP deployment is allowed",
            fix: "set `ftps_state = \"Disabled\"`",
        },
        Switch {
            ty: "Microsoft.Storage/storageAccounts",
            key: "allow_nested_items_to_be_public",
            weak: on(),
            absent_weak: false,
            rule: "private.containers",
            what: "the account lets containers be made public",
            fix: "set `allow_nested_items_to_be_public = false`",
        },
    ]
}

/// Inbound rules of a network security group that let the internet in
/// beyond HTTP(S) (seed 000 "Network security groups on all subnets": a
/// group that allows everything protects nothing).
fn open_to_internet(r: &Resource) -> Vec<String> {
    let Some(rules) = r.property("security_rules").and_then(Value::as_list) else {
        return Vec::new();
    };
    let text = |v: &Value, k: &str| {
        v.get_path(k)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let mut out = Vec::new();
    for rule in rules {
        let inbound = text(rule, "direction").as_deref() == Some("inbound");
        let allow = text(rule, "access").as_deref() == Some("allow");
        let from_anywhere = matches!(
            text(rule, "source_address_prefix").as_deref(),
            Some("*" | "internet" | "0.0.0.0/0" | "any")
        );
        if !(inbound && allow && from_anywhere) {
            continue;
        }
        let mut ports: Vec<String> = rule
            .get_path("destination_port_ranges")
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = rule
            .get_path("destination_port_range")
            .and_then(Value::as_str)
        {
            ports.push(p.to_string());
        }
        let wide: Vec<String> = ports
            .into_iter()
            .filter(|p| p != "443" && p != "80")
            .collect();
        if !wide.is_empty() {
            let name = text(rule, "name").unwrap_or_default();
            out.push(format!(
                "rule `{name}` lets the internet reach port(s) {}",
                wide.join(", ")
            ));
        }
    }
    out
}

/// The one-resource checks of the security family beyond TLS, HTTPS, Key
/// Vault and diagnostics.
fn per_resource(r: &Resource, floor: &Floor) -> Vec<Finding> {
    let mut out = Vec::new();
    for sw in switches() {
        if r.arm_type != sw.ty {
            continue;
        }
        let weak = match r.property(sw.key) {
            None => sw.absent_weak,
            Some(v) => *v == sw.weak,
        };
        if weak {
            out.push(Finding::new(
                sw.rule,
                Some(&r.address),
                format!("`{}`: {}", r.name, sw.what),
                sw.fix,
            ));
        }
    }
    for why in if r.arm_type == "Microsoft.Network/networkSecurityGroups" {
        open_to_internet(r)
    } else {
        Vec::new()
    } {
        out.push(Finding::new("security.nsg", Some(&r.address), format!("network security group `{}`: {why}", r.name), "allow only 443 (and the gateway's GatewayManager ports) from the internet; reach everything else through the VNet"));
    }
    if r.arm_type == "Microsoft.ContainerService/managedClusters"
        && !matches!(
            r.property("network_policy").and_then(Value::as_str),
            Some("azure" | "calico" | "cilium")
        )
    {
        out.push(Finding::new(
            "security.nsg",
            Some(&r.address),
            format!(
                "AKS cluster `{}` has no network policy: every pod can reach every other",
                r.name
            ),
            "set `network_policy = \"azure\"` (seed 000: \"Azure CNI with network policies\")",
        ));
    }
    let mut push = |rule: &'static str, msg: String, fix: String| {
        out.push(Finding::new(rule, Some(&r.address), msg, fix));
    };
    match r.arm_type.as_str() {
        "Microsoft.Network/virtualNetworks/subnets"
            if !NSG_EXEMPT_SUBNETS.contains(&r.name.as_str())
                && r.property("network_security_group_id").is_none() =>
        {
            push(
                "security.nsg",
                format!("subnet `{}` has no network security group", r.name),
                "set `network_security_group_id = \"${<module>.<nsg>.id}\"`".into(),
            );
        }
        "Microsoft.ContainerRegistry/registries"
            if r.property("image_scanning_enabled") != Some(&Value::Bool(true)) =>
        {
            push(
                "security.image-scanning",
                format!("registry `{}` does not scan its images", r.name),
                "set `image_scanning_enabled = true` (Defender for Containers)".into(),
            );
        }
        "Microsoft.OperationalInsights/workspaces" => {
            if let Some(days) = floor.log_retention_days {
                let have = r.property("retention_in_days").and_then(Value::as_int);
                if have.is_none_or(|d| d < i64::from(days)) {
                    let shown = have.map_or("the default 30".to_string(), |d| d.to_string());
                    push(
                        "security.log-retention",
                        format!(
                            "workspace `{}` keeps logs {shown} days, under the baseline's {days}",
                            r.name
                        ),
                        format!("set `retention_in_days = {days}` (or more)"),
                    );
                }
            }
        }
        "Microsoft.KeyVault/vaults/secrets" => {
            if let Some(days) = floor.secret_rotation_days {
                let every = r.property("rotation_interval_days").and_then(Value::as_int);
                // Manual rotation only where the seed makes it so (seed 001:
                // the shared vault, "Platform Lead only, manual rotation").
                let manual = r.property("rotation").and_then(Value::as_str) == Some("manual")
                    && super::target(r.property("parent"))
                        .is_some_and(|v| floor.manual_rotation_vaults.contains(v));
                if every.is_some()
                    && let Some(notice) = floor.rotation_notice_days
                    && r.property("notify_before_expiry_days")
                        .and_then(Value::as_int)
                        .is_none_or(|n| n < i64::from(notice))
                {
                    push(
                        "security.rotation",
                        format!(
                            "secret `{}` rotates without {notice} days' notice before it expires",
                            r.name
                        ),
                        format!("set `notify_before_expiry_days = {notice}`"),
                    );
                }
                match every {
                    Some(d) if d > 0 && d <= i64::from(days) => {}
                    Some(d) => push(
                        "security.rotation",
                        format!(
                            "secret `{}` rotates every {d} days, over the baseline's {days}",
                            r.name
                        ),
                        format!("set `rotation_interval_days = {days}` (or fewer)"),
                    ),
                    None if manual => {}
                    None => push(
                        "security.rotation",
                        format!("secret `{}` has no rotation policy", r.name),
                        format!(
                            "set `rotation_interval_days = {days}`, or `rotation = \"manual\"` where the seed makes the vault's rotation manual"
                        ),
                    ),
                }
            }
        }
        _ => {}
    }
    out
}

/// WAF policies that block with an OWASP rule set, and WAF gateways that
/// use one (seed 000 "Application Gateway with WAF", seed 004 "OWASP Top 10").
fn waf(estate: &Estate, out: &mut Vec<Finding>) {
    const POLICY: &str = "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies";
    for p in estate.of_type(POLICY) {
        let mode = p.property("mode").and_then(Value::as_str);
        if mode != Some("Prevention") {
            out.push(Finding::new(
                "security.waf",
                Some(&p.address),
                format!(
                    "WAF policy `{}` is in {} mode: it logs attacks but lets them through",
                    p.name,
                    mode.unwrap_or("the default Detection")
                ),
                "set `mode = \"Prevention\"`",
            ));
        }
        let owasp = p
            .property("managed_rule_sets")
            .and_then(Value::as_list)
            .is_some_and(|sets| {
                sets.iter().any(|set| {
                    set.get_path("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| {
                            t.eq_ignore_ascii_case("OWASP") || t == "Microsoft_DefaultRuleSet"
                        })
                })
            });
        if !owasp {
            out.push(Finding::new(
                "security.waf",
                Some(&p.address),
                format!("WAF policy `{}` has no OWASP managed rule set", p.name),
                "add `managed_rule_sets = [{ type = \"OWASP\", version = \"3.2\" }]`",
            ));
        }
    }
    for g in estate.of_type("Microsoft.Network/applicationGateways") {
        let waf_sku = g
            .property("sku")
            .and_then(|s| {
                s.as_str()
                    .or_else(|| s.get_path("name").and_then(Value::as_str))
            })
            .or_else(|| g.property("sku_name").and_then(Value::as_str))
            .is_some_and(|s| s.starts_with("WAF"));
        let policy = target(g.property("firewall_policy_id"))
            .and_then(|a| estate.resource(a))
            .is_some_and(|p| p.arm_type == POLICY);
        if waf_sku && !policy {
            out.push(Finding::new(
                "security.waf",
                Some(&g.address),
                format!("gateway `{}` has a WAF SKU but no WAF policy", g.name),
                "set `firewall_policy_id = \"${<module>.<waf_policy>.id}\"`",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions() {
        for ok in ["1.2", "TLS1_2", "1.3", "TLS1_3"] {
            assert!(tls_ok(ok), "{ok}");
        }
        for bad in ["1.0", "TLS1_0", "1.1", ""] {
            assert!(!tls_ok(bad), "{bad}");
        }
        assert!(crate::catalog::is_secret_name("administrator_password"));
        assert!(!crate::catalog::is_secret_name(
            "administrator_password_secret_id"
        ));
        assert!(!crate::catalog::is_secret_name("shared_access_key_enabled"));
    }
}
