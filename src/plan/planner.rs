use std::collections::{BTreeMap, BTreeSet};

use super::action::{Action, ActionKind, Plan, PlanOptions, PropertyChange};
use crate::catalog;
use crate::model::{Address, Digest, Estate, ObservedResource, Reference, Resource, Stack, Value};

/// What the planner compares.
pub struct PlanInput<'a> {
    /// The stack.
    pub stack: &'a Stack,
    /// The release being planned (`None` when destroying).
    pub release: Option<&'a str>,
    /// Its content digest, when stored.
    pub release_content: Option<Digest>,
    /// The desired estate (`None` when destroying).
    pub desired: Option<&'a Estate>,
    /// Digest of each desired resource.
    pub desired_digests: &'a BTreeMap<Address, Digest>,
    /// The generation observed state was read from.
    pub base_generation: Option<u64>,
    /// Observed state.
    pub observed: &'a BTreeMap<Address, ObservedResource>,
    /// Digest of the desired resource each observed one was applied from.
    pub applied: &'a BTreeMap<Address, Digest>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A `--target` or `--replace` names nothing.
    #[error(
        "{flag} `{target}` matches no resource of {stack} (desired or observed); `statectl state list` and the specs show the addresses"
    )]
    UnknownTarget {
        /// `--target` or `--replace`.
        flag: &'static str,
        /// What was given.
        target: String,
        /// The stack.
        stack: String,
    },
    /// An internal invariant broke.
    #[error("bug in statectl: {0}")]
    Bug(String),
}

