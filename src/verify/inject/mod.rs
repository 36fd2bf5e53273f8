//! Faults: the ways to break an estate that each rule must catch.
//!
//! A check that never fires proves nothing. The acceptance suite's negative
//! scenarios and the property tests take a correct estate, inject one of
//! these faults, and require the matching rule to report it, naming the
//! resource the fault was put in. Each fault is a small, realistic edit: a
//! dropped `depends_on`, a literal where a reference belongs, a switch
//! flipped, not a synthetic estate built to fail.

use super::recovery::rpo_worst_case;
use crate::catalog::{self, Backup};
use crate::model::{Address, Estate, Floor, Interval, Resource, Value};

mod floor;
use crate::plan::Plan;

/// One way to break an estate, and the rule that must catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Stable id, e.g. `missing-tag`.
    pub id: &'static str,
    /// The rule that must report it.
    pub rule: &'static str,
    /// What the fault does, in the words the acceptance features use.
    pub what: &'static str,
}

/// Every estate fault, by rule. (`ordering.plan` is broken on a plan, by
/// [`reorder_plan`]; `recovery.drill` by a real drill of a resource whose
/// backups are too slow.)
pub const FAULTS: &[Fault] = &[
    Fault {
        id: "missing-tag",
        rule: "tags.required",
        what: "a taggable resource loses its owner tag",
    },
    Fault {
        id: "empty-tag",
        rule: "tags.required",
        what: "a taggable resource has an empty cost-center tag",
    },
    Fault {
        id: "wrong-environment-tag",
        rule: "tags.environment",
        what: "a resource's environment tag names another environment",
    },
    Fault {
        id: "public-data-service",
        rule: "private.public-access",
        what: "a data service allows public network access",
    },
    Fault {
        id: "endpoint-outside-zone",
        rule: "private.endpoint",
        what: "a private endpoint is left out of its privatelink DNS zone",
    },
    Fault {
        id: "public-aks",
        rule: "private.aks",
        what: "the AKS cluster gets a public API server",
    },
    Fault {
        id: "public-container",
        rule: "private.containers",
        what: "a blob container allows anonymous public access",
    },
    Fault {
        id: "endpoint-before-dns",
        rule: "ordering.dns-before-endpoint",
        what: "a private endpoint's depends_on on its DNS zone link is dropped",
    },
    Fault {
        id: "gateway-before-certificate",
        rule: "ordering.certificate-before-gateway",
        what: "the Application Gateway's depends_on on its Key Vault access is dropped",
    },
    Fault {
        id: "hardcoded-rbac-scope",
        rule: "ordering.rbac-after-resources",
        what: "a role assignment's scope is hard-coded instead of referenced",
    },
    Fault {
        id: "orphan-node-pool",
        rule: "ordering.nodepool-after-cluster",
        what: "a node pool's cluster is hard-coded instead of referenced",
    },
    Fault {
        id: "slow-backups",
        rule: "recovery.rpo",
        what: "a stateful service is backed up less often than the RPO",
    },
    Fault {
        id: "tight-rto",
        rule: "recovery.rto",
        what: "the RTO objective is cut to 1 minute",
    },
    Fault {
        id: "over-budget",
        rule: "cost.budget",
        what: "the budget is cut to $1 a month",
    },
    Fault {
        id: "old-tls",
        rule: "security.tls",
        what: "a service accepts TLS 1.0",
    },
    Fault {
        id: "plain-http",
        rule: "security.https-only",
        what: "a storage account or web app accepts plain HTTP",
    },
    Fault {
        id: "purge-protection-off",
        rule: "security.key-vault",
        what: "a Key Vault's purge protection is turned off",
    },
    Fault {
        id: "no-diagnostics",
        rule: "security.diagnostics",
        what: "a resource's diagnostic settings are removed",
    },
    Fault {
        id: "secret-literal",
        rule: "security.no-secret-literals",
        what: "a password is written into a resource as a literal",
    },
    Fault {
        id: "single-region",
        rule: "prod.multi-region",
        what: "a stateful service stops replicating to the DR region",
    },
    Fault {
        id: "single-zone",
        rule: "prod.zone-redundancy",
        what: "a zonal resource is pinned to a single zone",
    },
    Fault {
        id: "shared-keys-on",
        rule: "security.local-auth",
        what: "a service is opened to shared keys or an admin user",
    },
    Fault {
        id: "alert-silenced",
        rule: "monitoring.alerts",
        what: "an alert stops notifying its action group",
    },
    Fault {
        id: "no-destroy-protection",
        rule: "prod.destroy-protection",
        what: "the environment's destroy protection is lifted",
    },
];

