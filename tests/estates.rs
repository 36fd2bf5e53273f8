//! Facts straight from the seed documents, checked on the shipped estates as
//! the loader resolves them, plus the CLI over the whole project.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeSet;

use statectl::catalog;
use statectl::model::{Address, Estate, Value};
use statectl::spec::Loader;
use util::{repo_root, statectl};

const ESTATES: [&str; 4] = ["chatwoot", "chaufher", "openai-platform", "vc-reporting"];
const ENVS: [&str; 3] = ["dev", "staging", "prod"];

fn load(estate: &str, env: &str) -> Estate {
    match Loader::new(repo_root()).load(estate, env) {
        Ok(e) => e,
        Err(e) => panic!("{estate}/{env} does not load:\n{}", e.render()),
    }
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn reference_target(v: &Value) -> Option<&Address> {
    match v {
        Value::Ref(r) => Some(&r.address),
        _ => None,
    }
}

#[test]
fn every_estate_loads_in_every_environment() {
    let loader = Loader::new(repo_root());
    assert_eq!(loader.estate_names().unwrap(), ESTATES);
    assert_eq!(
        loader.environment_names().unwrap(),
        ["dev", "prod", "staging"]
    );
    for estate in ESTATES {
        for env in ENVS {
            let e = load(estate, env);
            assert!(
                e.resources().len() >= 20,
                "{estate}/{env} has only {} resources",
                e.resources().len()
            );
        }
    }
}

#[test]
fn chatwoot_prod_has_the_four_privatelink_zones_linked_to_the_aks_vnet() {
    let e = load("chatwoot", "prod");
    let zones: BTreeSet<&str> = e
        .of_type("Microsoft.Network/privateDnsZones")
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        zones,
        BTreeSet::from([
            "privatelink.azurecr.io",
            "privatelink.blob.core.windows.net",
            "privatelink.postgres.database.azure.com",
            "privatelink.vaultcore.azure.net",
        ])
    );
    // The VNet the AKS cluster's subnet belongs to.
    let cluster = e.resource(&addr("aks.cluster")).unwrap();
    let subnet = reference_target(cluster.property("vnet_subnet_id").unwrap()).unwrap();
    let aks_vnet = reference_target(e.resource(subnet).unwrap().property("parent").unwrap())
        .unwrap()
        .clone();
    for zone in e.of_type("Microsoft.Network/privateDnsZones") {
        let links: Vec<_> = e
            .of_type("Microsoft.Network/privateDnsZones/virtualNetworkLinks")
            .filter(|l| reference_target(l.property("parent").unwrap()) == Some(&zone.address))
            .collect();
        assert_eq!(
            links.len(),
            1,
            "zone {} must have exactly one link",
            zone.name
        );
        assert_eq!(
            reference_target(links[0].property("virtual_network_id").unwrap()),
            Some(&aks_vnet),
            "zone {} is not linked to the AKS VNet",
            zone.name
        );
    }
}

#[test]
fn every_private_endpoint_depends_on_its_zones_link() {
    for estate in ESTATES {
        for env in ENVS {
            let e = load(estate, env);
            for pe in e.of_type("Microsoft.Network/privateEndpoints") {
                let zones = pe
                    .property("private_dns_zone_ids")
                    .and_then(Value::as_list)
                    .unwrap_or_else(|| {
                        panic!("{estate}/{env} {}: no private_dns_zone_ids", pe.address)
                    });
                assert!(!zones.is_empty());
                // The VNet the endpoint's subnet is in.
                let subnet = reference_target(pe.property("subnet_id").unwrap()).unwrap();
                let vnet =
                    reference_target(e.resource(subnet).unwrap().property("parent").unwrap())
                        .unwrap();
                for z in zones {
                    let zone = reference_target(z).unwrap();
                    let link = e
                        .of_type("Microsoft.Network/privateDnsZones/virtualNetworkLinks")
                        .find(|l| {
                            reference_target(l.property("parent").unwrap()) == Some(zone)
                                && reference_target(l.property("virtual_network_id").unwrap())
                                    == Some(vnet)
                        })
                        .unwrap_or_else(|| {
                            panic!(
                                "{estate}/{env}: zone {zone} has no link to {vnet}, the VNet of {}",
                                pe.address
                            )
                        });
                    assert!(
                        e.graph().has_edge(&pe.address, &link.address),
                        "{estate}/{env}: {} must depend on {}",
                        pe.address,
                        link.address
                    );
                }
                // And the zone is the right privatelink zone for the service it connects to.
                let target =
                    reference_target(pe.property("private_connection_resource_id").unwrap())
                        .unwrap();
                let rt = catalog::lookup(&e.resource(target).unwrap().arm_type).unwrap();
                let want = rt
                    .private_link
                    .unwrap_or_else(|| panic!("{target} is not a private-link service"))
                    .dns_zone;
                let names: Vec<&str> = zones
                    .iter()
                    .map(|z| {
                        e.resource(reference_target(z).unwrap())
                            .unwrap()
                            .name
                            .as_str()
                    })
                    .collect();
                assert!(
                    names.contains(&want),
                    "{estate}/{env}: {} connects to {target} but uses zones {names:?}",
                    pe.address
                );
            }
        }
    }
}

