use super::{Finding, target};
use crate::catalog::{self, Backup};
use crate::model::{Estate, Floor, Value};

/// How many distinct real zones (1, 2, 3) a zone list names: `["1", "1",
/// "1"]` is one zone written three times.
fn zone_count(v: &Value) -> Option<usize> {
    let zones: std::collections::BTreeSet<String> = v
        .as_list()?
        .iter()
        .filter_map(|z| match z {
            Value::String(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        })
        .filter(|z| matches!(z.as_str(), "1" | "2" | "3"))
        .collect();
    Some(zones.len())
}

pub(super) fn check(estate: &Estate, floor: &Floor) -> Vec<Finding> {
    let mut out = Vec::new();
    let env = &estate.environment;
    if env.dr_region.is_some() {
        for r in estate.resources().values() {
            let Ok(rt) = catalog::lookup(&r.arm_type) else {
                continue;
            };
            if !rt.stateful
                || rt.private_link.is_none()
                || matches!(rt.backup, None | Some(Backup::SoftDelete { .. }))
            {
                continue;
            }
            let ok = match r.arm_type.as_str() {
                "Microsoft.DBforPostgreSQL/flexibleServers" => {
                    let dr = env.dr_region.as_deref();
                    let in_dr = |x: &crate::model::Resource| {
                        x.property("location").and_then(Value::as_str) == dr
                            && x.property("create_mode").and_then(Value::as_str) != Some("Default")
                    };
                    r.property("geo_redundant_backup_enabled") == Some(&Value::Bool(true))
                        || estate.of_type(&r.arm_type).any(|x| {
                            target(x.property("source_server_id")) == Some(&r.address) && in_dr(x)
                        })
                        || (r.property("source_server_id").is_some() && in_dr(r))
                }
                "Microsoft.Storage/storageAccounts" => r
                    .property("account_replication_type")
                    .and_then(Value::as_str)
                    .is_some_and(|k| {
                        let k = k.to_ascii_uppercase();
                        k.contains("GRS") || k.contains("GZRS")
                    }),
                "Microsoft.DocumentDB/databaseAccounts" => {
                    // A second location that is the DR region, and failover
                    // to it without a person (seed 004 "Auto-failover").
                    let locs: Vec<&str> = r
                        .property("geo_locations")
                        .and_then(Value::as_list)
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l.get_path("location").and_then(Value::as_str))
                        .collect();
                    locs.iter().any(|l| Some(*l) == env.dr_region.as_deref())
                        && r.property("automatic_failover_enabled") == Some(&Value::Bool(true))
                }
                _ => {
                    r.property("geo_replication").is_some()
                        || r.property("linked_server_id").is_some()
                }
            };
            if !ok {
                out.push(Finding::new(
                    "prod.multi-region",
                    Some(&r.address),
                    format!("{} `{}` does not replicate to the DR region {}", rt.short_name(), r.name, env.dr_region.as_deref().unwrap_or_default()),
                    "enable geo-redundant backups or a replica in ${env.dr_region} (GRS/GZRS for storage)",
                ));
            }
        }
    }
    if env.zone_redundant {
        for r in estate.resources().values() {
            zones(r, &mut out);
        }
    }
    if floor.high_availability {
        high_availability(estate, &mut out);
    }
    // The standby that traffic fails over to is a production promise
    // (dev and staging keep a DR region for their data only).
    if let Some(dr) = env.dr_region.as_deref()
        && floor.high_availability
    {
        traffic_failover(estate, dr, &mut out);
    }
    // Without a baseline that says so, production still declares the two
    // rules seed 004 states as absolutes.
    let production = env.name == "prod" || env.private_endpoints_only || env.destroy_protection;
    if production {
        if !env.destroy_protection && !floor.destroy_protection {
            out.push(Finding::new(
                "prod.destroy-protection",
                None,
                format!(
                    "environment `{}` does not declare destroy protection",
                    env.name
                ),
                "set `destroy_protection = true` in the environment file",
            ));
        }
        if env.maintenance_window.is_none() && floor.maintenance_window.is_none() {
            out.push(Finding::new(
                "prod.maintenance-window",
                None,
                format!("environment `{}` declares no maintenance window", env.name),
                "add a [maintenance_window] to the environment file",
            ));
        }
    }
    out
}

