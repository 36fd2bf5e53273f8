//! The store commands, driven through the real binary: releases, history,
//! state list/show/pull/push, audit, store check, locks and force-unlock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use statectl::model::*;
use statectl::store::*;
use util::{Run, repo_root, statectl};

struct Env {
    _dir: tempfile::TempDir,
    state: String,
    root: String,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state").to_str().unwrap().to_string();
        Env {
            _dir: dir,
            state,
            root: repo_root().to_str().unwrap().to_string(),
        }
    }
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["-C", &self.root, "--state-dir", &self.state];
        all.extend_from_slice(args);
        statectl(&all)
    }
}

#[test]
fn releases_create_list_show() {
    let env = Env::new();
    let r = env.run(&["release", "create", "v1.0.0", "--estate", "chatwoot"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("created release v1.0.0 of chatwoot: content "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("dev=64 prod=64 staging=64"),
        "{}",
        r.stdout
    );
    let r = env.run(&["release", "create", "1.0.0", "--estate", "chatwoot"]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        "release v1.0.0 of chatwoot already exists with the same content; nothing to do\n"
    );
    let r = env.run(&["release", "create", "one", "--estate", "chatwoot"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "error: `one` is not a semantic version: write e.g. v1.2.0\n"
    );
    let r = env.run(&["release", "create", "v1.0.0", "--estate", "nope"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no estate `nope`"), "{}", r.stderr);

    let r = env.run(&["release", "list", "--estate", "chatwoot", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["version"], "v1.0.0");
    assert_eq!(v[0]["resources"]["prod"], 64);
    let r = env.run(&[
        "release", "show", "v1.0.0", "--estate", "chatwoot", "--env", "prod",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("data.postgres")
            && r.stdout
                .contains("Microsoft.DBforPostgreSQL/flexibleServers"),
        "{}",
        r.stdout
    );
    let r = env.run(&["release", "show", "v2.0.0", "--estate", "chatwoot"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "error: estate `chatwoot` has no release v2.0.0; known: v1.0.0\n"
    );
}

fn secret_resource(slot: u32) -> ObservedResource {
    let address = Address::new("data", &format!("redis{slot}")).unwrap();
    ObservedResource {
        name: format!("redis{slot}"),
        id: format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/redis{slot}"
        ),
        address,
        arm_type: "Microsoft.Cache/redis".into(),
        properties: BTreeMap::from([
            ("capacity".into(), Value::Int(1)),
            ("ratio".into(), Value::Float(1.0)),
            ("zones".into(), Value::List(vec![Value::String("1".into())])),
        ]),
        attributes: BTreeMap::from([("hostname".into(), Value::String("h".into()))]),
        sensitive: BTreeMap::from([(
            "primary_access_key".into(),
            Secret::Plain("SUPERSECRETVALUE".into()),
        )]),
        tags: BTreeMap::from([("owner".into(), "t".into())]),
        // A state file's dependencies must be resources in it.
        dependencies: BTreeSet::from_iter(
            (slot > 0).then(|| Address::new("data", &format!("redis{}", slot - 1)).unwrap()),
        ),
        prevent_destroy: true,
    }
}

#[test]
fn state_pull_push_pull_is_byte_identical_and_secrets_stay_sealed() {
    let env = Env::new();
    // A pushed file's release must exist in the store it goes to.
    let release = ["release", "create", "v1.0.0", "--estate", "chatwoot"];
    assert_eq!(env.run(&release).code, 0);
    {
        let store = Store::open(std::path::Path::new(&env.state), StoreOptions::default()).unwrap();
        let stack = Stack::new("chatwoot", "prod").unwrap();
        let actor = Actor {
            name: "t@h".into(),
            how: "test".into(),
        };
        for i in 0..3 {
            store
                .commit_generation(
                    &stack,
                    NewGeneration {
                        kind: GenerationKind::Apply,
                        release: Some("1.0.0".into()),
                        plan_hash: Some(Digest::of(b"p")),
                        reason: Some("because".into()),
                    },
                    vec![Change::Put {
                        observed: Box::new(secret_resource(i)),
                        applied: None,
                    }],
                    Outcome::Succeeded,
                    &actor,
                )
                .unwrap();
        }
    }
    let stack = ["--estate", "chatwoot", "--env", "prod"];
    let pull = env.run(&[&["state", "pull"][..], &stack].concat());
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    assert!(
        pull.stdout
            .contains("\"primary_access_key\": \"(sensitive)\""),
        "{}",
        pull.stdout
    );
    assert!(!pull.stdout.contains("SUPERSECRETVALUE"));
    let shown = env.run(&[&["state", "pull", "--show-sensitive"][..], &stack].concat());
    assert!(shown.stdout.contains("SUPERSECRETVALUE"));
    let show = env.run(&[&["state", "show", "data.redis1"][..], &stack].concat());
    assert!(
        show.stdout
            .contains("sensitive.primary_access_key = (sensitive)"),
        "{}",
        show.stdout
    );
    let list = env.run(&[&["state", "list", "--generation", "2"][..], &stack].concat());
    assert_eq!(list.stdout, "data.redis0\ndata.redis1\n");
    // The database file never holds the secret in clear.
    let db = std::fs::read(std::path::Path::new(&env.state).join("state.redb")).unwrap();
    assert!(!db.windows(16).any(|w| w == b"SUPERSECRETVALUE"));

    // Push into a fresh store: only as its first generation (--force
    // renumbers), only with secrets in the file (the fresh store holds none
    // to keep), only once the release exists there. Pull again: identical
    // but for the number.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &shown.stdout).unwrap();
    let fresh = Env::new();
    let push_file = |extra: &[&str]| {
        let f = file.path().to_str().unwrap();
        fresh.run(&[&["state", "push", f][..], extra, &stack].concat())
    };
    let push = push_file(&["--force"]);
    assert_eq!(push.code, 1);
    assert!(
        push.stderr
            .contains("generation.release: release v1.0.0 of chatwoot is not in this store"),
        "{}",
        push.stderr
    );
    assert_eq!(fresh.run(&release).code, 0);
    let push = push_file(&[]);
    assert_eq!(push.code, 1);
    assert_eq!(
        push.stderr,
        "error: refusing to push: the file holds generation 3 but the next generation of stack chatwoot/prod is 1; edit generation.number in the file to 1, or pass --force to push it as generation 1\n"
    );
    let push = push_file(&["--force"]);
    assert_eq!(push.code, 0, "{}", push.stderr);
    assert!(
        push.stdout
            .contains("as generation 1 of chatwoot/prod (3 resources)"),
        "{}",
        push.stdout
    );
    let again = fresh.run(&[&["state", "pull"][..], &stack].concat());
    assert_eq!(
        again.stdout,
        pull.stdout.replace("\"number\": 3", "\"number\": 1"),
        "pull -> push -> pull must be identical but for the number"
    );
    let again = fresh.run(&[&["state", "pull", "--show-sensitive"][..], &stack].concat());
    assert!(
        again.stdout.contains("SUPERSECRETVALUE"),
        "{}",
        again.stdout
    );

    // Pushing it again skips generation 2: refused, then forced.
    let push = push_file(&[]);
    assert_eq!(push.code, 1);
    assert!(
        push.stderr.contains(
            "the file holds generation 3 but the next generation of stack chatwoot/prod is 2"
        ),
        "{}",
        push.stderr
    );
    let push = push_file(&["--force"]);
    assert_eq!(push.code, 0, "{}", push.stderr);
    assert!(push.stdout.contains("as generation 2"), "{}", push.stdout);
    // A file of generation 1 would overwrite newer state: refused.
    std::fs::write(file.path(), &again.stdout).unwrap();
    let push = push_file(&[]);
    assert_eq!(push.code, 1);
    assert_eq!(
        push.stderr,
        "error: refusing to push: stack chatwoot/prod is at generation 2, newer than the file's generation 1; pass --force to push anyway\n"
    );
    std::fs::write(file.path(), &shown.stdout).unwrap();
    // Wrong stack and broken files are refused by name.
    let push = fresh.run(&[
        "state",
        "push",
        file.path().to_str().unwrap(),
        "--estate",
        "chatwoot",
        "--env",
        "dev",
    ]);
    assert_eq!(push.code, 1);
    assert!(
        push.stderr
            .contains("holds state of chatwoot/prod, not chatwoot/dev"),
        "{}",
        push.stderr
    );
    std::fs::write(
        file.path(),
        pull.stdout
            .replace("\"format_version\": 1", "\"format_version\": 7"),
    )
    .unwrap();
    let push = fresh.run(
        &[
            &["state", "push", file.path().to_str().unwrap()][..],
            &stack,
        ]
        .concat(),
    );
    assert!(
        push.stderr
            .contains("format_version: is 7; this statectl reads version 1"),
        "{}",
        push.stderr
    );

    // History and audit record it all.
    let hist = fresh.run(&[&["history", "--json"][..], &stack].concat());
    let h: serde_json::Value = serde_json::from_str(&hist.stdout).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 2);
    assert_eq!(h[0]["release"], "v1.0.0");
    let audit = fresh.run(&["audit", "--estate", "chatwoot", "--env", "prod", "--json"]);
    let a: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let whats: Vec<&str> = a
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, ["state.push", "state.show-sensitive", "state.push"]);
    let check = fresh.run(&["store", "check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.ends_with("no problems found\n"));
}

/// A stack at generation 1 (release v1.0.0, two redis caches with a sealed
/// secret each) and its state file, pulled with secrets redacted.
fn pushed_stack() -> (Env, String) {
    let env = Env::new();
    let release = ["release", "create", "v1.0.0", "--estate", "chatwoot"];
    assert_eq!(env.run(&release).code, 0);
    let store = Store::open(std::path::Path::new(&env.state), StoreOptions::default()).unwrap();
    let actor = Actor {
        name: "t@h".into(),
        how: "test".into(),
    };
    let changes = (0..2)
        .map(|i| Change::Put {
            observed: Box::new(secret_resource(i)),
            applied: None,
        })
        .collect();
    let new = NewGeneration {
        kind: GenerationKind::Apply,
        release: Some("1.0.0".into()),
        plan_hash: None,
        reason: None,
    };
    let stack = Stack::new("chatwoot", "prod").unwrap();
    store
        .commit_generation(&stack, new, changes, Outcome::Succeeded, &actor)
        .unwrap();
    drop(store);
    let pull = env.run(&["state", "pull", "--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    (env, pull.stdout)
}

/// Pushes `text` (with `extra` flags) and returns the run, asserting that a
/// refused push left the store as it was.
fn push_text(env: &Env, text: &str, extra: &[&str]) -> Run {
    let stack = ["--estate", "chatwoot", "--env", "prod"];
    let before = env
        .run(&[&["history", "--json"][..], &stack].concat())
        .stdout;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let f = file.path().to_str().unwrap();
    let r = env.run(&[&["state", "push", f][..], extra, &stack].concat());
    if r.code != 0 {
        let after = env
            .run(&[&["history", "--json"][..], &stack].concat())
            .stdout;
        assert_eq!(before, after, "a refused push changed the history");
    }
    r
}

#[test]
fn state_push_takes_only_the_next_generation_and_keeps_sealed_secrets() {
    let (env, pulled) = pushed_stack();
    // A redacted file pushed back keeps the sealed values.
    let next = pulled.replace("\"number\": 1", "\"number\": 2");
    let r = push_text(&env, &next, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = env.run(&[
        "state",
        "show",
        "data.redis1",
        "--estate",
        "chatwoot",
        "--env",
        "prod",
        "--show-sensitive",
    ]);
    assert!(
        shown.stdout.contains("SUPERSECRETVALUE"),
        "the secret was lost: {}",
        shown.stdout
    );
    // A gap, and the largest number there is, are refused (with or
    // without a store to compare with, --force renumbers).
    for n in ["5", "18446744073709551615"] {
        let r = push_text(
            &env,
            &pulled.replace("\"number\": 1", &format!("\"number\": {n}")),
            &[],
        );
        assert_eq!(r.code, 1, "{n}");
        assert!(
            r.stderr.contains(&format!(
                "the file holds generation {n} but the next generation of stack chatwoot/prod is 3"
            )),
            "{}",
            r.stderr
        );
    }
    // A redacted secret the store has no value for is refused, naming it.
    let renamed = next
        .replace("\"number\": 2", "\"number\": 3")
        .replace("data.redis1", "data.redis9");
    let r = push_text(&env, &renamed, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "data.redis9: sensitive.primary_access_key is redacted (`(sensitive)`) in the file and stack chatwoot/prod holds no sealed value of it to keep"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn state_push_refuses_unknown_types_releases_empty_ids_and_dangling_dependencies() {
    let (env, pulled) = pushed_stack();
    let next = pulled.replace("\"number\": 1", "\"number\": 2");
    let cases = [
        (
            next.replacen(
                "\"type\": \"Microsoft.Cache/redis\"",
                "\"type\": \"Microsoft.Cache/rediz\"",
                1,
            ),
            "resources[data.redis0].type: unknown resource type `Microsoft.Cache/rediz`",
        ),
        (
            next.replace("\"release\": \"1.0.0\"", "\"release\": \"9.9.9\""),
            "generation.release: release v9.9.9 of chatwoot is not in this store",
        ),
        (
            next.replacen(
                "\"id\": \"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/redis0\"",
                "\"id\": \"\"",
                1,
            ),
            "resources[data.redis0].id: is empty",
        ),
        (
            next.replace("\"data.redis0\"\n", "\"data.gone\"\n"),
            "resources[data.redis1].dependencies: `data.gone` is not a resource in this file",
        ),
    ];
    for (text, want) in cases {
        assert_ne!(text, next, "the edit for {want} changed nothing");
        let r = push_text(&env, &text, &["--force"]);
        assert_eq!(r.code, 1, "{want}: {}", r.stdout);
        assert!(r.stderr.contains(want), "want {want}, got {}", r.stderr);
    }
}

#[test]
fn a_second_writer_is_refused_by_name_and_a_dead_holder_can_be_unlocked() {
    let env = Env::new();
    let mut holder = Command::new(env!("CARGO_BIN_EXE_statectl"))
        .args([
            "--state-dir",
            &env.state,
            "debug",
            "hold-lock",
            "--estate",
            "chatwoot",
            "--env",
            "prod",
            "--seconds",
            "60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n");

    // Readers are not blocked; a writer is refused, naming the holder.
    let r = env.run(&["history", "--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "{}").unwrap();
    let r = env.run(&[
        "state",
        "push",
        file.path().to_str().unwrap(),
        "--estate",
        "chatwoot",
        "--env",
        "prod",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("invalid state file"), "{}", r.stderr);
    let good = {
        let s = Store::open(std::path::Path::new(&env.state), StoreOptions::default()).unwrap();
        let g = Generation {
            stack: Stack::new("chatwoot", "prod").unwrap(),
            number: 1,
            kind: GenerationKind::Import,
            release: None,
            plan_hash: None,
            actor: "x".into(),
            reason: None,
            started_at: UtcTime(0),
            ended_at: UtcTime(0),
            outcome: Outcome::Succeeded,
            summary: vec![],
            base: Checkpoint {
                seq: 0,
                root: Digest([0; 32]),
                applied: Digest([0; 32]),
                count: 0,
            },
            last_seq: 0,
            resource_count: 0,
            restores: Vec::new(),
        };
        drop(s);
        serde_json::to_string(&statectl::store::statefile::to_json(
            &g,
            &BTreeMap::new(),
            false,
        ))
        .unwrap()
    };
    std::fs::write(file.path(), good).unwrap();
    let r = env.run(&[
        "state",
        "push",
        file.path().to_str().unwrap(),
        "--estate",
        "chatwoot",
        "--env",
        "prod",
        "--lock-timeout",
        "1",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack chatwoot/prod is locked by"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("pid {}", holder.id())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("debug hold-lock"), "{}", r.stderr);
    let r = env.run(&["force-unlock", "--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("which is still running; stop that process first"),
        "{}",
        r.stderr
    );

    // The holder dies without cleaning up: its record is stale.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let r = env.run(&[
        "force-unlock",
        "--estate",
        "chatwoot",
        "--env",
        "prod",
        "--reason",
        "runner died",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("removed the stale lock of "),
        "{}",
        r.stdout
    );
    let r = env.run(&["audit", "--json"]);
    let a: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let last = a.as_array().unwrap().last().unwrap();
    assert_eq!(last["what"], "force-unlock");
    assert_eq!(last["why"], "runner died");
    // And the stack can be written again.
    let r = env.run(&[
        "state",
        "push",
        file.path().to_str().unwrap(),
        "--estate",
        "chatwoot",
        "--env",
        "prod",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Issue 15, finding 4 (its audit half): a run under a clock override is
/// audited with the real time beside the override.
#[test]
fn a_clock_override_is_audited_with_the_real_time() {
    let env = Env::new();
    let fake = "2031-01-01T00:00:00Z";
    let mut all = vec!["-C", &env.root, "--state-dir", &env.state];
    all.extend_from_slice(&["release", "create", "v1.0.0", "--estate", "chatwoot"]);
    let r = util::statectl_with(&[("STATECTL_NOW", fake)], &all);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let year = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 31_556_952
        + 1970;
    let audit = env.run(&["audit", "--json"]);
    let a: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let how = a[0]["how"].as_str().unwrap();
    assert_eq!(
        a[0]["at"].as_str().unwrap().get(..4),
        Some("2031"),
        "{}",
        audit.stdout
    );
    assert!(
        how.contains("(clock override STATECTL_NOW=2031-01-01T00:00:00Z; real time "),
        "{how}"
    );
    assert!(how.contains(&format!("real time {year}-")), "{how}");
}
