use super::{Finding, refs, target, vnet_of};
use crate::model::{Estate, Value};
use crate::plan::{ActionKind, Plan};

const KV_READ_ROLES: &[&str] = &[
    "Key Vault Secrets User",
    "Key Vault Administrator",
    "Key Vault Certificate User",
    "Key Vault Secrets Officer",
];

pub(super) fn check(estate: &Estate) -> Vec<Finding> {
    let mut out = Vec::new();
    let g = estate.graph();
    for pe in estate.of_type("Microsoft.Network/privateEndpoints") {
        let vnet = vnet_of(estate, pe.property("subnet_id"));
        for z in refs(pe.property("private_dns_zone_ids")) {
            let link = estate
                .of_type("Microsoft.Network/privateDnsZones/virtualNetworkLinks")
                .find(|l| {
                    target(l.property("parent")) == Some(&z.address)
                        && target(l.property("virtual_network_id")) == vnet
                });
            match link {
                Some(l) if g.depends_transitively(&pe.address, &l.address) => {}
                Some(l) => out.push(Finding::new(
                    "ordering.dns-before-endpoint",
                    Some(&pe.address),
                    format!("private endpoint does not depend on `{}`, the link of zone `{}` to its VNet", l.address, z.address),
                    format!("add `depends_on = [\"{}\"]`", l.address),
                )),
                None => out.push(Finding::new(
                    "ordering.dns-before-endpoint",
                    Some(&pe.address),
                    format!("zone `{}` has no link to the endpoint's VNet to wait for", z.address),
                    "add the virtual network link and depend on it",
                )),
            }
        }
    }
    for gw in estate.of_type("Microsoft.Network/applicationGateways") {
        let certs: Vec<_> = refs(gw.property("ssl_certificates"))
            .into_iter()
            .filter(|r| {
                estate
                    .resource(&r.address)
                    .is_some_and(|c| c.arm_type == "Microsoft.KeyVault/vaults/certificates")
            })
            .collect();
        for c in &certs {
            if !g.depends_transitively(&gw.address, &c.address) {
                out.push(Finding::new(
                    "ordering.certificate-before-gateway",
                    Some(&gw.address),
                    format!("gateway does not depend on its certificate `{}`", c.address),
                    "reference the certificate's secret id in ssl_certificates",
                ));
            }
            let vault = estate
                .resource(&c.address)
                .and_then(|cr| target(cr.property("parent")))
                .cloned();
            let identities: Vec<_> = refs(gw.property("identity_ids"))
                .into_iter()
                .map(|r| r.address.clone())
                .collect();
            let access = estate
                .of_type("Microsoft.Authorization/roleAssignments")
                .find(|ra| {
                    let role = ra
                        .property("role_definition_name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    KV_READ_ROLES.contains(&role)
                        && target(ra.property("scope")) == vault.as_ref()
                        && refs(ra.property("principal_id"))
                            .iter()
                            .any(|p| identities.contains(&p.address))
                });
            match access {
                Some(ra) if g.depends_transitively(&gw.address, &ra.address) => {}
                Some(ra) => out.push(Finding::new("ordering.certificate-before-gateway", Some(&gw.address), format!("gateway does not wait for `{}`, its identity's access to the vault", ra.address), format!("add `depends_on = [\"{}\"]`", ra.address))),
                None => out.push(Finding::new("ordering.certificate-before-gateway", Some(&gw.address), "no identity of the gateway is granted read access to the certificate's vault", "assign `Key Vault Secrets User` on the vault to the gateway's user-assigned identity, and depend on it")),
            }
        }
    }
    for ra in estate.of_type("Microsoft.Authorization/roleAssignments") {
        if target(ra.property("scope")).is_none() {
            out.push(Finding::new("ordering.rbac-after-resources", Some(&ra.address), "the scope is not a reference to a resource, so nothing orders the assignment after it", "write `scope = \"${<module>.<resource>.id}\"`"));
        }
        let external = ra
            .property("principal_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t == "User" || t == "Group");
        if !external && refs(ra.property("principal_id")).is_empty() {
            out.push(Finding::new("ordering.rbac-after-resources", Some(&ra.address), "the principal is not a reference to an identity, so nothing orders the assignment after it", "reference the identity's principal_id, or set principal_type = \"User\"/\"Group\" for people"));
        }
    }
    for pool in estate.of_type("Microsoft.ContainerService/managedClusters/agentPools") {
        let cluster = target(pool.property("parent"));
        if !cluster.is_some_and(|c| {
            estate
                .resource(c)
                .is_some_and(|cr| cr.arm_type == "Microsoft.ContainerService/managedClusters")
        }) {
            out.push(Finding::new(
                "ordering.nodepool-after-cluster",
                Some(&pool.address),
                "the node pool's parent is not an AKS cluster of this estate",
                "write `parent = \"${<module>.<cluster>.id}\"`",
            ));
        }
    }
    out
}

/// The plan-level ordering guarantee: no action comes before an action it
/// needs, and every create or update needs the actions on what it depends
/// on (per the desired graph).
pub fn check_plan_order(plan: &Plan, desired: &Estate) -> Vec<Finding> {
    let mut out = Vec::new();
    let index: std::collections::BTreeMap<_, _> = plan
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.address, i))
        .collect();
    for (i, a) in plan.actions.iter().enumerate() {
        for &j in &a.needs {
            if j >= i {
                out.push(Finding::new(
                    "ordering.plan",
                    Some(&a.address),
                    format!(
                        "`{}` is scheduled before `{}`, which it needs",
                        a.address,
                        plan.actions
                            .get(j)
                            .map_or("?".to_string(), |b| b.address.to_string())
                    ),
                    "bug in statectl's planner",
                ));
            }
        }
        if matches!(
            a.kind,
            ActionKind::Create | ActionKind::Update | ActionKind::Replace
        ) {
            for d in desired.graph().dependencies(&a.address) {
                if let Some(&j) = index.get(d)
                    && plan.actions[j].kind != ActionKind::Delete
                    && !a.needs.contains(&j)
                {
                    out.push(Finding::new(
                        "ordering.plan",
                        Some(&a.address),
                        format!(
                            "`{}` does not wait for `{}`, which it depends on",
                            a.address, d
                        ),
                        "bug in statectl's planner",
                    ));
                }
            }
        }
    }
    out
}

