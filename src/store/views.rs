//! The store's records as the documents commands print: JSON (`--json`)
//! for a generation, a release (with its resources in one environment) and
//! an audit entry; text and tables for the same records and for what
//! `release create`, `store check` and `state backups` report. One shape per
//! record, kept here beside the records, so every caller (the CLI, the
//! Gherkin steps, tools) reads the same fields.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value as J, json};

use crate::model::{
    Address, AuditEntry, Digest, Generation, Interval, Release, Resource, Stack, Table,
};

use super::{CheckReport, ReleaseOutcome, StateBackup, display_version};

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
pub fn release(r: &Release, resources: Option<&BTreeMap<Address, (Digest, Resource)>>) -> J {
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

/// `dev=12 prod=14`: a release's resource count in each environment.
pub fn counts(r: &Release) -> String {
    let c: Vec<String> = r
        .resource_counts
        .iter()
        .map(|(e, n)| format!("{e}={n}"))
        .collect();
    c.join(" ")
}

/// The releases of an estate, one row each.
pub fn releases_table(releases: &[Release]) -> Table {
    let rows = releases.iter().map(|r| {
        let commit = r
            .git_commit
            .as_ref()
            .map_or_else(|| "-".into(), |c| c.chars().take(12).collect());
        vec![
            display_version(&r.version),
            r.content.short(),
            r.created_at.to_string(),
            r.created_by.clone(),
            commit,
            counts(r),
        ]
    });
    let header = ["VERSION", "CONTENT", "CREATED", "BY", "COMMIT", "RESOURCES"];
    Table::new(&header, rows)
}

/// A release's resources in one environment.
pub fn release_resources_table(m: &BTreeMap<Address, (Digest, Resource)>) -> Table {
    let rows = m.iter().map(|(a, (d, res))| {
        vec![
            a.to_string(),
            res.arm_type.clone(),
            res.name.clone(),
            d.short(),
        ]
    });
    Table::new(&["ADDRESS", "TYPE", "NAME", "DIGEST"], rows)
}

/// What `release create` did, as one line.
pub fn release_created_text(o: &ReleaseOutcome) -> String {
    match o {
        ReleaseOutcome::Created {
            release: r,
            new_objects,
        } => format!(
            "created release {} of {}: content {}, {} ({new_objects} new objects)",
            display_version(&r.version),
            r.estate,
            r.content.short(),
            counts(r)
        ),
        ReleaseOutcome::Unchanged(r) => format!(
            "release {} of {} already exists with the same content; nothing to do",
            display_version(&r.version),
            r.estate
        ),
    }
}

/// A stack's generations, one row each (`statectl history`).
pub fn history_table(gens: &[Generation]) -> Table {
    let rows = gens.iter().map(|g| {
        let secs = g.ended_at.millis_since(g.started_at) / 1000;
        vec![
            g.number.to_string(),
            g.kind.to_string(),
            g.release
                .as_deref()
                .map(display_version)
                .unwrap_or_else(|| "-".into()),
            g.outcome.to_string(),
            g.actor.clone(),
            g.started_at.to_string(),
            Interval::from_secs(secs).to_string(),
            g.resource_count.to_string(),
            g.reason.clone().unwrap_or_default(),
        ]
    });
    let header = [
        "GEN",
        "KIND",
        "RELEASE",
        "OUTCOME",
        "ACTOR",
        "STARTED",
        "TOOK",
        "RESOURCES",
        "REASON",
    ];
    Table::new(&header, rows)
}

/// Generations a stack can roll back to (`statectl rollback --list`).
pub fn rollback_points_table(points: &[Generation]) -> Table {
    let rows = points.iter().map(|g| {
        vec![
            display_version(g.release.as_deref().unwrap_or("")),
            g.number.to_string(),
            g.ended_at.to_string(),
            g.actor.clone(),
            g.outcome.to_string(),
            g.kind.to_string(),
        ]
    });
    let header = ["RELEASE", "GENERATION", "WHEN", "WHO", "OUTCOME", "KIND"];
    Table::new(&header, rows)
}

/// The backups taken before production applies.
pub fn backups_table(backups: &[StateBackup]) -> Table {
    let rows = backups.iter().map(|b| {
        vec![
            b.generation.to_string(),
            b.taken_at.to_string(),
            format!("{} bytes", b.state.len()),
        ]
    });
    Table::new(&["GENERATION", "TAKEN", "SIZE"], rows)
}

/// The audit log: who, what, when, where, why, and the details.
pub fn audit_table(entries: &[AuditEntry]) -> Table {
    let rows = entries.iter().map(|e| {
        vec![
            e.seq.to_string(),
            e.at.to_string(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.reason.clone().unwrap_or_else(|| "-".into()),
            e.details.clone(),
        ]
    });
    let header = ["SEQ", "WHEN", "WHO", "WHAT", "WHERE", "WHY", "DETAILS"];
    Table::new(&header, rows)
}

/// `statectl history` when there is nothing to list.
pub fn no_generations_text(stack: &Stack) -> String {
    format!("{stack} has no generations yet")
}

/// What `store check` read, then each problem, or that there are none.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "engine {}, {} releases, {} generations, {} objects, {} audit records, {} journal entries",
            if self.engine_ok { "ok" } else { "NOT OK" },
            self.releases,
            self.generations,
            self.objects,
            self.audit_entries,
            self.journal_entries
        )?;
        if self.problems.is_empty() {
            return writeln!(f, "no problems found");
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        Ok(())
    }
}
