//! Unit tests of the store's public API on a temporary directory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::FixedClock;
use crate::model::{
    Address, GenerationKind, ObservedResource, Outcome, Secret, Stack, UtcTime, Value,
};
use crate::spec::Loader;
use redb::{ReadableDatabase as _, ReadableTable as _, ReadableTableMetadata as _};

fn actor() -> Actor {
    Actor {
        name: "alice@test".into(),
        how: "statectl test".into(),
    }
}

fn open(dir: &std::path::Path) -> Store {
    let opts = StoreOptions {
        clock: Arc::new(FixedClock::new(UtcTime(1_700_000_000_000))),
        key_file: None,
    };
    Store::open(dir, opts).unwrap()
}

fn observed(addr: &str, v: i64) -> ObservedResource {
    let address: Address = addr.parse().unwrap();
    ObservedResource {
        address: address.clone(),
        arm_type: "Microsoft.Cache/redis".into(),
        name: format!("n-{}", address.name()),
        id: format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/{}",
            address.name()
        ),
        properties: BTreeMap::from([("capacity".into(), Value::Int(v))]),
        attributes: BTreeMap::from([(
            "hostname".into(),
            Value::String("h.redis.cache.windows.net".into()),
        )]),
        sensitive: BTreeMap::from([(
            "primary_access_key".into(),
            Secret::Plain(format!("TOPSECRET-{v}")),
        )]),
        tags: BTreeMap::new(),
        dependencies: BTreeSet::new(),
        prevent_destroy: false,
    }
}

fn new_gen() -> NewGeneration {
    NewGeneration {
        kind: GenerationKind::Apply,
        release: Some("1.0.0".into()),
        plan_hash: None,
        reason: None,
    }
}

#[test]
fn releases_are_immutable_and_shared() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let loader = Loader::new(env!("CARGO_MANIFEST_DIR"));
    let envs: Vec<_> = ["dev", "prod"]
        .iter()
        .map(|e| loader.load("chatwoot", e).unwrap())
        .collect();
    let first = store
        .create_release("chatwoot", "v1.0.0", &envs, None, &actor())
        .unwrap();
    let ReleaseOutcome::Created {
        release,
        new_objects,
    } = first
    else {
        panic!("not created")
    };
    assert!(new_objects > 100);
    // Same content: no-op.
    assert!(matches!(
        store
            .create_release("chatwoot", "1.0.0", &envs, None, &actor())
            .unwrap(),
        ReleaseOutcome::Unchanged(_)
    ));
    // One changed resource: refused under the same version, O(1) new objects under a new one.
    let mut changed = envs.clone();
    let mut resources = changed[1].resources().clone();
    let a: Address = "data.redis".parse().unwrap();
    resources
        .get_mut(&a)
        .unwrap()
        .properties
        .insert("capacity".into(), Value::Int(2));
    changed[1] = crate::model::Estate::new(
        changed[1].name.clone(),
        changed[1].environment.clone(),
        changed[1].objectives.clone(),
        vec![],
        resources,
    )
    .unwrap();
    let err = store
        .create_release("chatwoot", "v1.0.0", &changed, None, &actor())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "chatwoot v1.0.0 already exists with different content; release v1.0.1"
    );
    let ReleaseOutcome::Created { new_objects, .. } = store
        .create_release("chatwoot", "v1.1.0", &changed, None, &actor())
        .unwrap()
    else {
        panic!()
    };
    assert!(
        new_objects <= 8,
        "one changed resource wrote {new_objects} objects"
    );
    // Read back whole.
    let back = store.release_estate(&release, "prod").unwrap();
    assert_eq!(back, envs[1]);
    assert_eq!(store.releases("chatwoot").unwrap().len(), 2);
    assert!(
        store
            .release("chatwoot", "v9.9.9")
            .unwrap_err()
            .to_string()
            .contains("known: v1.0.0, v1.1.0")
    );
    assert!(matches!(
        store.release("chatwoot", "nope"),
        Err(StoreError::BadVersion(_))
    ));
}

