//! Property test of the production rules on the apply users run
//! (`ops::apply`), over random estates, clocks and flags in a prod
//! environment that has a maintenance window, destroy protection, a
//! promotion gate from staging and a backup before every apply:
//! - the apply runs exactly when the rules allow it (window or emergency
//!   with a reason; promoted from staging or the gate skipped with a
//!   reason; no delete under destroy protection; the release passes its
//!   checks or the gate is skipped);
//! - when it runs, the generation it replaces was backed up first;
//! - when it is refused, nothing changed in the store or the cloud and the
//!   refusal is audited;
//! - while another holder has the stack's lock, it never runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use statectl::clock::FixedClock;
use statectl::model::*;
use statectl::ops::{ApplyRequest, Cloud, Ops, OpsError, Project, Quiet};
use statectl::provider::sim::{Sim, SimDurability, SimTiming};
use statectl::settings::Settings;
use statectl::store::{Actor, Store, StoreError, StoreOptions};

/// Monday 2026-11-30 00:00 UTC, the start of the generated week.
const MONDAY: &str = "2026-11-30T00:00:00Z";
/// The prod window: Saturday 02:00-06:00 UTC.
const WINDOW_START: u16 = 120;
const WINDOW_END: u16 = 360;

fn actor() -> Actor {
    Actor {
        name: "prop@test".into(),
        how: "ops_props".into(),
    }
}

fn environment(name: &str) -> Environment {
    let mut e = statectl::synthetic::environment(name);
    if name == "prod" {
        e.subscription_id = "00000000-0000-4000-8000-0000000000bb".into();
        e.destroy_protection = true;
        e.backup_before_apply = true;
        e.promote_from = Some("staging".into());
        e.maintenance_window = Some(MaintenanceWindow {
            days: vec![Weekday::Saturday],
            start: WINDOW_START,
            end: WINDOW_END,
            timezone: "UTC".into(),
        });
    } else {
        e.subscription_id = "00000000-0000-4000-8000-0000000000cc".into();
    }
    e
}

/// An estate of `present` NSGs (index i with `rule_count` r) in `env`.
fn estate(env: &str, present: &BTreeMap<usize, i64>) -> Estate {
    let rg = Address::new("core", "rg").unwrap();
    let mut resources = BTreeMap::new();
    resources.insert(
        rg.clone(),
        Resource {
            address: rg.clone(),
            arm_type: "Microsoft.Resources/resourceGroups".into(),
            name: format!("prop-{env}-rg"),
            properties: BTreeMap::from([("location".into(), Value::String("eastus".into()))]),
            tags: BTreeMap::new(),
            depends_on: BTreeSet::new(),
            lifecycle: Lifecycle::default(),
        },
    );
    for (i, rules) in present {
        let address = Address::new("net", &format!("n{i}")).unwrap();
        let properties = BTreeMap::from([
            (
                "resource_group".to_string(),
                Value::Ref(Reference {
                    address: rg.clone(),
                    attr: "name".into(),
                }),
            ),
            ("rule_count".to_string(), Value::Int(*rules)),
        ]);
        resources.insert(
            address.clone(),
            Resource {
                address,
                arm_type: "Microsoft.Network/networkSecurityGroups".into(),
                name: format!("nsg-{i}"),
                properties,
                tags: BTreeMap::new(),
                depends_on: BTreeSet::new(),
                lifecycle: Lifecycle::default(),
            },
        );
    }
    let objectives = Objectives {
        rto: Interval::from_hours(4),
        rpo: Interval::from_hours(4),
        monthly_budget_usd: None,
        required_tags: vec![],
    };
    Estate::new(
        "prop".into(),
        environment(env),
        objectives,
        vec![],
        resources,
    )
    .unwrap()
}

fn release(store: &Store, version: &str, present: &BTreeMap<usize, i64>) {
    let envs = [estate("staging", present), estate("prod", present)];
    store
        .create_release("prop", version, &envs, None, &actor())
        .unwrap();
}

/// The prod resources the simulator holds: address -> rule_count.
fn cloud(sim: &Sim) -> BTreeMap<String, Option<Value>> {
    sim.resources()
        .into_iter()
        .filter(|r| r.id.contains("0000000000bb"))
        .map(|r| {
            (
                r.address.to_string(),
                r.properties.get("rule_count").cloned(),
            )
        })
        .collect()
}

fn versions() -> impl Strategy<Value = (BTreeMap<usize, i64>, BTreeMap<usize, i64>)> {
    let slot = || prop::option::weighted(0.7, 0i64..3);
    (
        prop::collection::vec(slot(), 1..6),
        prop::collection::vec(slot(), 1..6),
    )
        .prop_map(|(a, b)| {
            let keep = |v: Vec<Option<i64>>| {
                v.into_iter()
                    .enumerate()
                    .filter_map(|(i, r)| Some((i, r?)))
                    .collect()
            };
            (keep(a), keep(b))
        })
}

