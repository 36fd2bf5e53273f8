use super::{Finding, refs, target, vnet_of};
use crate::catalog;
use crate::model::{Estate, Value};

const PE: &str = "Microsoft.Network/privateEndpoints";
const LINK: &str = "Microsoft.Network/privateDnsZones/virtualNetworkLinks";

pub(super) fn check(estate: &Estate) -> Vec<Finding> {
    let mut out = Vec::new();
    let private_only = estate.environment.private_endpoints_only;
    for r in estate.resources().values() {
        let Ok(rt) = catalog::lookup(&r.arm_type) else {
            continue;
        };
        if let Some(pl) = rt.private_link {
            if r.property("public_network_access_enabled") != Some(&Value::Bool(false)) {
                out.push(Finding::new(
                    "private.public-access",
                    Some(&r.address),
                    format!(
                        "{} `{}` does not disable public network access",
                        rt.short_name(),
                        r.name
                    ),
                    "set `public_network_access_enabled = false`",
                ));
            }
            let endpoints: Vec<_> = estate
                .of_type(PE)
                .filter(|pe| {
                    target(pe.property("private_connection_resource_id")) == Some(&r.address)
                })
                .collect();
            if endpoints.is_empty() {
                out.push(Finding::new(
                    "private.endpoint",
                    Some(&r.address),
                    format!("{} `{}` has no private endpoint", rt.short_name(), r.name),
                    format!("add a Microsoft.Network/privateEndpoints with private_connection_resource_id = \"${{{}.id}}\", group_id = \"{}\" and a zone `{}` linked to its VNet", r.address, pl.group_id, pl.dns_zone),
                ));
            }
            for pe in endpoints {
                if let Some(g) = pe.property("group_id").and_then(Value::as_str)
                    && !g.eq_ignore_ascii_case(pl.group_id)
                {
                    out.push(Finding::new(
                        "private.endpoint",
                        Some(&pe.address),
                        format!(
                            "private endpoint for `{}` connects group `{g}`, not `{}`",
                            r.address, pl.group_id
                        ),
                        format!("set `group_id = \"{}\"`", pl.group_id),
                    ));
                }
                let zones: Vec<_> = refs(pe.property("private_dns_zone_ids"))
                    .into_iter()
                    .map(|z| &z.address)
                    .collect();
                let right = zones
                    .iter()
                    .find(|z| estate.resource(z).is_some_and(|zr| zr.name == pl.dns_zone));
                let Some(zone) = right else {
                    out.push(Finding::new(
                        "private.endpoint",
                        Some(&pe.address),
                        format!(
                            "private endpoint for `{}` is not registered in `{}`",
                            r.address, pl.dns_zone
                        ),
                        format!("add the `{}` zone to private_dns_zone_ids", pl.dns_zone),
                    ));
                    continue;
                };
                let vnet = vnet_of(estate, pe.property("subnet_id"));
                let linked = estate.of_type(LINK).any(|l| {
                    target(l.property("parent")) == Some(zone)
                        && target(l.property("virtual_network_id")) == vnet
                });
                if !linked {
                    out.push(Finding::new(
                        "private.endpoint",
                        Some(&pe.address),
                        format!(
                            "zone `{}` is not linked to the VNet of the endpoint for `{}`",
                            pl.dns_zone, r.address
                        ),
                        "add a privateDnsZones/virtualNetworkLinks from the zone to that VNet",
                    ));
                }
            }
        }
        if private_only && let Some(f) = public_service(r) {
            out.push(f);
        }
        if r.arm_type == "Microsoft.ContainerService/managedClusters"
            && r.property("private_cluster_enabled") != Some(&Value::Bool(true))
        {
            out.push(Finding::new(
                "private.aks",
                Some(&r.address),
                format!("AKS cluster `{}` is not private", r.name),
                "set `private_cluster_enabled = true`",
            ));
        }
        if r.arm_type == "Microsoft.Storage/storageAccounts/blobServices/containers"
            && let Some(v) = r.property("container_access_type").and_then(Value::as_str)
            && v != "private"
        {
            out.push(Finding::new(
                "private.containers",
                Some(&r.address),
                format!("container `{}` allows public access (`{v}`)", r.name),
                "set `container_access_type = \"private\"`",
            ));
        }
    }
    out
}

/// Services that are not data services (the catalog gives them no private
/// link) but that Azure lets reach the internet, and which seed 004 ("No
/// public exposure") therefore bars in a private-only environment unless an
/// exception says why they must face the internet.
const PUBLIC_CAPABLE: &[&str] = &[
    "Microsoft.SignalRService/signalR",
    "Microsoft.Web/sites",
    "Microsoft.Web/sites/slots",
    "Microsoft.Web/staticSites",
    "Microsoft.Databricks/workspaces",
];

/// A finding when `r` accepts connections from the internet.
fn public_service(r: &crate::model::Resource) -> Option<Finding> {
    let public = if r.arm_type == "Microsoft.App/managedEnvironments" {
        r.property("internal_load_balancer_enabled") != Some(&Value::Bool(true))
    } else if PUBLIC_CAPABLE.contains(&r.arm_type.as_str()) {
        r.property("public_network_access_enabled") != Some(&Value::Bool(false))
    } else {
        return None;
    };
    public.then(|| {
        Finding::new(
            "private.public-access",
            Some(&r.address),
            format!(
                "{} `{}` accepts connections from the internet in a private-only environment",
                r.arm_type, r.name
            ),
            "disable public network access (`public_network_access_enabled = false`; `internal_load_balancer_enabled = true` for a Container Apps environment) and reach it through a private endpoint or a gateway, or record in an exception why it must face the internet",
        )
    })
}
