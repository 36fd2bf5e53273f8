//! The step library, in operator language. Every step either does what it
//! says through the library or the real binary, or asserts with a message
//! that says what was expected and what was found.

use cucumber::{given, then, when};
use statectl::model::{Address, Interval};
use statectl::verify::{self, inject};

use crate::world::Ops;

fn addresses(list: &str) -> Vec<Address> {
    list.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|e| panic!("`{}` is not an address: {e}", s.trim()))
        })
        .collect()
}

/// "4 hours", "1 hour", "15 minutes", "90 minutes".
fn duration(text: &str) -> Interval {
    let mut words = text.split_whitespace();
    let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        panic!("`{text}` is not a duration: write e.g. \"4 hours\" or \"15 minutes\"");
    };
    let n: u64 = n
        .parse()
        .unwrap_or_else(|_| panic!("`{n}` is not a number"));
    match unit.trim_end_matches('s') {
        "hour" => Interval::from_hours(n),
        "minute" => Interval::from_mins(n),
        "second" => Interval::from_secs(n),
        _ => panic!("`{unit}`: use hours, minutes or seconds"),
    }
}

// ---- Given -----------------------------------------------------------------

#[given(expr = "the {string} estate in the {string} environment")]
fn estate_in_env(w: &mut Ops, estate: String, env: String) {
    w.load(&estate, &env);
}

#[given(expr = "release {string} of the {string} estate runs in {string}")]
fn release_runs(w: &mut Ops, version: String, estate: String, env: String) {
    w.estate_name = estate;
    w.promote(&version, &env);
}

#[given(expr = "a working copy of the {string} estate")]
fn working_copy(w: &mut Ops, estate: String) {
    w.estate_name = estate;
    w.copy();
}

#[given(expr = "the specs set {string} of {string} to {int}")]
fn specs_set(w: &mut Ops, key: String, address: String, value: i64) {
    let a: Address = address.parse().unwrap_or_else(|e| panic!("{e}"));
    let module = a.module().to_string();
    let name = a.name().to_string();
    let rel = format!("specs/{}/{module}.toml", w.estate_name);
    let text = w.copy().read(&rel);
    let header = format!("[{name}.properties]");
    let mut out = Vec::new();
    let (mut inside, mut done) = (false, false);
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            if inside && !done {
                out.push(format!("{key} = {value}"));
                done = true;
            }
            inside = line.trim() == header;
        }
        if inside && line.split('=').next().map(str::trim) == Some(key.as_str()) {
            out.push(format!("{key} = {value}"));
            done = true;
            continue;
        }
        out.push(line.to_string());
    }
    if inside && !done {
        out.push(format!("{key} = {value}"));
        done = true;
    }
    assert!(done, "{rel} has no `{header}` section");
    w.copy().write(&rel, &(out.join("\n") + "\n"));
}

#[given(expr = "release {string} is promoted to {string}")]
fn promoted(w: &mut Ops, version: String, env: String) {
    w.promote(&version, &env);
}

#[given(expr = "release {string} is promoted to {string} past the gate, because {string}")]
fn promoted_past_gate(w: &mut Ops, version: String, env: String, reason: String) {
    w.promote_with(&version, &env, &["--skip-gate", "--reason", &reason]);
}

#[then(expr = "promoting release {string} to {string} is refused by the {string} check")]
fn promotion_refused(w: &mut Ops, version: String, env: String, rule: String) {
    let r = w
        .try_promote(&version, &env)
        .unwrap_or_else(|| panic!("release {version} reached {env}"));
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains("refused by prod.promotion-gate: release")
            && r.stdout.contains("verification check(s)")
            && r.stdout.contains(&rule),
        "{r}"
    );
}

#[when(expr = "release {string} is promoted to {string}")]
fn promoted_now(w: &mut Ops, version: String, env: String) {
    w.promote(&version, &env);
}

#[given(expr = "the date is {string}")]
fn the_date_is(w: &mut Ops, date: String) {
    w.today = Some(date);
}

// ---- When: faults ----------------------------------------------------------

