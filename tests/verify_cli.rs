//! `statectl verify` through the real binary: the shipped estates pass, a
//! broken spec fails naming the resource, rule, seed and fix, exceptions
//! expire, and the JSON and JUnit outputs say the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use util::{Project, statectl_with};

/// Exceptions are judged on this date (they expire on 2027-06-30).
const NOW: &str = "2026-11-23T12:00:00Z";

fn verify(p: &Project, args: &[&str]) -> util::Run {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    p.run_with(&[("STATECTL_NOW", NOW)], &all)
}

#[test]
fn the_shipped_estates_pass_in_every_environment() {
    let root = util::repo_root();
    let r = statectl_with(
        &[("STATECTL_NOW", NOW)],
        &["-C", root.to_str().unwrap(), "verify"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("12 of 12 stack(s) pass"), "{}", r.stdout);
    assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);
}

#[test]
fn a_public_database_fails_naming_resource_rule_seed_and_fix() {
    let p = Project::copy_of_repo();
    let data = p.read("specs/chatwoot/data.toml");
    // The first occurrence is the PostgreSQL server's.
    p.write(
        "specs/chatwoot/data.toml",
        &data.replacen(
            "public_network_access_enabled = false",
            "public_network_access_enabled = true",
            1,
        ),
    );
    let r = verify(&p, &["--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "chatwoot/prod: 41 rules",
        "1 failed",
        "FAIL private.public-access (seed 000: \"All data services use private endpoints\"",
        "data.postgres: flexibleServers `chatwoot-prod-psql-eastus` does not disable public network access",
        "fix: set `public_network_access_enabled = false`",
        "0 of 1 stack(s) pass",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}` in\n{}", r.stdout);
    }
    assert!(
        r.stderr.contains("1 stack(s) have findings"),
        "{}",
        r.stderr
    );

    // JSON says the same.
    let r = verify(
        &p,
        &[
            "--estate",
            "chatwoot",
            "--env",
            "prod",
            "--json",
            "--rule",
            "private.public-access",
        ],
    );
    assert_eq!(r.code, 1);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = &j[0]["findings"][0];
    assert_eq!(j[0]["passed"], false);
    assert_eq!(f["rule"], "private.public-access");
    assert_eq!(f["address"], "data.postgres");
    assert_eq!(f["outcome"], "Fail");
    assert_eq!(
        j[0]["findings"].as_array().unwrap().len(),
        1,
        "--rule keeps one rule"
    );

    // JUnit: one test case per rule, this one failing.
    let xml = p.path().join("verify.xml");
    let r = verify(
        &p,
        &[
            "--estate",
            "chatwoot",
            "--env",
            "prod",
            "--junit",
            xml.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(
        x.contains(r#"<testsuite name="chatwoot/prod" tests="41" failures="1">"#),
        "{x}"
    );
    assert!(
        x.contains(r#"name="private.public-access"><failure message="data.postgres:"#),
        "{x}"
    );
}

#[test]
fn an_expired_exception_no_longer_covers_its_finding() {
    let p = Project::copy_of_repo();
    let r = verify(
        &p,
        &[
            "--estate",
            "chaufher",
            "--env",
            "prod",
            "--rule",
            "recovery.rpo",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("EXCEPTED recovery.rpo"), "{}", r.stdout);

    let r = p.run_with(
        &[("STATECTL_NOW", "2027-07-01T00:00:00Z")],
        &[
            "verify",
            "--estate",
            "chaufher",
            "--env",
            "prod",
            "--rule",
            "recovery.rpo",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("FAIL recovery.rpo"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("expired on 2027-06-30 and no longer applies"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_unknown_rule_is_a_usage_error_listing_the_rules() {
    let p = Project::copy_of_repo();
    let r = verify(&p, &["--rule", "tags.requird"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid value 'tags.requird'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("tags.required"), "{}", r.stderr);
}

#[test]
fn a_spec_error_is_reported_with_its_location_and_nothing_is_verified() {
    let p = Project::copy_of_repo();
    let data = p.read("specs/chatwoot/data.toml");
    p.write("specs/chatwoot/data.toml", &format!("{data}\n[broken\n"));
    let r = verify(&p, &["--estate", "chatwoot"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("specs/chatwoot/data.toml:"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("stack(s) pass"), "{}", r.stdout);
}

#[test]
fn a_declaration_looser_than_the_baseline_is_not_covered_by_a_wildcard_exception() {
    // chaufher's `recovery.rto` exception has scope "*"; it covers the
    // rebuild estimate, never an estate that loosens the seed's own figure.
    let p = Project::copy_of_repo();
    let estate = p.read("specs/chaufher/estate.toml");
    p.write(
        "specs/chaufher/estate.toml",
        &estate.replacen("rto = \"1h\"", "rto = \"8h\"", 1),
    );
    let r = verify(&p, &["--estate", "chaufher", "--env", "prod"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "FAIL recovery.rto",
        "the estate declares an RTO of 8h, looser than the baseline's 1h",
        "policy/baseline.toml",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}` in\n{}", r.stdout);
    }
}