#[test]
fn generations_commit_read_and_seal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("chatwoot", "prod").unwrap();
    let g1 = store
        .commit_generation(
            &stack,
            new_gen(),
            vec![Change::Put {
                observed: Box::new(observed("data.redis", 1)),
                applied: None,
            }],
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    assert_eq!(g1.number, 1);
    assert_eq!(g1.resource_count, 1);
    let g2 = store
        .commit_generation(
            &stack,
            new_gen(),
            vec![Change::Put {
                observed: Box::new(observed("data.other", 2)),
                applied: None,
            }],
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    assert_eq!((g2.number, g2.resource_count), (2, 2));
    let g3 = store
        .commit_generation(
            &stack,
            new_gen(),
            vec![Change::Remove("data.redis".parse().unwrap())],
            Outcome::Partial,
            &actor(),
        )
        .unwrap();
    assert_eq!(g3.resource_count, 1);
    // Old generations read back whole.
    let old = store
        .observed(&store.generation(&stack, 1).unwrap())
        .unwrap();
    let mut r = old.values().next().unwrap().clone();
    assert!(matches!(
        r.sensitive["primary_access_key"],
        Secret::Sealed(_)
    ));
    store.unseal(&stack, &mut r).unwrap();
    assert_eq!(
        r.sensitive["primary_access_key"],
        Secret::Plain("TOPSECRET-1".into())
    );
    // The secret never appears in clear in the database file.
    let bytes = std::fs::read(store.path()).unwrap();
    assert!(
        !bytes.windows(9).any(|w| w == b"TOPSECRET"),
        "secret written in clear"
    );
    // History, audit.
    let outcomes: Vec<Outcome> = store
        .generations(&stack)
        .unwrap()
        .iter()
        .map(|g| g.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [Outcome::Succeeded, Outcome::Succeeded, Outcome::Partial]
    );
    assert_eq!(store.audit_log(Some("chatwoot/prod")).unwrap().len(), 3);
    assert_eq!(store.stacks().unwrap(), vec![stack.clone()]);
}

#[test]
fn journal_and_incremental_generation() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let g = store.begin_generation(&stack, new_gen(), &actor()).unwrap();
    assert!(
        store
            .begin_generation(&stack, new_gen(), &actor())
            .unwrap_err()
            .to_string()
            .contains("still in progress")
    );
    let a: Address = "m.a".parse().unwrap();
    let seq = store
        .journal_begin(
            &stack,
            g.number,
            &[JournalIntent {
                address: a.clone(),
                action: "create".into(),
                arm_type: "Microsoft.Cache/redis".into(),
                resource_id: "/x".into(),
                desired: None,
            }],
        )
        .unwrap()[0];
    assert_eq!(store.unresolved(&stack).unwrap().len(), 1);
    let g = store
        .record(
            &stack,
            g.number,
            vec![Change::Put {
                observed: Box::new(observed("m.a", 1)),
                applied: None,
            }],
            &[(seq, JournalState::Done, None)],
        )
        .unwrap();
    assert!(store.unresolved(&stack).unwrap().is_empty());
    assert_eq!(g.outcome, Outcome::InProgress);
    let g = store
        .finish_generation(
            &stack,
            g.number,
            Outcome::Succeeded,
            vec![],
            vec![],
            &actor(),
            None,
        )
        .unwrap();
    assert_eq!(g.resource_count, 1);
    assert!(store.record(&stack, g.number, vec![], &[]).is_err());
}

#[test]
fn a_resolution_is_appended_and_never_rewrites_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let g = store.begin_generation(&stack, new_gen(), &actor()).unwrap();
    let intent = |n: &str| JournalIntent {
        address: n.parse().unwrap(),
        action: "create".into(),
        arm_type: "Microsoft.Cache/redis".into(),
        resource_id: format!("/x/{n}"),
        desired: None,
    };
    let seqs = store
        .journal_begin(
            &stack,
            g.number,
            &[intent("m.a"), intent("m.b"), intent("m.c")],
        )
        .unwrap();
    assert_eq!(seqs, vec![1, 2, 3]);
    let entry_bytes = |seq: u64| {
        let r = store.db.begin_read().unwrap();
        let t = r.open_table(schema::JOURNAL).unwrap();
        t.get(("e/dev", seq)).unwrap().map(|g| g.value().to_vec())
    };
    let before = entry_bytes(2).unwrap();
    store
        .journal_resolve(&stack, 2, JournalState::Failed, Some("conflict".into()))
        .unwrap();
    // The entry's bytes are untouched; the resolution sits in its own key.
    assert_eq!(entry_bytes(2).unwrap(), before);
    {
        let r = store.db.begin_read().unwrap();
        let t = r.open_table(schema::JOURNAL_ENDS).unwrap();
        assert_eq!(t.len().unwrap(), 1);
        assert!(t.get(("e/dev", 2)).unwrap().is_some());
    }
    let all = store.journal(&stack).unwrap();
    assert_eq!(
        all.iter().map(|e| e.state).collect::<Vec<_>>(),
        vec![
            JournalState::Begun,
            JournalState::Failed,
            JournalState::Begun
        ]
    );
    assert_eq!(all[1].detail.as_deref(), Some("conflict"));
    assert!(all[1].ended_at.is_some());
    assert_eq!(
        store
            .unresolved(&stack)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![1, 3]
    );
    // New entries number on from the last entry.
    let more = store
        .journal_begin(&stack, g.number, &[intent("m.d")])
        .unwrap();
    assert_eq!(more, vec![4]);
    // Resolving an entry that does not exist is refused.
    assert!(
        store
            .journal_resolve(&stack, 9, JournalState::Done, None)
            .is_err()
    );
    assert!(store.check().unwrap().problems.is_empty());

    // A resolution without its entry is named by `store check` and by reads.
    {
        let w = store.db.begin_write().unwrap();
        w.open_table(schema::JOURNAL)
            .unwrap()
            .remove(("e/dev", 2))
            .unwrap();
        w.commit().unwrap();
    }
    let problems = store.check().unwrap().problems;
    assert!(
        problems
            .iter()
            .any(|p| p == "journal_ends/e/dev#2: resolves a journal entry that does not exist"),
        "{problems:?}"
    );
    let e = store.journal(&stack).unwrap_err().to_string();
    assert!(e.contains("journal_ends") && e.contains("e/dev#2"), "{e}");
}

