//! Property tests of rollback and replacement on the simulated cloud:
//! - for random histories of releases, rollback to any earlier successful
//!   release converges to it, minus the stateful resources it keeps;
//! - rollback never loses a stateful resource without allow-data-loss;
//! - replacing any set of resources of a converged estate converges again,
//!   with the same addresses (stateful ones restored from backup).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use statectl::apply::{self, ApplyOptions, QuietProgress};
use statectl::clock::SystemClock;
use statectl::model::*;
use statectl::plan::{PlanOptions, Target};
use statectl::provider::sim::{Sim, SimDurability, SimTiming};
use statectl::spec::Loader;
use statectl::store::{Actor, Store, StoreOptions};
use statectl::workflow;

/// Slot i: absent, or (stateful?, property value).
type Version = Vec<Option<(bool, i64)>>;

fn version() -> impl Strategy<Value = Version> {
    prop::collection::vec(
        prop::option::weighted(0.8, (prop::bool::weighted(0.3), 0i64..3)),
        1..10,
    )
}

fn estate(v: &Version) -> Estate {
    let rg = Address::new("core", "rg").unwrap();
    let mut resources = BTreeMap::new();
    resources.insert(
        rg.clone(),
        Resource {
            address: rg.clone(),
            arm_type: "Microsoft.Resources/resourceGroups".into(),
            name: "rb-dev-rg".into(),
            properties: BTreeMap::from([("location".into(), Value::String("eastus".into()))]),
            tags: BTreeMap::new(),
            depends_on: BTreeSet::new(),
            lifecycle: Lifecycle::default(),
        },
    );
    for (i, slot) in v.iter().enumerate() {
        let Some((stateful, value)) = slot else {
            continue;
        };
        let address = Address::new("m", &format!("r{i}")).unwrap();
        // The same slot keeps its kind across versions, so a version never
        // turns a database into a security group under the same address.
        let stateful = *stateful || i % 3 == 0;
        let (arm_type, extra) = if stateful {
            (
                "Microsoft.Storage/storageAccounts",
                ("account_replication_type", Value::String("GRS".into())),
            )
        } else {
            (
                "Microsoft.Network/networkSecurityGroups",
                ("flavour", Value::String("nsg".into())),
            )
        };
        let properties = BTreeMap::from([
            (
                "resource_group".to_string(),
                Value::Ref(Reference {
                    address: rg.clone(),
                    attr: "name".into(),
                }),
            ),
            ("setting".to_string(), Value::Int(*value)),
            (extra.0.to_string(), extra.1),
        ]);
        resources.insert(
            address.clone(),
            Resource {
                address,
                arm_type: arm_type.into(),
                name: format!("rbres{i}"),
                properties,
                tags: BTreeMap::new(),
                depends_on: BTreeSet::new(),
                lifecycle: Lifecycle::default(),
            },
        );
    }
    let objectives = Objectives {
        rto: Interval::from_hours(1),
        rpo: Interval::from_hours(1),
        monthly_budget_usd: None,
        required_tags: vec![],
    };
    Estate::new(
        "rb".into(),
        statectl::synthetic::environment("dev"),
        objectives,
        vec![],
        resources,
    )
    .unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    sim: Arc<Sim>,
    stack: Stack,
    loader: Loader,
    rt: tokio::runtime::Runtime,
}