#[test]
fn a_broken_baseline_is_an_error_naming_its_line_and_key_and_nothing_is_verified() {
    for (edit, want) in [
        (
            ("state_retention_days = 30", "state_retention_dayz = 30"),
            "unknown key `state_retention_dayz`",
        ),
        (
            ("rule = \"identity.roles\"", "rule = \"identity.rolez\""),
            "`identity.rolez` is not a verify rule",
        ),
        (
            ("resource = \"aks.acr_pull\"", "resource = \"acr pull\""),
            "estates.chatwoot.require[0].resource",
        ),
        (
            ("rto = \"4h\"", "rto = \"four hours\""),
            "estates.chatwoot.rto",
        ),
        (
            (
                "naming = \"{product}-{environment}-{service}-{region}\"",
                "naming = \"{product}-{service}\"",
            ),
            "is not a naming form statectl checks",
        ),
        (
            (
                "manual_rotation_vaults = [\"security.kv_shared\"]",
                "manual_rotation_vaults = [\"kv shared\"]",
            ),
            "estates.chaufher.manual_rotation_vaults",
        ),
    ] {
        let p = Project::copy_of_repo();
        let text = p.read("policy/baseline.toml");
        assert!(text.contains(edit.0), "{}", edit.0);
        p.write("policy/baseline.toml", &text.replacen(edit.0, edit.1, 1));
        for cmd in [&["verify"][..], &["validate"][..]] {
            let r = p.run_with(&[("STATECTL_NOW", NOW)], cmd);
            assert_ne!(r.code, 0, "{cmd:?} {edit:?}\n{}", r.stdout);
            assert!(
                r.stderr.contains("policy/baseline.toml:"),
                "{cmd:?}: {}",
                r.stderr
            );
            assert!(
                r.stderr.contains(want),
                "{cmd:?}: missing `{want}` in {}",
                r.stderr
            );
            assert!(!r.stdout.contains("stack(s) pass"), "{}", r.stdout);
        }
    }
}

