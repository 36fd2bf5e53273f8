//! Versions in action, through the real binary on the chatwoot estate and
//! the simulator: rollback, emergency restore, drift, production rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use util::{IN_WINDOW, Project, Run};

const EST: &str = "chatwoot";

fn apply(p: &Project, now: &str, env: &str, version: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        "--estate",
        EST,
        "--env",
        env,
        "--version",
        version,
        "--auto-approve",
    ];
    args.extend_from_slice(extra);
    p.run_with(&[("STATECTL_NOW", now)], &args)
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr))
}

/// Adds a network security group (no data) and a blob container (data) to
/// v1.1.0, and changes one property.
fn make_v1_1(p: &Project) {
    let net = p.read("specs/chatwoot/networking.toml");
    p.write(
        "specs/chatwoot/networking.toml",
        &format!("{net}\n[nsg_extra]\ntype = \"Microsoft.Network/networkSecurityGroups\"\nname = \"${{var.product}}-${{env.name}}-nsg-extra-${{env.region}}\"\nproperties.resource_group = \"${{networking.rg.name}}\"\nproperties.location = \"${{env.region}}\"\n"),
    );
    let data = p
        .read("specs/chatwoot/data.toml")
        .replace("capacity = 1\n", "capacity = 2\n");
    p.write(
        "specs/chatwoot/data.toml",
        &format!("{data}\n[exports_container]\ntype = \"Microsoft.Storage/storageAccounts/blobServices/containers\"\nname = \"exports\"\nproperties.parent = \"${{data.uploads.id}}\"\nproperties.container_access_type = \"private\"\n"),
    );
}

