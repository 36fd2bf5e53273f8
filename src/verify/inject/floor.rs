//! Faults that weaken what the baseline demands: a switch of the
//! environment lifted, a figure of the estate loosened, a resource the seed
//! requires removed. Each applies only where the [`Floor`] demands the
//! thing it breaks, since nothing else makes it a finding.

use super::{Fault, InjectError, Injected};
use crate::model::{Address, Estate, Floor, Interval, MaintenanceWindow, Resource, Value, Weekday};

/// Every fault against the baseline, by rule.
pub const FAULTS: &[Fault] = &[
    Fault {
        id: "loosened-rpo",
        rule: "recovery.rpo",
        what: "the estate's declared RPO is loosened to 30 days",
    },
    Fault {
        id: "dropped-required-tag",
        rule: "tags.required",
        what: "the estate stops requiring the owner tag",
    },
    Fault {
        id: "ha-off",
        rule: "prod.high-availability",
        what: "a database loses its high-availability standby",
    },
    Fault {
        id: "dr-region-moved",
        rule: "prod.regions",
        what: "the DR region is moved to Europe",
    },
    Fault {
        id: "public-allowed",
        rule: "prod.private-only",
        what: "the environment stops requiring private endpoints only",
    },
    Fault {
        id: "window-widened",
        rule: "prod.maintenance-window",
        what: "the maintenance window is opened to the whole week",
    },
    Fault {
        id: "promotion-skipped",
        rule: "prod.promotion-gate",
        what: "the environment stops requiring promotion",
    },
    Fault {
        id: "no-backup-before-apply",
        rule: "prod.backup-before-apply",
        what: "the state backup before every apply is switched off",
    },
    Fault {
        id: "short-state-retention",
        rule: "prod.state-retention",
        what: "state retention is cut to 1 day",
    },
    Fault {
        id: "subnet-without-nsg",
        rule: "security.nsg",
        what: "a subnet loses its network security group",
    },
    Fault {
        id: "scanning-off",
        rule: "security.image-scanning",
        what: "a container registry stops scanning images",
    },
    Fault {
        id: "waf-detection",
        rule: "security.waf",
        what: "a WAF policy is switched to Detection mode",
    },
    Fault {
        id: "short-key-vault-retention",
        rule: "security.key-vault",
        what: "a Key Vault keeps deleted secrets only 7 days",
    },
    Fault {
        id: "rotation-removed",
        rule: "security.rotation",
        what: "a secret loses its rotation policy",
    },
    Fault {
        id: "short-log-retention",
        rule: "security.log-retention",
        what: "a Log Analytics workspace keeps logs 30 days",
    },
    Fault {
        id: "short-backup-retention",
        rule: "recovery.backup-retention",
        what: "a database keeps its backups 7 days",
    },
    Fault {
        id: "required-role-removed",
        rule: "identity.roles",
        what: "a role assignment the seed requires is deleted",
    },
    Fault {
        id: "misnamed",
        rule: "naming.convention",
        what: "a resource is named outside the naming convention",
    },
    Fault {
        id: "required-alert-removed",
        rule: "monitoring.alerts",
        what: "an alert the seed requires is deleted",
    },
    Fault {
        id: "federation-removed",
        rule: "identity.oidc",
        what: "a federated credential the seed requires is deleted",
    },
];