/// Every fault: the estate faults above and the ones that weaken what the
/// baseline demands ([`floor::FAULTS`]).
pub fn all() -> impl Iterator<Item = &'static Fault> {
    FAULTS.iter().chain(floor::FAULTS)
}

/// The fault with this id or description.
pub fn fault(id_or_what: &str) -> Option<&'static Fault> {
    all().find(|f| f.id == id_or_what || f.what == id_or_what)
}

/// An estate with a fault in it.
#[derive(Debug, Clone)]
pub struct Injected {
    /// The broken estate.
    pub estate: Estate,
    /// The resource the fault is in (`None` for estate- or environment-wide
    /// faults); the rule's finding must name it.
    pub address: Option<Address>,
}

/// Why a fault could not be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    /// No such fault.
    #[error("no fault `{0}`; the faults are: {list}", list = all().map(|f| f.id).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// The estate has nothing the fault applies to.
    #[error("{estate} has nothing to break for `{fault}` ({what})")]
    NotApplicable {
        /// The stack.
        estate: String,
        /// The fault id.
        fault: &'static str,
        /// Its description.
        what: &'static str,
    },
    /// The edit left an estate that cannot be built (a bug in the fault).
    #[error("injecting `{0}` broke the estate's graph: {1}")]
    Graph(&'static str, String),
}

