//! Property tests of the checks themselves:
//! - the shipped estates pass in every environment (findings only where an
//!   unexpired exception covers them);
//! - every fault, injected into any estate it applies to (and into random
//!   variants of them), is caught by its rule, naming the broken resource:
//!   no false negatives;
//! - a plan with an action moved before what it needs is always caught.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use proptest::prelude::*;
use statectl::model::{Address, Estate, Floor, PolicyException};
use statectl::spec::Loader;
use statectl::verify::{self, Evidence, Verdict, inject};

/// The date the shipped exceptions are judged on.
const TODAY: &str = "2026-11-23";

struct Stack {
    estate: Estate,
    exceptions: Vec<PolicyException>,
    floor: Floor,
}

impl Stack {
    fn evidence(&self) -> Evidence<'_> {
        Evidence {
            drills: &[],
            baseline: Some(&self.floor),
            drill_age: None,
            previous: None,
        }
    }
}

fn stacks() -> &'static [Stack] {
    static STACKS: OnceLock<Vec<Stack>> = OnceLock::new();
    STACKS.get_or_init(|| {
        let loader = Loader::new(util::repo_root());
        let baseline = loader
            .load_baseline(&statectl::verify::rule_ids())
            .unwrap()
            .expect("the project has a baseline");
        let mut out = Vec::new();
        for e in loader.estate_names().unwrap() {
            let exceptions = loader.load_exceptions(&e).unwrap();
            for env in loader.environment_names().unwrap() {
                out.push(Stack {
                    estate: loader.load(&e, &env).unwrap(),
                    exceptions: exceptions.clone(),
                    floor: baseline.floor(&e, &env),
                });
            }
        }
        out
    })
}

/// Findings of `rule` on `estate`, before exceptions.
fn findings_of(estate: &Estate, floor: &Floor, rule: &str) -> Vec<Option<Address>> {
    let ctx = Evidence {
        drills: &[],
        baseline: Some(floor),
        drill_age: None,
        previous: None,
    };
    verify::verify(estate, &[], TODAY, &ctx)
        .findings
        .into_iter()
        .filter(|(f, _)| f.rule == rule)
        .map(|(f, _)| f.address)
        .collect()
}

fn assert_caught(stack: &str, floor: &Floor, fault: &inject::Fault, broken: &inject::Injected) {
    let found = findings_of(&broken.estate, floor, fault.rule);
    match &broken.address {
        Some(a) => assert!(
            found.iter().any(|f| f.as_ref() == Some(a)),
            "{stack}: `{}` injected into {a} but {} reported only {found:?}",
            fault.id,
            fault.rule
        ),
        None => assert!(
            !found.is_empty(),
            "{stack}: `{}` injected but {} reported nothing",
            fault.id,
            fault.rule
        ),
    }
}

#[test]
fn the_shipped_estates_pass_every_rule() {
    assert_eq!(stacks().len(), 12, "4 estates x 3 environments");
    for s in stacks() {
        let report = verify::verify(&s.estate, &s.exceptions, TODAY, &s.evidence());
        let failing: Vec<_> = report.failures().collect();
        assert!(failing.is_empty(), "{}: {failing:#?}", s.estate.stack());
        for (f, o) in &report.findings {
            assert!(
                matches!(o, Verdict::Excepted { .. }),
                "{}: {f:?} is not excepted",
                s.estate.stack()
            );
        }
    }
}

#[test]
fn every_fault_is_caught_wherever_it_applies_and_every_rule_has_one() {
    let mut covered = BTreeSet::new();
    for s in stacks() {
        for fault in inject::all() {
            match inject::inject(&s.estate, &s.floor, fault.id) {
                Ok(broken) => {
                    assert_caught(&s.estate.stack(), &s.floor, fault, &broken);
                    covered.insert(fault.rule);
                }
                Err(inject::InjectError::NotApplicable { .. }) => {}
                Err(e) => panic!("{}: {e}", s.estate.stack()),
            }
        }
    }
    // Two rules are broken outside an estate: ordering.plan on a plan (below)
    // and recovery.drill by a real drill (the acceptance suite).
    for r in verify::RULES {
        if r.id == "ordering.plan" || r.id == "recovery.drill" {
            continue;
        }
        assert!(covered.contains(r.id), "no fault exercises {}", r.id);
    }
}

#[test]
fn a_reordered_plan_is_caught_and_a_real_one_is_not() {
    for s in stacks() {
        let plan = verify::first_apply_plan(&s.estate).unwrap();
        assert!(verify::check_plan_order(&plan, &s.estate).is_empty());
        let (bad, moved) = inject::reorder_plan(&plan).expect("some action needs another");
        let found = verify::check_plan_order(&bad, &s.estate);
        assert!(
            found.iter().any(|f| f.address.as_ref() == Some(&moved)),
            "{}: moving {moved} first went unnoticed: {found:?}",
            s.estate.stack()
        );
    }
}