/// A property value as far as the planner knows it.
#[derive(Clone, Debug, PartialEq)]
enum Known {
    Value(Value),
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
enum Decision {
    NoOp,
    Create,
    Update(Vec<PropertyChange>),
    Replace(Vec<PropertyChange>, String),
    Delete,
}

/// Computes the plan from desired and observed state.
pub fn plan(input: &PlanInput<'_>, options: &PlanOptions) -> Result<Plan, PlanError> {
    let empty = BTreeMap::new();
    let desired: &BTreeMap<Address, Resource> = match (input.desired, options.destroy) {
        (Some(e), false) => e.resources(),
        _ => &empty,
    };
    for (flag, list) in [
        ("--target", &options.targets),
        ("--replace", &options.replace),
    ] {
        for t in list {
            if !desired
                .keys()
                .chain(input.observed.keys())
                .any(|a| t.matches(a))
            {
                return Err(PlanError::UnknownTarget {
                    flag,
                    target: t.to_string(),
                    stack: input.stack.to_string(),
                });
            }
        }
    }
    let scope: Option<BTreeSet<Address>> = if options.targets.is_empty() {
        None
    } else {
        let roots: Vec<&Address> = desired
            .keys()
            .chain(input.observed.keys())
            .filter(|a| options.targets.iter().any(|t| t.matches(a)))
            .collect();
        let mut s: BTreeSet<Address> = roots.iter().map(|a| (*a).clone()).collect();
        if let Some(e) = input.desired.filter(|_| !options.destroy) {
            s.extend(
                e.graph()
                    .closure(roots.iter().copied().filter(|a| desired.contains_key(*a))),
            );
        }
        Some(s)
    };
    let in_scope = |a: &Address| scope.as_ref().is_none_or(|s| s.contains(a));
    let forced = |a: &Address| options.replace.iter().any(|t| t.matches(a));

    // Desired resources in dependency order, so every reference's target is
    // decided (and its values resolved) before the resource that uses it.
    let order: Vec<Address> = match input.desired.filter(|_| !options.destroy) {
        Some(e) => e.graph().order().to_vec(),
        None => Vec::new(),
    };
    let subscription = input
        .desired
        .map_or("", |e| e.environment.subscription_id.as_str());
    let mut decisions: BTreeMap<Address, Decision> = BTreeMap::new();
    let mut resolved: BTreeMap<Address, BTreeMap<String, Known>> = BTreeMap::new();
    for a in &order {
        let Some(r) = desired.get(a) else { continue };
        let props = resolve_props(
            r,
            subscription,
            desired,
            input.observed,
            &decisions,
            &resolved,
        );
        resolved.insert(a.clone(), props);
        if !in_scope(a) {
            decisions.insert(a.clone(), Decision::NoOp);
            continue;
        }
        let decision = match input.observed.get(a) {
            None => Decision::Create,
            Some(obs) => {
                let refs_moved = r
                    .references()
                    .iter()
                    .any(|re| !matches!(decisions.get(&re.address), None | Some(Decision::NoOp)));
                let same_digest = input.applied.get(a).is_some()
                    && input.applied.get(a) == input.desired_digests.get(a);
                if same_digest && !refs_moved && !forced(a) {
                    Decision::NoOp
                } else {
                    let changes = diff(r, &resolved[a], obs);
                    if forced(a) {
                        Decision::Replace(changes, "requested with --replace".into())
                    } else if let Some(c) = changes.iter().find(|c| c.forces_replacement) {
                        let why = format!("`{}` forces replacement", c.path);
                        Decision::Replace(changes, why)
                    } else if changes.is_empty() {
                        Decision::NoOp
                    } else {
                        Decision::Update(changes)
                    }
                }
            }
        };
        decisions.insert(a.clone(), decision);
    }
    for a in input.observed.keys() {
        if !desired.contains_key(a) && in_scope(a) {
            decisions.insert(a.clone(), Decision::Delete);
        }
    }

    // Actions, with their dependencies.
    let mut actions: Vec<Action> = Vec::new();
    let mut unchanged = 0u64;
    let mut kept: Vec<Address> = Vec::new();
    for (a, d) in &decisions {
        let (kind, changes, reason) = match d {
            Decision::NoOp => {
                unchanged += 1;
                continue;
            }
            Decision::Create => (
                ActionKind::Create,
                creation_changes(&desired[a], &resolved[a]),
                None,
            ),
            Decision::Update(c) => (ActionKind::Update, c.clone(), None),
            Decision::Replace(c, why) => (ActionKind::Replace, c.clone(), Some(why.clone())),
            Decision::Delete => (ActionKind::Delete, Vec::new(), None),
        };
        let (arm_type, name, protected) = match (desired.get(a), input.observed.get(a)) {
            (Some(r), obs) => (
                r.arm_type.clone(),
                r.name.clone(),
                r.lifecycle.prevent_destroy || obs.is_some_and(|o| o.prevent_destroy),
            ),
            (None, Some(o)) => (o.arm_type.clone(), o.name.clone(), o.prevent_destroy),
            (None, None) => {
                return Err(PlanError::Bug(format!(
                    "{a} is neither desired nor observed"
                )));
            }
        };
        let stateful = catalog::lookup(&arm_type)
            .map(|rt| rt.stateful)
            .unwrap_or(true);
        let destructive_to_data = stateful || protected;
        if kind == ActionKind::Delete
            && destructive_to_data
            && options.keep_stateful
            && !options.allow_data_loss
        {
            kept.push(a.clone());
            continue;
        }
        let blocked = (matches!(kind, ActionKind::Delete | ActionKind::Replace)
            && destructive_to_data
            && !options.allow_data_loss)
            .then(|| {
                let what = if protected {
                    "it has prevent_destroy"
                } else {
                    "it holds data"
                };
                let verb = if kind == ActionKind::Delete {
                    "deleting"
                } else {
                    "replacing"
                };
                format!("{verb} {a} would lose data ({what}); pass --allow-data-loss to allow it")
            });
        let before = (kind != ActionKind::Create)
            .then(|| input.observed.get(a).map(whole_before))
            .flatten();
        let (after, after_unknown) = match (kind, desired.get(a)) {
            (ActionKind::Delete, _) | (_, None) => (None, Vec::new()),
            (_, Some(r)) => {
                let (v, u) = whole_after(r, &resolved[a]);
                (Some(v), u)
            }
        };
        actions.push(Action {
            address: a.clone(),
            kind,
            arm_type,
            name,
            reason,
            changes,
            before,
            after,
            after_unknown,
            desired: input
                .desired_digests
                .get(a)
                .copied()
                .filter(|_| kind != ActionKind::Delete),
            destructive_to_data,
            blocked,
            needs: Vec::new(),
        });
    }
    let index: BTreeMap<Address, usize> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.address.clone(), i))
        .collect();
    let mut needs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); actions.len()];
    // Who depends on what, as observed: built once (asking every observed
    // resource per delete made a destroy plan quadratic), and only when
    // something is deleted or replaced.
    let removes = actions
        .iter()
        .any(|a| matches!(a.kind, ActionKind::Delete | ActionKind::Replace));
    let mut dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    if removes {
        for (x, o) in input.observed {
            for d in &o.dependencies {
                dependents.entry(d).or_default().push(x);
            }
        }
    }
    for (i, act) in actions.iter().enumerate() {
        match act.kind {
            ActionKind::Create | ActionKind::Update | ActionKind::Replace => {
                if let Some(e) = input.desired {
                    for d in e.graph().dependencies(&act.address) {
                        if let Some(&j) = index.get(d)
                            && actions[j].kind != ActionKind::Delete
                        {
                            needs[i].insert(j);
                        }
                    }
                }
            }
            ActionKind::Delete => {}
        }
        if matches!(act.kind, ActionKind::Delete | ActionKind::Replace) {
            // Whatever still depends on it (as observed) goes first.
            for x in dependents.get(&act.address).into_iter().flatten() {
                if let Some(&j) = index.get(*x)
                    && j != i
                    && (actions[j].kind == ActionKind::Delete || act.kind == ActionKind::Delete)
                {
                    needs[i].insert(j);
                }
            }
        }
    }
    let order =
        topo(&needs).ok_or_else(|| PlanError::Bug("planned actions form a cycle".into()))?;
    let position: BTreeMap<usize, usize> =
        order.iter().enumerate().map(|(pos, i)| (*i, pos)).collect();
    let mut sorted: Vec<Action> = order.iter().map(|i| actions[*i].clone()).collect();
    for (pos, i) in order.iter().enumerate() {
        sorted[pos].needs = needs[*i].iter().map(|j| position[j]).collect();
    }
    let mut plan = Plan {
        stack: input.stack.clone(),
        release: input.release.map(str::to_string),
        release_content: input.release_content,
        base_generation: input.base_generation,
        actions: sorted,
        unchanged,
        kept,
        options: options.clone(),
        hash: Digest([0; 32]),
    };
    plan.hash = plan.compute_hash();
    Ok(plan)
}