#[test]
fn without_a_baseline_the_estates_own_declarations_are_checked() {
    let p = Project::copy_of_repo();
    std::fs::remove_file(p.path().join("policy/baseline.toml")).unwrap();
    let r = verify(&p, &["--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // ... so the same loosening passes: what the baseline is for.
    let estate = p.read("specs/chatwoot/estate.toml");
    p.write(
        "specs/chatwoot/estate.toml",
        &estate.replacen("rpo = \"4h\"", "rpo = \"30d\"", 1),
    );
    let r = verify(&p, &["--estate", "chatwoot", "--env", "prod"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn verify_observed_judges_what_the_cloud_holds_and_passes_again_after_drift_fix() {
    let p = Project::copy_of_repo();
    let stack = ["--estate", "chatwoot", "--env", "dev"];
    let observed = |p: &Project| verify(p, &[&stack[..], &["--observed", "--json"]].concat());
    let r = observed(&p);
    assert_ne!(r.code, 0, "nothing applied yet: {}", r.stdout);
    let r = p.run_with(
        &[("STATECTL_NOW", NOW)],
        &[
            &["apply", "--version", "v1.0.0", "--auto-approve"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = observed(&p);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Two portal changes, each breaking a guarantee.
    for set in [
        ["security.kv", "soft_delete_retention_days=7"],
        ["networking.subnet_aks", "network_security_group_id="],
    ] {
        let r = p.run(&[&["sim", "set"][..], &set, &["--env", "dev"]].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // The specs still pass; the cloud does not, and drift names what it breaks.
    assert_eq!(verify(&p, &stack).code, 0);
    let r = p.run_with(&[("STATECTL_NOW", NOW)], &[&["drift"][..], &stack].concat());
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "! breaks security.key-vault (seed 001",
        "security.kv: soft delete retention is 7 days, under 90 days",
        "! breaks security.nsg (seed 000: \"Network security groups on all subnets\", \"Azure CNI with network policies\"): networking.subnet_aks",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}` in\n{}", r.stdout);
    }
    let r = p.run_with(
        &[("STATECTL_NOW", NOW)],
        &[&["drift", "--json"][..], &stack].concat(),
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let breaks: Vec<&str> = v["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        breaks,
        ["security.nsg", "security.key-vault"],
        "{}",
        r.stdout
    );
    let r = observed(&p);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let failing: Vec<(String, String)> = v[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "Fail")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        failing,
        [
            // The subnet lost its NSG, and so the NSG protects nothing.
            ("security.nsg".to_string(), "networking.nsg_aks".to_string()),
            (
                "security.nsg".to_string(),
                "networking.subnet_aks".to_string()
            ),
            ("security.key-vault".to_string(), "security.kv".to_string()),
        ],
        "{}",
        r.stdout
    );
    let r = p.run_with(
        &[("STATECTL_NOW", NOW)],
        &[&["drift", "--fix", "--auto-approve"][..], &stack].concat(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = observed(&p);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_bounded_exception_covers_only_up_to_its_bound_and_an_rto_exception_must_have_one() {
    let p = Project::copy_of_repo();
    let file = "specs/chaufher/exceptions.toml";
    let text = p.read(file);
    assert!(text.contains("up_to = \"1h30m\""));
    let stack = ["--estate", "chaufher", "--env", "prod"];
    assert_eq!(verify(&p, &stack).code, 0);
    // The rebuild estimate (1h29m) is over a tighter bound: it fails again.
    p.write(
        file,
        &text.replacen("up_to = \"1h30m\"", "up_to = \"1h\"", 1),
    );
    let r = verify(&p, &stack);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAIL recovery.rto"), "{}", r.stdout);
    // An RTO exception without a bound is refused where it is written.
    p.write(file, &text.replacen("up_to = \"1h30m\"\n", "", 1));
    let r = verify(&p, &stack);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("specs/chaufher/exceptions.toml:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("an exception for `recovery.rto` must say how long a restore it accepts"),
        "{}",
        r.stderr
    );
}

/// The ratchet: a release may not quietly loosen what the release that last
/// succeeded in the environment declared, even within the baseline.
#[test]
fn a_declaration_looser_than_the_last_succeeded_release_is_a_finding() {
    let p = Project::copy_of_repo();
    let stack = ["--estate", "chatwoot", "--env", "dev"];
    let dev = p.read("environments/dev.toml");
    // Dev declares more than the baseline asks (nothing, in dev) ...
    p.write(
        "environments/dev.toml",
        &dev.replacen("state_retention_days = 7", "state_retention_days = 14", 1),
    );
    let r = p.run_with(
        &[("STATECTL_NOW", NOW)],
        &[
            &["apply", "--version", "v1.0.0", "--auto-approve"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verify(&p, &stack).code, 0);
    // ... and the next change takes it back.
    p.write("environments/dev.toml", &dev);
    let r = verify(&p, &stack);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "FAIL prod.state-retention",
        "environment `dev` keeps pruned state 7 days, under release 1.0.0's 14",
        "the last that succeeded in dev",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}` in\n{}", r.stdout);
    }
}

#[test]
fn an_exception_whose_cited_mitigation_is_missing_covers_nothing_and_says_why() {
    let p = Project::copy_of_repo();
    let data = p.read("specs/chatwoot/data.toml");
    p.write(
        "specs/chatwoot/data.toml",
        &data.replacen("container_soft_delete_retention_days = 30\n", "", 1),
    );
    let stack = ["--estate", "chatwoot", "--env", "dev"];
    let r = verify(&p, &stack);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("the exception at specs/chatwoot/exceptions.toml:20 does not apply: it cites `data.uploads.container_soft_delete_retention_days >= 30`, which the spec does not hold"),
        "{}",
        r.stdout
    );
    // A mitigation that is not a resource property is refused where written.
    p.write("specs/chatwoot/data.toml", &data);
    let ex = p.read("specs/chatwoot/exceptions.toml");
    p.write(
        "specs/chatwoot/exceptions.toml",
        &ex.replacen(
            "\"data.uploads.soft_delete_retention_days >= 30\"",
            "\"uploads\"",
            1,
        ),
    );
    let r = verify(&p, &stack);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("specs/chatwoot/exceptions.toml:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("`uploads` is not a resource property"),
        "{}",
        r.stderr
    );
    // A minimum the spec falls short of is not a mitigation.
    p.write("specs/chatwoot/exceptions.toml", &ex);
    p.write(
        "specs/chatwoot/data.toml",
        &data.replacen(
            "\nsoft_delete_retention_days = 30\n",
            "\nsoft_delete_retention_days = 1\n",
            1,
        ),
    );
    let r = verify(&p, &stack);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("it cites `data.uploads.soft_delete_retention_days >= 30`"),
        "{}",
        r.stdout
    );
}
