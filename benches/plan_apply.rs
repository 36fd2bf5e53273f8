//! Plan and apply benchmarks (issue 4). Run: `cargo bench --bench plan_apply`.
//!
//! Prints:
//! - no-op plan time at 1,000 / 10,000 / 100,000 resources (what `statectl
//!   plan` does: the O(1) tree comparison), the full-diff plan time (every
//!   resource compared), and the no-op plan's peak RSS measured in a child
//!   process that does nothing else;
//! - the same no-op plan with Terraform on the same DAG shape of
//!   `terraform_data` resources, when `terraform` is installed;
//! - creating 5,000 zero-latency resources from empty: time and bytes written
//!   to the store;
//! - apply makespan on the virtual clock against max(critical path, total
//!   work / parallelism) for every shipped estate in prod and a synthetic one.
//!
//! `STATECTL_BENCH_SIZES=1000,10000` limits the sizes;
//! `STATECTL_BENCH_TERRAFORM_MAX=10000` runs Terraform up to that size
//! (default 1,000: Terraform 1.11's no-op plan of 10,000 took 14 minutes here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use statectl::clock::SystemClock;
use statectl::model::{Estate, Stack};
use statectl::ops::{self, Applied, ApplyRequest, Ops, Project, Quiet};
use statectl::plan::PlanOptions;
use statectl::provider::sim::{Sim, SimDurability, SimTiming};
use statectl::settings::Settings;
use statectl::spec::Loader;
use statectl::store::{Actor, Store, StoreOptions};

fn actor() -> Actor {
    Actor {
        name: "bench".into(),
        how: "cargo bench".into(),
    }
}

