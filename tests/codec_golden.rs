//! Golden byte fixtures of every stored type: an accidental change of the
//! store format (a field added, reordered or retyped; a codec option
//! changed) fails here. A deliberate change bumps the codec or schema
//! version and re-blesses with `STATECTL_BLESS=1 cargo test --test codec_golden`.
//!
//! Content-addressed objects (`object_*`) are in the canonical encoding
//! (codec version 1), which must never change: their digests are taken
//! over these bytes. Every other record is in the compact encoding (codec
//! version 2); its version-1 fixtures, written by earlier builds, stay in
//! `fixtures/codec/v1` and must still decode to the same values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use statectl::keys::WrappedKey;
use statectl::model::*;
use statectl::store::tree::Node;
use statectl::store::{
    DeltaChange, DeltaRow, EnvHeader, JournalEntry, JournalResolution, JournalState, LockInfo,
    Object, codec, object,
};

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn env() -> Environment {
    Environment {
        name: "prod".into(),
        subscription_id: "00000000-0000-4000-8000-000000000003".into(),
        region: "eastus".into(),
        dr_region: Some("westus".into()),
        zone_redundant: true,
        private_endpoints_only: true,
        destroy_protection: true,
        promote_from: Some("staging".into()),
        backup_before_apply: true,
        state_retention_days: 30,
        maintenance_window: Some(MaintenanceWindow {
            days: vec![Weekday::Sunday],
            start: 120,
            end: 360,
            timezone: "America/New_York".into(),
        }),
        vars: BTreeMap::from([("zones".into(), Value::List(vec![Value::String("1".into())]))]),
    }
}

fn resource() -> Resource {
    Resource {
        address: addr("data.redis"),
        arm_type: "Microsoft.Cache/redis".into(),
        name: "chatwoot-prod-redis-eastus".into(),
        properties: BTreeMap::from([
            ("capacity".into(), Value::Int(1)),
            ("ratio".into(), Value::Float(0.5)),
            ("enabled".into(), Value::Bool(true)),
            (
                "resource_group".into(),
                Value::Ref(Reference {
                    address: addr("networking.rg"),
                    attr: "name".into(),
                }),
            ),
            (
                "uri".into(),
                Value::Template(vec![
                    Segment::Lit("https://".into()),
                    Segment::Ref(Reference {
                        address: addr("security.kv"),
                        attr: "vault_uri".into(),
                    }),
                ]),
            ),
            (
                "nested".into(),
                Value::Map(BTreeMap::from([(
                    "k".into(),
                    Value::List(vec![Value::Int(-3)]),
                )])),
            ),
        ]),
        tags: BTreeMap::from([("environment".into(), "prod".into())]),
        depends_on: BTreeSet::from([addr("networking.link_postgres")]),
        lifecycle: Lifecycle {
            prevent_destroy: true,
        },
    }
}

fn observed() -> ObservedResource {
    ObservedResource {
        address: addr("data.redis"),
        arm_type: "Microsoft.Cache/redis".into(),
        name: "chatwoot-prod-redis-eastus".into(),
        id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/x".into(),
        properties: BTreeMap::from([("capacity".into(), Value::Int(1))]),
        attributes: BTreeMap::from([(
            "hostname".into(),
            Value::String("x.redis.cache.windows.net".into()),
        )]),
        sensitive: BTreeMap::from([
            (
                "primary_access_key".into(),
                Secret::Sealed(vec![1, 2, 3, 4]),
            ),
            ("secondary_access_key".into(), Secret::Unknown),
        ]),
        tags: BTreeMap::new(),
        dependencies: BTreeSet::from([addr("networking.rg")]),
        prevent_destroy: true,
    }
}

fn digest(b: u8) -> Digest {
    Digest([b; 32])
}

fn stack() -> Stack {
    Stack::new("chatwoot", "prod").unwrap()
}