#[test]
fn entries_resolved_in_place_by_an_older_build_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let old = JournalEntry {
        stack: "e/dev".into(),
        seq: 1,
        generation: 1,
        address: "m.a".parse().unwrap(),
        action: "create".into(),
        arm_type: "Microsoft.Cache/redis".into(),
        resource_id: "/x".into(),
        desired: None,
        state: JournalState::Done,
        started_at: UtcTime(1),
        ended_at: Some(UtcTime(2)),
        detail: None,
    };
    {
        let w = store.db.begin_write().unwrap();
        w.open_table(schema::JOURNAL)
            .unwrap()
            .insert(
                ("e/dev", 1),
                codec::encode_canonical(&old).unwrap().as_slice(),
            )
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(store.journal(&stack).unwrap(), vec![old]);
    assert!(store.unresolved(&stack).unwrap().is_empty());
}

#[test]
fn locks_exclude_and_name_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("e", "prod").unwrap();
    let held = store
        .lock(&stack, &actor(), "statectl apply", Duration::ZERO)
        .unwrap();
    assert!(matches!(
        store.lock_status(&stack).unwrap(),
        LockStatus::Held(Some(_))
    ));
    let err = store
        .lock(
            &stack,
            &actor(),
            "statectl apply",
            Duration::from_millis(120),
        )
        .unwrap_err();
    assert!(err.to_string().contains("is locked by alice@test"), "{err}");
    // Another stack is independent.
    let other = store
        .lock(
            &Stack::new("e", "dev").unwrap(),
            &actor(),
            "x",
            Duration::ZERO,
        )
        .unwrap();
    drop(other);
    drop(held);
    assert_eq!(store.lock_status(&stack).unwrap(), LockStatus::Free);
    assert!(
        store
            .lock(&stack, &actor(), "again", Duration::ZERO)
            .is_ok()
    );
}

#[test]
fn reopen_check_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let stack = Stack::new("e", "dev").unwrap();
        store
            .commit_generation(
                &stack,
                new_gen(),
                vec![Change::Put {
                    observed: Box::new(observed("m.a", 1)),
                    applied: None,
                }],
                Outcome::Succeeded,
                &actor(),
            )
            .unwrap();
    }
    let mut store = open(dir.path());
    let report = store.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // The commit's record, and the data key's creation (its first secret).
    assert_eq!((report.generations, report.audit_entries), (1, 2));
    assert!(store.compact().is_ok());
    // A newer schema is refused by name.
    store
        .write(|w| {
            w.open_table(schema::META)?
                .insert(schema::META_SCHEMA, 99u32.to_le_bytes().as_slice())?;
            Ok(())
        })
        .unwrap();
    drop(store);
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "has schema version 99; this statectl supports up to {SCHEMA_VERSION}"
        )),
        "{err}"
    );
}