#[test]
fn rollback_returns_to_the_previous_release_and_keeps_data() {
    let p = Project::copy_of_repo();
    assert_eq!(apply(&p, IN_WINDOW, "dev", "v1.0.0", &[]).code, 0);
    make_v1_1(&p);
    let r = apply(&p, IN_WINDOW, "dev", "v1.1.0", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Plan: 2 to add, 1 to change, 0 to replace, 0 to destroy"),
        "{}",
        r.stdout
    );

    let r = p.run(&["rollback", "--estate", EST, "--env", "dev", "--list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("RELEASE"));
    assert!(
        lines[1].starts_with("v1.1.0") && lines[2].starts_with("v1.0.0"),
        "{}",
        r.stdout
    );

    let r = p.run(&[
        "rollback",
        "--estate",
        EST,
        "--env",
        "dev",
        "--auto-approve",
        "--reason",
        "v1.1.0 broke logins",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("rolling back chatwoot/dev from v1.1.0 to v1.0.0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "data.exports_container is no longer in the release but is kept: it holds data"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to replace, 1 to destroy"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Rollback succeeded: generation 3 of chatwoot/dev, release v1.0.0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "kept (they hold data; pass --allow-data-loss to delete them): data.exports_container"
        ),
        "{}",
        r.stdout
    );

    // Observed state equals v1.0.0 plus the kept container.
    let r = p.run(&["state", "list", "--estate", EST, "--env", "dev"]);
    let got: Vec<&str> = r.stdout.lines().collect();
    assert!(
        got.contains(&"data.exports_container") && !got.contains(&"networking.nsg_extra"),
        "{}",
        r.stdout
    );
    assert_eq!(got.len(), 65);
    let r = p.run(&[
        "state",
        "show",
        "data.redis",
        "--estate",
        EST,
        "--env",
        "dev",
    ]);
    assert!(r.stdout.contains("properties.capacity = 1"), "{}", r.stdout);

    // History and audit show the rollback with its reason.
    let h = json(&p.run(&["history", "--estate", EST, "--env", "dev", "--json"]));
    assert_eq!(h[2]["kind"], "rollback");
    assert_eq!(h[2]["release"], "v1.0.0");
    assert_eq!(
        h[2]["reason"],
        "rollback from v1.1.0 to v1.0.0: v1.1.0 broke logins"
    );
    let a = json(&p.run(&["audit", "--estate", EST, "--env", "dev", "--json"]));
    let last = a.as_array().unwrap().last().unwrap();
    assert_eq!(last["what"], "rollback");
    assert!(
        last["why"]
            .as_str()
            .unwrap()
            .contains("v1.1.0 broke logins")
    );

    // --to picks a release; one never applied is refused.
    let r = p.run(&[
        "rollback",
        "--estate",
        EST,
        "--env",
        "dev",
        "--to",
        "v1.1.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("rolling back chatwoot/dev from v1.0.0 to v1.1.0"),
        "{}",
        r.stdout
    );
    let r = p.run(&[
        "rollback",
        "--estate",
        EST,
        "--env",
        "dev",
        "--to",
        "v9.0.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("release v9.0.0 was never applied successfully to chatwoot/dev"),
        "{}",
        r.stderr
    );
}

/// dev -> staging -> prod for v1.0.0, in prod's window.
fn promote_to_prod(p: &Project, now: &str) {
    for env in ["dev", "staging", "prod"] {
        let r = apply(p, now, env, "v1.0.0", &[]);
        assert_eq!(r.code, 0, "{env}: {}\n{}", r.stdout, r.stderr);
    }
}

#[test]
fn emergency_restore_of_lost_data_services_reports_rpo_and_rto() {
    let p = Project::copy_of_repo();
    // Applied Sunday 02:30 EST; the database and the cache are lost at 05:50 EST.
    promote_to_prod(&p, IN_WINDOW);
    let lost_at = [("STATECTL_NOW", "2026-11-29T10:50:00Z")];
    for key in ["data.postgres", "data.redis"] {
        let r = p.run_with(&lost_at, &["sim", "delete", key, "--env", "prod"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // 06:30 EST: outside the window. Without --emergency the apply is refused.
    let after = "2026-11-29T11:30:00Z";
    let restore = [
        "--target",
        "module.data",
        "--replace",
        "data.postgres",
        "--replace",
        "data.redis",
        "--allow-data-loss",
    ];
    let r = apply(&p, after, "prod", "v1.0.0", &restore);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("refused by prod.maintenance-window"),
        "{}",
        r.stdout
    );
    let r = apply(
        &p,
        after,
        "prod",
        "v1.0.0",
        &[&restore[..], &["--emergency"]].concat(),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--emergency needs --reason"),
        "{}",
        r.stderr
    );

    let r = apply(
        &p,
        after,
        "prod",
        "v1.0.0",
        &[
            &restore[..],
            &["--emergency", "--reason", "INC-7: primary lost"],
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("note: emergency apply outside the maintenance window"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Emergency apply succeeded"),
        "{}",
        r.stdout
    );
    // PostgreSQL: point-in-time within its 5-minute granularity; Redis: the
    // last RDB snapshot (every 60 minutes since 02:30), 20 minutes before the loss.
    assert!(r.stdout.contains("restored data.postgres from its backup at 2026-11-29T10:45:00Z: data-loss window 5m (RPO achieved), took 30m (RTO achieved)"), "{}", r.stdout);
    assert!(r.stdout.contains("restored data.redis from its backup at 2026-11-29T10:30:00Z: data-loss window 20m (RPO achieved), took 25m (RTO achieved)"), "{}", r.stdout);

    // Recorded in the generation.
    let h = json(&p.run(&["history", "--estate", EST, "--env", "prod", "--json"]));
    let g = h.as_array().unwrap().last().unwrap();
    assert_eq!(g["kind"], "emergency");
    let pull = json(&p.run(&["state", "pull", "--estate", EST, "--env", "prod"]));
    let restores = pull["generation"]["restores"].as_array().unwrap();
    assert_eq!(restores.len(), 2);
    let redis = restores
        .iter()
        .find(|r| r["address"] == "data.redis")
        .unwrap();
    assert_eq!(redis["data_loss_seconds"], 1200);
    assert_eq!(redis["restore_point"], "2026-11-29T10:30:00Z");

    // The state again equals the release: no drift, nothing to plan.
    let r = p.run(&["drift", "--estate", EST, "--env", "prod"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = p.run(&[
        "plan",
        "--estate",
        EST,
        "--env",
        "prod",
        "--version",
        "v1.0.0",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn drift_is_reported_and_fixed() {
    let p = Project::copy_of_repo();
    assert_eq!(apply(&p, IN_WINDOW, "dev", "v1.0.0", &[]).code, 0);
    let r = p.run(&["drift", "--estate", EST, "--env", "dev"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.starts_with("no drift"), "{}", r.stdout);

    p.run(&["sim", "set", "data.redis", "capacity=3", "--env", "dev"]);
    p.run(&["sim", "delete", "monitoring.alert_node_cpu", "--env", "dev"]);
    // Something in the stack's resource group that statectl does not manage.
    {
        use statectl::provider::{Operation, Provider, ResolvedResource};
        let sim = statectl::provider::sim::Sim::open(
            &p.state_dir(),
            std::sync::Arc::new(statectl::clock::SystemClock),
            statectl::provider::sim::SimTiming::Zero,
            statectl::provider::sim::SimDurability::Durable,
        )
        .unwrap();
        let r = ResolvedResource {
            address: "manual.ip".parse().unwrap(),
            arm_type: "Microsoft.Network/publicIPAddresses".into(),
            name: "someone-clicked-this".into(),
            subscription: "00000000-0000-4000-8000-000000000001".into(),
            properties: [(
                "resource_group".to_string(),
                statectl::model::Value::String("chatwoot-dev-rg-eastus".into()),
            )]
            .into_iter()
            .collect(),
            tags: Default::default(),
            dependencies: Default::default(),
            prevent_destroy: false,
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(sim.put(Operation::Create, &r))
            .unwrap();
    }
    let r = p.run(&["drift", "--estate", EST, "--env", "dev"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("  ~ data.redis capacity: 1 -> 3 (changed outside statectl)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("  - monitoring.alert_node_cpu was deleted outside statectl"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("publicIPAddresses/someone-clicked-this (Microsoft.Network/publicIPAddresses) is not managed by statectl"), "{}", r.stdout);
    let j = json(&p.run(&["drift", "--estate", EST, "--env", "dev", "--json"]));
    assert_eq!(j["drift"], true);
    assert_eq!(
        j["deleted"],
        serde_json::json!(["monitoring.alert_node_cpu"])
    );
    // Drift records nothing: history still has one generation.
    let h = json(&p.run(&["history", "--estate", EST, "--env", "dev", "--json"]));
    assert_eq!(h.as_array().unwrap().len(), 1);

    let r = p.run(&[
        "drift",
        "--estate",
        EST,
        "--env",
        "dev",
        "--fix",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Plan: 1 to add, 1 to change, 0 to replace, 0 to destroy"),
        "{}",
        r.stdout
    );
    let r = p.run(&["drift", "--estate", EST, "--env", "dev", "--json"]);
    let j = json(&r);
    assert!(
        j["changed"].as_array().unwrap().is_empty() && j["deleted"].as_array().unwrap().is_empty(),
        "{}",
        r.stdout
    );
    // The unmanaged resource is reported, never deleted by --fix.
    assert_eq!(j["unmanaged"].as_array().unwrap().len(), 1);
    assert_eq!(r.code, 2);
}

#[test]
fn production_rules_destroy_window_promotion_and_exceptions() {
    let p = Project::copy_of_repo();
    // Promotion order: staging before dev, prod before staging are refused.
    let r = apply(&p, IN_WINDOW, "staging", "v1.0.0", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("refused by prod.promotion-gate: release v1.0.0 has not succeeded in dev"),
        "{}",
        r.stdout
    );
    assert_eq!(apply(&p, IN_WINDOW, "dev", "v1.0.0", &[]).code, 0);
    let r = apply(&p, IN_WINDOW, "prod", "v1.0.0", &[]);
    assert!(
        r.stdout.contains("has not succeeded in staging"),
        "{}",
        r.stdout
    );
    // --skip-gate with a reason overrides, audited.
    let r = apply(
        &p,
        IN_WINDOW,
        "staging",
        "v1.0.0",
        &["--skip-gate", "--reason", "hotfix verified by QA"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Outside the window prod is refused (Monday 10:00 EST).
    let monday = "2026-11-30T15:00:00Z";
    let r = apply(&p, monday, "prod", "v1.0.0", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("refused by prod.maintenance-window: prod takes changes only in its maintenance window (sunday 02:00-06:00 America/New_York)"), "{}", r.stdout);
    assert!(r.stdout.contains("--emergency --reason"), "{}", r.stdout);
    let r = apply(&p, IN_WINDOW, "prod", "v1.0.0", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let a = json(&p.run(&["audit", "--estate", EST, "--env", "prod", "--json"]));
    assert!(
        a.as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "apply.refused"),
        "{a}"
    );

    // Destroy is refused in prod; an expired exception does not help, and says so.
    p.write(
        "specs/chatwoot/exceptions.toml",
        "[[exception]]\nrule = \"prod.destroy-protection\"\nscope = \"*\"\njustification = \"decommissioning\"\napprover = \"cab@chatwoot.example\"\nexpires = \"2026-01-31\"\n",
    );
    let r = p.run_with(
        &[("STATECTL_NOW", IN_WINDOW)],
        &[
            "destroy",
            "--estate",
            EST,
            "--env",
            "prod",
            "--allow-data-loss",
            "--auto-approve",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("refused by prod.destroy-protection: prod forbids destroying resources"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("expired on 2026-01-31; not applied"),
        "{}",
        r.stdout
    );
    // An active exception with justification and approver allows it.
    p.write(
        "specs/chatwoot/exceptions.toml",
        &p.read("specs/chatwoot/exceptions.toml")
            .replace("2026-01-31", "2026-12-31"),
    );
    let r = p.run_with(
        &[("STATECTL_NOW", IN_WINDOW)],
        &[
            "destroy",
            "--estate",
            EST,
            "--env",
            "prod",
            "--allow-data-loss",
            "--auto-approve",
            "--reason",
            "CHG-1",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("allowed by exception"), "{}", r.stdout);
    let r = p.run(&["state", "list", "--estate", EST, "--env", "prod"]);
    assert_eq!(r.stdout, "");
    // A broken exception file is an error naming file and line.
    p.write("specs/chatwoot/exceptions.toml", "[[exception]]\nrule = \"x\"\nscope = \"*\"\njustification = \"j\"\napprover = \"a\"\nexpires = \"soon\"\n");
    let r = apply(
        &p,
        IN_WINDOW,
        "dev",
        "v1.0.0",
        &["--replace", "networking.nsg_aks"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--> specs/chatwoot/exceptions.toml:6:11")
            && r.stderr.contains("`soon` is not a date"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_release_that_fails_its_checks_is_not_promoted() {
    let p = Project::copy_of_repo();
    promote_to_prod(&p, IN_WINDOW);
    // v1.1.0 opens the Redis cache to the internet (the second data service).
    let data = p.read("specs/chatwoot/data.toml");
    let mut seen = 0;
    let opened: Vec<String> = data
        .lines()
        .map(|l| {
            if l == "public_network_access_enabled = false" {
                seen += 1;
                if seen == 2 {
                    return "public_network_access_enabled = true".to_string();
                }
            }
            l.to_string()
        })
        .collect();
    p.write("specs/chatwoot/data.toml", &(opened.join("\n") + "\n"));

    // dev takes it (no gate); staging refuses, naming the failed check.
    assert_eq!(apply(&p, IN_WINDOW, "dev", "v1.1.0", &[]).code, 0);
    let r = apply(&p, IN_WINDOW, "staging", "v1.1.0", &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("refused by prod.promotion-gate: release v1.1.0 fails")
            && r.stdout
                .contains("verification check(s) in staging: private."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("statectl verify --env staging"),
        "{}",
        r.stdout
    );
    // Overridden with a reason, audited; prod still refuses on its own.
    let r = apply(
        &p,
        IN_WINDOW,
        "staging",
        "v1.1.0",
        &["--skip-gate", "--reason", "testing the gate"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("note: promotion gate skipped (v1.1.0 fails"),
        "{}",
        r.stdout
    );
    let r = apply(&p, IN_WINDOW, "prod", "v1.1.0", &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("verification check(s) in prod"),
        "{}",
        r.stdout
    );
    let h = json(&p.run(&["history", "--estate", EST, "--env", "prod", "--json"]));
    assert_eq!(h.as_array().unwrap().len(), 1, "prod still on v1.0.0");
}