/// Databases with zone-redundant high availability (seed 004: "All services
/// across 3+ zones", "Auto-failover"). A read replica is the DR copy, not
/// the primary's standby, and is left to `prod.multi-region`.
fn high_availability(estate: &Estate, out: &mut Vec<Finding>) {
    for r in estate.of_type("Microsoft.DBforPostgreSQL/flexibleServers") {
        if r.property("source_server_id").is_some() {
            continue;
        }
        if r.property("sku_name")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("B_"))
        {
            out.push(Finding::new("prod.high-availability", Some(&r.address), format!("`{}` runs on a Burstable SKU, which Azure offers no high-availability standby on", r.name), "use a General Purpose or Memory Optimized SKU (`GP_Standard_D2ds_v5`)"));
        } else if r.property("high_availability_enabled") != Some(&Value::Bool(true)) {
            out.push(Finding::new("prod.high-availability", Some(&r.address), format!("`{}` runs without a high-availability standby", r.name), "set `high_availability_enabled = true` (the environment's `high_availability` variable)"));
        } else if r.property("high_availability_mode").and_then(Value::as_str)
            != Some("ZoneRedundant")
        {
            out.push(Finding::new(
                "prod.high-availability",
                Some(&r.address),
                format!("`{}`'s standby is not in another zone", r.name),
                "set `high_availability_mode = \"ZoneRedundant\"`",
            ));
        }
    }
}

/// Where a zonal type keeps its zones, and its zone-redundancy switch: what
/// a zone-redundant environment requires each to declare (seed 004 "All
/// services across 3+ zones"); a declaration left out is a finding, not a
/// pass.
const ZONE_LISTS: &[(&str, &str)] = &[
    ("Microsoft.Network/applicationGateways", "zones"),
    ("Microsoft.Network/publicIPAddresses", "zones"),
    (
        "Microsoft.ContainerService/managedClusters",
        "default_node_pool.zones",
    ),
    (
        "Microsoft.ContainerService/managedClusters/agentPools",
        "zones",
    ),
];
const ZONE_SWITCHES: &[(&str, &str)] = &[
    (
        "Microsoft.ContainerRegistry/registries",
        "zone_redundancy_enabled",
    ),
    ("Microsoft.Web/serverfarms", "zone_balancing_enabled"),
    (
        "Microsoft.App/managedEnvironments",
        "zone_redundancy_enabled",
    ),
];