/// A variant of a shipped estate: some resources nothing depends on are
/// removed, so faults land on different resources and neighbours.
fn variant(estate: &Estate, drop: &[prop::sample::Index]) -> Estate {
    let mut current = estate.clone();
    for ix in drop {
        let needed: BTreeSet<&Address> = current.graph().edges().map(|(_, to)| to).collect();
        let leaves: Vec<Address> = current
            .resources()
            .keys()
            .filter(|a| !needed.contains(a))
            .cloned()
            .collect();
        if leaves.is_empty() {
            break;
        }
        let gone = ix.get(&leaves).clone();
        current = current
            .with_resources(|rs| {
                rs.remove(&gone);
            })
            .unwrap();
    }
    current
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// No false negatives: on random variants of the shipped estates, every
    /// applicable fault is reported by its rule at the resource it is in.
    #[test]
    fn injected_faults_are_always_caught(
        stack in 0usize..12,
        fault in 0..inject::all().count(),
        drop in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
    ) {
        let s = &stacks()[stack % stacks().len()];
        let estate = variant(&s.estate, &drop);
        let f = inject::all().nth(fault).expect("a fault index in range");
        match inject::inject(&estate, &s.floor, f.id) {
            Ok(broken) => assert_caught(&estate.stack(), &s.floor, f, &broken),
            Err(inject::InjectError::NotApplicable { .. }) => {
                // Nothing of that kind left to break: nothing to catch.
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        }
    }
}

/// `verify --rule R` runs only R's family of checks: its findings and
/// verdicts are exactly those of the full run, filtered to R, on every
/// shipped stack and for every rule (and for two rules of two families).
#[test]
fn verifying_some_rules_is_the_full_run_filtered() {
    let mut asks: Vec<Vec<String>> = verify::RULES
        .iter()
        .map(|r| vec![r.id.to_string()])
        .collect();
    asks.push(vec!["tags.required".into(), "security.diagnostics".into()]);
    for s in stacks() {
        let full = verify::verify(&s.estate, &s.exceptions, TODAY, &s.evidence());
        for rules in &asks {
            let only = verify::verify_rules(&s.estate, &s.exceptions, TODAY, &s.evidence(), rules);
            let want = full.clone().only(rules);
            assert_eq!(
                format!("{:?}", only.findings),
                format!("{:?}", want.findings),
                "{} {rules:?}",
                s.estate.stack()
            );
        }
    }
}

/// The drill cadence the baseline sets for production (seed 000 monthly,
/// seed 001 quarterly): a live stack not drilled within it fails
/// `recovery.drill`; one drilled recently, or not live, does not.
#[test]
fn a_live_production_stack_without_a_recent_drill_fails_recovery_drill() {
    use statectl::model::Interval;
    use statectl::verify::DrillAge;
    let days = |d: u64| Interval::from_secs(d * 86_400);
    for (estate, every) in [("chatwoot", 31), ("chaufher", 92)] {
        let s = stacks()
            .iter()
            .find(|s| s.estate.name == estate && s.estate.environment.name == "prod")
            .unwrap();
        assert_eq!(s.floor.drill_every, Some(days(every)), "{estate}");
        let judge = |age: DrillAge| {
            let ctx = Evidence {
                drills: &[],
                baseline: Some(&s.floor),
                drill_age: Some(age),
                previous: None,
            };
            verify::verify_rules(&s.estate, &[], TODAY, &ctx, &["recovery.drill".into()])
                .findings
                .into_iter()
                .map(|(f, _)| f.message)
                .collect::<Vec<_>>()
        };
        assert!(judge(DrillAge::NotLive).is_empty(), "{estate}");
        assert!(
            judge(DrillAge::Never {
                live_for: days(every - 1)
            })
            .is_empty(),
            "{estate}"
        );
        assert!(
            judge(DrillAge::Last { ago: days(every) }).is_empty(),
            "{estate}"
        );
        let late = judge(DrillAge::Last {
            ago: days(every + 1),
        });
        assert_eq!(late.len(), 1, "{estate}: {late:?}");
        assert!(
            late[0].contains(&format!("every {}", days(every))),
            "{late:?}"
        );
        let never = judge(DrillAge::Never {
            live_for: days(every + 1),
        });
        assert_eq!(never.len(), 1, "{estate}: {never:?}");
        assert!(never[0].contains("never drilled"), "{never:?}");
    }
    // Dev has no cadence.
    let dev = stacks()
        .iter()
        .find(|s| s.estate.name == "chatwoot" && s.estate.environment.name == "dev")
        .unwrap();
    assert_eq!(dev.floor.drill_every, None);
}
