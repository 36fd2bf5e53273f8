//! The simulated control plane through `statectl sim` and apply: injected
//! failures stop dependents but not independent work; a deleted Key Vault
//! stays soft-deleted, holds its name, and purge protection forbids purging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use util::Project;

#[test]
fn an_injected_failure_stops_dependents_and_independent_work_goes_on() {
    let p = Project::copy_of_repo();
    let r = p.run(&[
        "sim",
        "fault",
        "fail-nth",
        "--nth",
        "1",
        "--type",
        "Microsoft.Network/virtualNetworks",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
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
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("create networking.vnet FAILED: InjectedFault"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("create networking.subnet_aks skipped: needs networking.vnet, which failed"),
        "{}",
        r.stdout
    );
    // Independent work still ran.
    assert!(
        r.stdout.contains("create networking.nsg_aks ok"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Apply partial: generation 1 of chatwoot/dev"),
        "{}",
        r.stdout
    );
    let h = p.run(&["history", "--estate", "chatwoot", "--env", "dev", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(v[0]["outcome"], "partial");
    assert!(
        v[0]["summary"][0]
            .as_str()
            .unwrap()
            .contains("networking.vnet failed: InjectedFault"),
        "{}",
        h.stdout
    );
    // The fault was one-shot: applying again finishes the work.
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
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = p.run(&[
        "plan",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn deleted_key_vaults_stay_soft_deleted_and_purge_protection_holds() {
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
    // Out-of-band delete: children first (the sim refuses a delete in use).
    for child in [
        "security.appgw_cert",
        "security.postgres_admin_password",
        "security.pe_vault",
        "monitoring.diag_kv",
        "app_gateway.kv_secrets_user",
        "security.deployer_cert_officer",
    ] {
        let r = p.run(&["sim", "delete", child]);
        assert_eq!(r.code, 0, "{child}: {}", r.stderr);
    }
    let r = p.run(&["sim", "delete", "security.kv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = p.run(&["sim", "soft-deleted"]);
    assert!(
        r.stdout.contains("chatwoot-dev-kv-eastus")
            && r.stdout.contains("90d")
            && r.stdout.contains("yes"),
        "{}",
        r.stdout
    );
    // An emergency replace restores it: for a soft-deleted vault that is a
    // recovery (ARM's createMode "recover"), which frees the name.
    let r = p.run(&[
        "apply",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--version",
        "v1.0.0",
        "--auto-approve",
        "--replace",
        "security.kv",
        "--allow-data-loss",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("restored security.kv from its backup"),
        "{}",
        r.stdout
    );
    let r = p.run(&["sim", "soft-deleted"]);
    assert!(!r.stdout.contains("chatwoot-dev-kv-eastus"), "{}", r.stdout);

    // Destroyed, the vault is soft-deleted again and its name is held: a
    // plain create fails like ARM does.
    let r = p.run(&[
        "destroy",
        "--estate",
        "chatwoot",
        "--env",
        "dev",
        "--auto-approve",
        "--allow-data-loss",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
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
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("VaultAlreadyExists"), "{}", r.stdout);
    assert!(r.stdout.contains("purge protection is on"), "{}", r.stdout);
    // And purge protection forbids purging it.
    let r = p.run(&["sim", "purge", "chatwoot-dev-kv-eastus"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("has purge protection: it cannot be purged before its 90-day retention ends"),
        "{}",
        r.stderr
    );
}
