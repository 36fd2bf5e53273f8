//! Property tests of plan + apply on the simulated cloud, over random
//! estates and random sequences of versions:
//! - convergence: after apply(v) the cloud and observed state equal desired(v);
//! - idempotence: a second plan is empty;
//! - order: every operation starts after all of its dependencies finished
//!   (deletes before the deletion of what they depend on);
//! - crash + resume: a crash at a random operation, then reconcile and apply
//!   again, converges with no duplicate and no untracked resource.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use statectl::apply::{self, ApplyOptions, QuietProgress};
use statectl::clock::SystemClock;
use statectl::model::*;
use statectl::ops::{self, ApplyRequest, Cloud, Ops, OpsError, Project, Quiet};
use statectl::plan::{Plan, PlanOptions};
use statectl::provider::sim::{Sim, SimDurability, SimTiming};
use statectl::provider::{DeleteMode, Operation, Provider, ProviderError, ResolvedResource};
use statectl::settings::Settings;
use statectl::spec::Loader;
use statectl::store::{Actor, JournalState, Store, StoreOptions};

/// One version of a random estate: resource i has `peers` (earlier indices)
/// and a `rule_count`; absent resources are `None`.
type Version = Vec<Option<(Vec<usize>, i64, bool)>>;

fn version() -> impl Strategy<Value = Version> {
    prop::collection::vec(
        prop::option::weighted(
            0.85,
            (
                prop::collection::vec(0usize..30, 0..3),
                0i64..4,
                prop::bool::weighted(0.1),
            ),
        ),
        2..18,
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
            name: "prop-dev-rg".into(),
            properties: BTreeMap::from([("location".into(), Value::String("eastus".into()))]),
            tags: BTreeMap::new(),
            depends_on: BTreeSet::new(),
            lifecycle: Lifecycle::default(),
        },
    );
    for (i, slot) in v.iter().enumerate() {
        let Some((peers, rules, renamed)) = slot else {
            continue;
        };
        let address = Address::new("net", &format!("n{i}")).unwrap();
        // Peers must exist in this version and come earlier (acyclic).
        let refs: Vec<Value> = peers
            .iter()
            .filter(|p| **p < i && v[**p].is_some())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|p| {
                Value::Ref(Reference {
                    address: Address::new("net", &format!("n{p}")).unwrap(),
                    attr: "id".into(),
                })
            })
            .collect();
        let mut properties = BTreeMap::from([
            (
                "resource_group".to_string(),
                Value::Ref(Reference {
                    address: rg.clone(),
                    attr: "name".into(),
                }),
            ),
            ("rule_count".to_string(), Value::Int(*rules)),
        ]);
        if !refs.is_empty() {
            properties.insert("peers".into(), Value::List(refs));
        }
        resources.insert(
            address.clone(),
            Resource {
                address,
                arm_type: "Microsoft.Network/networkSecurityGroups".into(),
                // A rename forces a replacement.
                name: if *renamed {
                    format!("nsg-{i}-b")
                } else {
                    format!("nsg-{i}")
                },
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
        "prop".into(),
        statectl::synthetic::environment("dev"),
        objectives,
        vec![],
        resources,
    )
    .unwrap()
}

/// The simulator with one fault: a crash (in process) right after the k-th
/// operation took effect, the apply future being dropped at that point as
/// if the process died; or a put that never ends.
struct Faulty {
    inner: Arc<Sim>,
    fault: Fault,
}

enum Fault {
    /// Operations left before the crash (0: none armed), and who to tell.
    /// The crash happens once; later operations pass through, as in the
    /// process that resumes.
    CrashAfter(AtomicU64, Arc<tokio::sync::Notify>),
    /// The put of this address (of every address when `None`) stalls.
    StallOn(Option<Address>),
}

impl Faulty {
    /// A pass-through until [`Faulty::arm`] sets a crash.
    fn crashing(inner: Arc<Sim>, crashed: Arc<tokio::sync::Notify>) -> Self {
        Faulty {
            inner,
            fault: Fault::CrashAfter(AtomicU64::new(0), crashed),
        }
    }

    /// Crash right after the k-th operation from now took effect.
    fn arm(&self, k: u64) {
        if let Fault::CrashAfter(left, _) = &self.fault {
            left.store(k, Ordering::SeqCst);
        }
    }