#[test]
fn chatwoot_disaster_recovery_settings_match_seed_000() {
    for env in ENVS {
        let e = load("chatwoot", env);
        let redis = e.resource(&addr("data.redis")).unwrap();
        assert_eq!(
            redis.property("rdb_backup_frequency_minutes"),
            Some(&Value::Int(60))
        );
        assert_eq!(
            redis.property("sku_name").and_then(Value::as_str),
            Some("Standard")
        );
        assert_eq!(redis.property("capacity"), Some(&Value::Int(1)));
        let pg = e.resource(&addr("data.postgres")).unwrap();
        assert_eq!(pg.property("backup_retention_days"), Some(&Value::Int(35)));
        assert_eq!(
            pg.property("geo_redundant_backup_enabled"),
            Some(&Value::Bool(true))
        );
        assert_eq!(
            pg.property("sku_name").and_then(Value::as_str),
            Some("B_Standard_B1ms")
        );
        let backups = e.resource(&addr("data.backups")).unwrap();
        assert_eq!(
            backups
                .property("account_replication_type")
                .and_then(Value::as_str),
            Some("GRS")
        );
        let law = e.resource(&addr("monitoring.law")).unwrap();
        assert_eq!(law.property("retention_in_days"), Some(&Value::Int(365)));
        assert_eq!(e.objectives.rto.to_string(), "4h");
        assert_eq!(e.objectives.rpo.to_string(), "4h");
        assert_eq!(e.objectives.monthly_budget_usd, Some(1065));
    }
}

#[test]
fn chatwoot_ordering_gotchas_are_edges() {
    let e = load("chatwoot", "prod");
    let g = e.graph();
    // Key Vault certificate before the Application Gateway.
    assert!(g.depends_transitively(&addr("app_gateway.gateway"), &addr("security.appgw_cert")));
    // AcrPull to the kubelet identity, after the registry and the cluster.
    let acr_pull = e.resource(&addr("aks.acr_pull")).unwrap();
    assert_eq!(
        acr_pull
            .property("role_definition_name")
            .and_then(Value::as_str),
        Some("AcrPull")
    );
    assert!(g.has_edge(&addr("aks.acr_pull"), &addr("security.acr")));
    assert!(g.has_edge(&addr("aks.acr_pull"), &addr("aks.cluster")));
    // The three AGIC roles, after their scopes and the AGIC identity.
    for (ra, role, scope) in [
        ("aks.agic_contributor", "Contributor", "app_gateway.gateway"),
        (
            "aks.agic_network_contributor",
            "Network Contributor",
            "networking.subnet_appgw",
        ),
        ("aks.agic_reader", "Reader", "networking.rg"),
    ] {
        let r = e.resource(&addr(ra)).unwrap();
        assert_eq!(
            r.property("role_definition_name").and_then(Value::as_str),
            Some(role)
        );
        assert!(
            g.has_edge(&addr(ra), &addr(scope)),
            "{ra} must follow {scope}"
        );
        assert!(g.has_edge(&addr(ra), &addr("aks.agic_identity")));
    }
    // Node pool after its cluster.
    assert!(g.has_edge(&addr("aks.user_pool"), &addr("aks.cluster")));
    let cluster = e.resource(&addr("aks.cluster")).unwrap();
    assert_eq!(
        cluster.property("private_cluster_enabled"),
        Some(&Value::Bool(true))
    );
}

