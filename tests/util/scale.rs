//! Large synthetic stacks applied through the library on a zero-latency
//! simulator, for the mirror's scale test and benchmark: a first apply of
//! N resources, then releases that each change one resource.

use std::path::Path;
use std::sync::Arc;

use statectl::clock::SystemClock;
use statectl::model::{Estate, Stack, Value};
use statectl::ops::{ApplyRequest, Cloud, Ops, Project, Quiet};
use statectl::provider::sim::{Sim, SimDurability, SimTiming};
use statectl::settings::Settings;
use statectl::store::{Actor, Store, StoreOptions};

/// A store holding one synthetic stack, and the estate last applied to it.
pub struct Scaled {
    pub stack: Stack,
    pub estate: Estate,
    ops: Ops<Cloud<Sim>>,
    releases: u64,
}

fn actor() -> Actor {
    Actor {
        name: "scale".into(),
        how: "tests/util/scale.rs".into(),
    }
}

impl Scaled {
    /// Releases and applies a layered estate of `n` resources in `dir`.
    pub fn apply_new(dir: &Path, n: usize) -> Scaled {
        let store = Store::open(dir, StoreOptions::default()).expect("open the store");
        let sim = Arc::new(
            Sim::open(
                dir,
                Arc::new(SystemClock),
                SimTiming::Zero,
                SimDurability::Deferred,
            )
            .expect("open the sim"),
        );
        let project = Project {
            state_dir: dir.to_path_buf(),
            ..Project::new(dir, Settings::default())
        };
        let mut ops = Ops::new(project, store)
            .and_then(|o| o.with_provider(sim, true))
            .expect("the workflows");
        ops.set_actor(actor());
        let estate = statectl::synthetic::layered("synth", n, 50, 1);
        let stack = Stack::new(&estate.name, &estate.environment.name).expect("stack");
        let mut s = Scaled {
            stack,
            estate,
            ops,
            releases: 0,
        };
        s.release_and_apply();
        s
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.ops.store()
    }

    /// Changes one resource (its `rule_count`), releases and applies it.
    pub fn change_one(&mut self) {
        self.estate = self
            .estate
            .with_resources(|rs| {
                let r = rs.values_mut().nth(1).expect("a second resource");
                let next = match r.properties.get("rule_count") {
                    Some(Value::Int(v)) => v + 1,
                    _ => 1,
                };
                r.properties.insert("rule_count".into(), Value::Int(next));
            })
            .expect("the graph is unchanged");
        self.release_and_apply();
    }

    fn release_and_apply(&mut self) {
        self.releases += 1;
        let version = format!("1.0.{}", self.releases - 1);
        let name = self.estate.name.clone();
        self.store()
            .create_release(
                &name,
                &version,
                std::slice::from_ref(&self.estate),
                None,
                &actor(),
            )
            .expect("create the release");
        // The apply users run: lock, gate, apply, push.
        let req = ApplyRequest {
            parallelism: 50,
            ..ApplyRequest::new(self.stack.clone(), version)
        };
        let outcome = self.ops.apply(&req, &mut Quiet).expect("apply");
        let applied = outcome.applied().expect("the release changed something");
        assert!(
            applied.report.failures().next().is_none(),
            "the apply failed"
        );
    }
}

/// Asserts that `restored` holds the same objects, releases, generations of
/// `stack` and audit records as `original`.
pub fn assert_same_store(original: &Store, restored: &Store, stack: &Stack) {
    assert_eq!(
        restored.object_digests().expect("objects"),
        original.object_digests().expect("objects")
    );
    assert_eq!(
        restored.export_releases().expect("releases"),
        original.export_releases().expect("releases")
    );
    assert_eq!(
        restored.export_generations(stack, 0).expect("generations"),
        original.export_generations(stack, 0).expect("generations")
    );
    assert_eq!(
        restored.export_audit(0).expect("audit"),
        original.export_audit(0).expect("audit")
    );
}