    fn stall_on(inner: Arc<Sim>, address: Option<Address>) -> Self {
        Faulty {
            inner,
            fault: Fault::StallOn(address),
        }
    }

    /// After an operation took effect: crash if it was the k-th.
    async fn tick(&self) {
        if let Fault::CrashAfter(left, crashed) = &self.fault
            && left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok_and(|n| n == 1)
        {
            crashed.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

impl Provider for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }
    async fn put(
        &self,
        op: Operation,
        r: &ResolvedResource,
    ) -> Result<ObservedResource, ProviderError> {
        if let Fault::StallOn(a) = &self.fault
            && a.as_ref().is_none_or(|a| *a == r.address)
        {
            std::future::pending::<()>().await;
        }
        let out = self.inner.put(op, r).await;
        self.tick().await;
        out
    }
    async fn delete(&self, o: &ObservedResource, mode: DeleteMode) -> Result<(), ProviderError> {
        let out = self.inner.delete(o, mode).await;
        self.tick().await;
        out
    }
    fn list(
        &self,
        p: &str,
    ) -> impl Future<Output = Result<Vec<ObservedResource>, ProviderError>> + Send {
        self.inner.list(p)
    }
    fn read(
        &self,
        t: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<ObservedResource>, ProviderError>> + Send {
        self.inner.read(t, id)
    }
}

fn actor() -> Actor {
    Actor {
        name: "prop@test".into(),
        how: "proptest".into(),
    }
}

fn check_order(plan: &Plan, report: &apply::ApplyReport) -> Result<(), TestCaseError> {
    let by_addr: BTreeMap<&Address, &apply::OpOutcome> =
        report.outcomes.iter().map(|o| (&o.address, o)).collect();
    for a in &plan.actions {
        let me = by_addr[&a.address];
        for &j in &a.needs {
            let dep = by_addr[&plan.actions[j].address];
            prop_assert!(
                me.started >= dep.ended,
                "{} started at {:?} before {} ended at {:?}",
                a.address,
                me.started,
                plan.actions[j].address,
                dep.ended
            );
        }
    }
    Ok(())
}

fn converged(store: &Store, sim: &Sim, stack: &Stack, e: &Estate) -> Result<(), TestCaseError> {
    let cloud: BTreeMap<String, ObservedResource> = sim
        .resources()
        .into_iter()
        .map(|r| (r.address.to_string(), r))
        .collect();
    let want: BTreeSet<String> = e.resources().keys().map(|a| a.to_string()).collect();
    prop_assert_eq!(
        cloud.keys().cloned().collect::<BTreeSet<_>>(),
        want.clone(),
        "cloud holds exactly the desired resources (no duplicate, no leftover)"
    );
    for (a, r) in e.resources() {
        let c = &cloud[&a.to_string()];
        prop_assert_eq!(&c.name, &r.name);
        prop_assert_eq!(
            c.properties.get("rule_count"),
            r.properties.get("rule_count")
        );
    }
    let g = store.latest_generation(stack).unwrap().unwrap();
    let observed = store.observed(&g).unwrap();
    prop_assert_eq!(
        observed
            .keys()
            .map(|a| a.to_string())
            .collect::<BTreeSet<_>>(),
        want,
        "observed state tracks every resource"
    );
    for (a, o) in &observed {
        prop_assert_eq!(&o.properties, &cloud[&a.to_string()].properties);
    }
    Ok(())
}

/// The workflows users run (lock, pull, gate, backup, lease, apply, push)
/// over a store and `provider` in a temporary project at `root`.
fn ops_over<P: Provider + 'static>(
    root: &std::path::Path,
    store: Store,
    provider: Arc<P>,
) -> Ops<Cloud<P>> {
    let project = Project {
        state_dir: root.join("state"),
        ..Project::new(root, Settings::default())
    };
    let mut ops = Ops::new(project, store)
        .unwrap()
        .with_provider(provider, true)
        .unwrap();
    ops.set_actor(actor());
    ops
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Through `ops::apply`, the apply users run: converges, in order,
    /// idempotent; a crash (the apply dropped right after the k-th
    /// operation, as if the process died) is finished by `--resume`.
    #[test]
    fn apply_converges_in_order_and_survives_crashes(
        versions in prop::collection::vec(version(), 1..4),
        crash in prop::option::weighted(0.5, (0usize..4, 1u64..12)),
        parallelism in 1usize..6,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state"), StoreOptions::default()).unwrap();
        let sim = Arc::new(Sim::open(&dir.path().join("state"), Arc::new(SystemClock), SimTiming::Catalog, SimDurability::Deferred).unwrap());
        let stack = Stack::new("prop", "dev").unwrap();
        let crashed = Arc::new(tokio::sync::Notify::new());
        let provider = Arc::new(Faulty::crashing(sim.clone(), crashed.clone()));
        let mut o = ops_over(dir.path(), store, provider.clone());
        o.set_interrupt(crashed);
        let plan_opts = PlanOptions { allow_data_loss: true, ..PlanOptions::default() };
        for (i, v) in versions.iter().enumerate() {
            let e = estate(v);
            let version = format!("1.{i}.0");
            o.store().create_release("prop", &version, std::slice::from_ref(&e), None, &actor()).unwrap();
            let req = ApplyRequest { plan_options: plan_opts.clone(), parallelism, ..ApplyRequest::new(stack.clone(), version.clone()) };
            let planned = ops::plan_release(o.store(), o.loader(), &stack, &version, &plan_opts, None).unwrap();
            match crash {
                Some((at, k)) if at == i && (k as usize) <= planned.plan.actions.len() => {
                    provider.arm(k);
                    match o.apply(&req, &mut Quiet) {
                        Err(OpsError::Aborted { .. }) => {}
                        other => prop_assert!(false, "the apply was not interrupted: {other:?}"),
                    }
                    // Any command but a resume is refused now.
                    let refused = matches!(o.apply(&req, &mut Quiet), Err(OpsError::Interrupted { .. }));
                    prop_assert!(refused, "an apply over an interrupted one is refused");
                    // After the crash: reconcile from the provider, then apply again.
                    let resume = ApplyRequest { resume: true, ..req.clone() };
                    let out = o.apply(&resume, &mut Quiet).unwrap();
                    if let Some(a) = out.applied() {
                        prop_assert!(a.report.failures().next().is_none(), "{:?}", a.report.failures().collect::<Vec<_>>());
                        check_order(&a.plan, &a.report)?;
                    }
                }
                _ => {
                    let out = o.apply(&req, &mut Quiet).unwrap();
                    if let Some(a) = out.applied() {
                        prop_assert!(a.report.failures().next().is_none(), "{:?}", a.report.failures().collect::<Vec<_>>());
                        check_order(&a.plan, &a.report)?;
                        // Makespan never beats the lower bound.
                        let (bound, _, _) = a.plan.makespan_bound(parallelism);
                        prop_assert!(a.report.makespan.as_secs() >= bound, "makespan {:?} below bound {bound}", a.report.makespan);
                    }
                }
            }
            converged(o.store(), &sim, &stack, &e)?;
            // Idempotence: nothing left to do.
            let second = ops::plan_release(o.store(), o.loader(), &stack, &version, &plan_opts, None).unwrap();
            prop_assert!(second.plan.is_empty(), "second plan not empty: {:?}", second.plan.actions.iter().map(|a| (a.kind, a.address.to_string())).collect::<Vec<_>>());
        }
    }
}

/// A store, a zero-latency simulator and a paused-clock runtime in `dir`.
fn zero_latency(dir: &std::path::Path) -> (Store, Arc<Sim>, tokio::runtime::Runtime) {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let sim = Arc::new(
        Sim::open(
            dir,
            Arc::new(SystemClock),
            SimTiming::Zero,
            SimDurability::Deferred,
        )
        .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    (store, sim, rt)
}

/// Releases `e` as `version` of prop/dev (unless it exists) and plans it
/// against the stack's latest generation.
fn release_and_plan(
    store: &Store,
    dir: &std::path::Path,
    version: &str,
    e: &Estate,
) -> (ops::Desired, Plan, BTreeMap<Address, ObservedResource>) {
    store
        .create_release("prop", version, std::slice::from_ref(e), None, &actor())
        .unwrap();
    let stack = Stack::new("prop", "dev").unwrap();
    let desired = ops::desired(store, &Loader::new(dir), "prop", "dev", version, None).unwrap();
    let (plan, observed) =
        ops::make_plan(store, &stack, &desired, &PlanOptions::default()).unwrap();
    (desired, plan, observed)
}

/// Applies `plan` to prop/dev through `provider`, with default options, to
/// its end.
fn run_apply<P: Provider + 'static>(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    provider: Arc<P>,
    plan: &Plan,
    desired: &Estate,
    observed: BTreeMap<Address, ObservedResource>,
) -> apply::ApplyReport {
    let stack = Stack::new("prop", "dev").unwrap();
    rt.block_on(apply::apply(
        store,
        provider,
        &stack,
        plan,
        desired,
        observed,
        &actor(),
        &ApplyOptions::default(),
        &mut QuietProgress,
    ))
    .unwrap()
}

/// Runs `plan` through `provider` for `dur` on the runtime's clock, during
/// which the apply must not end (an operation stalls), then drops it as if
/// the process died.
#[allow(clippy::too_many_arguments)]
fn stalled_apply(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    provider: Arc<Faulty>,
    plan: &Plan,
    desired: &Estate,
    observed: BTreeMap<Address, ObservedResource>,
    opts: &ApplyOptions,
    dur: Duration,
) {
    let stack = Stack::new("prop", "dev").unwrap();
    let who = actor();
    let mut quiet = QuietProgress;
    rt.block_on(async {
        tokio::select! {
            r = apply::apply(store, provider, &stack, plan, desired, observed, &who, opts, &mut quiet) => {
                panic!("the apply cannot end while an operation stalls: {r:?}");
            }
            () = tokio::time::sleep(dur) => {}
        }
    });
}

/// Group commit does not hold a result hostage to a slow operation: `n0`
/// and `n1` start together, `n1` never ends, and `n0`'s result is in the
/// store within `PENDING_WAIT` of its end, with its journal entry closed.
#[test]
fn a_result_commits_while_a_slow_operation_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, rt) = zero_latency(dir.path());
    let stack = Stack::new("prop", "dev").unwrap();
    let e = estate(&vec![Some((vec![], 1, false)), Some((vec![], 2, false))]);
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.0.0", &e);
    let provider = Arc::new(Faulty::stall_on(
        sim.clone(),
        Some(Address::new("net", "n1").unwrap()),
    ));
    let opts = ApplyOptions::default();
    stalled_apply(
        &rt,
        &store,
        provider,
        &plan,
        &desired.estate,
        observed,
        &opts,
        apply::PENDING_WAIT * 5,
    );
    let g = store.latest_generation(&stack).unwrap().unwrap();
    assert_eq!(g.outcome, Outcome::InProgress);
    let now: BTreeSet<String> = store
        .observed(&g)
        .unwrap()
        .keys()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        now,
        BTreeSet::from(["core.rg".to_string(), "net.n0".to_string()]),
        "n0's result is committed though n1 still runs"
    );
    let open: Vec<String> = store
        .unresolved(&stack)
        .unwrap()
        .into_iter()
        .map(|j| j.address.to_string())
        .collect();
    assert_eq!(open, vec!["net.n1".to_string()], "only n1's entry is open");
}