/// Kahn's algorithm; ties by index (deterministic). `None` on a cycle.
fn topo(needs: &[BTreeSet<usize>]) -> Option<Vec<usize>> {
    let n = needs.len();
    let mut remaining: Vec<usize> = needs.iter().map(BTreeSet::len).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ns) in needs.iter().enumerate() {
        for &j in ns {
            users[j].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| remaining[*i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        out.push(i);
        for &u in &users[i] {
            remaining[u] -= 1;
            if remaining[u] == 0 {
                ready.insert(u);
            }
        }
    }
    (out.len() == n).then_some(out)
}

/// Resolves a desired resource's properties as far as they are known now.
fn resolve_props(
    r: &Resource,
    subscription: &str,
    desired: &BTreeMap<Address, Resource>,
    observed: &BTreeMap<Address, ObservedResource>,
    decisions: &BTreeMap<Address, Decision>,
    resolved: &BTreeMap<Address, BTreeMap<String, Known>>,
) -> BTreeMap<String, Known> {
    let lookup = |re: &Reference| -> Option<Value> {
        known_attr(re, subscription, desired, observed, decisions, resolved)
    };
    r.properties
        .iter()
        .map(|(k, v)| {
            let known = match v.resolve(&lookup) {
                Ok(v) => Known::Value(v),
                Err(_) => Known::Unknown,
            };
            (k.clone(), known)
        })
        .collect()
}

/// The value of `re` if it is known before apply.
fn known_attr(
    re: &Reference,
    subscription: &str,
    desired: &BTreeMap<Address, Resource>,
    observed: &BTreeMap<Address, ObservedResource>,
    decisions: &BTreeMap<Address, Decision>,
    resolved: &BTreeMap<Address, BTreeMap<String, Known>>,
) -> Option<Value> {
    let target = desired.get(&re.address)?;
    let props = resolved.get(&re.address)?;
    let fresh = matches!(
        decisions.get(&re.address),
        Some(Decision::Create | Decision::Replace(..))
    );
    match re.attr.as_str() {
        "name" => Some(Value::String(target.name.clone())),
        "id" => {
            // ARM ids follow from type, name and placement: known even before creation.
            let rt = catalog::lookup(&target.arm_type).ok()?;
            rt.arm_id(subscription, &target.name, &|p| match props.get(p) {
                Some(Known::Value(Value::String(s))) => Some(s.clone()),
                _ => None,
            })
            .ok()
            .map(Value::String)
        }
        attr => {
            if let Some(k) = props.get(attr) {
                return match k {
                    Known::Value(v) => Some(v.clone()),
                    Known::Unknown => None,
                };
            }
            if fresh {
                return None;
            }
            let obs = observed.get(&re.address)?;
            obs.attributes.get(attr).cloned()
        }
    }
}

fn known_value(k: &Known, original: &Value) -> (Option<Value>, bool) {
    match k {
        Known::Value(v) => (Some(v.clone()), false),
        Known::Unknown => (Some(original.clone()), true),
    }
}

/// Property changes from observed to desired.
fn diff(
    r: &Resource,
    resolved: &BTreeMap<String, Known>,
    obs: &ObservedResource,
) -> Vec<PropertyChange> {
    let rt = catalog::lookup(&r.arm_type).ok();
    let forces = |path: &str| {
        rt.is_none_or(|rt| rt.forces_new(path) || rt.placement_properties().any(|p| p == path))
    };
    let mut out = Vec::new();
    if r.arm_type != obs.arm_type {
        out.push(PropertyChange {
            path: "type".into(),
            before: Some(Value::String(obs.arm_type.clone())),
            after: Some(Value::String(r.arm_type.clone())),
            unknown: false,
            forces_replacement: true,
        });
    }
    if r.name != obs.name {
        out.push(PropertyChange {
            path: "name".into(),
            before: Some(Value::String(obs.name.clone())),
            after: Some(Value::String(r.name.clone())),
            unknown: false,
            forces_replacement: true,
        });
    }
    let keys: BTreeSet<&String> = resolved.keys().chain(obs.properties.keys()).collect();
    for k in keys {
        let before = obs.properties.get(k).cloned();
        let (after, unknown) = match (resolved.get(k), r.properties.get(k)) {
            (Some(known), Some(orig)) => known_value(known, orig),
            _ => (None, false),
        };
        if !unknown && after == before {
            continue;
        }
        out.push(PropertyChange {
            forces_replacement: forces(k),
            path: k.clone(),
            before,
            after,
            unknown,
        });
    }
    let tag_keys: BTreeSet<&String> = r.tags.keys().chain(obs.tags.keys()).collect();
    for k in tag_keys {
        let before = obs.tags.get(k).map(|v| Value::String(v.clone()));
        let after = r.tags.get(k).map(|v| Value::String(v.clone()));
        if before != after {
            out.push(PropertyChange {
                path: format!("tags.{k}"),
                before,
                after,
                unknown: false,
                forces_replacement: false,
            });
        }
    }
    out
}

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn whole_before(o: &ObservedResource) -> Value {
    let mut m = o.properties.clone();
    m.insert("name".into(), Value::String(o.name.clone()));
    m.insert("tags".into(), tags_value(&o.tags));
    Value::Map(m)
}

fn whole_after(r: &Resource, resolved: &BTreeMap<String, Known>) -> (Value, Vec<String>) {
    let mut m = BTreeMap::new();
    let mut unknown = Vec::new();
    for (k, orig) in &r.properties {
        match resolved.get(k) {
            Some(Known::Value(v)) => {
                m.insert(k.clone(), v.clone());
            }
            _ => {
                m.insert(k.clone(), orig.clone());
                unknown.push(k.clone());
            }
        }
    }
    m.insert("name".into(), Value::String(r.name.clone()));
    m.insert("tags".into(), tags_value(&r.tags));
    (Value::Map(m), unknown)
}

/// The "changes" of a create: every property, known or not.
fn creation_changes(r: &Resource, resolved: &BTreeMap<String, Known>) -> Vec<PropertyChange> {
    let mut out: Vec<PropertyChange> = r
        .properties
        .iter()
        .map(|(k, orig)| {
            let (after, unknown) = resolved
                .get(k)
                .map_or((Some(orig.clone()), true), |kn| known_value(kn, orig));
            PropertyChange {
                path: k.clone(),
                before: None,
                after,
                unknown,
                forces_replacement: false,
            }
        })
        .collect();
    out.extend(r.tags.iter().map(|(k, v)| PropertyChange {
        path: format!("tags.{k}"),
        before: None,
        after: Some(Value::String(v.clone())),
        unknown: false,
        forces_replacement: false,
    }));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::plan::Target;
    use crate::plan::testkit::{addr, chain, digests, nsg, nsg_id, observe, plan_of};

    /// Each action as `kind address needs`, in plan order.
    fn shape(p: &Plan) -> Vec<String> {
        p.actions
            .iter()
            .map(|a| format!("{} {} {:?}", a.kind, a.address, a.needs))
            .collect()
    }

    /// `chain()` applied, then `edit` made to the release.
    fn after_edit(edit: impl FnOnce(&mut BTreeMap<Address, Resource>)) -> Plan {
        after_edit_with(edit, &PlanOptions::default()).unwrap()
    }

    fn after_edit_with(
        edit: impl FnOnce(&mut BTreeMap<Address, Resource>),
        options: &PlanOptions,
    ) -> Result<Plan, PlanError> {
        let before = chain();
        let desired = before.with_resources(edit).unwrap();
        plan_of(
            Some(&desired),
            &observe(&before),
            &digests(&before),
            options,
        )
    }

    fn set(r: &mut BTreeMap<Address, Resource>, a: &str, k: &str, v: Value) {
        let r = r.get_mut(&addr(a)).unwrap();
        r.properties.insert(k.into(), v);
    }

    #[test]
    fn creates_from_empty_follow_the_dependency_graph() {
        let e = chain();
        let p = plan_of(
            Some(&e),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &PlanOptions::default(),
        )
        .unwrap();
        // Address order is app, core, net; the plan is in dependency order.
        assert_eq!(
            shape(&p),
            [
                "create core.rg []",
                "create net.vnet [0]",
                "create app.web [0, 1]"
            ]
        );
        assert_eq!(p.unchanged, 0);
        assert_eq!(p.blocked().count(), 0);
        // An id is known before creation: it follows from type, name and
        // placement.
        let web = &p.actions[2];
        assert!(web.after_unknown.is_empty(), "{:?}", web.after_unknown);
        let peers = web.changes.iter().find(|c| c.path == "peers").unwrap();
        assert_eq!(
            peers.after,
            Some(Value::List(vec![Value::String(nsg_id("net.vnet"))]))
        );
        assert_eq!(p.hash, p.compute_hash());
    }

    #[test]
    fn what_was_applied_unchanged_needs_nothing() {
        let p = after_edit(|_| {});
        assert_eq!(shape(&p), Vec::<String>::new());
        assert_eq!(p.unchanged, 3);
    }

    #[test]
    fn a_changed_property_is_an_in_place_update() {
        let p = after_edit(|r| set(r, "net.vnet", "rule_count", Value::Int(2)));
        assert_eq!(shape(&p), ["update net.vnet []"]);
        let c = &p.actions[0].changes;
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "rule_count");
        assert_eq!(c[0].before, Some(Value::Int(1)));
        assert_eq!(c[0].after, Some(Value::Int(2)));
        assert!(!c[0].forces_replacement);
        // app.web references it but its resolved values do not change.
        assert_eq!(p.unchanged, 2);
    }

    #[test]
    fn a_changed_digest_with_equal_values_is_no_op() {
        let p = after_edit(|r| {
            // Same values, different declaration: the digest differs.
            let web = r.get_mut(&addr("app.web")).unwrap();
            web.depends_on.insert(addr("core.rg"));
        });
        assert_eq!(shape(&p), Vec::<String>::new());
        assert_eq!(p.unchanged, 3);
    }

    #[test]
    fn a_property_that_forces_new_is_a_replacement() {
        let p = after_edit(|r| {
            set(r, "net.vnet", "location", Value::String("westus".into()));
        });
        assert_eq!(shape(&p), ["replace net.vnet []"]);
        let a = &p.actions[0];
        assert_eq!(a.reason.as_deref(), Some("`location` forces replacement"));
        assert!(!a.destructive_to_data);
        assert_eq!(a.blocked, None);
    }

    #[test]
    fn replace_flag_replaces_an_unchanged_resource() {
        let options = PlanOptions {
            replace: vec![Target::Resource(addr("net.vnet"))],
            ..PlanOptions::default()
        };
        let p = after_edit_with(|_| {}, &options).unwrap();
        assert_eq!(shape(&p), ["replace net.vnet []"]);
        assert_eq!(
            p.actions[0].reason.as_deref(),
            Some("requested with --replace")
        );
        assert!(p.actions[0].changes.is_empty());
    }

    #[test]
    fn a_resource_no_longer_desired_is_deleted() {
        let p = after_edit(|r| {
            r.remove(&addr("app.web"));
        });
        assert_eq!(shape(&p), ["delete app.web []"]);
        let a = &p.actions[0];
        assert_eq!(a.desired, None);
        assert_eq!(a.after, None);
        assert_eq!(a.name, "t-web");
        assert_eq!(p.unchanged, 2);
    }

    #[test]
    fn deletes_run_in_reverse_dependency_order() {
        let e = chain();
        let options = PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        };
        let p = plan_of(Some(&e), &observe(&e), &digests(&e), &options).unwrap();
        assert_eq!(
            shape(&p),
            [
                "delete app.web []",
                "delete net.vnet [0]",
                "delete core.rg [0, 1]"
            ]
        );
    }

    #[test]
    fn a_dependant_being_deleted_goes_before_a_replacement() {
        let p = after_edit(|r| {
            r.remove(&addr("app.web"));
            set(r, "net.vnet", "location", Value::String("westus".into()));
        });
        assert_eq!(shape(&p), ["delete app.web []", "replace net.vnet [0]"]);
    }

    #[test]
    fn a_replaced_dependency_goes_before_its_dependants_update() {
        let p = after_edit(|r| {
            set(r, "net.vnet", "location", Value::String("westus".into()));
            set(r, "app.web", "rule_count", Value::Int(3));
        });
        assert_eq!(shape(&p), ["replace net.vnet []", "update app.web [0]"]);
    }

    #[test]
    fn protected_deletes_are_blocked_and_named() {
        let before = chain();
        let mut observed = observe(&before);
        observed.get_mut(&addr("app.web")).unwrap().prevent_destroy = true;
        let desired = before
            .with_resources(|r| {
                r.remove(&addr("app.web"));
            })
            .unwrap();
        let p = plan_of(
            Some(&desired),
            &observed,
            &digests(&before),
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(
            p.actions[0].blocked.as_deref(),
            Some(
                "deleting app.web would lose data (it has prevent_destroy); pass --allow-data-loss to allow it"
            )
        );
        let kept = PlanOptions {
            keep_stateful: true,
            ..PlanOptions::default()
        };
        let p = plan_of(Some(&desired), &observed, &digests(&before), &kept).unwrap();
        assert_eq!(shape(&p), Vec::<String>::new());
        assert_eq!(p.kept, [addr("app.web")]);
    }

    #[test]
    fn a_target_plans_only_it_and_what_it_needs() {
        let edit = |r: &mut BTreeMap<Address, Resource>| {
            set(r, "net.vnet", "rule_count", Value::Int(2));
            set(r, "app.web", "rule_count", Value::Int(2));
            let extra = nsg("net.extra", &[]);
            r.insert(extra.address.clone(), extra);
        };
        let only = |t: Target| PlanOptions {
            targets: vec![t],
            ..PlanOptions::default()
        };
        let p = after_edit_with(edit, &only(Target::Resource(addr("net.vnet")))).unwrap();
        assert_eq!(shape(&p), ["update net.vnet []"]);
        // A target takes what it needs along (net.vnet), not what needs it.
        let p = after_edit_with(edit, &only(Target::Resource(addr("app.web")))).unwrap();
        assert_eq!(shape(&p), ["update net.vnet []", "update app.web [0]"]);
        let p = after_edit_with(edit, &only(Target::Module("net".into()))).unwrap();
        assert_eq!(shape(&p), ["create net.extra []", "update net.vnet []"]);
        assert_eq!(p.unchanged, 2);
    }

    #[test]
    fn a_target_that_matches_nothing_is_an_error() {
        let e = after_edit_with(
            |_| {},
            &PlanOptions {
                targets: vec![Target::Module("nope".into())],
                ..PlanOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--target `module.nope` matches no resource of t/dev (desired or observed); `statectl state list` and the specs show the addresses"
        );
        let e = after_edit_with(
            |_| {},
            &PlanOptions {
                replace: vec![Target::Resource(addr("net.nope"))],
                ..PlanOptions::default()
            },
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("--replace `net.nope` matches no"),
            "{e}"
        );
    }

    #[test]
    fn topo_breaks_ties_by_index_and_detects_cycles() {
        let needs = |v: &[&[usize]]| -> Vec<BTreeSet<usize>> {
            v.iter().map(|n| n.iter().copied().collect()).collect()
        };
        assert_eq!(topo(&needs(&[&[2], &[], &[]])), Some(vec![1, 2, 0]));
        assert_eq!(topo(&needs(&[&[1], &[0]])), None);
    }
}