#[when(regex = r"^the estate is broken: (.+)$")]
fn broken(w: &mut Ops, what: String) {
    w.break_estate(&what);
}

#[when("an action of its first-apply plan is moved before what it needs")]
fn plan_reordered(w: &mut Ops) {
    let plan = verify::first_apply_plan(w.estate()).unwrap_or_else(|e| panic!("{e}"));
    w.reordered = Some(inject::reorder_plan(&plan).expect("no action needs another"));
}

#[then("the plan-order check names the moved action")]
fn plan_order_caught(w: &mut Ops) {
    let (bad, moved) = w.reordered.clone().expect("reorder a plan first");
    let found = verify::check_plan_order(&bad, w.estate());
    assert!(
        found
            .iter()
            .any(|f| f.rule == "ordering.plan" && f.address.as_ref() == Some(&moved)),
        "moving {moved} before what it needs went unnoticed: {found:?}"
    );
}

// ---- When: operations ------------------------------------------------------

#[when(
    regex = r#"^"([^"]+)" (?:is|are) lost(?: (\d+) hours? after the apply)? and restored with replace$"#
)]
fn lost_and_restored(w: &mut Ops, list: String, hours: String) {
    let after = hours.parse::<i64>().unwrap_or(3) * 3600;
    w.drill(addresses(&list), after, true);
}

#[when(expr = "{string} is lost and its restore is attempted")]
fn restore_attempted(w: &mut Ops, list: String) {
    w.drill(addresses(&list), 3600, false);
}

#[when(
    regex = r#"^the module "([^"]+)" is lost(?: (\d+) hours? after the apply)? and restored with replace$"#
)]
fn module_lost(w: &mut Ops, module: String, hours: String) {
    // Every stateful resource of the module that keeps a backup it can be
    // restored from: what a module restore brings back.
    let lost: Vec<Address> = w
        .estate()
        .resources()
        .values()
        .filter(|r| r.address.module() == module)
        .filter(|r| {
            statectl::catalog::lookup(&r.arm_type)
                .is_ok_and(|rt| rt.stateful && verify::rpo_worst_case(rt, r).is_some())
        })
        .map(|r| r.address.clone())
        .collect();
    assert!(!lost.is_empty(), "module {module} holds no restorable data");
    let after = hours.parse::<i64>().unwrap_or(3) * 3600;
    w.drill(lost, after, true);
}

#[when(expr = "release {string} is applied to {string}")]
fn applied(w: &mut Ops, version: String, env: String) {
    w.apply(&env, &version, &[]);
}

#[when(expr = "release {string} is applied to {string} straight away")]
fn applied_straight_away(w: &mut Ops, version: String, env: String) {
    w.env.clone_from(&env);
    let estate = w.estate_name.clone();
    w.run(&[
        "apply",
        "--estate",
        &estate,
        "--env",
        &env,
        "--version",
        &version,
        "--auto-approve",
    ]);
}

#[when(expr = "release {string} is applied to {string} outside the maintenance window")]
fn applied_outside_window(w: &mut Ops, version: String, env: String) {
    w.env.clone_from(&env);
    // Sunday 07:00 US Eastern: an hour after the window closed.
    w.now = Some("2026-11-29T12:00:00Z".parse().expect("valid time"));
    let estate = w.estate_name.clone();
    w.run(&[
        "apply",
        "--estate",
        &estate,
        "--env",
        &env,
        "--version",
        &version,
        "--auto-approve",
    ]);
}

#[when(expr = "the specs change the {string} tag of every resource to {string}")]
fn change_tag(w: &mut Ops, tag: String, value: String) {
    let rel = format!("specs/{}/estate.toml", w.estate_name);
    let text = w.copy().read(&rel);
    assert!(text.contains("\n[tags]\n"), "{rel} has no [tags] table");
    let text = text.replace("\n[tags]\n", &format!("\n[tags]\n{tag} = \"{value}\"\n"));
    w.copy().write(&rel, &text);
}