struct World {
    _dir: tempfile::TempDir,
    ops: Ops<Cloud<Sim>>,
    clock: Arc<FixedClock>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let clock = Arc::new(FixedClock::new(MONDAY.parse().unwrap()));
        let store = Store::open(
            &state,
            StoreOptions {
                clock: clock.clone(),
                key_file: None,
            },
        )
        .unwrap();
        let sim = Arc::new(
            Sim::open(
                &state,
                clock.clone(),
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
            _dir: dir,
            ops,
            clock,
        }
    }

    /// Sets the clock to `day` (0 = Monday) at `minute` UTC.
    fn at(&self, day: i64, minute: i64) {
        let monday: UtcTime = MONDAY.parse().unwrap();
        self.clock
            .set(UtcTime(monday.0 + (day * 24 * 60 + minute) * 60_000));
    }

    fn apply(
        &self,
        env: &str,
        version: &str,
        flags: Flags,
    ) -> Result<statectl::ops::Finished, OpsError> {
        let req = ApplyRequest {
            emergency: flags.emergency,
            skip_gate: flags.skip_gate,
            reason: (flags.emergency || flags.skip_gate).then(|| "prop: on call".to_string()),
            ..ApplyRequest::new(Stack::new("prop", env).unwrap(), version)
        };
        self.ops.apply(&req, &mut Quiet)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    emergency: bool,
    skip_gate: bool,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_production_rules_hold_for_every_apply_in_prod(
        (v1, v2) in versions(),
        promoted in any::<bool>(),
        day in 0i64..7,
        minute in (0i64..1440).prop_filter("not on a window edge", |m| *m != 120 && *m != 360),
        emergency in any::<bool>(),
        skip_gate in any::<bool>(),
        locked in prop::bool::weighted(0.2),
    ) {
        let w = World::new();
        let prod = Stack::new("prop", "prod").unwrap();
        // v1.0.0 reaches prod the regular way: staging, then prod inside
        // the window.
        release(w.ops.store(), "1.0.0", &v1);
        w.apply("staging", "1.0.0", Flags::default()).unwrap();
        w.at(5, 180);
        let first = w.apply("prod", "1.0.0", Flags { skip_gate: true, ..Flags::default() }).unwrap();
        prop_assert!(first.applied().is_some());
        let before_gen = w.ops.store().latest_generation(&prod).unwrap().unwrap();
        let before_cloud = cloud(w.ops.cloud().provider());
        let backups_before = w.ops.store().backups(&prod).unwrap().len();

        release(w.ops.store(), "1.1.0", &v2);
        if promoted {
            w.apply("staging", "1.1.0", Flags::default()).unwrap();
        }
        w.at(day, minute);
        let _held = locked.then(|| w.ops.store().lock(&prod, &Actor { name: "someone@else".into(), how: "test".into() }, "held", Duration::ZERO).unwrap());
        let flags = Flags { emergency, skip_gate };
        let result = w.apply("prod", "1.1.0", flags);

        // The oracle, from the rules as the seed states them.
        let in_window = day == 5 && (i64::from(WINDOW_START)..i64::from(WINDOW_END)).contains(&minute);
        let deletes = v1.keys().any(|i| !v2.contains_key(i));
        let changes = v1 != v2;
        let checks_pass = statectl::verify::verify(&estate("prod", &v2), &[], "2026-12-01", &statectl::verify::Evidence::default()).passed();
        let allowed = (in_window || emergency)
            && (promoted || skip_gate)
            && (checks_pass || skip_gate)
            && !deletes;

        let after_gen = w.ops.store().latest_generation(&prod).unwrap().unwrap();
        match &result {
            _ if locked => {
                prop_assert!(matches!(result, Err(OpsError::Store(StoreError::Locked { .. }))), "{result:?}");
                prop_assert_eq!(after_gen.number, before_gen.number);
            }
            Ok(o) if o.applied().is_some() => {
                prop_assert!(allowed && changes, "applied though the rules refuse: window {in_window} emergency {emergency} promoted {promoted} skip {skip_gate} deletes {deletes} checks {checks_pass}");
                prop_assert_eq!(after_gen.number, before_gen.number + 1);
                prop_assert_eq!(after_gen.release.as_deref(), Some("1.1.0"));
                let backups = w.ops.store().backups(&prod).unwrap();
                prop_assert_eq!(backups.len(), backups_before + 1, "a backup before the apply");
                prop_assert_eq!(backups.last().unwrap().generation, before_gen.number);
            }
            Ok(_) => {
                prop_assert!(!changes, "no apply ran though the release changes prod");
                prop_assert_eq!(after_gen.number, before_gen.number);
            }
            Err(OpsError::Refused(_)) => {
                prop_assert!(!allowed, "refused though the rules allow it: window {in_window} emergency {emergency} promoted {promoted} skip {skip_gate} deletes {deletes} checks {checks_pass}");
                prop_assert_eq!(after_gen.number, before_gen.number, "nothing recorded");
                prop_assert_eq!(cloud(w.ops.cloud().provider()), before_cloud, "nothing changed in the cloud");
                prop_assert_eq!(w.ops.store().backups(&prod).unwrap().len(), backups_before, "no backup for a refused apply");
                let refused = w.ops.store().audit_log(Some("prop/prod")).unwrap().into_iter().filter(|e| e.action == "apply.refused").count();
                prop_assert_eq!(refused, 1, "the refusal is audited");
            }
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }
}