/// An update journaled ahead of its start but never run (the process died
/// first) is not taken for done: after reconcile the plan finds the resource
/// still differs from the release and updates it.
#[test]
fn an_update_journaled_but_never_started_is_redone_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, rt) = zero_latency(dir.path());
    let stack = Stack::new("prop", "dev").unwrap();
    let plan_opts = PlanOptions::default();
    let v1 = estate(&vec![Some((vec![], 0, false))]);
    let v2 = estate(&vec![Some((vec![], 3, false)), Some((vec![], 1, false))]);
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.0.0", &v1);
    run_apply(&rt, &store, sim.clone(), &plan, &desired.estate, observed);

    // v1.1.0 updates n0 and creates n1. With one slot, the first put stalls
    // and the other operation is journaled but never starts.
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.1.0", &v2);
    assert_eq!(plan.actions.len(), 2, "{:?}", plan.actions);
    let stall = Arc::new(Faulty::stall_on(sim.clone(), None));
    let opts = ApplyOptions {
        parallelism: 1,
        ..ApplyOptions::default()
    };
    stalled_apply(
        &rt,
        &store,
        stall,
        &plan,
        &desired.estate,
        observed,
        &opts,
        Duration::from_secs(5),
    );
    assert_eq!(
        store.unresolved(&stack).unwrap().len(),
        2,
        "both were journaled"
    );

    let report = rt
        .block_on(apply::reconcile(&store, sim.as_ref(), &stack, &actor()))
        .unwrap();
    assert_eq!(
        report.to_check,
        vec!["update net.n0".to_string()],
        "{report:?}"
    );
    assert_eq!(
        report.did_not,
        vec!["create net.n1".to_string()],
        "{report:?}"
    );
    let (again, observed) = ops::make_plan(&store, &stack, &desired, &plan_opts).unwrap();
    let kinds: BTreeSet<String> = again
        .actions
        .iter()
        .map(|a| format!("{} {}", a.kind, a.address))
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["update net.n0".to_string(), "create net.n1".to_string()])
    );
    let report = run_apply(&rt, &store, sim.clone(), &again, &desired.estate, observed);
    assert!(report.failures().next().is_none());
    converged(&store, &sim, &stack, &v2).unwrap();
}