#[when(regex = r#"^the stack is rolled back(?: with the reason "([^"]*)")?$"#)]
fn rolled_back(w: &mut Ops, reason: String) {
    let (estate, env) = (w.estate_name.clone(), w.env.clone());
    let mut args = vec![
        "rollback",
        "--estate",
        &estate,
        "--env",
        &env,
        "--auto-approve",
    ];
    if !reason.is_empty() {
        args.extend(["--reason", &reason]);
    }
    w.run(&args);
}

#[when(expr = "{string} is changed out of band: {string}")]
fn changed_out_of_band(w: &mut Ops, address: String, assignment: String) {
    let env = w.env.clone();
    w.run_ok(&["sim", "set", &address, &assignment, "--env", &env]);
}

#[when(expr = "{string} is deleted out of band")]
fn deleted_out_of_band(w: &mut Ops, address: String) {
    let env = w.env.clone();
    w.run_ok(&["sim", "delete", &address, "--env", &env]);
}

#[when("the drift is fixed")]
fn drift_fixed(w: &mut Ops) {
    let (estate, env) = (w.estate_name.clone(), w.env.clone());
    w.run_ok(&[
        "drift",
        "--estate",
        &estate,
        "--env",
        &env,
        "--fix",
        "--auto-approve",
        "--reason",
        "acceptance: drift fix",
    ]);
}

#[when(expr = "the cloud fails operation {int} of the next apply")]
fn cloud_fails(w: &mut Ops, nth: u32) {
    w.run_ok(&["sim", "fault", "fail-nth", "--nth", &nth.to_string()]);
}

#[when(expr = "release {string} is applied to {string} and fails")]
fn applied_and_fails(w: &mut Ops, version: String, env: String) {
    let estate = w.estate_name.clone();
    let r = w.run(&[
        "apply",
        "--estate",
        &estate,
        "--env",
        &env,
        "--version",
        &version,
        "--auto-approve",
    ]);
    assert_ne!(r.code, 0, "the apply was expected to fail: {r}");
}

// ---- Then: checks ----------------------------------------------------------

#[then(expr = "the {string} check passes")]
fn check_passes(w: &mut Ops, id: String) {
    w.assert_pass(&[&id]);
}

#[then("the check of the broken rule fails, naming the broken resource")]
fn broken_rule_fails(w: &mut Ops) {
    let (id, at) = w.broken.clone().expect("break the estate first");
    let report = w.report();
    let standing = w.standing(&report, id);
    match &at {
        Some(a) => {
            let mark = format!("{id} {a}:");
            assert!(
                standing.iter().any(|s| s.starts_with(&mark)),
                "{id} did not report the fault in {a}; it reported: {standing:?}"
            );
        }
        None => assert!(!standing.is_empty(), "{id} did not report the fault"),
    }
}

#[then(expr = "the {string} check fails, naming the broken resource")]
fn named_rule_fails(w: &mut Ops, id: String) {
    let (broken_rule, _) = w.broken.clone().expect("break the estate first");
    assert_eq!(
        broken_rule, id,
        "the fault injected is caught by {broken_rule}, not {id}"
    );
    broken_rule_fails(w);
}

#[then("every taggable resource carries its environment, owner and cost-center tags")]
fn tags_complete(w: &mut Ops) {
    w.assert_pass(&["tags.required", "tags.environment"]);
}

#[then("every data service is reachable only through a private endpoint")]
fn private_only(w: &mut Ops) {
    w.assert_pass(&[
        "private.public-access",
        "private.endpoint",
        "private.aks",
        "private.containers",
    ]);
}

#[then("every dependency the seeds name is ordered")]
fn ordered(w: &mut Ops) {
    w.assert_pass(&[
        "ordering.dns-before-endpoint",
        "ordering.certificate-before-gateway",
        "ordering.rbac-after-resources",
        "ordering.nodepool-after-cluster",
    ]);
}

#[then("no plan schedules an operation before its dependencies")]
fn plan_ordered(w: &mut Ops) {
    w.assert_pass(&["ordering.plan"]);
}