#[test]
fn every_taggable_resource_carries_the_required_tags() {
    for estate in ESTATES {
        for env in ENVS {
            let e = load(estate, env);
            for r in e.resources().values() {
                let rt = catalog::lookup(&r.arm_type).unwrap();
                if !rt.taggable {
                    assert!(
                        r.tags.is_empty(),
                        "{estate}/{env} {} is not taggable",
                        r.address
                    );
                    continue;
                }
                for tag in ["environment", "owner", "cost-center"] {
                    let v = r
                        .tags
                        .get(tag)
                        .unwrap_or_else(|| panic!("{estate}/{env} {} lacks tag {tag}", r.address));
                    assert!(
                        !v.is_empty(),
                        "{estate}/{env} {} has an empty {tag}",
                        r.address
                    );
                }
                assert_eq!(r.tags["environment"], env, "{estate}/{env} {}", r.address);
            }
        }
    }
}

#[test]
fn prod_follows_seed_004() {
    let e = load("chatwoot", "prod");
    let env = &e.environment;
    assert_eq!(env.region, "eastus");
    assert_eq!(env.dr_region.as_deref(), Some("westus"));
    assert!(
        env.zone_redundant
            && env.private_endpoints_only
            && env.destroy_protection
            && env.backup_before_apply
    );
    assert_eq!(env.state_retention_days, 30);
    let w = env.maintenance_window.as_ref().unwrap();
    assert_eq!(
        (w.start, w.end, w.timezone.as_str()),
        (120, 360, "America/New_York")
    );
    assert_eq!(w.days, [statectl::model::Weekday::Sunday]);
}

#[test]
fn names_follow_the_convention() {
    // {product}-{environment}-{service}-{region}, for resources named with hyphens.
    for estate in ESTATES {
        for env in ENVS {
            let e = load(estate, env);
            let rg = e
                .of_type("Microsoft.Resources/resourceGroups")
                .next()
                .unwrap_or_else(|| panic!("{estate}/{env}: no resource group"));
            let product = rg.name.split('-').next().unwrap();
            assert!(
                rg.name.starts_with(&format!("{product}-{env}-")),
                "{estate}/{env}: {}",
                rg.name
            );
            assert!(
                rg.name.ends_with(&e.environment.region)
                    || rg.name.contains(&format!("-{}", e.environment.region)),
                "{estate}/{env}: {}",
                rg.name
            );
        }
    }
}

#[test]
fn no_secret_literals_in_specs() {
    let secretish = [
        "password",
        "secret",
        "access_key",
        "connection_string",
        "api_key",
        "token",
    ];
    for estate in ESTATES {
        for env in ENVS {
            let e = load(estate, env);
            for r in e.resources().values() {
                for (k, v) in &r.properties {
                    let lower = k.to_ascii_lowercase();
                    if secretish.iter().any(|s| lower.contains(s))
                        && !lower.ends_with("_id")
                        && !lower.ends_with("_name")
                        && !lower.ends_with("enabled")
                    {
                        assert!(
                            v.has_refs(),
                            "{estate}/{env} {}: `{k}` holds a literal {v}; use a Key Vault reference",
                            r.address
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn cli_validate_estates_and_graph() {
    let root = repo_root();
    let root = root.to_str().unwrap();
    let run = statectl(&["-C", root, "validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with("12 stack(s) valid\n"),
        "{}",
        run.stdout
    );

    let run = statectl(&["-C", root, "estates"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("ESTATE"));
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    for (line, estate) in lines[1..].iter().zip(ESTATES) {
        assert!(line.starts_with(estate), "{line}");
        let n = load(estate, "prod").resources().len();
        assert!(line.contains(&format!("prod={n}")), "{line}");
    }

    let run = statectl(&["-C", root, "graph", "--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("digraph \"chatwoot/prod\" {\n"));
    assert!(run.stdout.ends_with("}\n"));
    let e = load("chatwoot", "prod");
    let edges = run.stdout.lines().filter(|l| l.contains(" -> ")).count();
    assert_eq!(edges, e.graph().edges().count());
    assert!(
        run.stdout
            .contains("\"app_gateway.gateway\" -> \"app_gateway.kv_secrets_user\";")
    );
}
