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
    "Microsoft.Web/sites/slots",
];
/// Types that must refuse plain HTTP.
const HTTPS_TYPES: &[&str] = &[
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Web/sites",
    "Microsoft.Web/sites/slots",
];
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

/// Credentials written into text, whatever the key is called: connection
/// strings with a key or password, URLs with a user and password.
fn credential_in(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    if [
        "accountkey=",
        "accesskey=",
        "sharedaccesskey=",
        "password=",
        "pwd=",
    ]
    .iter()
    .any(|k| t.contains(k))
    {
        return true;
    }
    // scheme://user:password@host
    t.split("://").skip(1).any(|rest| {
        let auth = rest.split(['/', '?', '#']).next().unwrap_or_default();
        auth.split_once('@')
            .is_some_and(|(cred, _)| cred.contains(':') && !cred.ends_with(':'))
    })
}

/// Secrets that reach a resource's configuration outside Key Vault:
/// credentials in literal text, and references to another resource's
/// sensitive attributes (its keys, connection strings), which would be
/// copied in clear. A Key Vault secret's own value is where they belong.
fn embedded_secrets(estate: &Estate, r: &Resource) -> Vec<String> {
    let mut out = Vec::new();
    let vault_secret = r.arm_type == "Microsoft.KeyVault/vaults/secrets";
    for (k, v) in &r.properties {
        let mut texts: Vec<&str> = Vec::new();
        collect_text(v, &mut texts);
        if texts.iter().any(|t| credential_in(t)) {
            out.push(format!("`{k}` holds a credential in its text"));
        }
        if vault_secret {
            continue;
        }
        v.for_each_ref(&mut |x| {
            let sensitive = estate
                .resource(&x.address)
                .and_then(|t| catalog::lookup(&t.arm_type).ok())
                .is_some_and(|rt| rt.sensitive.contains(&x.attr.as_str()));
            if sensitive {
                out.push(format!(
                    "`{k}` copies `{}.{}`, a secret, into plain configuration",
                    x.address, x.attr
                ));
            }
        });
    }
    out
}

/// Every literal text inside a value (strings and the text of templates).
fn collect_text<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Template(segs) => {
            for s in segs {
                if let crate::model::Segment::Lit(t) = s {
                    out.push(t);
                }
            }
        }
        Value::List(l) => l.iter().for_each(|x| collect_text(x, out)),
        Value::Map(m) => m.values().for_each(|x| collect_text(x, out)),
        _ => {}
    }
}