#[then("the backups meet the RPO and the estate can be rebuilt within the RTO")]
fn recovery_static(w: &mut Ops) {
    w.assert_pass(&["recovery.rpo", "recovery.rto"]);
}

#[then("the monthly estimate is within the budget")]
fn within_budget(w: &mut Ops) {
    assert!(
        w.estate().objectives.monthly_budget_usd.is_some(),
        "{} declares no monthly budget",
        w.estate_name
    );
    w.assert_pass(&["cost.budget"]);
}

#[then(expr = "the priced line items add up to ${int} a month")]
fn cost_adds_up(w: &mut Ops, usd: u64) {
    let (cents, _) = verify::monthly_cost(w.estate());
    assert_eq!(
        cents,
        usd * 100,
        "the estimate is ${}.{:02}",
        cents / 100,
        cents % 100
    );
}

#[then("the security baseline holds")]
fn security(w: &mut Ops) {
    w.assert_pass(&[
        "security.tls",
        "security.https-only",
        "security.key-vault",
        "security.diagnostics",
        "security.no-secret-literals",
        "security.nsg",
        "security.local-auth",
        "security.image-scanning",
        "security.waf",
        "security.rotation",
        "security.log-retention",
    ]);
}

#[then("the production rules hold")]
fn production(w: &mut Ops) {
    w.assert_pass(&[
        "prod.multi-region",
        "prod.zone-redundancy",
        "prod.high-availability",
        "prod.regions",
        "prod.private-only",
        "prod.destroy-protection",
        "prod.maintenance-window",
        "prod.promotion-gate",
        "prod.backup-before-apply",
        "prod.state-retention",
    ]);
}

#[then("every rule passes")]
fn every_rule(w: &mut Ops) {
    let ids: Vec<&str> = verify::RULES.iter().map(|r| r.id).collect();
    w.assert_pass(&ids);
}

#[then(expr = "the {string} finding on {string} is excepted")]
fn excepted(w: &mut Ops, id: String, address: String) {
    let report = w.report();
    let hit = report.findings.iter().find(|(f, _)| {
        f.rule == id && f.address.as_ref().is_some_and(|a| a.to_string() == address)
    });
    match hit {
        Some((_, verify::Verdict::Excepted { .. })) => {}
        Some((f, o)) => panic!("{f:?} is {o:?}, not excepted"),
        None => panic!("{id} reports nothing on {address}"),
    }
}

#[then(expr = "the {string} finding on {string} fails because its exception expired")]
fn expired(w: &mut Ops, id: String, address: String) {
    let report = w.report();
    let hit = report.findings.iter().find(|(f, _)| {
        f.rule == id && f.address.as_ref().is_some_and(|a| a.to_string() == address)
    });
    match hit {
        Some((_, verify::Verdict::Expired { .. })) => {
            assert!(
                !report.passed(),
                "an expired exception must fail the report"
            );
        }
        Some((f, o)) => panic!("{f:?} is {o:?}, not expired"),
        None => panic!("{id} reports nothing on {address}"),
    }
}

// ---- Then: drills and operations -------------------------------------------

