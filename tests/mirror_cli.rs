//! The state mirror through the real binary, on both backends: a local
//! directory and Azure Blob Storage (Azurite, started by the test). Push on
//! apply, O(1) pushes for small changes, restore of a lost store, no
//! plaintext in the mirror, tampering and wrong keys refused with the
//! object named, key rotation, leases between machines, an unreachable
//! mirror never losing a commit, refusing to fork a mirrored history, two
//! machines through one Azurite, and kill -9 in the middle of a push.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use util::azurite::Azurite;
use util::{Project, Run};

const EST: &str = "chatwoot";

/// A project with a mirror; `env` carries the mirror's settings.
struct Mirrored {
    p: Project,
    env: Vec<(String, String)>,
    keydir: tempfile::TempDir,
}

impl Mirrored {
    fn dir(mirror: &Path) -> Self {
        let p = Project::copy_of_repo();
        p.write(
            "statectl.toml",
            &format!("[mirror]\nurl = \"dir:{}\"\n", mirror.display()),
        );
        Self::with(p, Vec::new())
    }

    fn azurite(az: &Azurite, container: &str) -> Self {
        let p = Project::copy_of_repo();
        let env = vec![
            (
                "STATECTL_MIRROR".to_string(),
                format!("{}/{container}", az.account_url()),
            ),
            ("STATECTL_MIRROR_SAS".to_string(), az.sas()),
            ("STATECTL_MIRROR_RETRIES".to_string(), "0".to_string()),
        ];
        Self::with(p, env)
    }

    fn with(p: Project, mut env: Vec<(String, String)>) -> Self {
        let keydir = tempfile::tempdir().unwrap();
        env.push((
            "STATECTL_MIRROR_KEY_FILE".into(),
            keydir.path().join("mirror.key").display().to_string(),
        ));
        Mirrored { p, env, keydir }
    }

    fn key_file(&self) -> PathBuf {
        self.keydir.path().join("mirror.key")
    }

    fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.p.run_with(&env, args)
    }

    /// Applies `version` to chatwoot/dev, whatever the outcome.
    fn try_apply(&self, version: &str) -> Run {
        self.try_apply_with(version, &[])
    }

    /// [`Self::try_apply`] with more arguments.
    fn try_apply_with(&self, version: &str, more: &[&str]) -> Run {
        let mut args = vec![
            "apply",
            "--estate",
            EST,
            "--env",
            "dev",
            "--version",
            version,
            "--auto-approve",
        ];
        args.extend_from_slice(more);
        self.run(&args)
    }

    /// Applies `version` to chatwoot/dev, which must succeed.
    fn apply(&self, version: &str) -> Run {
        let r = self.try_apply(version);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r
    }

    fn bump_redis(&self) {
        let data = self.p.read("specs/chatwoot/data.toml");
        let n = if data.contains("capacity = 1\n") {
            2
        } else {
            1
        };
        self.p.write(
            "specs/chatwoot/data.toml",
            &data.replacen(
                &format!("capacity = {}\n", 3 - n),
                &format!("capacity = {n}\n"),
                1,
            ),
        );
    }

    fn lose_store(&self) {
        std::fs::remove_dir_all(self.p.state_dir()).unwrap();
    }

    fn snapshot(&self) -> (String, String, String) {
        let h = self.run(&["history", "--estate", EST, "--env", "dev", "--json"]);
        let s = self.run(&["state", "pull", "--estate", EST, "--env", "dev"]);
        let a = self.run(&["audit", "--json"]);
        (h.stdout, s.stdout, a.stdout)
    }
}

/// The number of blobs a push wrote, from `mirrored to ...: N blob(s)`.
fn blobs_pushed(r: &Run) -> usize {
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("mirrored to "))
        .unwrap_or_else(|| panic!("no push reported:\n{}\n{}", r.stdout, r.stderr));
    line.split(": ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read `{line}`"))
}

