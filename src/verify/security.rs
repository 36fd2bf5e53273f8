use super::{Finding, target};
use crate::catalog;
use std::collections::BTreeSet;

use crate::model::{Address, Estate, Value};

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

pub(super) fn check(estate: &Estate) -> Vec<Finding> {
    let mut out = Vec::new();
    let diagnosed = diagnosed(estate);
    for r in estate.resources().values() {
        let tls = r.property("minimum_tls_version").and_then(Value::as_str);
        match tls {
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
            if r.property("soft_delete_retention_days")
                .and_then(Value::as_int)
                .is_none_or(|d| d < 7)
            {
                out.push(Finding::new(
                    "security.key-vault",
                    Some(&r.address),
                    "soft delete retention is missing or under 7 days",
                    "set `soft_delete_retention_days = 90`",
                ));
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