/// Many results at once commit without waiting: 300 operations run
/// together, 299 end at once, one never does; within half of
/// `PENDING_WAIT` the 299 are in the store (more than `PENDING_MAX`
/// commit as soon as they are in).
#[test]
fn a_crowd_of_results_commits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, rt) = zero_latency(dir.path());
    let stack = Stack::new("prop", "dev").unwrap();
    let n = 300;
    assert!(n - 1 > apply::PENDING_MAX);
    let e = estate(&vec![Some((vec![], 1, false)); n]);
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.0.0", &e);
    let provider = Arc::new(Faulty::stall_on(
        sim.clone(),
        Some(Address::new("net", &format!("n{}", n - 1)).unwrap()),
    ));
    let opts = ApplyOptions {
        parallelism: n,
        ..ApplyOptions::default()
    };
    stalled_apply(
        &rt,
        &store,
        provider,
        &plan,
        &desired.estate,
        observed,
        &opts,
        apply::PENDING_WAIT / 2,
    );
    let g = store.latest_generation(&stack).unwrap().unwrap();
    assert_eq!(g.outcome, Outcome::InProgress);
    assert_eq!(
        store.observed(&g).unwrap().len(),
        n,
        "the resource group and the 299 that ended are committed"
    );
    assert_eq!(store.unresolved(&stack).unwrap().len(), 1);
}