/// Every stored type, by fixture name.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let generation = Generation {
        stack: stack(),
        number: 7,
        kind: GenerationKind::Rollback,
        release: Some("1.1.0".into()),
        plan_hash: Some(digest(9)),
        actor: "alice@host".into(),
        reason: Some("INC-42".into()),
        started_at: UtcTime(1_764_000_000_000),
        ended_at: UtcTime(1_764_000_060_000),
        outcome: Outcome::Partial,
        summary: vec!["data.redis: failed".into()],
        base: Checkpoint {
            seq: 128,
            root: digest(1),
            applied: digest(2),
            count: 60,
        },
        last_seq: 131,
        resource_count: 64,
        restores: vec![RestoreReport {
            address: addr("data.redis"),
            restore_point: UtcTime(1_764_000_000_000),
            data_loss_secs: 1200,
            elapsed_secs: 1500,
        }],
    };
    let release = Release {
        estate: "chatwoot".into(),
        version: "1.2.0".into(),
        content: digest(3),
        environments: BTreeMap::from([(
            "prod".into(),
            ReleaseEnv {
                header: digest(4),
                root: digest(5),
            },
        )]),
        created_at: UtcTime(1_764_000_000_000),
        created_by: "ci".into(),
        git_commit: Some("abc123".into()),
        resource_counts: BTreeMap::from([("prod".into(), 64)]),
    };
    let audit = AuditEntry {
        seq: 12,
        at: UtcTime(1_764_000_000_000),
        actor: "alice@host".into(),
        action: "apply".into(),
        target: "chatwoot/prod".into(),
        region: Some("eastus".into()),
        reason: Some("PR #7".into()),
        how: "statectl 0.1.0 apply".into(),
        details: "generation 7".into(),
    };
    let journal = JournalEntry {
        stack: "chatwoot/prod".into(),
        seq: 3,
        generation: 7,
        address: addr("data.redis"),
        action: "create".into(),
        arm_type: "Microsoft.Cache/redis".into(),
        resource_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/x".into(),
        desired: Some(digest(13)),
        state: JournalState::Failed,
        started_at: UtcTime(1),
        ended_at: Some(UtcTime(2)),
        detail: Some("conflict".into()),
    };
    let lock = LockInfo {
        owner: "alice@host".into(),
        pid: 42,
        host: "vm".into(),
        command: "apply".into(),
        acquired_at: UtcTime(5),
    };
    let wrapped = WrappedKey {
        provider: "local".into(),
        key_id: "abc".into(),
        version: "2".into(),
        bytes: vec![7; 8],
    };
    let header = EnvHeader {
        estate: "chatwoot".into(),
        environment: env(),
        objectives: Objectives {
            rto: Interval::from_hours(4),
            rpo: Interval::from_mins(15),
            monthly_budget_usd: Some(1065),
            required_tags: vec!["owner".into()],
        },
        cost_items: vec![CostItem {
            name: "Egress".into(),
            usd_cents: 7500,
            source: "seed 000".into(),
        }],
    };
    vec![
        (
            "object_resource",
            object::encode(&Object::Resource(resource())).unwrap().1,
        ),
        (
            "object_observed",
            object::encode(&Object::Observed(observed())).unwrap().1,
        ),
        (
            "object_leaf",
            object::encode(&Object::Node(Node::Leaf(vec![(addr("m.a"), digest(6))])))
                .unwrap()
                .1,
        ),
        (
            "object_branch",
            object::encode(&Object::Node(Node::Branch(vec![
                (3, digest(7), 40),
                (11, digest(8), 2),
            ])))
            .unwrap()
            .1,
        ),
        (
            "object_env_header",
            object::encode(&Object::EnvHeader(header)).unwrap().1,
        ),
        ("release", codec::encode(&release).unwrap()),
        ("generation", codec::encode(&generation).unwrap()),
        ("audit_entry", codec::encode(&audit).unwrap()),
        ("journal_entry", codec::encode(&journal).unwrap()),
        (
            "journal_resolution",
            codec::encode(&JournalResolution {
                state: JournalState::Failed,
                ended_at: UtcTime(1_764_000_090_000),
                detail: Some("conflict".into()),
            })
            .unwrap(),
        ),
        ("lock_info", codec::encode(&lock).unwrap()),
        ("wrapped_key", codec::encode(&wrapped).unwrap()),
        (
            "delta_put",
            codec::encode(&DeltaRow {
                generation: 7,
                address: addr("data.redis"),
                change: DeltaChange::Put {
                    observed: Box::new(observed()),
                    applied: Some(digest(10)),
                },
            })
            .unwrap(),
        ),
        (
            "delta_remove",
            codec::encode(&DeltaRow {
                generation: 8,
                address: addr("data.redis"),
                change: DeltaChange::Remove,
            })
            .unwrap(),
        ),
        (
            "checkpoint",
            codec::encode(&Checkpoint {
                seq: 64,
                root: digest(11),
                applied: digest(12),
                count: 3,
            })
            .unwrap(),
        ),
    ]
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codec")
}

