//! Mirror benchmarks (issue 6). Run: `cargo bench --bench mirror`.
//!
//! On Azurite (started here, as in the tests) and on a local directory,
//! for a synthetic stack of 10,000 resources (`STATECTL_BENCH_MIRROR_N`):
//! - push time and sealed bytes of the first generation;
//! - push time and bytes of a one-resource change (median of 5);
//! - restore time of the whole store into an empty state directory: the
//!   RTO of the state itself.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/util/azurite.rs"]
mod azurite;
#[path = "../tests/util/scale.rs"]
mod scale;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use statectl::keys::LocalKeyFile;
use statectl::mirror::azure::AzureBlob;
use statectl::mirror::{Backend, LocalDir, Mirror, NoProgress, RebuildFilter};
use statectl::store::{Store, StoreOptions};

/// The repository root, for `azurite` to find node_modules.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn kib(b: u64) -> f64 {
    b as f64 / 1024.0
}

fn bench(label: &str, backend: Backend, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let keys = Arc::new(LocalKeyFile::open_or_create(&keydir.path().join("mirror.key")).unwrap());
    let m = Mirror::new(backend, keys);
    let rt = runtime();

    let mut s = scale::Scaled::apply_new(dir.path(), n);
    let first = rt
        .block_on(m.push(s.store(), &[], &mut NoProgress))
        .unwrap();
    println!(
        "  {label}: first push of {n} resources: {} blobs, {:.1} MiB sealed, {:.2} s",
        first.blobs,
        kib(first.bytes) / 1024.0,
        first.elapsed.as_secs_f64()
    );

    let mut times = Vec::new();
    let mut sizes = Vec::new();
    for _ in 0..5 {
        s.change_one();
        let r = rt
            .block_on(m.push(s.store(), &[], &mut NoProgress))
            .unwrap();
        times.push(r.elapsed.as_secs_f64() * 1000.0);
        sizes.push((r.blobs, r.bytes, r.objects_examined));
    }
    times.sort_by(f64::total_cmp);
    sizes.sort();
    let (blobs, bytes, examined) = sizes[2];
    println!(
        "  {label}: one-resource change push: median {:.1} ms, {blobs} blobs, {:.1} KiB, {examined} objects examined (first push: {})",
        times[2],
        kib(bytes),
        first.objects_examined
    );

    let restored_dir = tempfile::tempdir().unwrap();
    let restored = Store::open(restored_dir.path(), StoreOptions::default()).unwrap();
    let t = Instant::now();
    let r = rt
        .block_on(m.rebuild(&restored, &RebuildFilter::default(), &mut NoProgress))
        .unwrap();
    println!(
        "  {label}: restore of the whole store: {} objects, {} generations, {:.1} MiB of state after opening, {:.2} s",
        r.objects,
        r.generations.iter().map(|g| g.2).sum::<usize>(),
        kib(r.bytes) / 1024.0,
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let n = std::env::var("STATECTL_BENCH_MIRROR_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!("mirror benchmark: synthetic stack of {n} resources");
    let local = tempfile::tempdir().unwrap();
    bench(
        "local directory",
        Backend::Local(LocalDir::new(local.path())),
        n,
    );
    let az = azurite::Azurite::start();
    let b = AzureBlob::new(
        &az.account_url(),
        "bench",
        Some(&az.sas()),
        statectl::mirror::azure::AzureAuth::default(),
    )
    .unwrap();
    bench("Azurite", Backend::Azure(Box::new(b)), n);
}