/// A chain `n0 <- n1 <- n2` (each NSG peers the one before), all needing
/// the resource group.
fn chain() -> Estate {
    estate(&vec![
        Some((vec![], 0, false)),
        Some((vec![0], 0, false)),
        Some((vec![1], 0, false)),
    ])
}

fn entries_of(store: &Store, name: &str) -> Vec<statectl::store::JournalEntry> {
    let stack = Stack::new("prop", "dev").unwrap();
    store
        .journal(&stack)
        .unwrap()
        .into_iter()
        .filter(|e| e.address.to_string() == name)
        .collect()
}

/// A batch journals operations still waiting for their dependencies,
/// under the ARM id they will write: while `n0` stalls, `n1` (which needs
/// it) has an open entry. After the crash, reconciling closes both as not
/// done, and applying again converges.
#[test]
fn operations_are_journaled_before_their_dependencies_finish() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, rt) = zero_latency(dir.path());
    let e = chain();
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.0.0", &e);
    let n0 = Address::new("net", "n0").unwrap();
    let provider = Arc::new(Faulty::stall_on(sim.clone(), Some(n0)));
    stalled_apply(
        &rt,
        &store,
        provider,
        &plan,
        &desired.estate,
        observed,
        &ApplyOptions::default(),
        Duration::from_secs(10),
    );
    let n1 = entries_of(&store, "net.n1");
    assert_eq!(n1.len(), 1, "{n1:?}");
    assert_eq!(n1[0].state, JournalState::Begun);
    assert!(
        n1[0].resource_id.ends_with("/networkSecurityGroups/nsg-1"),
        "{}",
        n1[0].resource_id
    );
    assert!(
        sim.resources()
            .iter()
            .all(|r| !r.id.ends_with("nsg-0") && !r.id.ends_with("nsg-1")),
        "nothing of the chain exists yet"
    );
    let stack = Stack::new("prop", "dev").unwrap();
    let report = rt
        .block_on(apply::reconcile(&store, sim.as_ref(), &stack, &actor()))
        .unwrap();
    assert!(
        report.did_not.contains(&"create net.n1".to_string()),
        "{report:?}"
    );
    let (again, observed) =
        ops::make_plan(&store, &stack, &desired, &PlanOptions::default()).unwrap();
    let done = run_apply(&rt, &store, sim.clone(), &again, &desired.estate, observed);
    assert!(done.failures().next().is_none());
    converged(&store, &sim, &stack, &e).unwrap();
    assert!(store.unresolved(&stack).unwrap().is_empty());
}