/// A version-1 store (no `observed_at` table) is migrated on open, in one
/// transaction, and reads and checks as before.
#[test]
fn a_version_1_store_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::new("e", "dev").unwrap();
    let before = {
        let store = open(dir.path());
        store
            .commit_generation(
                &stack,
                new_gen(),
                vec![Change::Put {
                    observed: Box::new(observed("m.r1", 1)),
                    applied: None,
                }],
                Outcome::Succeeded,
                &actor(),
            )
            .unwrap();
        store
            .write(|w| {
                w.delete_table(schema::OBSERVED_AT)?;
                w.open_table(schema::META)?
                    .insert(schema::META_SCHEMA, 1u32.to_le_bytes().as_slice())?;
                Ok(())
            })
            .unwrap();
        let g = store.latest_generation(&stack).unwrap().unwrap();
        store.observed(&g).unwrap()
    };
    let mut store = open(dir.path());
    let version = store
        .read(|r| {
            Ok(r.open_table(schema::META)?
                .get(schema::META_SCHEMA)?
                .map(|g| g.value().to_vec()))
        })
        .unwrap()
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_le_bytes());
    let g = store.latest_generation(&stack).unwrap().unwrap();
    assert_eq!(store.observed(&g).unwrap(), before);
    let report = store.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn corrupt_records_are_named_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    for i in 0..3 {
        store
            .commit_generation(
                &stack,
                new_gen(),
                vec![Change::Put {
                    observed: Box::new(observed("m.a", i)),
                    applied: None,
                }],
                Outcome::Succeeded,
                &actor(),
            )
            .unwrap();
    }
    let g2 = store.generation(&stack, 2).unwrap();
    // Damage one generation record.
    store
        .write(|w| {
            w.open_table(schema::GENERATIONS)?
                .insert(("e/dev", 2), [1u8, 0, 0, 0, 0, 9].as_slice())?;
            Ok(())
        })
        .unwrap();
    let err = store.generation(&stack, 2).unwrap_err().to_string();
    assert!(
        err.contains(
            "corrupt record in table `generations` at key `e/dev#2`: record checksum mismatch"
        ),
        "{err}"
    );
    assert!(store.generations(&stack).is_err());
    // Damage one object: its digest no longer matches.
    let d = g2.base.root;
    store
        .write(|w| {
            w.open_table(schema::OBJECTS)?
                .insert(d.0.as_slice(), [1u8, 2, 3].as_slice())?;
            Ok(())
        })
        .unwrap();
    let err = store.observed(&g2).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "corrupt record in table `objects` at key `{}`",
            d.to_hex()
        )),
        "{err}"
    );
    // A truncated record.
    store
        .write(|w| {
            w.open_table(schema::AUDIT)?
                .insert(1, [1u8, 2].as_slice())?;
            Ok(())
        })
        .unwrap();
    assert!(
        store
            .audit_log(None)
            .unwrap_err()
            .to_string()
            .contains("record is truncated (2 bytes")
    );
    let report = store.check().unwrap();
    assert!(report.problems.len() >= 3, "{:?}", report.problems);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.starts_with("generations/e/dev#2")),
        "{:?}",
        report.problems
    );
}

#[test]
fn generations_across_checkpoints_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let mut model: Vec<BTreeMap<String, i64>> = Vec::new();
    let mut cur = BTreeMap::new();
    // 40 changes per generation: crosses a checkpoint every ~26 generations.
    let per = 40i64;
    for round in 0..(3 * CHECKPOINT_EVERY as i64 / per + 7) {
        let mut changes = Vec::new();
        for j in 0..per {
            let i = round * per + j;
            let slot = i % 97;
            let name = format!("m.r{slot}");
            if changes.iter().any(|c| {
                matches!(c, Change::Put { observed, .. } if observed.address.to_string() == name)
                    || matches!(c, Change::Remove(a) if a.to_string() == name)
            }) {
                continue;
            }
            if i % 5 == 4 {
                cur.remove(&name);
                changes.push(Change::Remove(name.parse().unwrap()));
            } else {
                cur.insert(name.clone(), i);
                changes.push(Change::Put {
                    observed: Box::new(observed(&name, i)),
                    applied: Some(crate::model::Digest::of(&i.to_le_bytes())),
                });
            }
        }
        let g = store
            .commit_generation(&stack, new_gen(), changes, Outcome::Succeeded, &actor())
            .unwrap();
        assert_eq!(g.resource_count, cur.len() as u64);
        assert!(g.last_seq - g.base.seq < CHECKPOINT_EVERY);
        model.push(cur.clone());
    }
    let latest = store.latest_generation(&stack).unwrap().unwrap();
    assert!(
        latest.base.seq >= 3 * CHECKPOINT_EVERY,
        "checkpoints were materialized"
    );
    // Every 4th generation and the last: enough to cover each checkpoint
    // boundary from both sides while keeping the debug build quick.
    let last = model.len() - 1;
    for (i, want) in model
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 0 || *i == last || i % 26 < 2)
    {
        let g = store.generation(&stack, i as u64 + 1).unwrap();
        let got: BTreeMap<String, i64> = store
            .observed(&g)
            .unwrap()
            .into_iter()
            .map(|(a, r)| (a.to_string(), r.properties["capacity"].as_int().unwrap()))
            .collect();
        assert_eq!(&got, want, "generation {}", i + 1);
        let applied = store.applied(&g).unwrap();
        assert_eq!(applied.len(), want.len());
        // One-resource reads scan the rows since the checkpoint: check them
        // on a few generations only, to keep the test quick.
        for a in store
            .addresses(&g)
            .unwrap()
            .into_iter()
            .filter(|_| i % 20 == 3)
        {
            assert_eq!(
                store.observed_resource(&g, &a).unwrap().properties["capacity"].as_int(),
                want.get(&a.to_string()).copied()
            );
        }
        assert!(!store.generation_changes(&g).unwrap().is_empty());
    }
    let mut store = store;
    assert!(store.check().unwrap().problems.is_empty());
}