fn wchar() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("wchar: ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Releases `estate` as v1.0.0 and applies it through `ops::apply`, the
/// apply users run (lock, gate, backup, lease, push), on a simulator in
/// `dir` with `timing`. Production rules are passed the audited way
/// (`--emergency --skip-gate --reason`): the benchmark measures the apply,
/// not the calendar.
/// Releases `estate` as v1.0.0 and applies it through the ops layer (the
/// path `statectl apply` takes) on the simulator. Returns the outcome, the
/// wall time and the bytes the process wrote from the release to the
/// commit: opening the store and the simulator, and the simulator writing
/// its own file when dropped, are not the store's and not counted.
fn release_and_apply(
    dir: &Path,
    estate: &Estate,
    timing: SimTiming,
    parallelism: usize,
) -> (Applied, f64, u64) {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let sim =
        Arc::new(Sim::open(dir, Arc::new(SystemClock), timing, SimDurability::Deferred).unwrap());
    let project = Project {
        state_dir: dir.to_path_buf(),
        ..Project::new(dir, Settings::default())
    };
    let mut o = Ops::new(project, store)
        .unwrap()
        .with_provider(sim, true)
        .unwrap();
    o.set_actor(actor());
    let w0 = wchar();
    let t = Instant::now();
    o.store()
        .create_release(
            &estate.name,
            "1.0.0",
            std::slice::from_ref(estate),
            None,
            &actor(),
        )
        .unwrap();
    let stack = Stack::new(&estate.name, &estate.environment.name).unwrap();
    let req = ApplyRequest {
        parallelism,
        emergency: true,
        skip_gate: true,
        reason: Some("benchmark".into()),
        ..ApplyRequest::new(stack, "1.0.0")
    };
    let out = o.apply(&req, &mut Quiet).unwrap();
    let (secs, bytes) = (t.elapsed().as_secs_f64(), wchar() - w0);
    match out {
        ops::Finished::Applied(a) => {
            assert!(a.report.failures().next().is_none());
            (*a, secs, bytes)
        }
        ops::Finished::NoChanges(_) => panic!("nothing to apply"),
    }
}

/// Releases `estate` as v1.0.0 and applies it to `<estate>/<env>` on a
/// zero-latency simulator; returns the wall time and store bytes written.
fn setup(dir: &Path, estate: &Estate, parallelism: usize) -> (f64, u64) {
    let (_, secs, bytes) = release_and_apply(dir, estate, SimTiming::Zero, parallelism);
    (secs, bytes)
}

fn noop_plan(dir: &Path, estate: &str) -> f64 {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let stack = Stack::new(estate, "dev").unwrap();
    let t = Instant::now();
    let planned = ops::plan_release(
        &store,
        &Loader::new(dir),
        &stack,
        "1.0.0",
        &PlanOptions::default(),
        None,
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(planned.plan.is_empty());
    secs
}

fn full_plan(dir: &Path, estate: &str) -> f64 {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let stack = Stack::new(estate, "dev").unwrap();
    let t = Instant::now();
    let desired = ops::desired(&store, &Loader::new(dir), estate, "dev", "1.0.0", None).unwrap();
    let (plan, _) = ops::make_plan(&store, &stack, &desired, &PlanOptions::default()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(plan.is_empty());
    secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A Terraform configuration and state of the same layered DAG, as
/// `terraform_data` resources (no provider download needed), so
/// `terraform plan` measures a no-op plan on the same shape.
fn terraform_project(dir: &Path, estate: &Estate) {
    use statectl::model::Value;
    std::fs::create_dir_all(dir).unwrap();
    let mut tf = String::new();
    let mut resources = Vec::new();
    let name = |a: &statectl::model::Address| format!("{}_{}", a.module(), a.name());
    for (a, r) in estate.resources() {
        let peers: Vec<String> = match r.properties.get("peers") {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(|v| {
                    if let Value::Ref(re) = v {
                        Some(name(&re.address))
                    } else {
                        None
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let input = if peers.is_empty() {
            "null".to_string()
        } else {
            format!(
                "[{}]",
                peers
                    .iter()
                    .map(|p| format!("terraform_data.{p}.id"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        tf.push_str(&format!(
            "resource \"terraform_data\" \"{}\" {{\n  input = {input}\n}}\n",
            name(a)
        ));
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            a.to_string().len(),
            resources.len()
        );
        resources.push((name(a), id, peers));
    }
    std::fs::write(dir.join("main.tf"), tf).unwrap();
    let ids: std::collections::BTreeMap<&String, &String> =
        resources.iter().map(|(n, id, _)| (n, id)).collect();
    let state_resources: Vec<serde_json::Value> = resources
        .iter()
        .map(|(n, id, peers)| {
            let input = if peers.is_empty() {
                serde_json::json!({"value": null, "type": "dynamic"})
            } else {
                serde_json::json!({"value": peers.iter().map(|p| ids[p].clone()).collect::<Vec<_>>(), "type": ["tuple", peers.iter().map(|_| "string").collect::<Vec<_>>()]})
            };
            let input = if peers.is_empty() { serde_json::Value::Null } else { input };
            serde_json::json!({
                "mode": "managed", "type": "terraform_data", "name": n,
                "provider": "provider[\"terraform.io/builtin/terraform\"]",
                "instances": [{"schema_version": 0, "attributes": {"id": id, "input": input, "output": input, "triggers_replace": null}, "sensitive_attributes": [], "dependencies": peers.iter().map(|p| format!("terraform_data.{p}")).collect::<Vec<_>>()}]
            })
        })
        .collect();
    let state = serde_json::json!({"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "3c0f5d2a-1111-2222-3333-444455556666", "outputs": {}, "resources": state_resources, "check_results": null});
    std::fs::write(
        dir.join("terraform.tfstate"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
}

fn terraform_noop(dir: &Path) -> Option<(f64, String)> {
    let ok = |c: &mut Command| {
        c.current_dir(dir)
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    ok(Command::new("terraform").args(["init", "-input=false", "-no-color"]))?;
    let t = Instant::now();
    let out = Command::new("terraform")
        .args([
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            "-detailed-exitcode",
        ])
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .ok()?;
    let secs = t.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    let verdict = if out.status.code() == Some(0) {
        "no changes".to_string()
    } else {
        format!(
            "exit {:?}: {}",
            out.status.code(),
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
        )
    };
    Some((secs, verdict))
}

fn main() {
    // Child mode: one no-op plan and nothing else, to measure its peak RSS.
    if let Ok(spec) = std::env::var("STATECTL_BENCH_CHILD") {
        let (dir, estate) = spec.split_once('|').unwrap();
        let secs = noop_plan(Path::new(dir), estate);
        println!("{secs} {}", vm_hwm_kib());
        return;
    }
    let sizes: Vec<usize> = std::env::var("STATECTL_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let tmp = tempfile::tempdir().unwrap();
    let has_terraform = Command::new("terraform")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let terraform_max: usize = std::env::var("STATECTL_BENCH_TERRAFORM_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);

    println!("no-op plan (statectl plan on a stack that matches its release):");
    for &n in &sizes {
        let dir = tmp.path().join(format!("noop{n}"));
        let estate = statectl::synthetic::layered("synth", n, 50, 1);
        let (setup_secs, _) = setup(&dir, &estate, 1000);
        let noop = median((0..5).map(|_| noop_plan(&dir, "synth")).collect());
        let full = full_plan(&dir, "synth");
        let child = Command::new(std::env::current_exe().unwrap())
            .env("STATECTL_BENCH_CHILD", format!("{}|synth", dir.display()))
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&child.stdout);
        let mut parts = line.split_whitespace();
        let child_secs: f64 = parts
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(f64::NAN);
        let rss_kib: u64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        print!(
            "  {n:>7} resources: no-op plan {:.2} ms (median of 5; {:.2} ms in a fresh process, peak RSS {:.1} MiB); full diff of every resource {:.0} ms; setup (release + apply) {setup_secs:.1} s",
            noop * 1000.0,
            child_secs * 1000.0,
            rss_kib as f64 / 1024.0,
            full * 1000.0
        );
        if has_terraform && n <= terraform_max {
            let tfdir = tmp.path().join(format!("tf{n}"));
            terraform_project(&tfdir, &estate);
            match terraform_noop(&tfdir) {
                Some((tf, verdict)) => print!(
                    "; terraform plan {tf:.2} s ({verdict}), {:.0}x slower than statectl's no-op plan",
                    tf / noop
                ),
                None => print!("; terraform plan failed to run"),
            }
        }
        println!();
    }

    println!(
        "creating 5,000 zero-latency resources from empty (release + plan + apply, parallelism 10):"
    );
    let dir = tmp.path().join("create5000");
    let estate = statectl::synthetic::layered("synth", 5_000, 50, 2);
    let (secs, bytes) = setup(&dir, &estate, 10);
    let file = std::fs::metadata(dir.join("state.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "  {secs:.2} s, {:.1} MiB written to the store, store file {:.1} MiB (targets: under 2 s, under 20 MB)",
        bytes as f64 / 1048576.0,
        file as f64 / 1048576.0
    );

    println!(
        "apply makespan on the virtual clock vs max(critical path, work / parallelism), parallelism 10:"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loader = Loader::new(root);
    let mut cases: Vec<(String, Estate)> = Vec::new();
    for e in loader.estate_names().unwrap() {
        cases.push((format!("{e}/prod"), loader.load(&e, "prod").unwrap()));
    }
    cases.push((
        "synthetic 1000 (width 50)".into(),
        statectl::synthetic::layered("synth", 1000, 50, 3),
    ));
    cases.push((
        "synthetic 1000 (width 5)".into(),
        statectl::synthetic::layered("synth", 1000, 5, 4),
    ));
    for (label, estate) in cases {
        let dir = tmp.path().join(format!(
            "makespan-{}",
            label.replace(['/', ' ', '(', ')'], "_")
        ));
        let (a, _, _) = release_and_apply(&dir, &estate, SimTiming::Catalog, 10);
        let (plan, report) = (&a.plan, &a.report);
        let (bound, critical, spread) = plan.makespan_bound(10);
        let m = report.makespan.as_secs();
        println!(
            "  {label}: {} ops, makespan {m} s, bound {bound} s (critical path {critical} s, work/10 {spread} s): {:.1}% over the bound",
            plan.actions.len(),
            (m as f64 / bound.max(1) as f64 - 1.0) * 100.0
        );
    }
}
