//! The estate as the cloud holds it: the desired estate with every literal
//! property and tag replaced by what the provider reports, so the same
//! rules judge observed state (a portal change that breaks a guarantee is a
//! finding, not only a drift line).
//!
//! A property whose desired value holds a reference keeps it unless it
//! drifted (the cloud reports the resolved ARM id, which says nothing the
//! reference does not); one that drifted, or that the cloud dropped, takes
//! the cloud's value or goes. Properties set only in the cloud are added.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Address, Estate, GraphError, ObservedResource, Value};

/// `estate` with what `live` reports laid over it; `drifted` are the
/// (resource, property) pairs the cloud changed since the last apply.
/// Resources the cloud no longer has stay as desired (their absence is
/// drift's finding).
pub fn as_observed(
    estate: &Estate,
    live: &BTreeMap<Address, ObservedResource>,
    drifted: &BTreeSet<(Address, String)>,
) -> Result<Estate, GraphError> {
    estate.with_resources(|rs| {
        for (addr, r) in rs.iter_mut() {
            let Some(seen) = live.get(addr) else {
                continue;
            };
            let desired = std::mem::take(&mut r.properties);
            let mut out = BTreeMap::new();
            for (k, want) in &desired {
                match seen.properties.get(k) {
                    None => {}
                    Some(v) if is_empty(v) => {}
                    Some(_) if has_ref(want) && !drifted.contains(&(addr.clone(), k.clone())) => {
                        out.insert(k.clone(), want.clone());
                    }
                    Some(v) => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            for (k, v) in &seen.properties {
                if !is_empty(v) {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            r.properties = out;
            r.tags = seen.tags.clone();
        }
    })
}

fn has_ref(v: &Value) -> bool {
    let mut any = false;
    v.for_each_ref(&mut |_| any = true);
    any
}

/// A value the cloud reports for a property it does not have set (an
/// empty string, list or map): the same as no value.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}