#[test]
fn an_older_schema_is_migrated_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A pre-release store: a meta table saying version 0 and nothing else.
        let db = redb::Database::create(dir.path().join(DB_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(schema::META)
            .unwrap()
            .insert(schema::META_SCHEMA, 0u32.to_le_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    let store = open(dir.path());
    let version = store
        .read(|r| {
            Ok(r.open_table(schema::META)?
                .get(schema::META_SCHEMA)?
                .map(|g| g.value().to_vec()))
        })
        .unwrap()
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_le_bytes());
    // Every table exists: reads work on the migrated store.
    assert!(store.stacks().unwrap().is_empty());
    assert!(store.audit_log(None).unwrap().is_empty());
    assert!(store.releases("x").unwrap().is_empty());
}

#[test]
fn objects_not_marked_is_the_difference_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let estate = crate::synthetic::layered("synth", 60, 10, 1);
    store
        .create_release(
            "synth",
            "1.0.0",
            std::slice::from_ref(&estate),
            None,
            &actor(),
        )
        .unwrap();
    let all = store.object_digests().unwrap();
    assert!(all.len() >= 60, "{} objects", all.len());
    let prefix = "abc@v1/objects/";
    assert_eq!(store.objects_not_marked(prefix).unwrap(), all);

    // Mark every third object, plus keys around the prefix that must not
    // count: another mirror's marks and other paths of this one.
    let mut marks: Vec<(String, Vec<u8>)> = all
        .iter()
        .step_by(3)
        .map(|d| (format!("{prefix}{}", d.to_hex()), Vec::new()))
        .collect();
    marks.push((format!("abb@v1/objects/{}", all[1].to_hex()), Vec::new()));
    marks.push((format!("abc@v1/packs/{}", all[1].to_hex()), Vec::new()));
    marks.push(("abc@v1/objects/zz-not-a-digest".into(), Vec::new()));
    store.mark_mirrored(&marks).unwrap();
    let expected: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(store.objects_not_marked(prefix).unwrap(), expected);
}

/// A folded generation keeps its observed resources in its rows, found
/// through `observed_at`; an entry that names a missing row is reported by
/// `store check` and is an error naming the table when read, not a panic.
#[test]
fn observed_resources_live_in_their_rows_and_a_bad_index_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let n = CHECKPOINT_EVERY as i64 + 10;
    let changes = (0..n)
        .map(|i| Change::Put {
            observed: Box::new(observed(&format!("m.r{i}"), i)),
            applied: None,
        })
        .collect();
    let g = store
        .commit_generation(&stack, new_gen(), changes, Outcome::Succeeded, &actor())
        .unwrap();
    assert_eq!(
        g.base.seq, g.last_seq,
        "the generation's end folded its rows"
    );
    let (in_objects, indexed) = store
        .read(|r| {
            Ok((
                r.open_table(schema::OBJECTS)?.len()?,
                r.open_table(schema::OBSERVED_AT)?.len()?,
            ))
        })
        .unwrap();
    assert_eq!(indexed, n as u64, "every resource is found in its row");
    assert!(
        in_objects < n as u64,
        "no second copy in objects ({in_objects} objects)"
    );
    assert_eq!(store.observed(&g).unwrap().len(), n as usize);
    assert!(store.check().unwrap().problems.is_empty());

    // Point one entry at a row that does not exist.
    let key = store
        .read(|r| {
            let t = r.open_table(schema::OBSERVED_AT)?;
            let first = t.iter()?.next().unwrap()?;
            Ok(first.0.value().to_vec())
        })
        .unwrap();
    store
        .write(|w| {
            let mut place = 999_999u64.to_le_bytes().to_vec();
            place.extend_from_slice(b"e/dev");
            w.open_table(schema::OBSERVED_AT)?
                .insert(key.as_slice(), place.as_slice())?;
            Ok(())
        })
        .unwrap();
    let err = store.observed(&g).unwrap_err().to_string();
    assert!(err.contains("observed_at"), "{err}");
    assert!(err.contains("e/dev@999999, which does not exist"), "{err}");
    let problems = store.check().unwrap().problems;
    assert!(
        problems.iter().any(|p| p.starts_with("observed_at/")),
        "{problems:?}"
    );
}