/// The simulator behind an ARM that answers with a resource group name in
/// other letter case (ARM names are case-insensitive) and takes either.
struct Recased {
    inner: Arc<Sim>,
}

impl Provider for Recased {
    fn name(&self) -> &str {
        "recased"
    }
    async fn put(
        &self,
        op: Operation,
        r: &ResolvedResource,
    ) -> Result<ObservedResource, ProviderError> {
        let mut r = r.clone();
        if let Some(Value::String(rg)) = r.properties.get_mut("resource_group") {
            *rg = rg.to_lowercase();
        }
        let mut o = self.inner.put(op, &r).await?;
        if o.arm_type == "Microsoft.Resources/resourceGroups" {
            o.name = o.name.to_uppercase();
        }
        Ok(o)
    }
    async fn delete(&self, o: &ObservedResource, mode: DeleteMode) -> Result<(), ProviderError> {
        self.inner.delete(o, mode).await
    }
    fn list(
        &self,
        p: &str,
    ) -> impl Future<Output = Result<Vec<ObservedResource>, ProviderError>> + Send {
        self.inner.list(p)
    }
    fn read(
        &self,
        t: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<ObservedResource>, ProviderError>> + Send {
        self.inner.read(t, id)
    }
}

/// An operation journaled ahead under an id it turns out not to write
/// (its resource group came back as `PROP-DEV-RG`) does not start under
/// that entry: the entry is closed as superseded and a new one names the
/// id it writes.
#[test]
fn an_operation_journaled_ahead_under_another_id_is_journaled_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, rt) = zero_latency(dir.path());
    let e = chain();
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.0.0", &e);
    let stack = Stack::new("prop", "dev").unwrap();
    let report = run_apply(
        &rt,
        &store,
        Arc::new(Recased { inner: sim.clone() }),
        &plan,
        &desired.estate,
        observed,
    );
    assert!(report.failures().next().is_none());
    // n0 became ready when the group was done: journaled ahead, then again.
    let n0 = entries_of(&store, "net.n0");
    assert_eq!(n0.len(), 2, "{n0:?}");
    assert_eq!(n0[0].state, JournalState::Failed);
    assert!(n0[0].resource_id.contains("/resourceGroups/prop-dev-rg/"));
    let why = n0[0].detail.clone().unwrap_or_default();
    assert!(
        why.contains("journaled ahead as") && why.contains("PROP-DEV-RG"),
        "{why}"
    );
    assert_eq!(n0[1].state, JournalState::Done);
    assert!(n0[1].resource_id.contains("/resourceGroups/PROP-DEV-RG/"));
    assert!(store.unresolved(&stack).unwrap().is_empty());
}

/// Entries journaled ahead of a dependency that then fails are closed, not
/// left open: `n0` fails, `n1` and `n2` never start.
#[test]
fn entries_journaled_ahead_of_a_failed_dependency_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, rt) = zero_latency(dir.path());
    sim.set_faults(statectl::provider::sim::FaultPlan {
        fail_nth: vec![statectl::provider::sim::FailNth {
            arm_type: Some("Microsoft.Network/networkSecurityGroups".into()),
            nth: 1,
        }],
        ..Default::default()
    })
    .unwrap();
    let (desired, plan, observed) = release_and_plan(&store, dir.path(), "1.0.0", &chain());
    let stack = Stack::new("prop", "dev").unwrap();
    let report = run_apply(&rt, &store, sim.clone(), &plan, &desired.estate, observed);
    assert_eq!(report.failures().count(), 3);
    assert_eq!(entries_of(&store, "net.n0")[0].state, JournalState::Failed);
    for n in ["net.n1", "net.n2"] {
        let es = entries_of(&store, n);
        assert_eq!(es.len(), 1, "{n}: {es:?}");
        assert_eq!(es[0].state, JournalState::Failed, "{n}");
        assert_eq!(
            es[0].detail.as_deref(),
            Some("not started: something it needs failed"),
            "{n}"
        );
    }
    assert!(store.unresolved(&stack).unwrap().is_empty());
}
