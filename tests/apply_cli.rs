//! `statectl plan` and `statectl apply` end to end on the simulated cloud,
//! driving the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeSet;

use statectl::model::Stack;
use statectl::spec::Loader;
use statectl::store::{Store, StoreOptions};
use util::Project;

fn sim_addresses(p: &Project) -> BTreeSet<String> {
    let r = p.run(&["sim", "list", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn apply_chatwoot_prod_from_empty_then_noop_then_one_change() {
    let p = Project::copy_of_repo();
    // Prod takes releases promoted through dev and staging, in its window.
    let now = [("STATECTL_NOW", util::IN_WINDOW)];
    let apply = |env: &str, v: &str| {
        p.run_with(
            &now,
            &[
                "apply",
                "--estate",
                "chatwoot",
                "--env",
                env,
                "--version",
                v,
                "--auto-approve",
            ],
        )
    };
    for env in ["dev", "staging"] {
        let r = apply(env, "v1.0.0");
        assert_eq!(r.code, 0, "{env}: {}\n{}", r.stdout, r.stderr);
    }
    let r = apply("prod", "v1.0.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("Plan: 64 to add, 0 to change, 0 to replace, 0 to destroy; 0 unchanged."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "Apply succeeded: generation 1 of chatwoot/prod, release v1.0.0; 64 operation(s)"
        ),
        "{}",
        r.stdout
    );

    // The simulated cloud holds exactly the desired resources (of all three stacks).
    let mut want = BTreeSet::new();
    for env in ["dev", "staging", "prod"] {
        let desired = Loader::new(p.path()).load("chatwoot", env).unwrap();
        want.extend(desired.resources().keys().map(|a| a.to_string()));
    }
    assert_eq!(sim_addresses(&p), want);
    let r = p.run(&["sim", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let prod = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"].as_str().unwrap().contains("chatwoot-prod-rg"))
        .count();
    assert_eq!(prod, 64);

    // A second plan is empty.
    let r = p.run(&[
        "plan",
        "--estate",
        "chatwoot",
        "--env",
        "prod",
        "--version",
        "v1.0.0",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("No changes. 64 resources match the release."),
        "{}",
        r.stdout
    );

    // Change one property; v1.1.0 changes only that resource. (Backups
    // twice as often: a change every guarantee still holds for; a bigger
    // cache would be an unpriced size, which the promotion gate refuses.)
    let data = p.read("specs/chatwoot/data.toml").replace(
        "rdb_backup_frequency_minutes = 60\n",
        "rdb_backup_frequency_minutes = 30\n",
    );
    p.write("specs/chatwoot/data.toml", &data);
    let r = p.run(&[
        "plan",
        "--estate",
        "chatwoot",
        "--env",
        "prod",
        "--version",
        "v1.1.0",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("~ data.redis Microsoft.Cache/redis will be updated in place\n      ~ rdb_backup_frequency_minutes = 60 -> 30\n"), "{}", r.stdout);
    for env in ["dev", "staging"] {
        let r = apply(env, "v1.1.0");
        assert_eq!(r.code, 0, "{env}: {}\n{}", r.stdout, r.stderr);
    }
    let r = apply("prod", "v1.1.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("backed up generation 1 of chatwoot/prod before applying"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy; 63 unchanged."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[1/1] update data.redis ok"),
        "{}",
        r.stdout
    );

    // History shows both generations; generation 2 changed one resource.
    let r = p.run(&["history", "--estate", "chatwoot", "--env", "prod", "--json"]);
    let h: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let releases: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["release"].as_str().unwrap())
        .collect();
    assert_eq!(releases, ["v1.0.0", "v1.1.0"]);
    let store = Store::open_existing(&p.state_dir(), StoreOptions::default()).unwrap();
    let stack = Stack::new("chatwoot", "prod").unwrap();
    assert_eq!(store.backups(&stack).unwrap().len(), 1);
    let g2 = store.generation(&stack, 2).unwrap();
    let changed: Vec<String> = store
        .generation_changes(&g2)
        .unwrap()
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(changed, ["data.redis"]);
    let redis = store
        .observed_resource(&g2, &"data.redis".parse().unwrap())
        .unwrap();
    assert_eq!(
        redis.properties["rdb_backup_frequency_minutes"],
        statectl::model::Value::Int(30)
    );
    // Secrets the cloud returned are sealed in the store.
    assert!(matches!(
        redis.sensitive["primary_access_key"],
        statectl::model::Secret::Sealed(_)
    ));
}

#[test]
fn the_sim_rejects_a_private_endpoint_before_its_zone_link() {
    let p = Project::minimal();
    let net = format!(
        "{}{}",
        util::NET_SHOP,
        r#"
[subnet]
type = "Microsoft.Network/virtualNetworks/subnets"
name = "snet-pe"
properties.parent = "${net.vnet.id}"

[zone]
type = "Microsoft.Network/privateDnsZones"
name = "privatelink.blob.core.windows.net"
properties.resource_group = "${net.rg.name}"

[link]
type = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
name = "link-blob"
properties.parent = "${net.zone.id}"
properties.virtual_network_id = "${net.vnet.id}"

[storage]
type = "Microsoft.Storage/storageAccounts"
name = "shopdevst"
properties.resource_group = "${net.rg.name}"

[pe]
type = "Microsoft.Network/privateEndpoints"
name = "shop-dev-pe-blob"
DEPENDS
[pe.properties]
resource_group = "${net.rg.name}"
subnet_id = "${net.subnet.id}"
private_connection_resource_id = "${net.storage.id}"
group_id = "blob"
private_dns_zone_ids = ["${net.zone.id}"]
"#
    );
    // Without the depends_on, the endpoint is ready before the link exists.
    p.write("specs/shop/net.toml", &net.replace("DEPENDS\n", ""));
    let r = p.run(&[
        "apply",
        "--estate",
        "shop",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("create net.pe FAILED: PrivateDnsZoneNotLinked"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("apply partial with 1 operation(s) not applied"),
        "{}",
        r.stderr
    );

    // With it, the same estate applies.
    let fresh = Project::minimal();
    fresh.write(
        "specs/shop/net.toml",
        &net.replace("DEPENDS\n", "depends_on = [\"net.link\"]\n"),
    );
    let r = fresh.run(&[
        "apply",
        "--estate",
        "shop",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("create net.pe ok"), "{}", r.stdout);
}

#[test]
fn saved_plans_blocked_deletes_json_and_confirmation() {
    let p = Project::copy_of_repo();
    let apply = |v: &str| {
        p.run(&[
            "apply",
            "--estate",
            "vc-reporting",
            "--env",
            "dev",
            "--version",
            v,
            "--auto-approve",
        ])
    };
    assert_eq!(apply("v1.0.0").code, 0);

    // JSON in the shape of `terraform show -json`.
    let data = p.read("specs/vc-reporting/storage.toml");
    let changed = data.replacen(
        "minimum_tls_version = \"1.2\"",
        "minimum_tls_version = \"1.3\"",
        1,
    );
    assert_ne!(changed, data, "storage.toml sets minimum_tls_version");
    p.write("specs/vc-reporting/storage.toml", &changed);
    let r = p.run(&[
        "plan",
        "--estate",
        "vc-reporting",
        "--env",
        "dev",
        "--version",
        "v1.1.0",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["format_version"], "1.2");
    let rc = &j["resource_changes"][0];
    assert_eq!(rc["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(rc["change"]["after"]["minimum_tls_version"], "1.3");
    assert_eq!(rc["change"]["before"]["minimum_tls_version"], "1.2");
    assert!(rc["change"]["after_unknown"].is_object());
    assert!(rc["address"].as_str().unwrap().starts_with("storage."));

    // Without --auto-approve and without a terminal, apply refuses.
    let r = p.run(&[
        "apply",
        "--estate",
        "vc-reporting",
        "--env",
        "dev",
        "--version",
        "v1.1.0",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("stdin is not a terminal; review the plan and pass --auto-approve"),
        "{}",
        r.stderr
    );

    // A saved plan applies once; after observed state moved it is refused.
    let plan_file = p.path().join("plan.json");
    let r = p.run(&[
        "plan",
        "--estate",
        "vc-reporting",
        "--env",
        "dev",
        "--version",
        "v1.1.0",
        "--out",
        plan_file.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = p.run(&[
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--auto-approve",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("observed state moved since; make a new plan"),
        "{}",
        r.stderr
    );
    // An edited plan file is refused.
    let text = std::fs::read_to_string(&plan_file)
        .unwrap()
        .replace("1.3", "1.0");
    std::fs::write(&plan_file, text).unwrap();
    let r = p.run(&[
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--auto-approve",
    ]);
    assert!(
        r.stderr.contains("edited after it was made"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_crash_mid_apply_is_reconciled_and_finished_with_resume() {
    let p = Project::copy_of_repo();
    // The process aborts right after the 20th operation took effect in the cloud.
    let r = p.run(&["sim", "fault", "crash-at", "--op", "20"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "apply",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
    ]);
    assert!(
        r.code != 0 && r.code != 1,
        "the process should have been aborted, got {}:\n{}",
        r.code,
        r.stdout
    );
    p.run(&["sim", "fault", "clear"]);

    // The next command sees the interrupted apply.
    let r = p.run(&[
        "plan",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "was interrupted; run `statectl apply --estate openai-platform --env dev --resume`"
        ),
        "{}",
        r.stderr
    );
    let r = p.run(&[
        "apply",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 1);

    let r = p.run(&[
        "apply",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
        "--resume",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("reconciled interrupted generation 1 from the provider"),
        "{}",
        r.stdout
    );

    // Converged: the cloud holds exactly the desired resources, once each, and
    // the store tracks every one of them.
    let desired = Loader::new(p.path())
        .load("openai-platform", "dev")
        .unwrap();
    let want: BTreeSet<String> = desired.resources().keys().map(|a| a.to_string()).collect();
    let r = p.run(&["sim", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let all: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), want.len(), "no resource twice");
    assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), want);
    let r = p.run(&[
        "state",
        "list",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
    ]);
    let tracked: BTreeSet<String> = r.stdout.lines().map(str::to_string).collect();
    assert_eq!(tracked, want, "nothing untracked");
    let r = p.run(&[
        "plan",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = p.run(&[
        "history",
        "--estate",
        "openai-platform",
        "--env",
        "dev",
        "--json",
    ]);
    let h: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let outcomes: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["partial", "succeeded"]);
}

#[test]
fn deleting_a_stateful_resource_is_blocked_without_allow_data_loss() {
    let p = Project::copy_of_repo();
    let r = p.run(&[
        "apply",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Nothing depends on the backups container; it holds data.
    let data = p.read("specs/chatwoot/data.toml");
    let start = data.find("[backups_container]").unwrap();
    p.write("specs/chatwoot/data.toml", &data[..start]);
    let r = p.run(&[
        "plan",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--version",
        "v2.0.0",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("  - data.backups_container Microsoft.Storage/storageAccounts/blobServices/containers will be destroyed"), "{}", r.stdout);
    assert!(r.stdout.contains("! blocked: deleting data.backups_container would lose data (it holds data); pass --allow-data-loss to allow it"), "{}", r.stdout);
    assert_eq!(r.stderr, "error: 1 action(s) blocked; see the plan above\n");
    let r = p.run(&[
        "apply",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--version",
        "v2.0.0",
        "--auto-approve",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("blocked; nothing was applied"),
        "{}",
        r.stderr
    );
    let r = p.run(&[
        "apply",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--version",
        "v2.0.0",
        "--auto-approve",
        "--allow-data-loss",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("[1/1] delete data.backups_container ok"),
        "{}",
        r.stdout
    );
    let r = p.run(&["sim", "show", "data.backups_container"]);
    assert_eq!(r.code, 1);
}

#[test]
fn a_lost_store_key_stops_every_writer_before_the_cloud_changes_and_no_key_is_made() {
    let p = Project::copy_of_repo();
    let stack = ["--estate", "chatwoot", "--env", "dev"];
    let apply = |v: &str| {
        let args = [&["apply", "--version", v, "--auto-approve"][..], &stack].concat();
        p.run(&args)
    };
    let r = apply("v1.0.0");
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The first sealed secret made the key, and said so.
    let audit = p.run(&["audit", "--json"]);
    assert!(
        audit.stdout.contains("store.key.create"),
        "{}",
        audit.stdout
    );
    let key = p.state_dir().join("local.key");
    assert!(key.exists());
    std::fs::remove_file(&key).unwrap();

    let data = p.read("specs/chatwoot/data.toml");
    p.write(
        "specs/chatwoot/data.toml",
        &data.replacen("capacity = 1\n", "capacity = 2\n", 1),
    );
    let before = sim_addresses(&p);
    let sim_before = p.run(&["sim", "list", "--json"]).stdout;
    let history = |p: &Project| p.run(&[&["history", "--json"][..], &stack].concat()).stdout;
    let hist_before = history(&p);
    let want = "the store's secrets are sealed under a data key wrapped by the key file";
    for args in [
        vec!["apply", "--version", "v1.1.0", "--auto-approve"],
        vec!["refresh"],
        vec!["destroy", "--allow-data-loss", "--auto-approve"],
        vec!["state", "pull", "--show-sensitive"],
        vec!["state", "show", "data.redis", "--show-sensitive"],
    ] {
        let r = p.run(&[&args[..], &stack].concat());
        assert_eq!(r.code, 1, "{args:?}: {}", r.stdout);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(!key.exists(), "{args:?} created a new key file");
        assert_eq!(history(&p), hist_before, "{args:?} recorded a generation");
        assert_eq!(
            p.run(&["sim", "list", "--json"]).stdout,
            sim_before,
            "{args:?} changed the cloud"
        );
    }
    assert_eq!(sim_addresses(&p), before);
    // Reading without secrets still works.
    let r = p.run(&[&["state", "list"][..], &stack].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Issue 15, finding 6: a secret changed out of band is reported by drift,
/// never shown, in text or JSON.
#[test]
fn a_secret_set_out_of_band_is_reported_by_drift_never_shown() {
    let p = Project::copy_of_repo();
    let stack = ["--estate", "chatwoot", "--env", "dev"];
    let r = p.run(
        &[
            &["apply", "--version", "v1.0.0", "--auto-approve"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&[
        "sim",
        "set",
        "data.postgres",
        "administrator_password=hunter2-out-of-band",
        "--env",
        "dev",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("hunter2"), "{}", r.stdout);
    let r = p.run(&["sim", "show", "data.postgres", "--env", "dev"]);
    assert!(!r.stdout.contains("hunter2"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("properties.administrator_password = (sensitive)"),
        "{}",
        r.stdout
    );
    for json in [false, true] {
        let mut args = [&["drift"][..], &stack].concat();
        if json {
            args.push("--json");
        }
        let r = p.run(&args);
        assert_eq!(r.code, 2, "{json}: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains("hunter2"), "{json}: {}", r.stdout);
        assert!(!r.stderr.contains("hunter2"), "{json}: {}", r.stderr);
        assert!(
            r.stdout.contains("administrator_password"),
            "{json}: {}",
            r.stdout
        );
        assert!(r.stdout.contains("(sensitive)"), "{json}: {}", r.stdout);
    }
}
