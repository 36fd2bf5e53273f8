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