fn zones(r: &crate::model::Resource, out: &mut Vec<Finding>) {
    let mut push = |msg: String, fix: String| {
        out.push(Finding::new(
            "prod.zone-redundancy",
            Some(&r.address),
            msg,
            fix,
        ));
    };
    let fix_zones = |path: &str| {
        format!("set `{path} = [\"1\", \"2\", \"3\"]` (the prod environment's `zones` variable)")
    };
    // Declared zone lists, on any type, span 3 zones.
    for path in ["zones", "default_node_pool.zones"] {
        if let Some(z) = r.property(path)
            && zone_count(z).is_none_or(|n| n < 3)
        {
            push(
                format!("`{path}` spans fewer than 3 distinct zones (1, 2, 3)"),
                fix_zones(path),
            );
        }
    }
    for (ty, path) in ZONE_LISTS {
        if r.arm_type == *ty && r.property(path).is_none() {
            push(
                format!("`{path}` is not declared: the resource sits in one zone"),
                fix_zones(path),
            );
        }
    }
    if r.arm_type == "Microsoft.Cache/redis"
        && r.property("sku_name").and_then(Value::as_str) == Some("Premium")
        && r.property("zones").is_none()
    {
        push(
            "a Premium cache without `zones` sits in one zone".into(),
            fix_zones("zones"),
        );
    }
    for flag in [
        "zone_redundant",
        "zone_redundancy_enabled",
        "zone_balancing_enabled",
    ] {
        if r.property(flag) == Some(&Value::Bool(false)) {
            push(
                format!("`{flag}` is false"),
                format!("set `{flag} = true` in production"),
            );
        }
    }
    for (ty, flag) in ZONE_SWITCHES {
        if r.arm_type == *ty && r.property(flag).is_none() {
            push(
                format!("`{flag}` is not declared (off by default)"),
                format!("set `{flag} = true` in production"),
            );
        }
    }
    // Three zones need three instances to stand in them.
    for path in [
        "default_node_pool.node_count",
        "default_node_pool.min_count",
        "min_count",
        "worker_count",
        "min_replicas",
    ] {
        if let Some(n) = r.property(path).and_then(Value::as_int)
            && n < 3
        {
            push(
                format!("`{path}` is {n}: fewer instances than the 3 zones they should stand in"),
                format!(
                    "set `{path}` to 3 or more in production (the environment's `instances_min`)"
                ),
            );
        }
    }
    if r.arm_type == "Microsoft.SignalRService/signalR"
        && r.property("sku")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.starts_with("Premium"))
    {
        push(
            format!(
                "SignalR `{}` runs on a tier without zone redundancy",
                r.name
            ),
            "use a Premium SKU in production".into(),
        );
    }
    if let Some(locs) = r.property("geo_locations").and_then(Value::as_list) {
        for (i, l) in locs.iter().enumerate() {
            if l.get_path("zone_redundant") != Some(&Value::Bool(true)) {
                push(
                    format!("`geo_locations[{i}]` is not zone redundant"),
                    format!("set `zone_redundant = true` in geo_locations[{i}]"),
                );
            }
        }
    }
}

/// A Traffic Manager profile in an environment with a DR region must be able
/// to fail over to it: an enabled endpoint whose target sits in the DR
/// region (seed 001: "Traffic Manager" routing East US to West US 2; seed
/// 004: "Auto-failover").
fn traffic_failover(estate: &Estate, dr: &str, out: &mut Vec<Finding>) {
    for tm in estate.of_type("Microsoft.Network/trafficManagerProfiles") {
        let ok = estate
            .of_type("Microsoft.Network/trafficManagerProfiles/azureEndpoints")
            .filter(|e| target(e.property("parent")) == Some(&tm.address))
            .filter(|e| e.property("endpoint_status").and_then(Value::as_str) != Some("Disabled"))
            .filter_map(|e| target(e.property("target_resource_id")))
            .filter_map(|t| estate.resource(t))
            .any(|t| t.property("location").and_then(Value::as_str) == Some(dr));
        // Seed 004 "Auto-failover: < 1 minute RTO": detection plus DNS TTL.
        let ttl = tm.property("ttl").and_then(Value::as_int).unwrap_or(300);
        let interval = tm
            .property("monitor_config.interval_in_seconds")
            .and_then(Value::as_int)
            .unwrap_or(30);
        let tolerated = tm
            .property("monitor_config.tolerated_number_of_failures")
            .and_then(Value::as_int)
            .unwrap_or(3);
        let failover = interval * (tolerated + 1) + ttl;
        if failover > 60 {
            out.push(Finding::new("prod.multi-region", Some(&tm.address), format!("Traffic Manager `{}` takes up to {failover} s to fail over (probes and TTL), over seed 004's 1 minute", tm.name), "lower `ttl` and the probe interval or tolerated failures so that interval x (failures + 1) + ttl <= 60"));
        }
        if tm
            .property("monitor_config.protocol")
            .and_then(Value::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case("HTTP"))
        {
            out.push(Finding::new(
                "security.https-only",
                Some(&tm.address),
                format!("Traffic Manager `{}` probes over plain HTTP", tm.name),
                "probe with `protocol = \"HTTPS\"` on 443",
            ));
        }
        if !ok {
            out.push(Finding::new(
                "prod.multi-region",
                Some(&tm.address),
                format!("Traffic Manager `{}` has no enabled endpoint in the DR region {dr}", tm.name),
                "add an azureEndpoints child, endpoint_status = \"Enabled\", targeting the standby in the DR region",
            ));
        }
    }
}
