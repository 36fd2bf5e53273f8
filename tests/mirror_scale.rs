//! The mirror at scale, on both backends: a 10,000-resource first
//! generation pushed and restored into an empty store that equals the
//! original, and a one-resource change after it that uploads a bounded
//! number of blobs, independent of the stack's size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::sync::Arc;

use statectl::keys::LocalKeyFile;
use statectl::mirror::backend::LocalDir;
use statectl::mirror::{Backend, Mirror, NoProgress, RebuildFilter};
use statectl::store::{Store, StoreOptions};
use util::azurite::Azurite;
use util::scale::Scaled;

const N: usize = 10_000;
/// Blobs one one-resource change may upload: a pack with its new objects
/// (the resource, the tree nodes on its path), the generation chunk, the
/// release and the audit run (measured: 4). None of them grows with N.
const ONE_CHANGE_MAX_BLOBS: usize = 24;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn scale_on(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let keys = Arc::new(LocalKeyFile::open_or_create(&keydir.path().join("mirror.key")).unwrap());
    let m = Mirror::new(backend, keys);
    let rt = runtime();

    let mut s = Scaled::apply_new(dir.path(), N);
    let first = rt
        .block_on(m.push(s.store(), &[], &mut NoProgress))
        .unwrap();
    assert!(
        first.blobs < N / 100,
        "a first push of {N} resources packs its objects: {} blobs",
        first.blobs
    );

    let objects = s.store().object_digests().unwrap().len();
    assert_eq!(
        first.objects_examined, objects,
        "a mirror's first push reads every object"
    );

    s.change_one();
    let second = rt
        .block_on(m.push(s.store(), &[], &mut NoProgress))
        .unwrap();
    // O(new), not O(objects): only the objects the change inserted (the
    // resource, the tree nodes on its path, the release's headers) are read.
    assert!(
        second.objects_examined > 0 && second.objects_examined <= 16,
        "a one-resource change read {} objects to find what to push",
        second.objects_examined
    );
    assert!(
        second.blobs > 0 && second.blobs <= ONE_CHANGE_MAX_BLOBS,
        "a one-resource change after {N} resources pushed {} blobs ({} bytes)",
        second.blobs,
        second.bytes
    );
    assert!(second.bytes < 64 * 1024, "{} bytes", second.bytes);
    assert_eq!(second.generations.len(), 1);
    assert_eq!(second.generations[0].1, 2, "generation 2 pushed");

    // Each later change is found the same way.
    let mut later = 0;
    for _ in 0..2 {
        s.change_one();
        let r = rt
            .block_on(m.push(s.store(), &[], &mut NoProgress))
            .unwrap();
        assert_eq!(r.objects_examined, second.objects_examined);
        assert_eq!(r.blobs, second.blobs);
        later += r.blobs;
    }
    // Nothing left to push.
    let again = rt
        .block_on(m.push(s.store(), &[], &mut NoProgress))
        .unwrap();
    assert_eq!(again.blobs, 0);
    assert_eq!(again.objects_examined, 0);

    // Every blob written is listed, plus the two advanced in place by
    // compare-and-swap (the stack's HEAD and the manifest), nothing more.
    let listed = rt.block_on(m.backend().list("v1/")).unwrap();
    assert_eq!(listed.len(), first.blobs + second.blobs + later + 2);
    eprintln!(
        "{}: first push {} blobs {} KiB in {:?}; one-resource change {} blobs {} KiB, {} objects examined",
        m.describe(),
        first.blobs,
        first.bytes / 1024,
        first.elapsed,
        second.blobs,
        second.bytes / 1024,
        second.objects_examined
    );

    // Restore into an empty store: the same objects, releases, generations
    // and audit, and the latest observed state reads back whole.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = Store::open(restored_dir.path(), StoreOptions::default()).unwrap();
    let r = rt
        .block_on(m.rebuild(&restored, &RebuildFilter::default(), &mut NoProgress))
        .unwrap();
    assert_eq!(r.generations.len(), 1);
    assert_eq!(r.generations[0].1, 4);
    util::scale::assert_same_store(s.store(), &restored, &s.stack);
    let g = restored.generation(&s.stack, 4).unwrap();
    assert_eq!(restored.observed(&g).unwrap().len(), N);
    eprintln!(
        "restore: {} objects {} KiB in {:?}",
        r.objects,
        r.bytes / 1024,
        r.elapsed
    );
}

#[test]
fn ten_thousand_resources_on_a_local_directory() {
    let mirror = tempfile::tempdir().unwrap();
    scale_on(Backend::Local(LocalDir::new(mirror.path())));
}

#[test]
fn ten_thousand_resources_on_azurite() {
    use statectl::mirror::azure::AzureBlob;
    let az = Azurite::start();
    // SAFETY of the env: the SDK retry count is read when the client is built.
    let b = AzureBlob::new(
        &az.account_url(),
        "scale",
        Some(&az.sas()),
        statectl::mirror::azure::AzureAuth::default(),
    )
    .unwrap();
    scale_on(Backend::Azure(Box::new(b)));
}
