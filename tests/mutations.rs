//! The mutation suite: seed-derived one-spot edits (`tests/mutations.toml`),
//! each applied to a scratch copy of the project, each of which
//! `statectl verify` must catch with the rule meant to catch it, naming the
//! resource and the seed sentence. A rule that lets one through is a gap in
//! what `verify` promises; the kill rate is printed and must be 100%.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use serde::Deserialize;
use util::Project;

/// Exceptions are judged on this date (they expire on 2027-06-30).
const NOW: &str = "2026-11-23T12:00:00Z";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    mutation: Vec<Mutation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutation {
    id: String,
    estate: String,
    env: String,
    file: String,
    find: String,
    replace: String,
    rule: String,
    resource: String,
    seed: String,
}

fn suite() -> Vec<Mutation> {
    let path = util::repo_root().join("tests/mutations.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str::<Suite>(&text).unwrap().mutation
}

/// What one mutation did: `None` when it was caught as intended, else why not.
fn run(m: &Mutation) -> Option<String> {
    let p = Project::copy_of_repo();
    let before = p.read(&m.file);
    let after = before.replacen(&m.find, &m.replace, 1);
    p.write(&m.file, &after);
    let r = p.run_with(
        &[("STATECTL_NOW", NOW)],
        &["verify", "--estate", &m.estate, "--env", &m.env, "--json"],
    );
    if r.code != 1 {
        let tail: String = r.stderr.lines().take(6).collect::<Vec<_>>().join("\n");
        return Some(format!("exit {} (want 1) {tail}", r.code));
    }
    let reports: serde_json::Value = match serde_json::from_str(&r.stdout) {
        Ok(v) => v,
        Err(e) => return Some(format!("not JSON ({e}): {}{}", r.stdout, r.stderr)),
    };
    let findings = reports[0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let want_addr = (!m.resource.is_empty()).then_some(m.resource.as_str());
    let hit = findings.iter().any(|f| {
        f["rule"] == m.rule.as_str()
            && f["address"].as_str() == want_addr
            && f["outcome"] == "Fail"
            && f["seed"].as_str().is_some_and(|s| s.contains("seed"))
    });
    if hit {
        return None;
    }
    let failing: Vec<String> = findings
        .iter()
        .filter(|f| f["outcome"] == "Fail")
        .map(|f| format!("{} at {}", f["rule"], f["address"]))
        .collect();
    Some(format!(
        "no failing `{}` finding at {:?}; failing: {failing:?}",
        m.rule, m.resource
    ))
}

#[test]
fn every_seed_mutation_is_caught_by_its_rule() {
    let all = suite();
    assert!(all.len() >= 60, "only {} mutations", all.len());
    let mut ids = std::collections::BTreeSet::new();
    for m in &all {
        assert!(ids.insert(&m.id), "mutation id `{}` twice", m.id);
        assert!(
            statectl::verify::rule(&m.rule).is_some(),
            "{}: `{}` is not a rule",
            m.id,
            m.rule
        );
        assert!(!m.seed.trim().is_empty(), "{}: no seed sentence", m.id);
        let text = std::fs::read_to_string(util::repo_root().join(&m.file)).unwrap();
        assert_eq!(
            text.matches(&m.find).count(),
            1,
            "{}: `find` must occur exactly once in {}",
            m.id,
            m.file
        );
        assert_ne!(m.find, m.replace, "{}: the edit changes nothing", m.id);
    }
    // Two at a time: the machine has two cores and each run is one process.
    let (left, right) = all.split_at(all.len() / 2);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| left.iter().map(|m| (m, run(m))).collect::<Vec<_>>());
        let b = s.spawn(|| right.iter().map(|m| (m, run(m))).collect::<Vec<_>>());
        (a.join().unwrap(), b.join().unwrap())
    });
    let results: Vec<_> = a.into_iter().chain(b).collect();
    let missed: Vec<String> = results
        .iter()
        .filter_map(|(m, r)| {
            r.as_ref()
                .map(|why| format!("{} ({}): {why}", m.id, m.rule))
        })
        .collect();
    let caught = results.len() - missed.len();
    println!(
        "mutation suite: {caught} of {} caught by their rule ({:.1}%)",
        results.len(),
        100.0 * caught as f64 / results.len() as f64
    );
    assert!(
        missed.is_empty(),
        "{} missed:\n{}",
        missed.len(),
        missed.join("\n\n")
    );
}

/// docs/guarantees.md against the rule registry and this suite: every rule
/// checks some guarantee, every row names a real rule, and every mutation is
/// listed against a guarantee of the rule that catches it.
#[test]
fn the_guarantee_catalog_matches_the_rules_and_the_mutations() {
    let doc = std::fs::read_to_string(util::repo_root().join("docs/guarantees.md")).unwrap();
    let checked = doc.split("## Not checked by a rule").next().unwrap();
    let muts = suite();
    let rule_of: std::collections::BTreeMap<&str, &str> = muts
        .iter()
        .map(|m| (m.id.as_str(), m.rule.as_str()))
        .collect();
    let mut rules_seen = std::collections::BTreeSet::new();
    let mut muts_seen = std::collections::BTreeSet::new();
    let mut rows = 0;
    for line in checked
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
    {
        let cells: Vec<&str> = line.split(" | ").collect();
        assert_eq!(cells.len(), 5, "a row needs 5 cells: {line}");
        rows += 1;
        let rule = cells[3].trim_matches('`');
        assert!(
            statectl::verify::rule(rule).is_some(),
            "`{rule}` is not a rule: {line}"
        );
        rules_seen.insert(rule.to_string());
        for id in cells[4].trim_end_matches(" |").split(", ") {
            let id = id.trim().trim_matches('`');
            if id == "—" {
                continue;
            }
            let Some(r) = rule_of.get(id) else {
                panic!("`{id}` is not a mutation in tests/mutations.toml: {line}");
            };
            assert_eq!(*r, rule, "`{id}` is caught by {r}, listed under {rule}");
            muts_seen.insert(id.to_string());
        }
    }
    assert!(rows >= 55, "only {rows} guarantees");
    for r in statectl::verify::RULES {
        assert!(
            rules_seen.contains(r.id),
            "no guarantee is checked by {}",
            r.id
        );
    }
    for m in &muts {
        assert!(
            muts_seen.contains(&m.id),
            "mutation {} is not in the catalog",
            m.id
        );
    }
}
