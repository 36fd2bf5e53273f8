//! Small estates and observed states for the unit tests of the planner and
//! the applier: a resource group `core.rg` and network security groups in
//! it that may reference each other's ids, all in one subscription.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use super::action::{Plan, PlanOptions};
use super::planner::{PlanInput, plan};
use crate::catalog;
use crate::model::{
    Address, Digest, Environment, Estate, Interval, Lifecycle, Objectives, ObservedResource,
    Reference, Resource, Stack, Value,
};

/// The subscription every test estate lives in.
pub(crate) const SUB: &str = "00000000-0000-4000-8000-0000000000aa";

/// `module.name` as an address.
pub(crate) fn addr(s: &str) -> Address {
    s.parse().expect("a test address")
}

/// A reference `${address.attr}`.
pub(crate) fn reference(address: &str, attr: &str) -> Value {
    Value::Ref(Reference {
        address: addr(address),
        attr: attr.into(),
    })
}

/// A resource of `arm_type` at `address`, named after it.
pub(crate) fn resource(address: &str, arm_type: &str, props: &[(&str, Value)]) -> Resource {
    let a = addr(address);
    Resource {
        name: format!("t-{}", a.name()),
        address: a,
        arm_type: arm_type.into(),
        properties: props
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        tags: BTreeMap::from([("owner".to_string(), "test".to_string())]),
        depends_on: BTreeSet::new(),
        lifecycle: Lifecycle::default(),
    }
}

/// The resource group `core.rg`, named `t-rg`.
pub(crate) fn rg() -> Resource {
    resource(
        "core.rg",
        "Microsoft.Resources/resourceGroups",
        &[("location", Value::String("eastus".into()))],
    )
}

/// A network security group in `core.rg` whose `peers` are the ids of the
/// groups at `peers`.
pub(crate) fn nsg(address: &str, peers: &[&str]) -> Resource {
    let mut props = vec![
        ("resource_group", reference("core.rg", "name")),
        ("location", Value::String("eastus".into())),
        ("rule_count", Value::Int(1)),
    ];
    if !peers.is_empty() {
        let ids = peers.iter().map(|p| reference(p, "id")).collect();
        props.push(("peers", Value::List(ids)));
    }
    resource(address, "Microsoft.Network/networkSecurityGroups", &props)
}

/// The id of `nsg(address, ..)` once created.
pub(crate) fn nsg_id(address: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/t-rg/providers/Microsoft.Network/networkSecurityGroups/t-{}",
        addr(address).name()
    )
}

/// An estate of `resources` in environment `dev`.
pub(crate) fn estate(resources: impl IntoIterator<Item = Resource>) -> Estate {
    let environment = Environment::plain("dev", SUB, "eastus");
    let objectives = Objectives {
        rto: Interval::from_hours(4),
        rpo: Interval::from_hours(4),
        monthly_budget_usd: None,
        required_tags: vec![],
    };
    let resources = resources
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
    Estate::new("t".into(), environment, objectives, Vec::new(), resources).unwrap()
}

/// The `rg -> net.vnet -> app.web` chain (`app.web` also needs `core.rg`):
/// address order is the reverse of dependency order.
pub(crate) fn chain() -> Estate {
    estate([rg(), nsg("net.vnet", &[]), nsg("app.web", &["net.vnet"])])
}

/// A digest of each resource (any function of its content will do).
pub(crate) fn digests(e: &Estate) -> BTreeMap<Address, Digest> {
    e.resources()
        .iter()
        .map(|(a, r)| (a.clone(), Digest::of(format!("{r:?}").as_bytes())))
        .collect()
}

/// Observed state as a provider reports it after applying `e`.
pub(crate) fn observe(e: &Estate) -> BTreeMap<Address, ObservedResource> {
    let mut out: BTreeMap<Address, ObservedResource> = BTreeMap::new();
    for a in e.graph().order() {
        let r = &e.resources()[a];
        let find = |re: &Reference| {
            let o = out.get(&re.address)?;
            match re.attr.as_str() {
                "id" => Some(Value::String(o.id.clone())),
                "name" => Some(Value::String(o.name.clone())),
                _ => None,
            }
        };
        let properties: BTreeMap<String, Value> = r
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(&find).unwrap()))
            .collect();
        let id = catalog::lookup(&r.arm_type)
            .unwrap()
            .arm_id(SUB, &r.name, &|p| {
                properties
                    .get(p)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap();
        let o = ObservedResource {
            address: a.clone(),
            arm_type: r.arm_type.clone(),
            name: r.name.clone(),
            id,
            properties,
            attributes: BTreeMap::new(),
            sensitive: BTreeMap::new(),
            tags: r.tags.clone(),
            dependencies: r.dependencies(),
            prevent_destroy: r.lifecycle.prevent_destroy,
        };
        out.insert(a.clone(), o);
    }
    out
}

/// The stack every test plan is for.
pub(crate) fn stack() -> Stack {
    Stack::new("t", "dev").unwrap()
}

/// The plan from `observed` (applied from `applied`) to `desired`.
pub(crate) fn plan_of(
    desired: Option<&Estate>,
    observed: &BTreeMap<Address, ObservedResource>,
    applied: &BTreeMap<Address, Digest>,
    options: &PlanOptions,
) -> Result<Plan, super::planner::PlanError> {
    let stack = stack();
    let desired_digests = desired.map(digests).unwrap_or_default();
    plan(
        &PlanInput {
            stack: &stack,
            release: desired.map(|_| "1.0.0"),
            release_content: None,
            desired,
            desired_digests: &desired_digests,
            base_generation: None,
            observed,
            applied,
        },
        options,
    )
}
