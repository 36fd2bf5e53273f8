//! How the workflows' events and outcomes read to a person: one text per
//! value (its `Display`), shared by the CLI, logs and the Gherkin steps, so
//! a message is worded once. The plan itself is rendered by
//! `plan::render` (with colour where the caller wants it).

use std::fmt;

use super::{Applied, DriftCheck, Event};
use crate::apply::OpResult;
use crate::model::{GenerationKind, Interval};
use crate::store::display_version as version_text;

/// A size for people: `512 B`, `4.7 KiB`, `13.3 MiB`.
pub fn human_bytes(b: u64) -> String {
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", b as f64 / 1024.0),
        _ => format!("{:.1} MiB", b as f64 / 1_048_576.0),
    }
}

/// What a plan was made from, when that needs saying: a release created
/// from the working tree, or one planned from it unstored.
pub fn plan_header(desired: Option<&super::Desired>) -> String {
    let Some(d) = desired else {
        return String::new();
    };
    let (v, name) = (version_text(&d.version), &d.estate.name);
    if d.created {
        format!("created release {v} of {name} from the working tree\n")
    } else if d.release.is_none() {
        format!(
            "release {v} of {name} is not stored yet; planning from the working tree (apply stores it)\n"
        )
    } else {
        String::new()
    }
}

impl fmt::Display for Event<'_> {
    /// The event's lines, each ending in a newline (empty for none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Plan { plan, desired } => write!(
                f,
                "{}{}",
                plan_header(*desired),
                crate::plan::render::render(plan, false)
            ),
            Event::Reconciled { generation, report } => writeln!(
                f,
                "reconciled interrupted generation {generation} from the provider: {} operation(s) had taken effect, {} had not, {} exist and are checked against the release by the plan below",
                report.took_effect.len(),
                report.did_not.len(),
                report.to_check.len()
            ),
            Event::RollingBack { stack, from, to } => {
                writeln!(f, "rolling back {stack} from v{from} to v{to}")
            }
            Event::Pulled {
                stack,
                from,
                to,
                mirror,
                objects,
                bytes,
            } => writeln!(
                f,
                "pulled generation(s) {from}-{to} of {stack} from {mirror} (another machine applied since; {objects} object(s), {} read); planning on them",
                human_bytes(*bytes)
            ),
            Event::Warning(w) | Event::Stale(w) => writeln!(f, "{w}"),
            Event::Note(n) => writeln!(f, "note: {n}"),
            Event::Refused(violations) => {
                writeln!(f)?;
                for v in *violations {
                    writeln!(
                        f,
                        "refused by {}: {}\n  to proceed: {}",
                        v.rule, v.message, v.fix
                    )?;
                }
                Ok(())
            }
            Event::BackedUp { stack, generation } => writeln!(
                f,
                "backed up generation {generation} of {stack} before applying (statectl state backups)"
            ),
            Event::Applied(a) => writeln!(f, "\n{a}"),
            Event::PushRetry { error, delay } => {
                writeln!(f, "mirror push: {error}; retrying in {delay:?}")
            }
            Event::Pushed {
                target,
                blobs,
                bytes,
                elapsed,
            } => writeln!(
                f,
                "mirrored to {target}: {blobs} blob(s), {} in {elapsed:.1?}",
                human_bytes(*bytes)
            ),
            Event::KeyCreated(path) => writeln!(
                f,
                "created the mirror key file {} (mode 0600): keep a copy somewhere safe; without it the mirror cannot be read",
                path.display()
            ),
        }
    }
}

impl fmt::Display for Applied {
    /// One line: outcome, generation, release, operations and the makespan
    /// against its bound.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.report.generation;
        let (bound, critical, spread) = self.plan.makespan_bound(self.parallelism);
        let clock = if self.virtual_clock {
            "on the simulated clock"
        } else {
            "scaled"
        };
        let what = match self.kind {
            GenerationKind::Rollback => "Rollback",
            GenerationKind::Emergency => "Emergency apply",
            _ => "Apply",
        };
        write!(
            f,
            "{what} {}: generation {} of {}, release {}; {} operation(s), makespan {} {clock} (bound {} = max(critical path {}, work/parallelism {})).",
            g.outcome,
            g.number,
            self.stack,
            version_text(&self.version),
            self.report.outcomes.len(),
            Interval::from_secs(self.report.makespan.as_secs()),
            Interval::from_secs(bound),
            Interval::from_secs(critical),
            Interval::from_secs(spread)
        )
    }
}

impl Applied {
    /// A line per restore: the backup point, data lost and time taken.
    pub fn restores_text(&self) -> String {
        self.report
            .restores
            .iter()
            .map(|r| {
                format!(
                    "restored {} from its backup at {}: data-loss window {} (RPO achieved), took {} (RTO achieved)\n",
                    r.address,
                    r.restore_point,
                    Interval::from_secs(r.data_loss_secs),
                    Interval::from_secs(r.elapsed_secs)
                )
            })
            .collect()
    }

    /// A line per operation not applied (failed or skipped).
    pub fn failures_text(&self) -> Vec<String> {
        self.report
            .failures()
            .map(|o| match &o.result {
                OpResult::Failed(e) => format!("  {} {}: {e}", o.kind, o.address),
                OpResult::Skipped(w) => format!("  {} {}: skipped, {w}", o.kind, o.address),
                OpResult::Done => String::new(),
            })
            .collect()
    }
}

impl fmt::Display for DriftCheck {
    /// "no drift", or a line per difference.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, n, stack) = (&self.report, self.generation.number, &self.stack);
        let rel = self
            .generation
            .release
            .as_deref()
            .map_or_else(|| "-".into(), version_text);
        if r.is_clean() {
            return writeln!(
                f,
                "no drift: the cloud holds what generation {n} of {stack} (release {rel}) recorded"
            );
        }
        writeln!(
            f,
            "drift in {stack} against generation {n} (release {rel}):"
        )?;
        let show = |v: &Option<serde_json::Value>| {
            v.as_ref()
                .map_or("(absent)".to_string(), ToString::to_string)
        };
        for d in &r.changed {
            writeln!(
                f,
                "  ~ {} {}: {} -> {} (changed outside statectl)",
                d.address,
                d.path,
                show(&d.recorded),
                show(&d.live)
            )?;
        }
        for a in &r.deleted {
            writeln!(f, "  - {a} was deleted outside statectl")?;
        }
        for b in &self.breaks {
            let seed = crate::verify::rule(b.rule).map_or("", |r| r.seed);
            let at = b
                .address
                .as_ref()
                .map_or_else(String::new, |a| format!("{a}: "));
            writeln!(f, "  ! breaks {} ({seed}): {at}{}", b.rule, b.message)?;
        }
        for (id, t) in &r.unmanaged {
            writeln!(f, "  ? {id} ({t}) is not managed by statectl")?;
        }
        Ok(())
    }
}

impl DriftCheck {
    /// The differences as one JSON document (`drift --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.report;
        serde_json::json!({
            "stack": self.stack.key(),
            "generation": self.generation.number,
            "release": self.generation.release.as_deref().map(version_text),
            "drift": !r.is_clean(),
            "changed": r.changed,
            "deleted": r.deleted.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unmanaged": r.unmanaged.iter().map(|(id, t)| serde_json::json!({"id": id, "type": t})).collect::<Vec<_>>(),
            "breaks": self.breaks.iter().map(|b| serde_json::json!({
                "rule": b.rule,
                "address": b.address.as_ref().map(ToString::to_string),
                "message": b.message,
                "seed": crate::verify::rule(b.rule).map(|r| r.seed),
            })).collect::<Vec<_>>(),
        })
    }
}