#[then(
    regex = r"^the recovery takes at most (\d+ \w+) and loses (at most|less than) (\d+ \w+) of data$"
)]
fn recovery_within(w: &mut Ops, rto: String, how: String, rpo: String) {
    let d = w.drill.clone().expect("run a drill first");
    let (rto, rpo) = (duration(&rto), duration(&rpo));
    let took = Interval::from_secs(d.elapsed_secs());
    let lost = Interval::from_secs(d.data_loss_secs());
    let detail = d
        .restores
        .iter()
        .map(|r| {
            format!(
                "{}: restore point {}, lost {}, took {}",
                r.address,
                r.restore_point,
                Interval::from_secs(r.data_loss_secs),
                Interval::from_secs(r.elapsed_secs)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let what: Vec<String> = d.lost.iter().map(ToString::to_string).collect();
    println!(
        "    drill {}/{}: {} lost and restored in {took}, losing {lost} of data ({detail})",
        w.estate_name,
        w.env,
        what.join(", ")
    );
    assert!(
        took <= rto,
        "the recovery took {took}, over {rto} ({detail})"
    );
    if how == "less than" {
        assert!(
            lost < rpo,
            "the recovery lost {lost} of data, not less than {rpo} ({detail})"
        );
    } else {
        assert!(
            lost <= rpo,
            "the recovery lost {lost} of data, over {rpo} ({detail})"
        );
    }
}

#[then("the drill meets the estate's RTO and RPO")]
fn drill_meets(w: &mut Ops) {
    assert!(w.drill.is_some(), "run a drill first");
    w.assert_pass(&["recovery.drill"]);
}

#[then("the drill misses the estate's RPO")]
fn drill_misses(w: &mut Ops) {
    let d = w.drill.clone().expect("run a drill first");
    let report = w.report();
    let standing = w.standing(&report, "recovery.drill");
    assert!(
        standing.iter().any(|s| s.contains("of data, over the RPO")),
        "the drill lost {} of data against an RPO of {}, yet recovery.drill reported {standing:?}",
        Interval::from_secs(d.data_loss_secs()),
        w.estate().objectives.rpo
    );
}

#[then(expr = "the stack runs release {string}")]
fn runs_release(w: &mut Ops, version: String) {
    let g = w.latest().expect("the stack has no generation");
    assert_eq!(
        g.outcome,
        statectl::model::Outcome::Succeeded,
        "generation {} is {:?}",
        g.number,
        g.outcome
    );
    let want = statectl::store::parse_version(&version)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    assert_eq!(
        g.release.as_deref(),
        Some(want.as_str()),
        "generation {}",
        g.number
    );
}

#[then(expr = "the last generation is a {string}")]
fn generation_kind(w: &mut Ops, kind: String) {
    let g = w.latest().expect("the stack has no generation");
    assert_eq!(g.kind.to_string(), kind, "generation {}", g.number);
}

#[then("nothing has drifted")]
fn no_drift(w: &mut Ops) {
    let (estate, env) = (w.estate_name.clone(), w.env.clone());
    let r = w.run(&["drift", "--estate", &estate, "--env", &env]);
    assert_eq!(r.code, 0, "{r}");
}

#[then(expr = "drift is reported on {string}")]
fn drift_on(w: &mut Ops, address: String) {
    let (estate, env) = (w.estate_name.clone(), w.env.clone());
    let r = w.run(&["drift", "--estate", &estate, "--env", &env, "--json"]);
    assert_eq!(r.code, 2, "drift exits 2 when the cloud moved: {r}");
    let j: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r}"));
    assert!(
        j.to_string().contains(&format!("\"{address}\"")),
        "{address} is not in the drift report: {j}"
    );
}

#[then(expr = "the command is refused by {string}")]
fn refused(w: &mut Ops, rule_id: String) {
    let r = w.last.clone().expect("run a command first");
    assert_ne!(r.code, 0, "the command succeeded: {r}");
    assert!(
        r.stdout.contains(&format!("refused by {rule_id}")) || r.stderr.contains(&rule_id),
        "not refused by {rule_id}: {r}"
    );
}

#[then(expr = "the command fails saying {string}")]
fn fails_saying(w: &mut Ops, text: String) {
    let r = w.last.clone().expect("run a command first");
    assert_ne!(r.code, 0, "the command succeeded: {r}");
    assert!(
        r.stdout.contains(&text) || r.stderr.contains(&text),
        "the output does not say `{text}`: {r}"
    );
}

#[then("the stored state is unchanged")]
fn unchanged(w: &mut Ops) {
    let before = w.generations_before;
    assert_eq!(
        w.generation_count(),
        before,
        "the last command made a generation"
    );
}

#[then(expr = "the last generation is {string} and keeps what was applied")]
fn partial_kept(w: &mut Ops, outcome: String) {
    let g = w.latest().expect("the stack has no generation");
    assert_eq!(g.outcome.to_string(), outcome, "generation {}", g.number);
    assert!(
        g.resource_count > 0,
        "generation {} recorded nothing",
        g.number
    );
}