/// How many rows of `stack` each of the two row tables holds.
fn row_tables(store: &Store, stack: &Stack) -> (usize, usize) {
    let key = stack.key();
    store
        .read(|r| {
            let count = |def| -> Result<usize, StoreError> {
                let t = r.open_table(def)?;
                Ok(t.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
                    .count())
            };
            Ok((count(schema::DELTAS)?, count(schema::FOLDED_DELTAS)?))
        })
        .unwrap()
}

fn puts(range: std::ops::Range<i64>, v: i64) -> Vec<Change> {
    range
        .map(|i| Change::Put {
            observed: Box::new(observed(&format!("m.r{i}"), v)),
            applied: None,
        })
        .collect()
}

#[test]
fn a_fold_moves_its_rows_out_of_deltas_and_every_read_stays_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let n = CHECKPOINT_EVERY as i64 + 200;
    // An apply in rounds of 100, like the applier's.
    let g = store.begin_generation(&stack, new_gen(), &actor()).unwrap();
    for start in (0..n).step_by(100) {
        store
            .record(&stack, g.number, puts(start..(start + 100).min(n), 1), &[])
            .unwrap();
    }
    // Until it crosses the fold's bound its rows are unfolded; after, they
    // go where the fold would move them. A check in between is clean.
    let (open_rows, folded) = row_tables(&store, &stack);
    assert_eq!(open_rows, 1000, "rounds before the bound stay in deltas");
    assert_eq!(folded, n as usize - 1000);
    let report = store.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.delta_rows, n as u64);
    let g = store
        .finish_generation(
            &stack,
            g.number,
            Outcome::Succeeded,
            vec![],
            vec![],
            &actor(),
            None,
        )
        .unwrap();
    assert_eq!(g.base.seq, n as u64, "the end folded every row");
    assert_eq!(row_tables(&store, &stack), (0, n as usize));

    // Later commits append to an empty `deltas`, and read through both.
    let g2 = store
        .commit_generation(
            &stack,
            new_gen(),
            puts(5..7, 2),
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    assert_eq!(row_tables(&store, &stack), (2, n as usize));
    let all = store.observed(&g2).unwrap();
    assert_eq!(all.len(), n as usize);
    for (a, r) in &all {
        let want = if ["m.r5", "m.r6"].contains(&a.to_string().as_str()) {
            2
        } else {
            1
        };
        assert_eq!(r.properties["capacity"].as_int(), Some(want), "{a}");
    }
    let first = store.generation(&stack, g.number).unwrap();
    assert!(
        store
            .observed(&first)
            .unwrap()
            .values()
            .all(|r| r.properties["capacity"].as_int() == Some(1))
    );
    assert_eq!(store.generation_changes(&first).unwrap().len(), n as usize);
    assert_eq!(store.generation_changes(&g2).unwrap().len(), 2);
    let one: Address = "m.r7".parse().unwrap();
    assert_eq!(
        store.observed_resource(&g2, &one).unwrap().properties["capacity"].as_int(),
        Some(1)
    );
    let report = store.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_schema_3_store_is_migrated_by_moving_its_folded_rows() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::new("e", "dev").unwrap();
    let n = CHECKPOINT_EVERY as i64 + 10;
    let before = {
        let store = open(dir.path());
        store
            .commit_generation(
                &stack,
                new_gen(),
                puts(0..n, 1),
                Outcome::Succeeded,
                &actor(),
            )
            .unwrap();
        let g = store
            .commit_generation(
                &stack,
                new_gen(),
                puts(0..3, 2),
                Outcome::Succeeded,
                &actor(),
            )
            .unwrap();
        let before = store.observed(&g).unwrap();
        // What a schema-3 build left: every row in `deltas`.
        store
            .write(|w| {
                let mut rows = Vec::new();
                for row in w.open_table(schema::FOLDED_DELTAS)?.iter()? {
                    let (k, v) = row?;
                    rows.push((k.value().0.to_string(), k.value().1, v.value().to_vec()));
                }
                w.delete_table(schema::FOLDED_DELTAS)?;
                let mut t = w.open_table(schema::DELTAS)?;
                for (s, seq, v) in rows {
                    t.insert((s.as_str(), seq), v.as_slice())?;
                }
                drop(t);
                w.open_table(schema::META)?
                    .insert(schema::META_SCHEMA, 3u32.to_le_bytes().as_slice())?;
                Ok(())
            })
            .unwrap();
        before
    };
    let mut store = open(dir.path());
    assert_eq!(row_tables(&store, &stack), (3, n as usize));
    let g = store.latest_generation(&stack).unwrap().unwrap();
    assert_eq!(store.observed(&g).unwrap(), before);
    let report = store.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn rows_in_the_wrong_table_are_named_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    let n = CHECKPOINT_EVERY as i64 + 10;
    store
        .commit_generation(
            &stack,
            new_gen(),
            puts(0..n, 1),
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    store
        .commit_generation(
            &stack,
            new_gen(),
            puts(0..3, 2),
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    type Rows = redb::TableDefinition<'static, (&'static str, u64), &'static [u8]>;
    let copy = |store: &Store, from: Rows, to: Rows, seq: u64, remove: bool| {
        store
            .write(|w| {
                let v = w
                    .open_table(from)?
                    .get(("e/dev", seq))?
                    .map(|g| g.value().to_vec())
                    .unwrap();
                if remove {
                    w.open_table(from)?.remove(("e/dev", seq))?;
                }
                w.open_table(to)?.insert(("e/dev", seq), v.as_slice())?;
                Ok(())
            })
            .unwrap()
    };
    let expect = |store: &mut Store, what: &str| {
        let problems = store.check().unwrap().problems;
        assert!(
            problems.iter().any(|p| p.contains(what)),
            "{what}: {problems:?}"
        );
    };
    // A folded row left in `deltas`, and an unfolded one in `folded_deltas`.
    copy(&store, schema::FOLDED_DELTAS, schema::DELTAS, 7, true);
    copy(
        &store,
        schema::DELTAS,
        schema::FOLDED_DELTAS,
        n as u64 + 2,
        true,
    );
    expect(&mut store, "deltas/e/dev@7: checkpoint e/dev@");
    expect(
        &mut store,
        &format!("folded_deltas/e/dev@{}: no checkpoint folds", n + 2),
    );
    // A row in both tables.
    copy(&store, schema::DELTAS, schema::FOLDED_DELTAS, 7, false);
    expect(&mut store, "deltas/e/dev@7: the row is in both");
}

#[test]
fn a_push_after_the_first_reads_only_the_objects_logged_since() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let log_len = |store: &Store| {
        store
            .read(|r| Ok(r.open_table(schema::OBJECT_LOG)?.len()?))
            .unwrap()
    };
    // Each release has one resource more than the one before.
    let release = |version: &str, n: usize| {
        let e = crate::synthetic::layered("synth", 60 + n, 10, 1);
        store
            .create_release("synth", version, &[e], None, &actor())
            .unwrap();
    };
    release("1.0.0", 1);
    assert_eq!(
        log_len(&store),
        0,
        "nothing is logged while no mirror follows"
    );
    let all = store.object_digests().unwrap();
    // A push marks what it sent under its prefix, then records its end.
    let push = |scope: &str| {
        store.follow_objects(scope).unwrap();
        let prefix = format!("{scope}objects/");
        let todo = store.objects_to_push(scope, &prefix).unwrap();
        let marks: Vec<(String, Vec<u8>)> = todo
            .digests
            .iter()
            .map(|d| (format!("{prefix}{}", d.to_hex()), Vec::new()))
            .collect();
        store.mark_mirrored(&marks).unwrap();
        store.objects_pushed(scope, todo.log_end).unwrap();
        todo
    };
    let first = push("a@");
    assert!(first.full_scan);
    assert_eq!(first.digests, all);
    assert_eq!(first.examined, all.len());

    release("1.1.0", 2);
    let new: Vec<_> = store
        .object_digests()
        .unwrap()
        .into_iter()
        .filter(|d| !all.contains(d))
        .collect();
    assert!(!new.is_empty());
    let second = push("a@");
    assert!(!second.full_scan);
    assert_eq!(second.digests, new, "exactly the objects the release added");
    assert_eq!(second.examined, new.len());
    assert_eq!(
        log_len(&store),
        1,
        "entries every scope has passed are dropped, but the last"
    );

    // Objects inserted after the log was emptied are found again: the
    // sequence carries on from the entry kept.
    let before = store.object_digests().unwrap();
    release("1.2.0", 3);
    let third = push("a@");
    let new: Vec<_> = store
        .object_digests()
        .unwrap()
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    assert!(!new.is_empty());
    assert_eq!(third.digests, new);
    assert_eq!(third.examined, new.len());

    // A second mirror starts with a full scan; until it completes a push,
    // the log keeps what it will need.
    store.follow_objects("b@").unwrap();
    let before = store.object_digests().unwrap().len();
    release("1.3.0", 4);
    let added = store.object_digests().unwrap().len() - before;
    push("a@");
    assert_eq!(log_len(&store), added as u64, "scope b@ still needs them");
    let b = push("b@");
    assert!(b.full_scan);
    assert_eq!(b.digests, store.object_digests().unwrap());
    assert_eq!(log_len(&store), 1);

    // Forgetting a scope's marks sends it back to a full scan.
    store.unmark_mirrored("a@objects/").unwrap();
    let again = push("a@");
    assert!(again.full_scan);
    assert_eq!(again.digests, store.object_digests().unwrap());
}

