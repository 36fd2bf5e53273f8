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
use statectl::clock::SystemClock;
use statectl::model::*;
use statectl::ops::{self, ApplyRequest, Cloud, Ops, OpsError, Project, Quiet, RollbackRequest};
use statectl::plan::{PlanOptions, Target};
use statectl::provider::sim::{Sim, SimDurability, SimTiming};
use statectl::settings::Settings;
use statectl::store::{Actor, Store, StoreOptions};

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

/// The workflows users run (lock, gate, apply), over a store and a
/// simulator in a temporary project.
struct World {
    _dir: tempfile::TempDir,
    ops: Ops<Cloud<Sim>>,
    stack: Stack,
}

fn actor() -> Actor {
    Actor {
        name: "prop@test".into(),
        how: "proptest".into(),
    }
}

/// What an apply or rollback through the ops layer left.
enum Applied {
    /// Converged; the stateful resources a rollback kept.
    Kept(Vec<Address>),
    /// The plan stopped on these blocked actions; nothing ran.
    Blocked(Vec<statectl::plan::Action>),
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = Store::open(&state, StoreOptions::default()).unwrap();
        let sim = Arc::new(
            Sim::open(
                &state,
                Arc::new(SystemClock),
                SimTiming::Catalog,
                SimDurability::Deferred,
            )
            .unwrap(),
        );
        let project = Project {
            state_dir: state,
            ..Project::new(dir.path(), Settings::default())
        };
        let mut ops = Ops::new(project, store)
            .unwrap()
            .with_provider(sim, true)
            .unwrap();
        ops.set_actor(actor());
        World {
            ops,
            stack: Stack::new("rb", "dev").unwrap(),
            _dir: dir,
        }
    }

    fn store(&self) -> &Store {
        self.ops.store()
    }

    fn sim(&self) -> &Sim {
        self.ops.cloud().provider()
    }

    /// The plan `options` would make for `version` now.
    fn plan(&self, version: &str, options: &PlanOptions) -> statectl::plan::Plan {
        let desired =
            ops::desired(self.store(), self.ops.loader(), "rb", "dev", version, None).unwrap();
        ops::make_plan(self.store(), &self.stack, &desired, options)
            .unwrap()
            .0
    }

    fn ended(
        &self,
        r: Result<ops::Finished, OpsError>,
        blocked_plan: impl FnOnce() -> statectl::plan::Plan,
    ) -> Applied {
        match r {
            Ok(o) => {
                if let Some(a) = o.applied() {
                    assert!(
                        a.report.failures().next().is_none(),
                        "{:?}",
                        a.report.failures().collect::<Vec<_>>()
                    );
                }
                Applied::Kept(o.plan().kept.clone())
            }
            Err(OpsError::Blocked(_)) => {
                Applied::Blocked(blocked_plan().blocked().cloned().collect())
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// Applies `version` through `ops::apply` (an emergency one with
    /// replacements when `options` names them).
    fn apply(&self, version: &str, options: &PlanOptions) -> Applied {
        let emergency = !options.replace.is_empty();
        let req = ApplyRequest {
            plan_options: options.clone(),
            parallelism: 4,
            emergency,
            reason: emergency.then(|| "proptest restore".to_string()),
            ..ApplyRequest::new(self.stack.clone(), version)
        };
        let r = self.ops.apply(&req, &mut Quiet);
        self.ended(r, || self.plan(version, options))
    }

    /// Rolls back to `version` through `ops::rollback`.
    fn rollback(&self, version: &str) -> Applied {
        let req = RollbackRequest {
            to: Some(version.to_string()),
            parallelism: 4,
            ..RollbackRequest::default()
        };
        let r = self.ops.rollback(&self.stack, &req, &mut Quiet);
        self.ended(r, || {
            self.plan(
                version,
                &PlanOptions {
                    keep_stateful: true,
                    ..PlanOptions::default()
                },
            )
        })
    }

    fn cloud(&self) -> BTreeMap<String, ObservedResource> {
        self.sim()
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
            w.store().create_release("rb", &v, std::slice::from_ref(e), None, &actor()).unwrap();
            // Forward applies are allowed to delete data: the test is about rollback.
            let forward = w.apply(&v, &PlanOptions { allow_data_loss: true, ..PlanOptions::default() });
            prop_assert!(matches!(forward, Applied::Kept(_)), "a forward apply with data loss allowed is never blocked");
        }
        // The rollback points: every release whose apply recorded a
        // generation (a release with the content of the one before it
        // changes nothing and records none), the current one first.
        let points: Vec<usize> = ops::rollback_points(w.store(), &w.stack)
            .unwrap()
            .iter()
            .filter_map(|g| g.release.as_deref()?.strip_prefix("1.")?.strip_suffix(".0")?.parse().ok())
            .collect();
        if points.len() < 2 {
            return Ok(());
        }
        let target = points[1 + back.index(points.len() - 1)];
        // What exists right before the rollback.
        let before = w.cloud();
        ever_stateful.extend(before.keys().filter(|a| before[*a].arm_type == "Microsoft.Storage/storageAccounts").cloned());
        let kept = match w.rollback(&format!("1.{target}.0")) {
            Applied::Kept(k) => k,
            Applied::Blocked(blocked) => {
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
        let again = w.plan(&format!("1.{target}.0"), &PlanOptions { keep_stateful: true, ..PlanOptions::default() });
        prop_assert!(again.is_empty(), "{:?}", again.actions.iter().map(|a| (a.kind, a.address.to_string())).collect::<Vec<_>>());
    }

    #[test]
    fn replacing_any_set_converges_with_the_same_addresses(v in version(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4)) {
        let w = World::new();
        let e = estate(&v);
        w.store().create_release("rb", "1.0.0", std::slice::from_ref(&e), None, &actor()).unwrap();
        prop_assert!(matches!(w.apply("1.0.0", &PlanOptions::default()), Applied::Kept(_)), "the first apply converges");
        let before = w.cloud();
        let addrs: Vec<&Address> = e.resources().keys().collect();
        let replace: BTreeSet<Target> = picks.iter().map(|i| Target::Resource((*i.get(&addrs)).clone())).collect();
        let opts = PlanOptions { replace: replace.into_iter().collect(), allow_data_loss: true, ..PlanOptions::default() };
        prop_assert!(matches!(w.apply("1.0.0", &opts), Applied::Kept(_)), "the restore converges");
        let after = w.cloud();
        prop_assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
        for (a, r) in &after {
            prop_assert_eq!(&r.properties, &before[a].properties);
        }
        let again = w.plan("1.0.0", &PlanOptions::default());
        prop_assert!(again.is_empty());
    }
}