fn actor() -> Actor {
    Actor {
        name: "prop@test".into(),
        how: "proptest".into(),
    }
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        World {
            store: Store::open(&state, StoreOptions::default()).unwrap(),
            sim: Arc::new(
                Sim::open(
                    &state,
                    Arc::new(SystemClock),
                    SimTiming::Catalog,
                    SimDurability::Deferred,
                )
                .unwrap(),
            ),
            stack: Stack::new("rb", "dev").unwrap(),
            loader: Loader::new(dir.path()),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    /// Plans `version` with `options` and applies it; returns the plan's
    /// kept list, or the blocked actions when the plan stops.
    fn apply(
        &self,
        version: &str,
        options: &PlanOptions,
        kind: GenerationKind,
    ) -> Result<Vec<Address>, Vec<statectl::plan::Action>> {
        let desired =
            workflow::desired(&self.store, &self.loader, "rb", "dev", version, None).unwrap();
        let (plan, observed) =
            workflow::make_plan(&self.store, &self.stack, &desired, options).unwrap();
        let blocked: Vec<_> = plan.blocked().cloned().collect();
        if !blocked.is_empty() {
            return Err(blocked);
        }
        let restore = workflow::restore_targets(&plan);
        let opts = ApplyOptions {
            parallelism: 4,
            kind,
            reason: None,
            restore,
        };
        let report = self
            .rt
            .block_on(apply::apply(
                &self.store,
                self.sim.clone(),
                &self.stack,
                &plan,
                &desired.estate,
                observed,
                &actor(),
                &opts,
                &mut QuietProgress,
            ))
            .unwrap();
        assert!(
            report.failures().next().is_none(),
            "{:?}",
            report.failures().collect::<Vec<_>>()
        );
        Ok(plan.kept)
    }

    fn cloud(&self) -> BTreeMap<String, ObservedResource> {
        self.sim
            .resources()
            .into_iter()
            .map(|r| (r.address.to_string(), r))
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn rollback_converges_and_never_loses_data(history in prop::collection::vec(version(), 2..5), back in any::<prop::sample::Index>()) {
        let w = World::new();
        let mut ever_stateful = BTreeSet::new();
        let estates: Vec<Estate> = history.iter().map(estate).collect();
        for (i, e) in estates.iter().enumerate() {
            let v = format!("1.{i}.0");
            w.store.create_release("rb", &v, std::slice::from_ref(e), None, &actor()).unwrap();
            // Forward applies are allowed to delete data: the test is about rollback.
            w.apply(&v, &PlanOptions { allow_data_loss: true, ..PlanOptions::default() }, GenerationKind::Apply).unwrap();
        }
        let target = back.index(estates.len() - 1);
        // What exists right before the rollback.
        let before = w.cloud();
        ever_stateful.extend(before.keys().filter(|a| before[*a].arm_type == "Microsoft.Storage/storageAccounts").cloned());
        let kept = match w.apply(&format!("1.{target}.0"), &PlanOptions { keep_stateful: true, ..PlanOptions::default() }, GenerationKind::Rollback) {
            Ok(k) => k,
            Err(blocked) => {
                // The rollback stops rather than replace a stateful resource
                // (its type or a replacement-forcing property changed since):
                // nothing was applied, nothing was lost.
                for a in &blocked {
                    prop_assert_eq!(a.kind, statectl::plan::ActionKind::Replace);
                    prop_assert!(a.destructive_to_data);
                }
                let now: Vec<String> = w.cloud().into_keys().collect();
                prop_assert_eq!(now, before.keys().cloned().collect::<Vec<_>>());
                return Ok(());
            }
        };
        let after = w.cloud();
        let want: BTreeSet<String> = estates[target].resources().keys().map(ToString::to_string).collect();
        let kept: BTreeSet<String> = kept.iter().map(ToString::to_string).collect();
        // Converged to the target, plus exactly the kept stateful resources.
        let got: BTreeSet<String> = after.keys().cloned().collect();
        prop_assert_eq!(got, want.union(&kept).cloned().collect::<BTreeSet<_>>());
        for (a, r) in estates[target].resources() {
            prop_assert_eq!(after[&a.to_string()].properties.get("setting"), r.properties.get("setting"));
        }
        // No stateful resource that existed before the rollback is gone.
        for a in &ever_stateful {
            prop_assert!(after.contains_key(a), "rollback lost stateful {}", a);
        }
        prop_assert!(kept.iter().all(|a| before[a].arm_type == "Microsoft.Storage/storageAccounts"));
        // A second plan of the target is empty apart from what is kept.
        let desired = workflow::desired(&w.store, &w.loader, "rb", "dev", &format!("1.{target}.0"), None).unwrap();
        let (again, _) = workflow::make_plan(&w.store, &w.stack, &desired, &PlanOptions { keep_stateful: true, ..PlanOptions::default() }).unwrap();
        prop_assert!(again.is_empty(), "{:?}", again.actions.iter().map(|a| (a.kind, a.address.to_string())).collect::<Vec<_>>());
    }

    #[test]
    fn replacing_any_set_converges_with_the_same_addresses(v in version(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4)) {
        let w = World::new();
        let e = estate(&v);
        w.store.create_release("rb", "1.0.0", std::slice::from_ref(&e), None, &actor()).unwrap();
        w.apply("1.0.0", &PlanOptions::default(), GenerationKind::Apply).unwrap();
        let before = w.cloud();
        let addrs: Vec<&Address> = e.resources().keys().collect();
        let replace: BTreeSet<Target> = picks.iter().map(|i| Target::Resource((*i.get(&addrs)).clone())).collect();
        let opts = PlanOptions { replace: replace.into_iter().collect(), allow_data_loss: true, ..PlanOptions::default() };
        w.apply("1.0.0", &opts, GenerationKind::Emergency).unwrap();
        let after = w.cloud();
        prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
        for (a, r) in &after {
            prop_assert_eq!(&r.properties, &before[a].properties);
        }
        let desired = workflow::desired(&w.store, &w.loader, "rb", "dev", "1.0.0", None).unwrap();
        let (again, _) = workflow::make_plan(&w.store, &w.stack, &desired, &PlanOptions::default()).unwrap();
        prop_assert!(again.is_empty());
    }
}