/// Issue 15, finding 1: a read that comes back short is an error, and
/// nothing is committed on top of it.
#[test]
fn a_missing_row_fails_every_read_and_write_instead_of_losing_resources() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    store
        .commit_generation(
            &stack,
            new_gen(),
            puts(0..5, 1),
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    let g = store.latest_generation(&stack).unwrap().unwrap();
    assert_eq!(store.addresses(&g).unwrap().len(), 5);
    // The damage: the third of the five rows is gone. A new process (no
    // cache of the state) finds it.
    store
        .write(|w| {
            w.open_table(schema::DELTAS)?.remove(("e/dev", 3))?;
            Ok(())
        })
        .unwrap();
    drop(store);
    let store = open(dir.path());
    let named = |e: StoreError| {
        let text = e.to_string();
        assert!(matches!(e, StoreError::Incomplete { .. }), "{text}");
        assert!(text.contains("delta row e/dev@3 is missing"), "{text}");
        assert!(text.contains("statectl store check"), "{text}");
        assert!(text.contains("state.redb"), "names the file: {text}");
    };
    named(store.addresses(&g).unwrap_err());
    named(store.observed(&g).unwrap_err());
    named(store.applied(&g).unwrap_err());
    // A writer that builds on the damaged state commits nothing.
    let before = store.generations(&stack).unwrap();
    named(
        store
            .commit_generation(
                &stack,
                new_gen(),
                puts(5..6, 1),
                Outcome::Succeeded,
                &actor(),
            )
            .unwrap_err(),
    );
    assert_eq!(store.generations(&stack).unwrap(), before);
}

