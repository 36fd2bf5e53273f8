//! `statectl plan --json` judged by a tool no one here wrote:
//! terraform-compliance 1.16 (PyPI), installed into a throwaway venv the
//! first time, runs the features of `policy/terraform-compliance` against
//! the plan of every shipped estate in every environment, and against a
//! broken copy that each feature must catch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use util::{Project, repo_root};

/// The types `private_access.feature` selects, in its order.
const PRIVATE_TYPES: [&str; 4] = [
    "Microsoft.DBforPostgreSQL/flexibleServers",
    "Microsoft.Cache/redis",
    "Microsoft.KeyVault/vaults",
    "Microsoft.ContainerRegistry/registries",
];

/// terraform-compliance, installed from the pinned requirements into a venv
/// under the target directory unless it is there; one installer at a time.
fn tool() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("terraform-compliance-1.16.0");
    let bin = venv.join("bin/terraform-compliance");
    if bin.exists() {
        return bin;
    }
    let lock = std::fs::File::create(venv.with_extension("lock")).expect("create the install lock");
    lock.lock().expect("take the install lock");
    if !bin.exists() {
        println!(
            "installing terraform-compliance 1.16.0 into {}",
            venv.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3 -m venv failed: python3 (3.9+) with venv must be installed"
        );
        let reqs = repo_root().join("policy/terraform-compliance/requirements.txt");
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(reqs)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip could not install terraform-compliance from PyPI");
    }
    bin
}

/// What terraform-compliance printed (colour codes removed) and whether it
/// passed.
fn judge(plan: &Path) -> (bool, String) {
    let out = Command::new(tool())
        .arg("-p")
        .arg(plan)
        .arg("-f")
        .arg(repo_root().join("policy/terraform-compliance"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run terraform-compliance");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), strip_ansi(&text))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The plan of release v1.0.0 of `estate` in `env` against an empty stack.
fn plan(p: &Project, estate: &str, env: &str) -> PathBuf {
    let r = p.run(&[
        "plan",
        "--estate",
        estate,
        "--env",
        env,
        "--version",
        "v1.0.0",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{estate}/{env}: {}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "plan --json is one line");
    let file = p.path().join(format!("{estate}-{env}.plan.json"));
    std::fs::write(&file, &r.stdout).unwrap();
    file
}

#[test]
fn terraform_compliance_accepts_every_shipped_plan_and_catches_a_broken_one() {
    let p = Project::copy_of_repo();
    let estates = ["chatwoot", "chaufher", "openai-platform", "vc-reporting"];
    for estate in estates {
        for env in ["dev", "staging", "prod"] {
            let file = plan(&p, estate, env);
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let types: Vec<&str> = doc["resource_changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["type"].as_str().unwrap())
                .collect();
            // A type-selecting scenario is skipped exactly where the estate
            // has no resource of the type; a skip anywhere else is a defect.
            let skipped = PRIVATE_TYPES.iter().filter(|t| !types.contains(t)).count();
            let (ok, out) = judge(&file);
            assert!(ok, "{estate}/{env}:\n{out}");
            let want = if skipped == 0 {
                "7 scenarios (7 passed)".to_string()
            } else {
                format!("7 scenarios ({} passed, {skipped} skipped)", 7 - skipped)
            };
            assert!(out.contains(&want), "{estate}/{env}: want {want}:\n{out}");
        }
    }

    // One estate broken twice: Redis open to the internet, and its owner
    // tag emptied. Each feature catches its own, naming the resource.
    let data = p.read("specs/chatwoot/data.toml");
    let at = data.find("[redis.properties]").unwrap();
    let open = data[at..]
        .find("public_network_access_enabled = false")
        .unwrap()
        + at;
    let mut broken = data.clone();
    broken.replace_range(
        open..open + "public_network_access_enabled = false".len(),
        "public_network_access_enabled = true",
    );
    let broken = broken.replacen(
        "[redis.properties]",
        "[redis.tags]\nowner = \"\"\n\n[redis.properties]",
        1,
    );
    p.write("specs/chatwoot/data.toml", &broken);
    let (ok, out) = judge(&plan(&p, "chatwoot", "dev"));
    assert!(!ok, "a broken estate passed:\n{out}");
    assert!(
        out.contains("owner property in data.redis resource does not match"),
        "{out}"
    );
    assert!(
        out.contains(
            "public_network_access_enabled property in data.redis resource does not match"
        ),
        "{out}"
    );
    assert!(out.contains("7 scenarios (5 passed, 2 failed)"), "{out}");
}
