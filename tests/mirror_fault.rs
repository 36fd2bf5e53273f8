//! The mirror's peer goes away in the middle of a push: while a large first
//! generation uploads, the network to Azurite is cut (every connection
//! reset) and Azurite itself is stopped. The local commit stands, the lag
//! shows, and once Azurite is back the next push catches up with nothing
//! lost or duplicated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeSet;
use std::sync::Arc;

use statectl::keys::LocalKeyFile;
use statectl::mirror::azure::AzureBlob;
use statectl::mirror::{Backend, Mirror, MirrorError, NoProgress, RebuildFilter, TransferProgress};
use statectl::store::{Store, StoreOptions};
use util::azurite::{Azurite, Relay};
use util::scale::{Scaled, assert_same_store};

/// Stops Azurite at the first progress report of the push, if it comes
/// before the network cut fails it.
struct Outage<'a> {
    az: &'a mut Azurite,
    stopped: bool,
}

impl TransferProgress for Outage<'_> {
    fn update(&mut self, _: usize, _: usize, _: u64) {
        if !self.stopped {
            self.stopped = true;
            self.az.stop();
        }
    }
}

#[test]
fn azurite_stopped_mid_push_loses_nothing_and_the_next_push_catches_up() {
    let mut az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let keydir = tempfile::tempdir().unwrap();
    let keys = Arc::new(LocalKeyFile::open_or_create(&keydir.path().join("mirror.key")).unwrap());
    let relay = Relay::to(az.port);
    let mirror = |container: &str, az: &Azurite| {
        Mirror::new(
            Backend::Azure(Box::new(
                AzureBlob::new(
                    &relay.account_url(),
                    container,
                    Some(&az.sas()),
                    statectl::mirror::azure::AzureAuth::default(),
                )
                .unwrap(),
            )),
            keys.clone(),
        )
    };
    let m = mirror("fault", &az);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let s = Scaled::apply_new(dir.path(), 2_000);
    let local = s.store().latest_generation(&s.stack).unwrap().unwrap();

    // The network goes down 512 KiB into the upload, while its object
    // packs are in flight (observed resources travel in the generations'
    // rows, not as objects, so the packs are small), and Azurite with it.
    relay.cut_after(512 * 1024);
    let mut outage = Outage {
        az: &mut az,
        stopped: false,
    };
    let t = std::time::Instant::now();
    let r = rt.block_on(m.push(s.store(), &[], &mut outage));
    eprintln!("push with an outage failed after {:?}", t.elapsed());
    if !outage.stopped {
        outage.az.stop();
    }
    match r {
        Err(MirrorError::Blob { source, .. }) => assert!(source.is_transient(), "{source}"),
        other => panic!("the push should fail when its peer goes away: {other:?}"),
    }

    // Some packs were planned and not confirmed: the next push finishes them.
    let pending = |store: &Store| {
        store
            .mirrored_under("")
            .unwrap()
            .iter()
            .filter(|k| k.contains("@pending/"))
            .count()
    };
    assert!(pending(s.store()) > 0, "no pack was left in flight");

    // The local commit stands, and the lag shows.
    assert_eq!(
        s.store().latest_generation(&s.stack).unwrap().unwrap(),
        local
    );
    let st = rt.block_on(m.status(s.store(), &[])).unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].local, 1);
    assert_eq!(st[0].mirrored, None, "the mirror cannot be read");
    assert!(st[0].behind_since.is_some());

    // Back: one push catches up.
    let t = std::time::Instant::now();
    az.restart();
    relay.mend();
    eprintln!("restart took {:?}", t.elapsed());
    let r = rt
        .block_on(m.push(s.store(), &[], &mut NoProgress))
        .unwrap();
    assert!(r.blobs > 0);
    assert_eq!(r.generations.len(), 1);
    assert_eq!(pending(s.store()), 0);
    let st = rt.block_on(m.status(s.store(), &[])).unwrap();
    assert_eq!(st[0].mirrored, Some(1));
    assert!(st[0].behind_since.is_none());

    // Nothing duplicated: the same blobs as an uninterrupted push.
    let clean = mirror("clean", &az);
    rt.block_on(clean.push(s.store(), &[], &mut NoProgress))
        .unwrap();
    let names = |m: &Mirror| -> BTreeSet<String> {
        rt.block_on(m.backend().list("v1/"))
            .unwrap()
            .into_iter()
            .collect()
    };
    let (after_outage, uninterrupted) = (names(&m), names(&clean));
    assert_eq!(after_outage.len(), uninterrupted.len());
    assert_eq!(after_outage, uninterrupted);

    // Nothing lost: a restore equals the original.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = Store::open(restored_dir.path(), StoreOptions::default()).unwrap();
    rt.block_on(m.rebuild(&restored, &RebuildFilter::default(), &mut NoProgress))
        .unwrap();
    assert_same_store(s.store(), &restored, &s.stack);
}