/// The plan of a first apply of `estate` (from nothing), which orders
/// every resource: what the ordering guarantee is checked on.
pub fn first_apply_plan(estate: &Estate) -> Result<Plan, String> {
    let stack = crate::model::Stack::new(&estate.name, &estate.environment.name)
        .map_err(|e| e.to_string())?;
    let mut digests = std::collections::BTreeMap::new();
    for (a, r) in estate.resources() {
        let d = crate::store::resource_digest(r).map_err(|e| format!("{a}: {e}"))?;
        digests.insert(a.clone(), d);
    }
    let (observed, applied) = (
        std::collections::BTreeMap::new(),
        std::collections::BTreeMap::new(),
    );
    let input = crate::plan::PlanInput {
        stack: &stack,
        release: Some("0.0.0"),
        release_content: None,
        desired: Some(estate),
        desired_digests: &digests,
        base_generation: None,
        observed: &observed,
        applied: &applied,
    };
    crate::plan::plan(&input, &crate::plan::PlanOptions::default()).map_err(|e| e.to_string())
}

/// Checks the order of the estate's first-apply plan.
pub(super) fn check_create_plan(estate: &Estate) -> Vec<Finding> {
    match first_apply_plan(estate) {
        Ok(p) => check_plan_order(&p, estate),
        Err(e) => vec![Finding::new(
            "ordering.plan",
            None,
            format!("the estate cannot be planned: {e}"),
            "fix the error above",
        )],
    }
}
