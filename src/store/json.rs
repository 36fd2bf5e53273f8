//! The store's records as the documents commands print: JSON (`--json`)
//! for a generation, a release (with its resources in one environment) and
//! an audit entry, and a release as text. One shape per record, kept here
//! beside the records, so every caller (the CLI, the Gherkin steps, tools)
//! reads the same fields.

use serde_json::{Value as J, json};

use crate::model::{Address, AuditEntry, Digest, Generation, Release, Resource};

use super::display_version;

/// A generation: number, kind, release, outcome, who, why, when, size.
pub fn generation(g: &Generation) -> J {
    json!({
        "generation": g.number, "kind": g.kind.to_string(),
        "release": g.release.as_deref().map(display_version),
        "outcome": g.outcome.to_string(), "actor": g.actor, "reason": g.reason,
        "started_at": g.started_at.to_string(), "ended_at": g.ended_at.to_string(),
        "resources": g.resource_count, "plan_hash": g.plan_hash.map(|d| d.to_hex()),
        "summary": g.summary,
    })
}

/// A release in a listing: version, content, who and when, resource counts.
pub fn release_summary(r: &Release) -> J {
    json!({
        "version": display_version(&r.version), "content": r.content.to_hex(),
        "created_at": r.created_at.to_string(), "created_by": r.created_by,
        "git_commit": r.git_commit, "resources": r.resource_counts,
    })
}

/// A release in full: every environment's tree, and the resources of one
/// environment when given.
pub fn release(
    r: &Release,
    resources: Option<&std::collections::BTreeMap<Address, (Digest, Resource)>>,
) -> J {
    let environments: serde_json::Map<String, J> = r
        .environments
        .iter()
        .map(|(e, re)| {
            let v = json!({"root": re.root.to_hex(), "header": re.header.to_hex(), "resources": r.resource_counts.get(e)});
            (e.clone(), v)
        })
        .collect();
    let resources = resources.map(|m| {
        m.iter()
            .map(|(a, (d, res))| json!({"address": a.to_string(), "type": res.arm_type, "name": res.name, "digest": d.to_hex()}))
            .collect::<Vec<_>>()
    });
    json!({
        "estate": r.estate, "version": display_version(&r.version), "content": r.content.to_hex(),
        "created_at": r.created_at.to_string(), "created_by": r.created_by, "git_commit": r.git_commit,
        "environments": environments,
        "resources": resources,
    })
}

/// A release as text: version, content, who and when, and each
/// environment's resource count and tree.
pub fn release_text(r: &Release) -> String {
    use std::fmt::Write as _;
    let mut s = format!("release {} of {}\n", display_version(&r.version), r.estate);
    let _ = writeln!(s, "  content:    {}", r.content);
    let _ = writeln!(s, "  created:    {} by {}", r.created_at, r.created_by);
    let _ = writeln!(
        s,
        "  git commit: {}",
        r.git_commit.as_deref().unwrap_or("-")
    );
    for (e, re) in &r.environments {
        let n = r.resource_counts.get(e).copied().unwrap_or(0);
        let _ = writeln!(s, "  {e}: {n} resources, tree {}", re.root.short());
    }
    s
}

/// An audit entry: who, what, when, where, why, how.
pub fn audit(e: &AuditEntry) -> J {
    json!({"seq": e.seq, "at": e.at.to_string(), "who": e.actor, "what": e.action,
        "where": e.target, "region": e.region, "why": e.reason, "how": e.how, "details": e.details})
}