/// The last rows of a run missing, or a generation record that no longer
/// matches its rows, are caught by the count.
#[test]
fn a_short_run_or_a_wrong_count_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stack = Stack::new("e", "dev").unwrap();
    store
        .commit_generation(
            &stack,
            new_gen(),
            puts(0..4, 1),
            Outcome::Succeeded,
            &actor(),
        )
        .unwrap();
    let g = store.latest_generation(&stack).unwrap().unwrap();
    store
        .write(|w| {
            w.open_table(schema::DELTAS)?.remove(("e/dev", 4))?;
            Ok(())
        })
        .unwrap();
    let e = store.addresses(&g).unwrap_err().to_string();
    assert!(e.contains("delta rows e/dev@4..@4 are missing"), "{e}");
    // With the rows whole (up to the third), a record that says 9 where
    // they hold 3, or a checkpoint that says 1 where its tree holds 0, is
    // named.
    let mut wrong = g.clone();
    wrong.last_seq = 3;
    wrong.resource_count = 9;
    let e = store.observed(&wrong).unwrap_err().to_string();
    assert!(
        e.contains("generation 1 of e/dev reads as 3 resources where its record says 9"),
        "{e}"
    );
    let mut wrong = g.clone();
    wrong.last_seq = 3;
    wrong.base.count = 1;
    let e = store.addresses(&wrong).unwrap_err().to_string();
    assert!(
        e.contains("the checkpoint of e/dev at row 0 holds 0 resources where its record says 1"),
        "{e}"
    );
}
