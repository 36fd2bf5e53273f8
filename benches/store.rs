//! Store benchmark: builds a 100,000-resource stack, then commits
//! one-resource changes and prints what each costs.
//!
//! Run: `cargo bench --bench store` (STATECTL_BENCH_N to change the size).
//! Prints: bytes written to the database file per one-resource commit (the
//! `wchar` counter of /proc/self/io around the commit, i.e. every byte this
//! process handed to write/pwrite), time per commit (median and p90 of many),
//! and the time to read the latest and a 100-generations-old generation whole.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use statectl::model::*;
use statectl::store::*;

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

fn resource(i: usize, v: i64) -> ObservedResource {
    let address = Address::new(&format!("m{}", i % 100), &format!("r{i}")).unwrap();
    ObservedResource {
        name: format!("bench-{i}"),
        id: format!(
            "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/bench/providers/Microsoft.Network/networkSecurityGroups/bench-{i}"
        ),
        address,
        arm_type: "Microsoft.Network/networkSecurityGroups".into(),
        properties: BTreeMap::from([
            ("location".into(), Value::String("eastus".into())),
            ("resource_group".into(), Value::String("bench".into())),
            ("v".into(), Value::Int(v)),
        ]),
        attributes: BTreeMap::new(),
        sensitive: BTreeMap::new(),
        tags: BTreeMap::from([
            ("environment".into(), "dev".into()),
            ("owner".into(), "bench".into()),
            ("cost-center".into(), "cc".into()),
        ]),
        dependencies: BTreeSet::new(),
        prevent_destroy: false,
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let n: usize = std::env::var("STATECTL_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let commits: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let stack = Stack::new("bench", "dev").unwrap();
    let actor = Actor {
        name: "bench".into(),
        how: "cargo bench".into(),
    };
    let new = || NewGeneration {
        kind: GenerationKind::Apply,
        release: None,
        plan_hash: None,
        reason: None,
    };

    let t = Instant::now();
    let w0 = wchar();
    let changes = (0..n)
        .map(|i| Change::Put {
            observed: Box::new(resource(i, 0)),
            applied: Some(Digest::of(&i.to_le_bytes())),
        })
        .collect();
    store
        .commit_generation(&stack, new(), changes, Outcome::Succeeded, &actor)
        .unwrap();
    let first_secs = t.elapsed().as_secs_f64();
    let first_bytes = wchar() - w0;
    println!("store benchmark: {n} resources, {commits} one-resource commits");
    println!(
        "  first generation ({n} resources): {first_secs:.2} s, {:.1} MiB written, file {:.1} MiB",
        first_bytes as f64 / 1048576.0,
        store.file_size() as f64 / 1048576.0
    );

    let mut times = Vec::with_capacity(commits);
    let mut bytes = Vec::with_capacity(commits);
    for c in 0..commits {
        let i = (c * 7919) % n;
        let change = vec![Change::Put {
            observed: Box::new(resource(i, c as i64 + 1)),
            applied: Some(Digest::of(&(c as u64).to_le_bytes())),
        }];
        let w = wchar();
        let t = Instant::now();
        store
            .commit_generation(&stack, new(), change, Outcome::Succeeded, &actor)
            .unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes.push((wchar() - w) as f64);
    }
    times.sort_by(f64::total_cmp);
    bytes.sort_by(f64::total_cmp);
    println!(
        "  one-resource commit: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        pct(&times, 0.5),
        pct(&times, 0.9),
        times[times.len() - 1]
    );
    println!(
        "  bytes written per one-resource commit: median {:.1} KiB, p90 {:.1} KiB, max {:.1} KiB (target: under 64 KiB)",
        pct(&bytes, 0.5) / 1024.0,
        pct(&bytes, 0.9) / 1024.0,
        bytes[bytes.len() - 1] / 1024.0
    );

    // Baseline: a commit that changes nothing (generation record + audit only).
    let mut empty = Vec::new();
    for _ in 0..20 {
        let w = wchar();
        store
            .commit_generation(&stack, new(), vec![], Outcome::Succeeded, &actor)
            .unwrap();
        empty.push((wchar() - w) as f64);
    }
    empty.sort_by(f64::total_cmp);
    println!(
        "  bytes written per commit that changes nothing (record + audit only): median {:.1} KiB",
        pct(&empty, 0.5) / 1024.0
    );

    // The same after `statectl store compact`: redb grows its file ahead of
    // need, and quick repair's allocator state grows with the file.
    let before = store.file_size();
    store.compact().unwrap();
    let compacted = store.file_size();
    let mut after = Vec::new();
    for c in 0..50usize {
        let i = (c * 104_729) % n;
        let change = vec![Change::Put {
            observed: Box::new(resource(i, -(c as i64) - 1)),
            applied: Some(Digest::of(&(c as u64 + 1_000_000).to_le_bytes())),
        }];
        let w = wchar();
        store
            .commit_generation(&stack, new(), change, Outcome::Succeeded, &actor)
            .unwrap();
        after.push((wchar() - w) as f64);
    }
    after.sort_by(f64::total_cmp);
    println!(
        "  after `store compact` ({:.1} MiB -> {:.1} MiB): one-resource commit median {:.1} KiB, file then {:.1} MiB",
        before as f64 / 1048576.0,
        compacted as f64 / 1048576.0,
        pct(&after, 0.5) / 1024.0,
        store.file_size() as f64 / 1048576.0
    );

    let latest = store.latest_generation(&stack).unwrap().unwrap();
    let t = Instant::now();
    let all = store.observed(&latest).unwrap();
    let read_latest = t.elapsed().as_secs_f64();
    assert_eq!(all.len(), n);
    let old = store.generation(&stack, latest.number - 120).unwrap();
    let t = Instant::now();
    let all_old = store.observed(&old).unwrap();
    let read_old = t.elapsed().as_secs_f64();
    assert_eq!(all_old.len(), n);
    let t = Instant::now();
    let addrs = store.addresses(&latest).unwrap();
    let list_latest = t.elapsed().as_secs_f64();
    assert_eq!(addrs.len(), n);
    println!(
        "  read latest generation whole ({n} resources): {:.0} ms",
        read_latest * 1000.0
    );
    println!(
        "  read generation {} (100 generations old) whole: {:.0} ms",
        old.number,
        read_old * 1000.0
    );
    println!(
        "  list addresses of the latest generation: {:.0} ms",
        list_latest * 1000.0
    );
    println!(
        "  database file: {:.1} MiB",
        store.file_size() as f64 / 1048576.0
    );
}
