//! References for the applier: a desired resource's `${...}` references
//! filled in from observed state (what the provider reported), and the ARM
//! id an operation writes, known once it is resolved or predicted before
//! its dependencies have finished (so it can be journaled ahead).
//!
//! Nothing here writes anything: these are pure functions of the release,
//! observed state and the ids journaled so far.

use std::collections::BTreeMap;

use crate::catalog;
use crate::model::{Address, Estate, ObservedResource, Reference, Value};
use crate::plan::{Action, ActionKind};
use crate::provider::ResolvedResource;

/// The value of `re` from observed state, as the provider reported it.
pub(super) fn lookup(
    observed: &BTreeMap<Address, ObservedResource>,
    re: &Reference,
) -> Option<Value> {
    let o = observed.get(&re.address)?;
    match re.attr.as_str() {
        "id" => Some(Value::String(o.id.clone())),
        "name" => Some(Value::String(o.name.clone())),
        a => o.attributes.get(a).or_else(|| o.properties.get(a)).cloned(),
    }
}

/// Resolves a desired resource against observed state. The error is the
/// reason it cannot run, in words: it ends the operation as failed.
pub(super) fn resolve(
    desired: &Estate,
    address: &Address,
    observed: &BTreeMap<Address, ObservedResource>,
) -> Result<ResolvedResource, String> {
    let r = desired
        .resource(address)
        .ok_or_else(|| format!("{address} is not in the release"))?;
    let mut properties = BTreeMap::new();
    for (k, v) in &r.properties {
        let resolved = v.resolve(&|re| lookup(observed, re)).map_err(|re| {
            let sensitive = catalog::lookup(&observed.get(&re.address).map_or(String::new(), |o| o.arm_type.clone()))
                .is_ok_and(|rt| rt.is_sensitive(&re.attr));
            if sensitive {
                format!("property `{k}` references the sensitive attribute {re}; pass secrets through Key Vault references, never in clear")
            } else {
                format!("property `{k}`: {re} has no value (its resource is not in observed state)")
            }
        })?;
        properties.insert(k.clone(), resolved);
    }
    Ok(ResolvedResource {
        address: address.clone(),
        arm_type: r.arm_type.clone(),
        name: r.name.clone(),
        subscription: desired.environment.subscription_id.clone(),
        properties,
        tags: r.tags.clone(),
        dependencies: r.dependencies(),
        prevent_destroy: r.lifecycle.prevent_destroy,
    })
}

