//! State-machine property test of the store: random sequences of release
//! creates, generation commits, applies in rounds large enough to fold their
//! rows into a checkpoint (`CHECKPOINT_EVERY`), reads of old generations,
//! lock attempts and store reopens, checked step by step against a simple
//! in-memory model. Any mismatch fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use statectl::model::*;
use statectl::store::*;

#[derive(Debug, Clone)]
enum Op {
    CreateRelease {
        estate: usize,
        version: usize,
        content: u8,
    },
    Commit {
        stack: usize,
        changes: Vec<(usize, Option<i64>)>,
    },
    /// An apply recorded in rounds, as the applier does: `rows` puts of
    /// slots from 100 on, `per_round` per commit, `store check` after the
    /// first round (a generation in progress) when `check`.
    Apply {
        stack: usize,
        rows: usize,
        per_round: usize,
        value: i64,
        check: bool,
    },
    ReadOld {
        stack: usize,
        back: usize,
    },
    Lock {
        stack: usize,
    },
    TryLock {
        stack: usize,
    },
    Unlock {
        stack: usize,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..2usize, 0..3usize, 0..3u8).prop_map(|(estate, version, content)| Op::CreateRelease { estate, version, content }),
        3 => (0..2usize, prop::collection::vec((0..6usize, prop::option::of(0..5i64)), 1..4)).prop_map(|(stack, changes)| Op::Commit { stack, changes }),
        1 => (0..2usize, 200..1400usize, 100..800usize, 0..1000i64, any::<bool>()).prop_map(|(stack, rows, per_round, value, check)| Op::Apply { stack, rows, per_round, value, check }),
        2 => (0..2usize, 0..5usize).prop_map(|(stack, back)| Op::ReadOld { stack, back }),
        1 => (0..2usize).prop_map(|stack| Op::Lock { stack }),
        1 => (0..2usize).prop_map(|stack| Op::TryLock { stack }),
        1 => (0..2usize).prop_map(|stack| Op::Unlock { stack }),
        1 => Just(Op::Reopen),
    ]
}

const VERSIONS: [&str; 3] = ["1.0.0", "1.1.0", "2.0.0"];

fn stacks() -> [Stack; 2] {
    [
        Stack::new("e0", "dev").unwrap(),
        Stack::new("e1", "prod").unwrap(),
    ]
}

fn actor() -> Actor {
    Actor {
        name: "model@test".into(),
        how: "proptest".into(),
    }
}

fn estate(name: &str, content: u8) -> Estate {
    let env = Environment::plain("dev", "s", "eastus");
    let objectives = Objectives {
        rto: Interval::from_hours(1),
        rpo: Interval::from_hours(1),
        monthly_budget_usd: None,
        required_tags: vec![],
    };
    let resources = (0..3)
        .map(|i| {
            let address = Address::new("net", &format!("r{i}")).unwrap();
            let r = Resource {
                address: address.clone(),
                arm_type: "Microsoft.Network/virtualNetworks".into(),
                name: format!("vnet{i}"),
                properties: BTreeMap::from([("v".into(), Value::Int(i64::from(content) * 10 + i))]),
                tags: BTreeMap::new(),
                depends_on: BTreeSet::new(),
                lifecycle: Lifecycle::default(),
            };
            (address, r)
        })
        .collect();
    Estate::new(name.into(), env, objectives, vec![], resources).unwrap()
}