/// Injects fault `id` (an id or its description) into `estate`, which is
/// judged against `floor` (faults that weaken what the baseline demands
/// apply only where it demands it).
pub fn inject(estate: &Estate, floor: &Floor, id: &str) -> Result<Injected, InjectError> {
    let f = fault(id).ok_or_else(|| InjectError::Unknown(id.to_string()))?;
    if floor::FAULTS.contains(f) {
        return floor::inject(estate, floor, f);
    }
    let not_applicable = || InjectError::NotApplicable {
        estate: estate.stack(),
        fault: f.id,
        what: f.what,
    };
    let first = |pred: &dyn Fn(&Resource) -> bool| -> Option<Address> {
        estate
            .resources()
            .values()
            .find(|r| pred(r))
            .map(|r| r.address.clone())
    };
    let type_is = |r: &Resource, t: &str| r.arm_type.eq_ignore_ascii_case(t);
    let taggable = |r: &Resource| catalog::lookup(&r.arm_type).is_ok_and(|rt| rt.taggable);
    let graph = |e: Result<Estate, crate::model::GraphError>| {
        e.map_err(|e| InjectError::Graph(f.id, e.to_string()))
    };
    let edit = |addr: Address, change: &dyn Fn(&mut Resource)| -> Result<Injected, InjectError> {
        let estate = graph(estate.with_resources(|rs| {
            if let Some(r) = rs.get_mut(&addr) {
                change(r);
            }
        }))?;
        Ok(Injected {
            estate,
            address: Some(addr),
        })
    };
    let set = |r: &mut Resource, k: &str, v: Value| {
        r.properties.insert(k.to_string(), v);
    };
    match f.id {
        "missing-tag" => {
            let a = first(&|r| taggable(r) && r.tags.contains_key("owner"))
                .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                r.tags.remove("owner");
            })
        }
        "empty-tag" => {
            let a = first(&|r| taggable(r)).ok_or_else(not_applicable)?;
            edit(a, &|r| {
                r.tags.insert("cost-center".into(), "  ".into());
            })
        }
        "wrong-environment-tag" => {
            let a = first(&|r| taggable(r) && r.tags.contains_key("environment"))
                .ok_or_else(not_applicable)?;
            let other = if estate.environment.name == "prod" {
                "dev"
            } else {
                "prod"
            };
            edit(a, &|r| {
                r.tags.insert("environment".into(), other.into());
            })
        }
        "public-data-service" => {
            let a =
                first(&|r| catalog::lookup(&r.arm_type).is_ok_and(|rt| rt.private_link.is_some()))
                    .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "public_network_access_enabled", Value::Bool(true))
            })
        }
        "endpoint-outside-zone" => {
            let a = first(&|r| {
                type_is(r, "Microsoft.Network/privateEndpoints")
                    && r.property("private_dns_zone_ids").is_some()
                    && matches!(r.property("private_connection_resource_id"), Some(Value::Ref(t))
                        if estate.resource(&t.address).is_some_and(|s| catalog::lookup(&s.arm_type).is_ok_and(|rt| rt.private_link.is_some())))
            })
            .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "private_dns_zone_ids", Value::List(Vec::new()))
            })
        }
        "public-aks" => {
            let a = first(&|r| type_is(r, "Microsoft.ContainerService/managedClusters"))
                .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "private_cluster_enabled", Value::Bool(false))
            })
        }
        "public-container" => {
            let a = first(&|r| {
                type_is(
                    r,
                    "Microsoft.Storage/storageAccounts/blobServices/containers",
                )
            })
            .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "container_access_type", Value::String("blob".into()))
            })
        }
        "endpoint-before-dns" | "gateway-before-certificate" => {
            let (ty, dep_ty) = if f.id == "endpoint-before-dns" {
                (
                    "Microsoft.Network/privateEndpoints",
                    "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                )
            } else {
                (
                    "Microsoft.Network/applicationGateways",
                    "Microsoft.Authorization/roleAssignments",
                )
            };
            // Drop the explicit edges to that kind of resource; the fault
            // applies where nothing else still orders them.
            for r in estate.of_type(ty) {
                let dropped: Vec<&Address> = r
                    .depends_on
                    .iter()
                    .filter(|d| estate.resource(d).is_some_and(|x| type_is(x, dep_ty)))
                    .collect();
                if dropped.is_empty() {
                    continue;
                }
                let a = r.address.clone();
                let broken = edit(a.clone(), &|r| {
                    r.depends_on
                        .retain(|d| estate.resource(d).is_none_or(|x| !type_is(x, dep_ty)));
                })?;
                if dropped
                    .iter()
                    .any(|d| !broken.estate.graph().depends_transitively(&a, d))
                {
                    return Ok(broken);
                }
            }
            Err(not_applicable())
        }
        "hardcoded-rbac-scope" => {
            let a = first(&|r| {
                type_is(r, "Microsoft.Authorization/roleAssignments")
                    && matches!(r.property("scope"), Some(Value::Ref(_)))
            })
            .ok_or_else(not_applicable)?;
            let sub = estate.environment.subscription_id.clone();
            edit(a, &|r| {
                set(
                    r,
                    "scope",
                    Value::String(format!("/subscriptions/{sub}/resourceGroups/rg-hardcoded")),
                )
            })
        }
        "orphan-node-pool" => {
            let a = first(&|r| {
                type_is(r, "Microsoft.ContainerService/managedClusters/agentPools")
                    && matches!(r.property("parent"), Some(Value::Ref(_)))
            })
            .ok_or_else(not_applicable)?;
            let sub = estate.environment.subscription_id.clone();
            edit(a, &|r| {
                set(
                    r,
                    "parent",
                    Value::String(format!(
                        "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"
                    )),
                )
            })
        }
        "slow-backups" => {
            let rpo = estate.objectives.rpo;
            // Something whose backups meet the RPO today, made to miss it.
            let found = estate.resources().values().find_map(|r| {
                let rt = catalog::lookup(&r.arm_type).ok()?;
                if !rt.stateful || rpo_worst_case(rt, r).is_none_or(|l| l > rpo) {
                    return None;
                }
                let change: (String, Value) = match rt.backup? {
                    Backup::Snapshot { interval_minutes } => {
                        let mins = i64::try_from(rpo.secs() / 60).unwrap_or(i64::MAX / 2) + 60;
                        (interval_minutes.to_string(), Value::Int(mins))
                    }
                    Backup::PointInTime { retention_days, .. } => {
                        (retention_days.to_string(), Value::Int(0))
                    }
                    Backup::GeoReplica { replication, .. } => {
                        (replication.to_string(), Value::String("LRS".into()))
                    }
                    Backup::SoftDelete { .. } => return None,
                };
                Some((r.address.clone(), change))
            });
            let (a, (k, v)) = found.ok_or_else(not_applicable)?;
            edit(a, &|r| set(r, &k, v.clone()))
        }
        "tight-rto" => {
            let mut e = estate.clone();
            e.objectives.rto = Interval::from_secs(60);
            Ok(Injected {
                estate: e,
                address: None,
            })
        }
        "over-budget" => {
            let mut e = estate.clone();
            e.objectives.monthly_budget_usd = Some(1);
            Ok(Injected {
                estate: e,
                address: None,
            })
        }
        "old-tls" => {
            let a = first(&|r| r.property("minimum_tls_version").is_some())
                .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "minimum_tls_version", Value::String("1.0".into()))
            })
        }
        "plain-http" => {
            let a = first(&|r| {
                type_is(r, "Microsoft.Storage/storageAccounts") || type_is(r, "Microsoft.Web/sites")
            })
            .ok_or_else(not_applicable)?;
            edit(a, &|r| set(r, "https_only", Value::Bool(false)))
        }
        "purge-protection-off" => {
            let a =
                first(&|r| type_is(r, "Microsoft.KeyVault/vaults")).ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "purge_protection_enabled", Value::Bool(false))
            })
        }
        "no-diagnostics" => {
            let scope_of = |d: &Resource| match d.property("scope") {
                Some(Value::Ref(t)) => Some(t.address.clone()),
                _ => None,
            };
            let target = estate
                .of_type("Microsoft.Insights/diagnosticSettings")
                .find_map(|d| {
                    let s = scope_of(d)?;
                    estate
                        .resource(&s)
                        .is_some_and(|r| {
                            catalog::lookup(&r.arm_type).is_ok_and(|rt| rt.diagnostics)
                        })
                        .then_some(s)
                })
                .ok_or_else(not_applicable)?;
            let settings: Vec<Address> = estate
                .of_type("Microsoft.Insights/diagnosticSettings")
                .filter(|d| scope_of(d).as_ref() == Some(&target))
                .map(|d| d.address.clone())
                .collect();
            // Nothing may still refer to the removed settings.
            let referenced = estate
                .resources()
                .values()
                .any(|r| r.dependencies().iter().any(|d| settings.contains(d)));
            if referenced {
                return Err(not_applicable());
            }
            let e = graph(estate.with_resources(|rs| {
                for s in &settings {
                    rs.remove(s);
                }
            }))?;
            Ok(Injected {
                estate: e,
                address: Some(target),
            })
        }
        "secret-literal" => {
            let a = first(&|r| taggable(r)).ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(
                    r,
                    "administrator_password",
                    Value::String("Winter2026!".into()),
                )
            })
        }
        "single-region" => {
            if estate.environment.dr_region.is_none() {
                return Err(not_applicable());
            }
            let grs = |r: &Resource| {
                r.property("account_replication_type")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.to_ascii_uppercase().contains("GRS"))
            };
            if let Some(a) = first(&|r| {
                type_is(r, "Microsoft.Storage/storageAccounts")
                    && grs(r)
                    && catalog::lookup(&r.arm_type).is_ok_and(|rt| rt.private_link.is_some())
            }) {
                return edit(a, &|r| {
                    set(r, "account_replication_type", Value::String("ZRS".into()))
                });
            }
            let a = first(&|r| {
                type_is(r, "Microsoft.DocumentDB/databaseAccounts")
                    && r.property("geo_locations")
                        .and_then(Value::as_list)
                        .is_some_and(|l| l.len() >= 2)
            })
            .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                if let Some(Value::List(l)) = r.properties.get_mut("geo_locations") {
                    l.truncate(1);
                }
            })
        }
        "single-zone" => {
            if !estate.environment.zone_redundant {
                return Err(not_applicable());
            }
            let a = first(&|r| r.property("zones").and_then(Value::as_list).is_some())
                .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                set(r, "zones", Value::List(vec![Value::String("1".into())]))
            })
        }
        "shared-keys-on" => {
            let key_of = |r: &Resource| match r.arm_type.as_str() {
                "Microsoft.ContainerRegistry/registries" => Some("admin_enabled"),
                "Microsoft.AppConfiguration/configurationStores"
                | "Microsoft.SignalRService/signalR"
                | "Microsoft.CognitiveServices/accounts" => Some("local_auth_enabled"),
                _ => None,
            };
            let a = first(&|r| key_of(r).is_some()).ok_or_else(not_applicable)?;
            let key = estate
                .resource(&a)
                .and_then(key_of)
                .ok_or_else(not_applicable)?;
            edit(a, &|r| set(r, key, Value::Bool(true)))
        }
        "alert-silenced" => {
            let a = first(&|r| {
                type_is(r, "Microsoft.Insights/metricAlerts")
                    && r.property("action_group_ids").is_some()
            })
            .ok_or_else(not_applicable)?;
            edit(a, &|r| {
                r.properties.remove("action_group_ids");
            })
        }
        "no-destroy-protection" => {
            if !estate.environment.destroy_protection {
                return Err(not_applicable());
            }
            let mut e = estate.clone();
            e.environment.destroy_protection = false;
            Ok(Injected {
                estate: e,
                address: None,
            })
        }
        other => Err(InjectError::Unknown(other.to_string())),
    }
}

/// A plan in which one action that needs another is moved to run first
/// (every `needs` index renumbered, so the plan still says what each action
/// waits for): what a planner bug would produce. Returns the moved action's
/// address, or `None` when no action needs another.
pub fn reorder_plan(plan: &Plan) -> Option<(Plan, Address)> {
    let i = plan.actions.iter().position(|a| !a.needs.is_empty())?;
    let mut order: Vec<usize> = (0..plan.actions.len()).collect();
    order.remove(i);
    order.insert(0, i);
    let mut new_index = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut out = plan.clone();
    out.actions = order
        .iter()
        .map(|&old| -> Option<_> {
            let mut a = plan.actions.get(old).cloned()?;
            a.needs = a
                .needs
                .iter()
                .map(|&n| new_index.get(n).copied().unwrap_or(n))
                .collect();
            Some(a)
        })
        .collect::<Option<Vec<_>>>()?;
    Some((out, plan.actions.get(i)?.address.clone()))
}
