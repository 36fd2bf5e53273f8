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
        "chatwoot/prod: 23 rules",
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
        x.contains(r#"<testsuite name="chatwoot/prod" tests="23" failures="1">"#),
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