pub(super) fn inject(
    estate: &Estate,
    floor: &Floor,
    f: &'static Fault,
) -> Result<Injected, InjectError> {
    let na = || InjectError::NotApplicable {
        estate: estate.stack(),
        fault: f.id,
        what: f.what,
    };
    let whole = |change: &dyn Fn(&mut Estate)| {
        let mut e = estate.clone();
        change(&mut e);
        Ok(Injected {
            estate: e,
            address: None,
        })
    };
    let env = &estate.environment;
    let first = |ty: &str, pred: &dyn Fn(&Resource) -> bool| -> Result<Address, InjectError> {
        estate
            .of_type(ty)
            .find(|r| pred(r))
            .map(|r| r.address.clone())
            .ok_or_else(na)
    };
    let edit = |addr: Address, k: &str, v: Option<Value>| {
        let e = estate
            .with_resources(|rs| {
                if let Some(r) = rs.get_mut(&addr) {
                    match &v {
                        Some(v) => r.properties.insert(k.to_string(), v.clone()),
                        None => r.properties.remove(k),
                    };
                }
            })
            .map_err(|e| InjectError::Graph(f.id, e.to_string()))?;
        Ok(Injected {
            estate: e,
            address: Some(addr),
        })
    };
    let primary_pg = |r: &Resource| r.property("source_server_id").is_none();
    match f.id {
        "loosened-rpo" if floor.rpo.is_some() => {
            whole(&|e| e.objectives.rpo = Interval::from_secs(30 * 86_400))
        }
        "dropped-required-tag" if floor.required_tags.iter().any(|t| t == "owner") => {
            whole(&|e| e.objectives.required_tags.retain(|t| t != "owner"))
        }
        "ha-off" if floor.high_availability => {
            let a = first("Microsoft.DBforPostgreSQL/flexibleServers", &|r| {
                primary_pg(r) && r.property("high_availability_enabled") == Some(&Value::Bool(true))
            })?;
            edit(a, "high_availability_enabled", Some(Value::Bool(false)))
        }
        "dr-region-moved" if floor.dr_region.is_some() => {
            whole(&|e| e.environment.dr_region = Some("westeurope".into()))
        }
        "public-allowed" if floor.private_endpoints_only && env.private_endpoints_only => {
            whole(&|e| e.environment.private_endpoints_only = false)
        }
        "window-widened" if floor.maintenance_window.is_some() => whole(&|e| {
            e.environment.maintenance_window = Some(MaintenanceWindow {
                days: Weekday::ALL.to_vec(),
                start: 0,
                end: 1440,
                timezone: "UTC".into(),
            });
        }),
        "promotion-skipped" if floor.promote_from.is_some() => {
            whole(&|e| e.environment.promote_from = None)
        }
        "no-backup-before-apply" if floor.backup_before_apply => {
            whole(&|e| e.environment.backup_before_apply = false)
        }
        "short-state-retention" if floor.state_retention_days.is_some_and(|d| d > 1) => {
            whole(&|e| e.environment.state_retention_days = 1)
        }
        "subnet-without-nsg" => {
            let a = first("Microsoft.Network/virtualNetworks/subnets", &|r| {
                r.property("network_security_group_id").is_some()
            })?;
            edit(a, "network_security_group_id", None)
        }
        "scanning-off" => {
            let a = first("Microsoft.ContainerRegistry/registries", &|_| true)?;
            edit(a, "image_scanning_enabled", Some(Value::Bool(false)))
        }
        "waf-detection" => {
            let a = first(
                "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
                &|_| true,
            )?;
            edit(a, "mode", Some(Value::String("Detection".into())))
        }
        "short-key-vault-retention" if floor.key_vault_soft_delete_days.is_some_and(|d| d > 7) => {
            let a = first("Microsoft.KeyVault/vaults", &|_| true)?;
            edit(a, "soft_delete_retention_days", Some(Value::Int(7)))
        }
        "rotation-removed" if floor.secret_rotation_days.is_some() => {
            let a = first("Microsoft.KeyVault/vaults/secrets", &|r| {
                r.property("rotation_interval_days").is_some()
            })?;
            edit(a, "rotation_interval_days", None)
        }
        "short-log-retention" if floor.log_retention_days.is_some_and(|d| d > 30) => {
            let a = first("Microsoft.OperationalInsights/workspaces", &|_| true)?;
            edit(a, "retention_in_days", Some(Value::Int(30)))
        }
        "short-backup-retention" if floor.backup_retention_days.is_some_and(|d| d > 7) => {
            let a = first("Microsoft.DBforPostgreSQL/flexibleServers", &primary_pg)?;
            edit(a, "backup_retention_days", Some(Value::Int(7)))
        }
        "misnamed" if floor.naming.is_some() => {
            let a = estate
                .resources()
                .values()
                .find(|r| {
                    r.arm_type == "Microsoft.Resources/resourceGroups"
                        && r.property("location").is_some()
                })
                .map(|r| r.address.clone())
                .ok_or_else(na)?;
            let e = estate
                .with_resources(|rs| {
                    if let Some(r) = rs.get_mut(&a) {
                        r.name = "rg-misnamed".into();
                    }
                })
                .map_err(|e| InjectError::Graph(f.id, e.to_string()))?;
            Ok(Injected {
                estate: e,
                address: Some(a),
            })
        }
        "required-role-removed" | "federation-removed" | "required-alert-removed" => {
            // A required resource removed, with the `depends_on` entries
            // that named it; one that is referenced by value cannot go.
            floor
                .requires
                .iter()
                .filter(|q| q.rule == f.rule && estate.resource(&q.resource).is_some())
                .find_map(|q| {
                    let gone = q.resource.clone();
                    let e = estate
                        .with_resources(|rs| {
                            rs.remove(&gone);
                            for r in rs.values_mut() {
                                r.depends_on.retain(|d| d != &gone);
                            }
                        })
                        .ok()?;
                    Some(Injected {
                        estate: e,
                        address: Some(gone),
                    })
                })
                .ok_or_else(na)
        }
        _ => Err(na()),
    }
}