#[test]
fn encodings_match_the_golden_fixtures() {
    let bless = std::env::var("STATECTL_BLESS").is_ok_and(|v| v == "1");
    for (name, bytes) in samples() {
        let path = fixture_dir().join(format!("{name}.bin"));
        if bless {
            std::fs::create_dir_all(fixture_dir()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "fixture {} missing ({e}); bless with STATECTL_BLESS=1",
                path.display()
            )
        });
        assert_eq!(
            bytes, golden,
            "encoding of {name} changed: the store format moved (bump the codec or schema version)"
        );
    }
}

#[test]
fn golden_fixtures_decode_to_the_samples() {
    let dir = fixture_dir();
    let read = |n: &str| std::fs::read(dir.join(format!("{n}.bin"))).unwrap();
    assert_eq!(
        codec::decode::<Object>(&read("object_resource")).unwrap(),
        Object::Resource(resource())
    );
    assert_eq!(
        codec::decode::<Object>(&read("object_observed")).unwrap(),
        Object::Observed(observed())
    );
    let g: Generation = codec::decode(&read("generation")).unwrap();
    assert_eq!(
        (g.number, g.outcome, g.kind),
        (7, Outcome::Partial, GenerationKind::Rollback)
    );
    let r: Release = codec::decode(&read("release")).unwrap();
    assert_eq!(r.version, "1.2.0");
    let j: JournalEntry = codec::decode(&read("journal_entry")).unwrap();
    assert_eq!(j.state, JournalState::Failed);
}

#[test]
fn damaged_fixtures_give_named_errors() {
    for (name, bytes) in samples() {
        // Every truncation and a flip of every byte: an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(
                codec::decode::<Object>(&bytes[..cut]).is_err(),
                "{name} cut at {cut} decoded"
            );
            let _ = statectl::store::decode_any(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let e = codec::decode::<Object>(&b);
            if name.starts_with("object") {
                assert!(e.is_err(), "{name}: flipping byte {i} went unnoticed");
            }
            let _ = statectl::store::decode_any(&b);
        }
    }
}

/// Decodes a record by fixture name and re-encodes it as this build would.
fn reencode(name: &str, bytes: &[u8]) -> Vec<u8> {
    fn again<T: serde::Serialize + serde::de::DeserializeOwned>(bytes: &[u8]) -> Vec<u8> {
        codec::encode(&codec::decode::<T>(bytes).unwrap()).unwrap()
    }
    match name {
        "release" => again::<Release>(bytes),
        "generation" => again::<Generation>(bytes),
        "audit_entry" => again::<AuditEntry>(bytes),
        "journal_entry" => again::<JournalEntry>(bytes),
        "lock_info" => again::<LockInfo>(bytes),
        "wrapped_key" => again::<WrappedKey>(bytes),
        "delta_put" | "delta_remove" => again::<DeltaRow>(bytes),
        "checkpoint" => again::<Checkpoint>(bytes),
        other => panic!("no type for fixture {other}"),
    }
}

#[test]
fn objects_stay_canonical_and_records_are_compact() {
    for (name, bytes) in samples() {
        let expected = if name.starts_with("object_") {
            codec::CANONICAL_VERSION
        } else {
            codec::COMPACT_VERSION
        };
        assert_eq!(bytes[0], expected, "{name} is in the wrong encoding");
    }
}

#[test]
fn version_1_records_still_decode_to_the_same_values() {
    let v1 = fixture_dir().join("v1");
    let mut seen = 0;
    for (name, bytes) in samples() {
        // Journal resolutions came with the compact encoding.
        if name.starts_with("object_") || name == "journal_resolution" {
            continue;
        }
        let old = std::fs::read(v1.join(format!("{name}.bin"))).unwrap();
        assert_eq!(old[0], codec::CANONICAL_VERSION, "{name}");
        assert!(old.len() > bytes.len(), "{name}: compact is not smaller");
        assert_eq!(reencode(name, &old), bytes, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 9);
}