/// The ARM id a resolved write puts; empty when the catalog cannot say
/// (the journal entry then names no id, and `--resume` reads by address).
pub(super) fn arm_id(r: &ResolvedResource) -> String {
    catalog::lookup(&r.arm_type)
        .ok()
        .and_then(|rt| {
            rt.arm_id(&r.subscription, &r.name, &|p| {
                r.properties
                    .get(p)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .ok()
        })
        .unwrap_or_default()
}

/// The ARM id an operation on `address` writes: a write's from its
/// resolved resource, a delete's (`resolved` is `None`) from observed
/// state, empty when observed state has none.
pub(super) fn written_id(
    resolved: Option<&ResolvedResource>,
    address: &Address,
    observed: &BTreeMap<Address, ObservedResource>,
) -> String {
    match resolved {
        Some(r) => arm_id(r),
        None => observed
            .get(address)
            .map(|o| o.id.clone())
            .unwrap_or_default(),
    }
}

/// The ARM id an action will write, predicted before its dependencies
/// have finished: references resolve from observed state where it has
/// them, otherwise a dependency's `name` from the release and its `id`
/// from the id its own journal entry names. `None` when that is not enough
/// (the id needs a value only the cloud computes).
pub(super) fn predict_id(
    desired: &Estate,
    a: &Action,
    observed: &BTreeMap<Address, ObservedResource>,
    journaled_ids: &BTreeMap<Address, String>,
) -> Option<String> {
    if a.kind == ActionKind::Delete {
        return observed.get(&a.address).map(|o| o.id.clone());
    }
    let r = desired.resource(&a.address)?;
    let rt = catalog::lookup(&r.arm_type).ok()?;
    let find = |re: &Reference| -> Option<Value> {
        if let Some(v) = lookup(observed, re) {
            return Some(v);
        }
        match re.attr.as_str() {
            "id" => journaled_ids.get(&re.address).cloned().map(Value::String),
            "name" => desired
                .resource(&re.address)
                .map(|t| Value::String(t.name.clone())),
            _ => None,
        }
    };
    let id = rt
        .arm_id(&desired.environment.subscription_id, &r.name, &|p| {
            r.properties
                .get(p)?
                .resolve(&find)
                .ok()?
                .as_str()
                .map(str::to_string)
        })
        .ok()?;
    Some(id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::plan::testkit::{
        SUB, addr, chain, estate, nsg, nsg_id, observe, reference, resource, rg,
    };
    use crate::plan::{Plan, PlanOptions};

    fn only(
        observed: &BTreeMap<Address, ObservedResource>,
        keep: &[&str],
    ) -> BTreeMap<Address, ObservedResource> {
        observed
            .iter()
            .filter(|(a, _)| keep.contains(&a.to_string().as_str()))
            .map(|(a, o)| (a.clone(), o.clone()))
            .collect()
    }

    fn re(address: &str, attr: &str) -> Reference {
        Reference {
            address: addr(address),
            attr: attr.into(),
        }
    }

    #[test]
    fn references_read_observed_id_name_attributes_then_properties() {
        let mut observed = observe(&chain());
        let vnet = observed.get_mut(&addr("net.vnet")).unwrap();
        vnet.attributes
            .insert("location".into(), Value::String("computed".into()));
        let s = |v: &str| Some(Value::String(v.into()));
        assert_eq!(
            lookup(&observed, &re("net.vnet", "id")),
            s(&nsg_id("net.vnet"))
        );
        assert_eq!(lookup(&observed, &re("net.vnet", "name")), s("t-vnet"));
        assert_eq!(
            lookup(&observed, &re("net.vnet", "location")),
            s("computed")
        );
        assert_eq!(
            lookup(&observed, &re("net.vnet", "rule_count")),
            Some(Value::Int(1))
        );
        assert_eq!(lookup(&observed, &re("net.vnet", "fqdn")), None);
        assert_eq!(lookup(&observed, &re("net.nope", "id")), None);
    }

    #[test]
    fn a_resource_resolves_against_observed_outputs() {
        let e = chain();
        let observed = only(&observe(&e), &["core.rg", "net.vnet"]);
        let r = resolve(&e, &addr("app.web"), &observed).unwrap();
        assert_eq!(r.subscription, SUB);
        assert_eq!(r.name, "t-web");
        assert_eq!(r.properties["resource_group"], Value::String("t-rg".into()));
        assert_eq!(
            r.properties["peers"],
            Value::List(vec![Value::String(nsg_id("net.vnet"))])
        );
        assert_eq!(
            r.dependencies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["core.rg", "net.vnet"]
        );
        assert_eq!(arm_id(&r), nsg_id("app.web"));
        assert_eq!(
            written_id(Some(&r), &r.address, &observed),
            nsg_id("app.web")
        );
    }

    #[test]
    fn unresolvable_references_are_named() {
        let e = chain();
        let observed = only(&observe(&e), &["core.rg"]);
        assert_eq!(
            resolve(&e, &addr("app.web"), &observed).unwrap_err(),
            "property `peers`: ${net.vnet.id} has no value (its resource is not in observed state)"
        );
        assert_eq!(
            resolve(&e, &addr("app.nope"), &observed).unwrap_err(),
            "app.nope is not in the release"
        );
        // A secret is never passed in clear, even when observed.
        let st = resource(
            "data.st",
            "Microsoft.Storage/storageAccounts",
            &[("resource_group", reference("core.rg", "name"))],
        );
        let app = resource(
            "app.cfg",
            "Microsoft.Resources/resourceGroups",
            &[("key", reference("data.st", "primary_access_key"))],
        );
        let e = estate([rg(), st.clone(), app]);
        let observed = observe(&estate([rg(), st]));
        assert_eq!(
            resolve(&e, &addr("app.cfg"), &observed).unwrap_err(),
            "property `key` references the sensitive attribute ${data.st.primary_access_key}; pass secrets through Key Vault references, never in clear"
        );
    }

    #[test]
    fn a_delete_writes_the_observed_id() {
        let observed = observe(&chain());
        assert_eq!(
            written_id(None, &addr("net.vnet"), &observed),
            nsg_id("net.vnet")
        );
        assert_eq!(written_id(None, &addr("net.gone"), &observed), "");
    }

    fn action_for(e: &Estate, address: &str) -> Action {
        let p: Plan = crate::plan::testkit::plan_of(
            Some(e),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &PlanOptions::default(),
        )
        .unwrap();
        p.actions
            .into_iter()
            .find(|a| a.address == addr(address))
            .unwrap()
    }

    #[test]
    fn ids_are_predicted_from_the_release_and_journaled_ids() {
        // A role assignment's id is under its scope's id: known only once
        // that is observed or journaled.
        let ra = resource(
            "iam.ra",
            "Microsoft.Authorization/roleAssignments",
            &[("scope", reference("net.vnet", "id"))],
        );
        let e = estate([rg(), nsg("net.vnet", &[]), ra]);
        let none = BTreeMap::new();
        let no_ids = BTreeMap::new();
        // A dependency's name comes from the release.
        let vnet = action_for(&e, "net.vnet");
        assert_eq!(
            predict_id(&e, &vnet, &none, &no_ids),
            Some(nsg_id("net.vnet"))
        );
        let ra = action_for(&e, "iam.ra");
        assert_eq!(predict_id(&e, &ra, &none, &no_ids), None);
        let journaled = BTreeMap::from([(addr("net.vnet"), "/j/vnet".to_string())]);
        assert_eq!(
            predict_id(&e, &ra, &none, &journaled),
            Some("/j/vnet/providers/Microsoft.Authorization/roleAssignments/t-ra".into())
        );
        // Observed state wins over a journaled id.
        let observed = observe(&estate([rg(), nsg("net.vnet", &[])]));
        assert_eq!(
            predict_id(&e, &ra, &observed, &journaled),
            Some(format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/t-ra",
                nsg_id("net.vnet")
            ))
        );
        // A delete writes what observed state holds, if anything.
        let mut delete = vnet.clone();
        delete.kind = ActionKind::Delete;
        assert_eq!(
            predict_id(&e, &delete, &observed, &no_ids),
            Some(nsg_id("net.vnet"))
        );
        assert_eq!(predict_id(&e, &delete, &none, &no_ids), None);
    }
}