fn observed(slot: usize, v: i64) -> ObservedResource {
    let address = Address::new("m", &format!("r{slot}")).unwrap();
    ObservedResource {
        name: address.name().into(),
        id: format!("/x/{}", address.name()),
        address,
        arm_type: "Microsoft.Network/virtualNetworks".into(),
        properties: BTreeMap::from([("v".into(), Value::Int(v))]),
        attributes: BTreeMap::new(),
        sensitive: BTreeMap::from([("k".into(), Secret::Plain(format!("s{v}")))]),
        tags: BTreeMap::new(),
        dependencies: BTreeSet::new(),
        prevent_destroy: false,
    }
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        // Model: releases by (estate, version) -> content; generations per stack.
        let mut releases: BTreeMap<(usize, usize), u8> = BTreeMap::new();
        let mut history: [Vec<BTreeMap<usize, i64>>; 2] = [vec![], vec![]];
        let mut held: BTreeMap<usize, StackLock> = BTreeMap::new();
        for op in ops {
            match op {
                Op::CreateRelease { estate: e, version, content } => {
                    let name = format!("e{e}");
                    let got = store.create_release(&name, VERSIONS[version], &[estate(&name, content)], None, &actor());
                    match releases.get(&(e, version)) {
                        None => {
                            prop_assert!(matches!(got, Ok(ReleaseOutcome::Created { .. })), "want created: {:?}", got);
                            releases.insert((e, version), content);
                        }
                        Some(c) if *c == content => prop_assert!(matches!(got, Ok(ReleaseOutcome::Unchanged(_))), "want unchanged: {:?}", got),
                        Some(_) => prop_assert!(matches!(got, Err(StoreError::ReleaseConflict { .. })), "want conflict: {:?}", got),
                    }
                    let listed: Vec<String> = store.releases(&name).unwrap().into_iter().map(|r| r.version).collect();
                    let want: Vec<String> = (0..3).filter(|v| releases.contains_key(&(e, *v))).map(|v| VERSIONS[v].to_string()).collect();
                    prop_assert_eq!(listed, want);
                }
                Op::Commit { stack, changes } => {
                    let mut next = history[stack].last().cloned().unwrap_or_default();
                    let mut store_changes = Vec::new();
                    let mut seen = BTreeSet::new();
                    for (slot, v) in changes {
                        if !seen.insert(slot) { continue; }
                        match v {
                            Some(v) => { next.insert(slot, v); store_changes.push(Change::Put { observed: Box::new(observed(slot, v)), applied: None }); }
                            None => { next.remove(&slot); store_changes.push(Change::Remove(Address::new("m", &format!("r{slot}")).unwrap())); }
                        }
                    }
                    let g = store.commit_generation(&stacks()[stack], NewGeneration { kind: GenerationKind::Apply, release: None, plan_hash: None, reason: None }, store_changes, Outcome::Succeeded, &actor()).unwrap();
                    history[stack].push(next.clone());
                    prop_assert_eq!(g.number, history[stack].len() as u64);
                    prop_assert_eq!(g.resource_count, next.len() as u64);
                }
                Op::Apply { stack, rows, per_round, value, check } => {
                    let s = &stacks()[stack];
                    let mut next = history[stack].last().cloned().unwrap_or_default();
                    let g = store.begin_generation(s, NewGeneration { kind: GenerationKind::Apply, release: None, plan_hash: None, reason: None }, &actor()).unwrap();
                    let slots: Vec<usize> = (100..100 + rows).collect();
                    for (round, chunk) in slots.chunks(per_round).enumerate() {
                        let changes = chunk.iter().map(|slot| {
                            let v = value + *slot as i64;
                            next.insert(*slot, v);
                            Change::Put { observed: Box::new(observed(*slot, v)), applied: None }
                        }).collect();
                        store.record(s, g.number, changes, &[]).unwrap();
                        if check && round == 0 {
                            // `check` needs the store unshared: drop the locks, as a reopen does.
                            held.clear();
                            let report = store.check().unwrap();
                            prop_assert!(report.problems.is_empty(), "in progress: {:?}", report.problems);
                        }
                    }
                    let g = store.finish_generation(s, g.number, Outcome::Succeeded, vec![], vec![], &actor(), None).unwrap();
                    history[stack].push(next.clone());
                    prop_assert_eq!(g.number, history[stack].len() as u64);
                    prop_assert_eq!(g.resource_count, next.len() as u64);
                }
                Op::ReadOld { stack, back } => {
                    let h = &history[stack];
                    if h.is_empty() {
                        prop_assert!(store.latest_generation(&stacks()[stack]).unwrap().is_none());
                        continue;
                    }
                    let idx = h.len().saturating_sub(1 + back);
                    let g = store.generation(&stacks()[stack], idx as u64 + 1).unwrap();
                    let mut got = BTreeMap::new();
                    for (a, mut r) in store.observed(&g).unwrap() {
                        store.unseal(&stacks()[stack], &mut r).unwrap();
                        let v = match r.properties["v"] { Value::Int(v) => v, _ => -1 };
                        prop_assert_eq!(&r.sensitive["k"], &Secret::Plain(format!("s{v}")));
                        got.insert(a.name()[1..].parse::<usize>().unwrap(), v);
                    }
                    prop_assert_eq!(&got, &h[idx]);
                }
                Op::Lock { stack } => {
                    let r = store.lock(&stacks()[stack], &actor(), "model", Duration::ZERO);
                    match held.entry(stack) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            prop_assert!(matches!(r, Err(StoreError::Locked { .. })), "second lock of a held stack: {:?}", r.map(|_| ()));
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(r.unwrap());
                        }
                    }
                }
                Op::TryLock { stack } => {
                    let r = store.lock(&stacks()[stack], &actor(), "model-try", Duration::ZERO);
                    prop_assert_eq!(r.is_ok(), !held.contains_key(&stack));
                    let status = store.lock_status(&stacks()[stack]).unwrap();
                    prop_assert_eq!(matches!(status, LockStatus::Held(_)), r.is_ok() || held.contains_key(&stack));
                }
                Op::Unlock { stack } => {
                    held.remove(&stack);
                    prop_assert_eq!(store.lock_status(&stacks()[stack]).unwrap(), LockStatus::Free);
                }
                Op::Reopen => {
                    held.clear();
                    drop(store);
                    store = open(dir.path());
                }
            }
        }
        held.clear();
        let report = store.check().unwrap();
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