/// The resources a diagnostic setting sends to a Log Analytics workspace,
/// found in one pass (asking per resource made `verify` quadratic).
fn diagnosed(estate: &Estate) -> BTreeSet<&Address> {
    estate
        .of_type("Microsoft.Insights/diagnosticSettings")
        .filter(|d| {
            // A setting that sends no log category sends nothing.
            let logs = ["log_category_groups", "log_categories", "logs"]
                .iter()
                .any(|k| {
                    d.property(k)
                        .and_then(Value::as_list)
                        .is_some_and(|l| !l.is_empty())
                });
            logs && target(d.property("log_analytics_workspace_id")).is_some_and(|w| {
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
    let gateway_nsgs = gateway_nsgs(estate);
    let attached: BTreeSet<&Address> = estate
        .of_type("Microsoft.Network/virtualNetworks/subnets")
        .filter_map(|s| target(s.property("network_security_group_id")))
        .collect();
    least_privilege(estate, &mut out);
    for r in estate.resources().values() {
        if r.arm_type == "Microsoft.Network/networkSecurityGroups" {
            if !attached.contains(&r.address) {
                out.push(Finding::new("security.nsg", Some(&r.address), format!("network security group `{}` protects no subnet: the subnet it was made for has lost it", r.name), "point the subnet's `network_security_group_id` back at it (or delete it)"));
            }
            for why in open_to_internet(r, gateway_nsgs.contains(&r.address)) {
                out.push(Finding::new("security.nsg", Some(&r.address), format!("network security group `{}`: {why}", r.name), "let the internet reach only the gateway's subnet, on 443 (and its GatewayManager ports); reach everything else from the VNet"));
            }
        }
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
        if let Some(v) = r
            .property("scm_minimum_tls_version")
            .and_then(Value::as_str)
            && !tls_ok(v)
        {
            out.push(Finding::new(
                "security.tls",
                Some(&r.address),
                format!("the deployment endpoint accepts TLS {v}"),
                "set `scm_minimum_tls_version = \"1.2\"`",
            ));
        }
        if r.arm_type == "Microsoft.App/containerApps"
            && r.property("ingress.allow_insecure_connections") == Some(&Value::Bool(true))
        {
            out.push(Finding::new(
                "security.https-only",
                Some(&r.address),
                format!("container app `{}` accepts plain HTTP", r.name),
                "set `allow_insecure_connections = false` in its ingress",
            ));
        }
        let mut secrets = Vec::new();
        literal_secrets(
            "properties",
            &Value::Map(r.properties.clone()),
            &mut secrets,
        );
        for why in embedded_secrets(estate, r) {
            out.push(Finding::new("security.no-secret-literals", Some(&r.address), why, "store the secret in Key Vault and reference it: \"@Microsoft.KeyVault(SecretUri=${<module>.<secret>.versionless_id})\""));
        }
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
    weak: Weak,
    absent_weak: bool,
    rule: &'static str,
    what: &'static str,
    fix: &'static str,
}

/// The weak setting of a [`Switch`]: a flag value or a text.
enum Weak {
    Flag(bool),
    Text(&'static str),
}

impl Weak {
    fn is(&self, v: &Value) -> bool {
        match self {
            Weak::Flag(b) => *v == Value::Bool(*b),
            Weak::Text(t) => v.as_str() == Some(t),
        }
    }
}

/// The switches the seeds' guarantees rest on, beyond TLS, HTTPS-only and
/// Key Vault: shared keys and local accounts where managed identities are
/// the rule (seed 002 "managed identities are used for authentication
/// between services"), plain-text ports and FTP (seed 001 "HTTPS only"),
/// public blobs (seed 001 "no public storage").
const SWITCHES: &[Switch] = &[
    Switch {
        ty: "Microsoft.ContainerRegistry/registries",
        key: "admin_enabled",
        weak: Weak::Flag(true),
        absent_weak: false,
        rule: "security.local-auth",
        what: "the registry's admin user (a shared password) is enabled",
        fix: "set `admin_enabled = false`; pull with a managed identity (AcrPull)",
    },
    Switch {
        ty: "Microsoft.AppConfiguration/configurationStores",
        key: "local_auth_enabled",
        weak: Weak::Flag(true),
        absent_weak: true,
        rule: "security.local-auth",
        what: "access keys are enabled (Azure's default)",
        fix: "set `local_auth_enabled = false`; read with a managed identity",
    },
    Switch {
        ty: "Microsoft.SignalRService/signalR",
        key: "local_auth_enabled",
        weak: Weak::Flag(true),
        absent_weak: true,
        rule: "security.local-auth",
        what: "access keys are enabled (Azure's default)",
        fix: "set `local_auth_enabled = false`; sign in with a managed identity",
    },
    Switch {
        ty: "Microsoft.CognitiveServices/accounts",
        key: "local_auth_enabled",
        weak: Weak::Flag(true),
        absent_weak: true,
        rule: "security.local-auth",
        what: "API keys are enabled (Azure's default)",
        fix: "set `local_auth_enabled = false`; call it with a managed identity",
    },
    Switch {
        ty: "Microsoft.Cache/redis",
        key: "enable_non_ssl_port",
        weak: Weak::Flag(true),
        absent_weak: false,
        rule: "security.tls",
        what: "the plain-text port 6379 is open",
        fix: "set `enable_non_ssl_port = false`",
    },
    Switch {
        ty: "Microsoft.Web/sites",
        key: "ftps_state",
        weak: Weak::Text("AllAllowed"),
        absent_weak: true,
        rule: "security.https-only",
        what: "plain FTP deployment is allowed",
        fix: "set `ftps_state = \"Disabled\"`",
    },
    Switch {
        ty: "Microsoft.Storage/storageAccounts",
        key: "allow_nested_items_to_be_public",
        weak: Weak::Flag(true),
        absent_weak: true,
        rule: "private.containers",
        what: "the account lets containers be made public",
        fix: "set `allow_nested_items_to_be_public = false`",
    },
    Switch {
        ty: "Microsoft.Web/sites/slots",
        key: "ftps_state",
        weak: Weak::Text("AllAllowed"),
        absent_weak: true,
        rule: "security.https-only",
        what: "plain FTP deployment is allowed (ARM's default when `ftps_state` is left out)",
        fix: "set `ftps_state = \"Disabled\"`",
    },
    Switch {
        ty: "Microsoft.Cdn/profiles/endpoints",
        key: "is_http_allowed",
        weak: Weak::Flag(true),
        absent_weak: true,
        rule: "security.https-only",
        what: "the CDN endpoint serves plain HTTP (the default)",
        fix: "set `is_http_allowed = false`",
    },
    Switch {
        ty: "Microsoft.ContainerRegistry/registries",
        key: "anonymous_pull_enabled",
        weak: Weak::Flag(true),
        absent_weak: false,
        rule: "private.public-access",
        what: "anyone may pull images without signing in",
        fix: "remove `anonymous_pull_enabled` (off by default)",
    },
    Switch {
        ty: "Microsoft.Storage/storageAccounts",
        key: "shared_access_key_enabled",
        weak: Weak::Flag(true),
        absent_weak: false,
        rule: "security.local-auth",
        what: "shared access keys are switched on",
        fix: "set `shared_access_key_enabled = false`; use a managed identity",
    },
    Switch {
        ty: "Microsoft.ContainerService/managedClusters",
        key: "local_account_disabled",
        weak: Weak::Flag(false),
        absent_weak: false,
        rule: "security.local-auth",
        what: "the cluster's local admin account is enabled",
        fix: "set `local_account_disabled = true` (Entra ID sign-in only)",
    },
    Switch {
        ty: "Microsoft.ContainerService/managedClusters",
        key: "role_based_access_control_enabled",
        weak: Weak::Flag(false),
        absent_weak: false,
        rule: "security.local-auth",
        what: "Kubernetes RBAC is switched off",
        fix: "remove `role_based_access_control_enabled = false`",
    },
    Switch {
        ty: "Microsoft.Insights/components",
        key: "local_authentication_disabled",
        weak: Weak::Flag(false),
        absent_weak: false,
        rule: "security.local-auth",
        what: "instrumentation keys are accepted (local authentication on)",
        fix: "set `local_authentication_disabled = true`; send telemetry with Entra ID",
    },
    Switch {
        ty: "Microsoft.DBforPostgreSQL/flexibleServers",
        key: "active_directory_auth_enabled",
        weak: Weak::Flag(false),
        absent_weak: false,
        rule: "security.local-auth",
        what: "Entra ID sign-in is switched off (seed 003: \"Enable Azure AD authentication for all services\")",
        fix: "set `active_directory_auth_enabled = true`",
    },
    Switch {
        ty: "Microsoft.ContainerService/managedClusters",
        key: "private_cluster_public_fqdn_enabled",
        weak: Weak::Flag(true),
        absent_weak: false,
        rule: "private.aks",
        what: "the private cluster's API server name resolves publicly",
        fix: "remove `private_cluster_public_fqdn_enabled` (off by default)",
    },
];

/// Inbound rules of a network security group that let the internet in
/// beyond HTTP(S) (seed 000 "Network security groups on all subnets": a
/// group that allows everything protects nothing).
fn open_to_internet(r: &Resource, on_gateway_subnet: bool) -> Vec<String> {
    let Some(rules) = r.property("security_rules").and_then(Value::as_list) else {
        return Vec::new();
    };
    let text = |v: &Value, k: &str| {
        v.get_path(k)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let list = |v: &Value, one: &str, many: &str| -> Vec<String> {
        let mut out: Vec<String> = v
            .get_path(many)
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = v.get_path(one).and_then(Value::as_str) {
            out.push(p.to_string());
        }
        out
    };
    let mut out = Vec::new();
    for rule in rules {
        let inbound = text(rule, "direction").as_deref() == Some("inbound");
        let allow = text(rule, "access").as_deref() == Some("allow");
        if !(inbound && allow) {
            continue;
        }
        let sources = list(rule, "source_address_prefix", "source_address_prefixes");
        let outside: Vec<&String> = sources.iter().filter(|s| !inside(s)).collect();
        if outside.is_empty() {
            continue;
        }
        let ports = list(rule, "destination_port_range", "destination_port_ranges");
        let web_only = !ports.is_empty() && ports.iter().all(|p| p == "443" || p == "80");
        let name = text(rule, "name").unwrap_or_default();
        let from = outside
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if !web_only {
            out.push(format!(
                "rule `{name}` lets {from} reach port(s) {}",
                ports.join(", ")
            ));
        } else if !on_gateway_subnet {
            out.push(format!(
                "rule `{name}` lets {from} reach a subnet that is not the gateway's"
            ));
        }
    }
    out
}

/// Sources inside the estate's network: the VNet, Azure's load balancer
/// and gateway manager, private (RFC 1918) ranges.
fn inside(source: &str) -> bool {
    let s = source.to_ascii_lowercase();
    if matches!(
        s.as_str(),
        "virtualnetwork" | "azureloadbalancer" | "gatewaymanager"
    ) {
        return true;
    }
    let Some((ip, len)) = s.split_once('/') else {
        return false;
    };
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    let len: u8 = len.parse().unwrap_or(0);
    match octets.as_slice() {
        [10, ..] => len >= 8,
        [172, b, ..] => (16..=31).contains(b) && len >= 12,
        [192, 168, ..] => len >= 16,
        _ => false,
    }
}

/// The network security groups of subnets an Application Gateway sits in:
/// the only ones the internet may reach (on 443).
fn gateway_nsgs(estate: &Estate) -> BTreeSet<Address> {
    estate
        .of_type("Microsoft.Network/applicationGateways")
        .filter_map(|g| target(g.property("subnet_id")))
        .filter_map(|s| estate.resource(s))
        .filter_map(|s| target(s.property("network_security_group_id")))
        .cloned()
        .collect()
}

/// The one-resource checks of the security family beyond TLS, HTTPS, Key
/// Vault and diagnostics.
fn per_resource(r: &Resource, floor: &Floor) -> Vec<Finding> {
    let mut out = Vec::new();
    for sw in SWITCHES {
        if r.arm_type != sw.ty {
            continue;
        }
        let weak = match r.property(sw.key) {
            None => sw.absent_weak,
            Some(v) => sw.weak.is(v),
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
        "Microsoft.KeyVault/vaults/certificates"
            if r.property("key_size")
                .and_then(Value::as_int)
                .is_some_and(|k| k < 2048) =>
        {
            push(
                "security.tls",
                format!("certificate `{}` uses an RSA key under 2048 bits", r.name),
                "set `key_size = 2048` (or more)".into(),
            );
        }
        "Microsoft.App/containerApps" => {
            for sec in r
                .property("secrets")
                .and_then(Value::as_list)
                .into_iter()
                .flatten()
            {
                if sec.get_path("value").is_some() {
                    let name = sec.get_path("name").and_then(Value::as_str).unwrap_or("?");
                    push(
                        "security.no-secret-literals",
                        format!("container app `{}` holds secret `{name}` inline", r.name),
                        "reference it from Key Vault: `key_vault_secret_id = \"${<module>.<secret>.versionless_id}\"` with an identity".into(),
                    );
                }
            }
        }
        "Microsoft.OperationalInsights/workspaces" => {
            if r.property("sku")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("Free"))
            {
                push(
                    "security.log-retention",
                    format!(
                        "workspace `{}` is on the Free tier: 7 days of retention and a daily cap",
                        r.name
                    ),
                    "use `sku = \"PerGB2018\"`".into(),
                );
            }
            if r.property("daily_quota_gb")
                .is_some_and(|q| !matches!(q, Value::Int(-1)))
            {
                push(
                    "security.log-retention",
                    format!(
                        "workspace `{}` has a daily cap: logs past it are dropped",
                        r.name
                    ),
                    "remove `daily_quota_gb` (or set it to -1)".into(),
                );
            }
            if let Some(days) = floor.log_archive_days {
                let have = r
                    .property("total_retention_in_days")
                    .and_then(Value::as_int);
                if have.is_none_or(|d| d < i64::from(days)) {
                    push(
                        "security.log-retention",
                        format!(
                            "workspace `{}` archives logs {} days, under the baseline's {days}",
                            r.name,
                            have.unwrap_or(0)
                        ),
                        format!("set `total_retention_in_days = {days}`"),
                    );
                }
            }
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
        waf_policy_settings(p, out);
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
        for (list, what) in [
            ("http_listeners", "listener"),
            ("backend_http_settings", "backend"),
        ] {
            for l in g
                .property(list)
                .and_then(Value::as_list)
                .into_iter()
                .flatten()
            {
                if l.get_path("protocol")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.eq_ignore_ascii_case("Http"))
                {
                    let name = l.get_path("name").and_then(Value::as_str).unwrap_or("?");
                    out.push(Finding::new(
                        "security.https-only",
                        Some(&g.address),
                        format!("gateway `{}`: {what} `{name}` speaks plain HTTP", g.name),
                        "use `protocol = \"Https\"` (port 443) with a certificate",
                    ));
                }
            }
        }
        if let Some(v) = g
            .property("ssl_policy.minimum_tls_version")
            .and_then(Value::as_str)
            && !tls_ok(v)
        {
            out.push(Finding::new("security.tls", Some(&g.address), format!("gateway `{}` accepts TLS {v}", g.name), "use `ssl_policy = { policy_type = \"Predefined\", policy_name = \"AppGwSslPolicy20220101\", minimum_tls_version = \"1.2\" }`"));
        }
        if let Some(n) = g.property("ssl_policy.policy_name").and_then(Value::as_str)
            && (n.contains("2015") || n.contains("2017"))
        {
            out.push(Finding::new(
                "security.tls",
                Some(&g.address),
                format!(
                    "gateway `{}` uses the SSL policy {n}, which allows TLS 1.0",
                    g.name
                ),
                "use `AppGwSslPolicy20220101` (TLS 1.2 and later)",
            ));
        }
        if !waf_sku {
            out.push(Finding::new("security.waf", Some(&g.address), format!("gateway `{}` has no WAF (a Standard SKU)", g.name), "use `sku_name = \"WAF_v2\"` and `sku_tier = \"WAF_v2\"` with a WAF policy (seed 004: \"WAF: OWASP Top 10 protection\")"));
        }
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

/// Roles that hand over the whole scope, access control included.
const OWNER_ROLES: &[&str] = &["Owner", "User Access Administrator"];

/// Role assignments no wider than the job: no owner roles, and no data or
/// secret roles on a whole resource group (seed 001 "Least-privilege access
/// for all resources and identities"; seed 003 "Implement least privilege
/// access control for all resources").
fn least_privilege(estate: &Estate, out: &mut Vec<Finding>) {
    for a in estate.of_type("Microsoft.Authorization/roleAssignments") {
        let role = a
            .property("role_definition_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if OWNER_ROLES.contains(&role) {
            out.push(Finding::new("identity.roles", Some(&a.address), format!("`{}` grants {role}: control of the whole scope, access included", a.name), "grant the narrowest built-in role the job needs (Contributor, a data role) instead"));
            continue;
        }
        let data_role = [
            "Data",
            "Secrets",
            "Certificates",
            "Key Vault",
            "SignalR",
            "Cognitive Services",
        ]
        .iter()
        .any(|w| role.contains(w));
        let on_group = target(a.property("scope"))
            .and_then(|s| estate.resource(s))
            .is_some_and(|s| s.arm_type == "Microsoft.Resources/resourceGroups");
        if data_role && on_group {
            out.push(Finding::new(
                "identity.roles",
                Some(&a.address),
                format!("`{}` grants {role} on a whole resource group", a.name),
                "scope it to the one resource it serves (`scope = \"${<module>.<resource>.id}\"`)",
            ));
        }
    }
}

/// A WAF policy that is on, inspects bodies, runs OWASP CRS 3.x, and
/// switches no rule group off (seed 004 "WAF: OWASP Top 10 protection").
fn waf_policy_settings(p: &Resource, out: &mut Vec<Finding>) {
    let mut push = |msg: String, fix: String| {
        out.push(Finding::new("security.waf", Some(&p.address), msg, fix));
    };
    let sets: Vec<&Value> = p
        .property("managed_rule_sets")
        .and_then(Value::as_list)
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    for set in &sets {
        let owasp = set
            .get_path("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("OWASP"));
        let major = set
            .get_path("version")
            .and_then(Value::as_str)
            .and_then(|v| v.split('.').next()?.parse::<u32>().ok());
        if owasp && major.is_none_or(|m| m < 3) {
            push(
                format!(
                    "WAF policy `{}` runs an OWASP rule set older than CRS 3",
                    p.name
                ),
                "set the OWASP rule set's `version = \"3.2\"`".into(),
            );
        }
        if set
            .get_path("rule_group_overrides")
            .and_then(Value::as_list)
            .is_some_and(|l| !l.is_empty())
        {
            push(
                format!("WAF policy `{}` switches off OWASP rule groups", p.name),
                "remove the `rule_group_overrides`, or cover the false positive with an exception"
                    .into(),
            );
        }
    }
    for (key, what) in [
        ("enabled", "is switched off"),
        ("request_body_check", "does not inspect request bodies"),
    ] {
        if p.property(key) == Some(&Value::Bool(false)) {
            push(
                format!("WAF policy `{}` {what}", p.name),
                format!("set `{key} = true`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_text_are_found_wherever_they_sit() {
        for bad in [
            "Endpoint=sb://x/;SharedAccessKey=abc",
            "AccountEndpoint=https://a/;AccountKey=k==;",
            "postgresql://admin:Rides4Her!@db.example:5432/app",
            "Server=x;Password=p",
        ] {
            assert!(credential_in(bad), "{bad}");
        }
        for ok in [
            "https://api.example/path",
            "postgresql://db.example:5432/app",
            "@Microsoft.KeyVault(SecretUri=https://kv/secrets/x)",
            "sc://org/project/conn",
        ] {
            assert!(!credential_in(ok), "{ok}");
        }
    }

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