/// Push on apply, O(1) second push, lose the store, restore, same history.
fn round_trip(m: &Mirrored) {
    let first = blobs_pushed(&m.apply("v1.0.0"));
    // The estate's ~200 objects travel in one pack, with the release, the
    // generation, the audit run and HEAD.
    assert!(
        (4..=12).contains(&first),
        "the first push carries the estate in a pack: {first}"
    );
    m.bump_redis();
    let second = blobs_pushed(&m.apply("v1.1.0"));
    assert!(
        second <= 16,
        "a one-resource change pushes O(1) blobs, not the estate: {second}"
    );
    let before = m.snapshot();

    let r = m.run(&["mirror", "status"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("chatwoot/dev"), "{}", r.stdout);

    m.lose_store();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("chatwoot/dev: 2 generation(s) restored, now at generation 2"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(the state's RTO)"), "{}", r.stdout);
    assert!(r.stdout.contains("store check: ok"), "{}", r.stdout);
    assert_eq!(
        m.snapshot(),
        before,
        "the restored history equals the original"
    );

    // Up to a point: --generation 1 brings back only the first.
    let point = tempfile::tempdir().unwrap();
    let r = m.run(&[
        "--state-dir",
        point.path().to_str().unwrap(),
        "mirror",
        "restore",
        "--generation",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("1 generation(s) restored, now at generation 1"),
        "{}",
        r.stdout
    );

    // Nothing to do after a restore: the mirror is current and the plan empty.
    let r = m.run(&["mirror", "push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("pushed 1 blob(s)") || r.stdout.contains("pushed 0 blob(s)"),
        "{}",
        r.stdout
    );
    let r = m.run(&[
        "plan",
        "--estate",
        EST,
        "--env",
        "dev",
        "--version",
        "v1.1.0",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn local_directory_round_trip_and_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    round_trip(&m);

    // No plaintext: resource names, secrets and tags never appear in a blob.
    let mut files = 0;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for needle in [
            &b"chatwoot-dev-redis-eastus"[..],
            b"platform-team@chatwoot.example",
            b"Microsoft.Cache",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds `{}` in clear",
                entry.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    assert!(files >= 8, "{files} files");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn tampering_moving_and_wrong_keys_are_refused_naming_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    m.apply("v1.0.0");
    let a = &walk(&dir.path().join("v1/packs"))[0];
    let b = &walk(&dir.path().join("v1/releases"))[0];

    // A flipped byte.
    let saved = std::fs::read(a).unwrap();
    let mut bad = saved.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(a, &bad).unwrap();
    m.lose_store();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let name = a.strip_prefix(dir.path()).unwrap().display().to_string();
    assert!(
        r.stderr
            .contains(&format!("{name}: cannot decrypt mirror object {name}")),
        "{}",
        r.stderr
    );
    std::fs::write(a, &saved).unwrap();

    // An object moved over another: bound to its path, it does not open.
    let saved_b = std::fs::read(b).unwrap();
    std::fs::copy(a, b).unwrap();
    std::fs::remove_dir_all(m.p.state_dir()).ok();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("wrong key, or the data was altered or moved"),
        "{}",
        r.stderr
    );
    std::fs::write(b, &saved_b).unwrap();

    // Another key file.
    std::fs::remove_dir_all(m.p.state_dir()).ok();
    let other = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, &str)> = Vec::new();
    let other_key = other.path().join("k").display().to_string();
    env.push(("STATECTL_MIRROR_KEY_FILE", &other_key));
    let r = m.p.run_with(&env, &["keys", "init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = m.p.run_with(&env, &["mirror", "restore"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("data key was wrapped by local key"),
        "{}",
        r.stderr
    );
    // A missing key file says what to do.
    let gone = other.path().join("nope").display().to_string();
    let r = m.p.run_with(
        &[("STATECTL_MIRROR_KEY_FILE", &gone)],
        &["mirror", "restore"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("does not exist: copy it from where you keep it"),
        "{}",
        r.stderr
    );

    // With everything back in place, the restore works.
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn key_rotation_rewraps_without_reencrypting() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    m.apply("v1.0.0");
    let obj = walk(&dir.path().join("v1/packs")).remove(0);
    let before = std::fs::read(&obj).unwrap();
    let r = m.run(&["keys", "rotate"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("version 2 is now current"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("payloads unchanged"), "{}", r.stdout);
    let after = std::fs::read(&obj).unwrap();
    assert_ne!(before, after, "the wrapped key changed");
    // The sealed payload (after the header) is byte-for-byte the same.
    let payload = |b: &[u8]| {
        let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        b[8 + len..].to_vec()
    };
    assert_eq!(payload(&before), payload(&after));
    let header = String::from_utf8_lossy(&after[8..]).to_string();
    assert!(header.contains("\"key_version\":\"2\""), "{header}");
    // Key file has two versions; everything still restores.
    let key = std::fs::read_to_string(m.key_file()).unwrap();
    assert_eq!(key.lines().count(), 3, "{key}");
    m.lose_store();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_lease_held_elsewhere_refuses_the_apply_until_force_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    m.apply("v1.0.0");
    // Another machine holds the lease.
    let stack = dir.path().join("v1/stacks/chatwoot/dev");
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 600_000;
    std::fs::write(stack.join("lock.lease"), format!("otherlease {until}")).unwrap();
    // The holder record is sealed like every blob: write it as that machine would.
    let keys = statectl::keys::LocalKeyFile::load(&m.key_file()).unwrap();
    let sealed = statectl::mirror::envelope::seal(
        &keys,
        "v1/stacks/chatwoot/dev/holder",
        b"ci@runner-7 (pid 4242)",
    )
    .unwrap();
    std::fs::write(stack.join("holder"), sealed).unwrap();
    m.bump_redis();
    let r = m.try_apply("v1.1.0");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("chatwoot/dev is being applied from another machine"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("held by ci@runner-7 (pid 4242)"),
        "{}",
        r.stderr
    );
    let h = m.run(&["history", "--estate", EST, "--env", "dev", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&h.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let r = m.run(&[
        "force-unlock",
        "--estate",
        EST,
        "--env",
        "dev",
        "--reason",
        "runner-7 is gone",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("broke the mirror lease on chatwoot/dev"),
        "{}",
        r.stdout
    );
    m.apply("v1.1.0");
    assert!(
        !stack.join("lock.lease").exists(),
        "released after the apply"
    );
}

/// Writes a lease on chatwoot/dev as a holder on `host` with `pid` would.
fn lease_as(m: &Mirrored, dir: &std::path::Path, host: &str, pid: u32) {
    let stack = dir.join("v1/stacks/chatwoot/dev");
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 600_000;
    std::fs::write(stack.join("lock.lease"), format!("otherlease {until}")).unwrap();
    let keys = statectl::keys::LocalKeyFile::load(&m.key_file()).unwrap();
    let record = serde_json::json!({"actor": "ci@x", "host": host, "pid": pid, "since": "then"});
    let sealed = statectl::mirror::envelope::seal(
        &keys,
        "v1/stacks/chatwoot/dev/holder",
        record.to_string().as_bytes(),
    )
    .unwrap();
    std::fs::write(stack.join("holder"), sealed).unwrap();
}

#[test]
fn a_lease_of_a_dead_process_on_this_host_is_taken_over_at_once_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    m.apply("v1.0.0");
    let host = statectl::store::hostname();
    // A process that has ended: its pid runs nothing now.
    let mut done = std::process::Command::new("true").spawn().unwrap();
    let dead = done.id();
    done.wait().unwrap();
    m.bump_redis();
    // A live holder on this host (this test) and a holder on another host
    // (whose processes cannot be seen from here) keep the lease.
    for (h, pid) in [(host.as_str(), std::process::id()), ("runner-9", dead)] {
        lease_as(&m, dir.path(), h, pid);
        let r = m.try_apply("v1.1.0");
        assert_eq!(r.code, 1, "{h} {pid}: {}", r.stdout);
        assert!(
            r.stderr
                .contains(&format!("held by ci@x on {h} (pid {pid})")),
            "{}",
            r.stderr
        );
    }
    // The dead one on this host: taken over, the apply goes on.
    lease_as(&m, dir.path(), &host, dead);
    let r = m.try_apply("v1.1.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let audit = m.run(&["audit", "--json"]);
    let a: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let takeover = a
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"] == "mirror.lease.takeover")
        .unwrap_or_else(|| panic!("no takeover audited: {}", audit.stdout));
    assert_eq!(
        takeover["details"],
        format!(
            "took over the mirror lease of ci@x on {host} (pid {dead}) since then: pid {dead} no longer runs on {host}"
        )
    );
}

#[test]
fn an_unreachable_mirror_never_loses_a_commit_and_the_lag_shows() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the mirror directory should be: every write fails.
    let blocked = dir.path().join("mirror");
    std::fs::write(&blocked, "not a directory").unwrap();
    let m = Mirrored::dir(&blocked);
    let r = m.apply("v1.0.0");
    assert!(
        r.stdout
            .contains("warning: could not take the mirror lease"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("warning: the mirror push failed, the local state is safe"),
        "{}",
        r.stdout
    );
    let r = m.run(&["mirror", "status"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("1 stack(s) are not fully mirrored"),
        "{}",
        r.stderr
    );

    // The mirror comes back: one push catches up.
    std::fs::remove_file(&blocked).unwrap();
    let r = m.run(&["mirror", "push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("chatwoot/dev: generation 1"),
        "{}",
        r.stdout
    );
    let r = m.run(&["mirror", "status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j[0]["generations_behind"], 0);
}

#[test]
fn a_second_store_cannot_fork_a_mirrored_history() {
    let dir = tempfile::tempdir().unwrap();
    let a = Mirrored::dir(dir.path());
    a.apply("v1.0.0");
    // Another project (another machine) with its own store and the same key.
    let b = Mirrored::dir(dir.path());
    std::fs::copy(a.key_file(), b.key_file()).unwrap();
    b.bump_redis();
    let r = b.try_apply_with("v1.0.0", &["--no-pull"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "the mirror holds generation 1 and this store only generation 0: another machine applied since"
        ),
        "{}",
        r.stderr
    );
    // Nothing was applied, and its own release cannot be pushed over the
    // mirror's either: the same version with other content.
    let h = b.run(&["history", "--estate", EST, "--env", "dev", "--json"]);
    assert_eq!(h.stdout.trim(), "[]", "{}", h.stdout);
    let r = b.run(&["mirror", "push"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("the mirror's history differs from this store's"),
        "{}",
        r.stderr
    );
    // The first store's history is untouched in the mirror.
    a.lose_store();
    let r = a.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// `r` says it took in generations `range` of chatwoot/dev from the mirror.
fn assert_pulled(r: &Run, range: &str) {
    let said = format!("pulled generation(s) {range} of chatwoot/dev from ");
    assert!(r.stdout.contains(&said), "{}\n{}", r.stdout, r.stderr);
}

/// A rollback on a machine whose store is behind the mirror chooses its
/// target from the latest state: it takes in the other machine's
/// generations first (`--list` only warns).
#[test]
fn a_rollback_behind_the_mirror_pulls_first() {
    let dir = tempfile::tempdir().unwrap();
    let a = Mirrored::dir(dir.path());
    a.apply("v1.0.0");
    let b = Mirrored::dir(dir.path());
    std::fs::copy(a.key_file(), b.key_file()).unwrap();
    let r = b.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // A moves on to v1.1.0; B has not seen it. Both machines manage the
    // same cloud: B's simulator is a copy of A's.
    a.bump_redis();
    a.apply("v1.1.0");
    std::fs::copy(
        a.p.state_dir().join("sim.redb"),
        b.p.state_dir().join("sim.redb"),
    )
    .unwrap();

    let r = b.run(&["rollback", "--estate", EST, "--env", "dev", "--list"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "warning: the mirror holds generation 2 of chatwoot/dev and this store only generation 1"
        ),
        "{}",
        r.stderr
    );
    let r = b.run(&[
        "rollback",
        "--estate",
        EST,
        "--env",
        "dev",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_pulled(&r, "2-2");
    // Back to v1.0.0, after A's v1.1.0: generation 3, pushed.
    let h = b.run(&["history", "--estate", EST, "--env", "dev", "--json"]);
    let history: Vec<serde_json::Value> = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(history.len(), 3, "{}", h.stdout);
    assert!(
        h.stdout.contains("1.1.0") && h.stdout.contains("rollback"),
        "{}",
        h.stdout
    );
}

/// `drift`, `refresh` and `destroy` on a machine whose store is behind the
/// mirror: a drift report warns that the record it compares with is stale;
/// `drift --fix`, `refresh` and `destroy` take in the other machine's
/// generations first, and what they record reaches the mirror.
#[test]
fn drift_fix_refresh_and_destroy_behind_the_mirror_pull_first() {
    let dir = tempfile::tempdir().unwrap();
    let a = Mirrored::dir(dir.path());
    a.apply("v1.0.0");
    let b = Mirrored::dir(dir.path());
    std::fs::copy(a.key_file(), b.key_file()).unwrap();
    let r = b.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Both machines manage the same cloud: B's simulator is a copy of A's.
    let same_cloud = || {
        std::fs::copy(
            a.p.state_dir().join("sim.redb"),
            b.p.state_dir().join("sim.redb"),
        )
        .unwrap();
    };
    a.bump_redis();
    a.apply("v1.1.0");
    same_cloud();

    // B's record is A's generation 1; the cloud holds generation 2.
    let r = b.run(&["drift", "--estate", EST, "--env", "dev"]);
    assert!(
        r.stderr.contains(
            "warning: the mirror holds generation 2 of chatwoot/dev and this store only generation 1"
        ),
        "{}",
        r.stderr
    );
    let r = b.run(&[
        "drift",
        "--estate",
        EST,
        "--env",
        "dev",
        "--fix",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_pulled(&r, "2-2");
    assert!(r.stdout.contains("no drift"), "{}", r.stdout);

    a.bump_redis();
    a.apply("v1.2.0");
    same_cloud();
    let r = b.run(&["refresh", "--estate", EST, "--env", "dev"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_pulled(&r, "3-3");
    assert!(
        r.stdout.contains("generation 4 records 0 change(s)"),
        "{}",
        r.stdout
    );
    // A sees B's refresh: its next apply takes it in first.
    a.bump_redis();
    let r = a.apply("v1.3.0");
    assert_pulled(&r, "4-4");
    same_cloud();
    let r = b.run(&[
        "destroy",
        "--estate",
        EST,
        "--env",
        "dev",
        "--allow-data-loss",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_pulled(&r, "5-5");
    let h = b.run(&["history", "--estate", EST, "--env", "dev", "--json"]);
    let history: Vec<serde_json::Value> = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(history.len(), 6, "{}", h.stdout);
    let r = b.run(&["state", "list", "--estate", EST, "--env", "dev"]);
    assert_eq!(r.stdout.trim(), "", "{}", r.stdout);
}

#[test]
fn azurite_round_trip_leases_and_conditions() {
    let az = Azurite::start();
    let m = Mirrored::azurite(&az, "statectl");
    round_trip(&m);

    let r = m.run(&["mirror", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Azure Blob Storage http://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(SAS token)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("blob versioning: not reported"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("1 stack HEAD(s) open with the configured key"),
        "{}",
        r.stdout
    );
    // The SAS never appears in output.
    let sig = az.sas();
    let sig = sig.split("sig=").nth(1).unwrap();
    assert!(!r.stdout.contains(sig) && !r.stderr.contains(sig));

    // Key rotation on Azure: re-wrap with If-Match, then a full restore.
    let r = m.run(&["keys", "rotate"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    m.lose_store();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A wrong SAS is refused with the status, and no signature in the text.
    let mut bad = Mirrored::azurite(&az, "statectl");
    for (k, v) in &mut bad.env {
        if k == "STATECTL_MIRROR_SAS" {
            *v = v.replace("sig=", "sig=AAAA");
        }
    }
    std::fs::copy(m.key_file(), bad.key_file()).unwrap();
    let r = bad.run(&["mirror", "restore"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("HTTP 403"), "{}", r.stderr);
    assert!(!r.stderr.contains("sig="), "{}", r.stderr);
}

#[test]
fn azurite_blob_semantics_create_only_if_match_and_leases() {
    use statectl::mirror::{Backend, BlobError, azure::AzureBlob};
    let az = Azurite::start();
    // SAFETY of the env: the retry setting is read when the client is built.
    let b = Backend::Azure(Box::new(
        AzureBlob::new(
            &az.account_url(),
            "semantics",
            Some(&az.sas()),
            statectl::mirror::azure::AzureAuth::default(),
        )
        .unwrap(),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e1 = b.put_new("x/a", b"one").await.unwrap();
        assert!(matches!(
            b.put_new("x/a", b"two").await,
            Err(BlobError::Exists { .. })
        ));
        let e2 = b.put_if("x/a", b"two", &e1).await.unwrap();
        assert!(matches!(
            b.put_if("x/a", b"three", &e1).await,
            Err(BlobError::Changed { .. })
        ));
        let (bytes, e) = b.get("x/a").await.unwrap();
        assert_eq!((bytes.as_slice(), e), (&b"two"[..], e2));
        assert!(matches!(
            b.get("x/none").await,
            Err(BlobError::NotFound { .. })
        ));
        for i in 0..7 {
            b.put_new(&format!("x/list/{i}"), b"").await.unwrap();
        }
        assert_eq!(b.list("x/list/").await.unwrap().len(), 7);
        let l = b.lease("x/lock", 15).await.unwrap();
        assert!(matches!(
            b.lease("x/lock", 15).await,
            Err(BlobError::Leased { .. })
        ));
        b.renew("x/lock", &l).await.unwrap();
        b.release("x/lock", &l).await.unwrap();
        let _l2 = b.lease("x/lock", 15).await.unwrap();
        b.break_lease("x/lock").await.unwrap();
        b.lease("x/lock", 15).await.unwrap();
        b.delete("x/a").await.unwrap();
        b.delete("x/a").await.unwrap();
        let props = b.properties().await.unwrap();
        assert_eq!(props.versioning, None);
    });
}

#[test]
fn prune_undelete_gc_and_legal_holds() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    m.apply("v1.0.0");
    for v in ["v1.1.0", "v1.2.0", "v1.3.0"] {
        m.bump_redis();
        m.apply(v);
    }
    let stack = ["--estate", EST, "--env", "dev"];
    let full = m.snapshot().1;
    let gens = |m: &Mirrored| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.path().join("v1/stacks/chatwoot/dev/gen"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        v.sort();
        let _ = m;
        v
    };

    // Prune all but the newest two: 1 and 2 go to tombstones.
    let r = m.run(
        &[
            &["mirror", "prune", "--keep", "2", "--reason", "retention"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("moved generation(s) 1..2 to tombstones, recoverable with `statectl mirror undelete` for 7 days"), "{}", r.stdout);
    assert_eq!(gens(&m), vec!["0000000003.0000", "0000000004.0000"]);
    let audit = m.run(&["audit"]).stdout;
    assert!(
        audit.contains("mirror.prune") && audit.contains("retention"),
        "{audit}"
    );

    // What is kept still restores to the same state, from its base.
    let saved = m.p.path().join("saved-state");
    std::fs::rename(m.p.state_dir(), &saved).unwrap();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("chatwoot/dev: 2 generation(s) restored, now at generation 4"),
        "{}",
        r.stdout
    );
    assert_eq!(
        m.snapshot().1,
        full,
        "the pruned mirror restores the same latest state"
    );
    let r = m.run(
        &[
            &["plan", "--version", "v1.3.0", "--detailed-exitcode"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    std::fs::remove_dir_all(m.p.state_dir()).unwrap();
    std::fs::rename(&saved, m.p.state_dir()).unwrap();

    // Undelete brings them back, byte for byte.
    let r = m.run(&[&["mirror", "undelete"][..], &stack].concat());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("generation(s) 1..2 are back"),
        "{}",
        r.stdout
    );
    assert_eq!(gens(&m).len(), 4);

    // A legal hold on 2 stops pruning at 2; gc never purges a held one.
    let r = m.run(
        &[
            &["mirror", "hold", "set", "2", "--reason", "LH-7"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = m.run(&[&["mirror", "prune", "--keep", "1"][..], &stack].concat());
    assert!(
        r.stdout.contains("moved generation(s) 1 to tombstones"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("kept generation 2 and later: under legal hold"),
        "{}",
        r.stdout
    );
    // Within retention, gc keeps the tombstone; past it, purges it.
    let r = m.run(&["mirror", "gc"]);
    assert!(
        r.stdout
            .contains("purged 0 tombstone(s); kept 1 within retention"),
        "{}",
        r.stdout
    );
    let later = [("STATECTL_NOW", "2099-01-01T00:00:00Z")];
    let mut env: Vec<(&str, &str)> = m
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.extend(later);
    let r = m.p.run_with(&env, &["mirror", "gc"]);
    assert!(r.stdout.contains("purged 1 tombstone(s)"), "{}", r.stdout);
    let r = m.run(&[&["mirror", "undelete"][..], &stack].concat());
    assert!(
        r.stdout.contains("no tombstones to bring back"),
        "{}",
        r.stdout
    );
    // The hold is listed, and clearing it is audited.
    let r = m.run(&[&["mirror", "hold", "list"][..], &stack].concat());
    assert!(r.stdout.contains("LH-7"), "{}", r.stdout);
    let r = m.run(
        &[
            &["mirror", "hold", "clear", "2", "--reason", "LH-7 closed"][..],
            &stack,
        ]
        .concat(),
    );
    assert!(
        r.stdout.contains("lifted the legal hold on generation 2"),
        "{}",
        r.stdout
    );
    let audit = m.run(&["audit"]).stdout;
    assert!(
        audit.contains("mirror.hold.set")
            && audit.contains("mirror.hold.clear")
            && audit.contains("mirror.gc"),
        "{audit}"
    );
    // A hold on a generation that is not there is refused.
    let r = m.run(&[&["mirror", "hold", "set", "1", "--reason", "x"][..], &stack].concat());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("has no generation 1 in the mirror (present: 2..4)"),
        "{}",
        r.stderr
    );
}

#[test]
fn azurite_check_fails_when_soft_delete_is_shorter_than_the_retention() {
    use azure_storage_blob::BlobServiceClient;
    use azure_storage_blob::models::{BlobServiceProperties, RetentionPolicy};
    let az = Azurite::start();
    let m = Mirrored::azurite(&az, "statectl");
    let r = m.run(&["keys", "init"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let url = format!("{}?{}", az.account_url(), az.sas());
    let service =
        BlobServiceClient::new(azure_core::http::Url::parse(&url).unwrap(), None, None).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let set = |days: i32| {
        let props = BlobServiceProperties {
            delete_retention_policy: Some(RetentionPolicy {
                enabled: Some(true),
                days: Some(days),
                ..Default::default()
            }),
            ..Default::default()
        };
        rt.block_on(service.set_properties(props.try_into().unwrap(), None))
            .unwrap();
    };

    // Seven days is under the 30 that prod's state_retention_days asks for.
    set(7);
    let r = m.run(&["mirror", "check"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("blob soft delete: 7 days, under the 30 days the environments ask for"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("--delete-retention-days"), "{}", r.stderr);

    set(30);
    let r = m.run(&["mirror", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("blob soft delete: 30 days (at least the 30 required)"),
        "{}",
        r.stdout
    );
}

#[test]
fn two_machines_through_azurite_one_applies_the_other_waits_then_catches_up() {
    use statectl::mirror::azure::AzureBlob;
    use statectl::mirror::{Backend, Mirror};
    let az = Azurite::start();
    let a = Mirrored::azurite(&az, "statectl");
    a.apply("v1.0.0");
    a.bump_redis();
    // Machine B: the same history and cloud, and the same mirror and key.
    let b = Mirrored {
        p: a.p.clone_machine(),
        env: a.env.clone(),
        keydir: tempfile::tempdir().unwrap(),
    };

    // A applies v1.1.0 slowly (the Redis update takes 600 s at 100x: 6 s).
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_statectl"))
        .args(["-C", a.p.path().to_str().unwrap()])
        .args([
            "apply",
            "--estate",
            EST,
            "--env",
            "dev",
            "--version",
            "v1.1.0",
        ])
        .arg("--auto-approve")
        .env_remove("STATECTL_STATE_DIR")
        .env_remove("STATECTL_NOW")
        .envs(a.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("STATECTL_SIM_SPEED", "100")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until A holds the lease: the holder record (JSON) names its pid.
    let keys = Arc::new(statectl::keys::LocalKeyFile::load(&a.key_file()).unwrap());
    let m = Mirror::new(
        Backend::Azure(Box::new(
            AzureBlob::new(
                &az.account_url(),
                "statectl",
                Some(&az.sas()),
                statectl::mirror::azure::AzureAuth::default(),
            )
            .unwrap(),
        )),
        keys,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let holder_path = "v1/stacks/chatwoot/dev/holder";
    let pid = format!("(pid {})", first.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok((sealed, _)) = rt.block_on(m.backend().get(holder_path))
            && let Ok(who) = m.open(holder_path, &sealed)
            && String::from_utf8_lossy(&who).contains(&format!("\"pid\":{}", first.id()))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "machine A never took the lease"
        );
        assert!(first.try_wait().unwrap().is_none(), "A ended early");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // B is refused while A runs, and told who holds the stack.
    let r = b.try_apply("v1.1.0");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("chatwoot/dev is being applied from another machine"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&pid), "{}", r.stderr);
    assert!(
        first.try_wait().unwrap().is_none(),
        "A was still running when B was refused"
    );

    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A is done: B's store is behind the mirror. Told not to pull, B may
    // take the lease but is told to catch up rather than plan on stale state.
    let r = b.try_apply_with("v1.1.0", &["--no-pull"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "the mirror holds generation 2 and this store only generation 1: another machine applied since"
        ),
        "{}",
        r.stderr
    );
    let history: Vec<serde_json::Value> = serde_json::from_str(&b.snapshot().0).unwrap();
    assert_eq!(history.len(), 1, "a refused apply changes nothing");
    // A plan only reads, and says its state is stale (on stderr: --json
    // output stays a document).
    let r = b.run(&[
        "plan",
        "--estate",
        EST,
        "--env",
        "dev",
        "--version",
        "v1.1.0",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "warning: the mirror holds generation 2 of chatwoot/dev and this store only generation 1"
        ),
        "{}",
        r.stderr
    );
    serde_json::from_str::<serde_json::Value>(&r.stdout).expect("plan --json is JSON");
    // By default B takes A's generation in before planning: v1.1.0 is
    // then already applied, and nothing changes.
    let r = b.try_apply("v1.1.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_pulled(&r, "2-2");
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    // A new release from B applies and pushes.
    b.bump_redis();
    let r = b.try_apply("v1.2.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("mirrored to "), "{}", r.stdout);

    // B's audit kept A's records at their numbers and its own after them,
    // with no gap; a store restored from the mirror now holds both.
    let r = b.run(&["store", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let c = Mirrored {
        p: Project::copy_of_repo(),
        env: a.env.clone(),
        keydir: tempfile::tempdir().unwrap(),
    };
    let r = c.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (b_history, b_state, b_audit) = b.snapshot();
    let (c_history, c_state, c_audit) = c.snapshot();
    assert_eq!((c_history, c_state), (b_history, b_state));
    let b_audit: Vec<serde_json::Value> = serde_json::from_str(&b_audit).unwrap();
    let c_audit: Vec<serde_json::Value> = serde_json::from_str(&c_audit).unwrap();
    assert!(b_audit.len() > 4, "{b_audit:?}");
    assert_eq!(
        &c_audit[..b_audit.len()],
        &b_audit[..],
        "the same audit log"
    );
}

#[test]
fn kill_9_during_mirror_push_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = Project::copy_of_repo();
    p.write(
        "statectl.toml",
        &format!(
            "[mirror]\nurl = \"dir:{}\"\npush = \"manual\"\n",
            dir.path().display()
        ),
    );
    let m = Mirrored::with(p, Vec::new());
    let r = m.run(&["keys", "init"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Three stacks of history, nothing mirrored yet.
    for env in ["dev", "staging", "prod"] {
        let r = m.p.run_with(
            &[
                ("STATECTL_NOW", util::IN_WINDOW),
                ("STATECTL_MIRROR_KEY_FILE", m.key_file().to_str().unwrap()),
            ],
            &[
                "apply",
                "--estate",
                EST,
                "--env",
                env,
                "--version",
                "v1.0.0",
                "--auto-approve",
            ],
        );
        assert_eq!(r.code, 0, "{env}: {}\n{}", r.stdout, r.stderr);
    }
    let before: Vec<_> = ["dev", "staging", "prod"]
        .iter()
        .map(|env| {
            m.run(&["history", "--estate", EST, "--env", env, "--json"])
                .stdout
        })
        .collect();

    // Kill the push at different points; each time the store still opens
    // and reports where the mirror stands.
    let mut killed_while_running = 0;
    for delay_ms in [5u64, 20, 40, 80, 120, 200, 300] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_statectl"))
            .args(["-C", m.p.path().to_str().unwrap(), "mirror", "push"])
            .env_remove("STATECTL_STATE_DIR")
            .envs(m.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let r = m.run(&["mirror", "status", "--json"]);
        assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
        serde_json::from_str::<serde_json::Value>(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    }
    assert!(killed_while_running > 0, "no push was interrupted");

    // One push finishes the job; the store is intact.
    let r = m.run(&["mirror", "push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = m.run(&["mirror", "status"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = m.run(&["store", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // A restore elsewhere has every stack's history.
    let c = Mirrored::with(Project::copy_of_repo(), Vec::new());
    std::fs::copy(m.key_file(), c.key_file()).unwrap();
    c.p.write(
        "statectl.toml",
        &format!("[mirror]\nurl = \"dir:{}\"\n", dir.path().display()),
    );
    let r = c.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let after: Vec<_> = ["dev", "staging", "prod"]
        .iter()
        .map(|env| {
            c.run(&["history", "--estate", EST, "--env", env, "--json"])
                .stdout
        })
        .collect();
    assert_eq!(after, before);
}

/// Copies a directory tree (a mirror, to damage one copy per trial).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Issue 15, finding 3: a mirror that lost a blob (a HEAD, a release, an
/// audit run, the data key, the manifest), or had an older HEAD copied over
/// its current one, is refused by `mirror restore` naming what is missing,
/// and nothing is restored; `mirror push` after the older HEAD pushes again.
#[test]
fn a_mirror_that_lost_a_blob_restores_nothing_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mirrored::dir(dir.path());
    m.apply("v1.0.0");
    let head = dir.path().join("v1/stacks/chatwoot/dev/HEAD");
    let old_head = std::fs::read(&head).unwrap();
    m.bump_redis();
    m.apply("v1.1.0");
    let audit: Vec<PathBuf> = walk(&dir.path().join("v1/audit"));
    assert!(!audit.is_empty());
    type Damage<'a> = (&'a str, Box<dyn Fn(&Path)>, &'a str);
    let old = old_head.clone();
    let first_audit = audit[0].strip_prefix(dir.path()).unwrap().to_path_buf();
    let damages: Vec<Damage> = vec![
        (
            "HEAD deleted",
            Box::new(|d: &Path| {
                std::fs::remove_file(d.join("v1/stacks/chatwoot/dev/HEAD")).unwrap()
            }),
            "the HEAD of chatwoot/dev (generation 2)",
        ),
        (
            "older HEAD copied over",
            Box::new(move |d: &Path| {
                std::fs::write(d.join("v1/stacks/chatwoot/dev/HEAD"), &old).unwrap()
            }),
            "generations 2..=2 of chatwoot/dev: its HEAD says 1",
        ),
        (
            "release deleted",
            Box::new(|d: &Path| {
                std::fs::remove_file(d.join("v1/releases/chatwoot/1.0.0")).unwrap()
            }),
            "release chatwoot/1.0.0",
        ),
        (
            "audit run deleted",
            Box::new(move |d: &Path| std::fs::remove_file(d.join(&first_audit)).unwrap()),
            "audit records ",
        ),
        (
            "data key deleted",
            Box::new(|d: &Path| std::fs::remove_file(d.join("v1/store/data-key")).unwrap()),
            "v1/store/data-key",
        ),
        (
            "manifest deleted",
            Box::new(|d: &Path| std::fs::remove_file(d.join("v1/manifest")).unwrap()),
            "v1/manifest",
        ),
    ];
    for (what, damage, named) in damages {
        let copy = tempfile::tempdir().unwrap();
        copy_tree(dir.path(), copy.path());
        damage(copy.path());
        let other = Mirrored::dir(copy.path());
        std::fs::copy(m.key_file(), other.key_file()).unwrap();
        let r = other.run(&["mirror", "restore"]);
        assert_ne!(r.code, 0, "{what}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("the mirror lacks what was pushed to it") && r.stderr.contains(named),
            "{what}: missing `{named}` in\n{}",
            r.stderr
        );
        let h = other.run(&["history", "--estate", EST, "--env", "dev", "--json"]);
        assert!(
            h.code != 0 || h.stdout.trim() == "[]",
            "{what}: something was restored: {}",
            h.stdout
        );
    }

    // The older HEAD in the mirror itself: push sends generation 2 again.
    std::fs::write(&head, &old_head).unwrap();
    let r = m.run(&["mirror", "push"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    m.lose_store();
    let r = m.run(&["mirror", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("chatwoot/dev: 2 generation(s) restored, now at generation 2"),
        "{}",
        r.stdout
    );
}
