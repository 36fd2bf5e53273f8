use crate::model::{Outcome, Stack};
use crate::provider::Provider;
use crate::store::{Actor, Change, JournalState, Store, StoreError};

/// What [`reconcile`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// The interrupted generation, now closed.
    pub generation: Option<u64>,
    /// Operations that had taken effect (recorded now).
    pub took_effect: Vec<String>,
    /// Operations that had not.
    pub did_not: Vec<String>,
    /// Updates and replacements whose resource exists, which does not say
    /// whether the write happened: the next plan compares them with the
    /// release.
    pub to_check: Vec<String>,
}

/// After a crash: reads the provider for every unresolved journal entry of
/// `stack`, records what actually happened, and closes the interrupted
/// generation as partial. Nothing is left untracked; applying the release
/// again then finishes the work.
pub async fn reconcile<P: Provider>(
    store: &Store,
    provider: &P,
    stack: &Stack,
    actor: &Actor,
) -> Result<ReconcileReport, StoreError> {
    let mut report = ReconcileReport::default();
    let Some(g) = store.latest_generation(stack)? else {
        return Ok(report);
    };
    if g.outcome != Outcome::InProgress {
        return Ok(report);
    }
    report.generation = Some(g.number);
    for entry in store.unresolved(stack)? {
        let seen = provider
            .read(&entry.arm_type, &entry.resource_id)
            .await
            .map_err(|e| {
                StoreError::Bug(format!(
                    "cannot read {} from the provider to reconcile: {e}",
                    entry.address
                ))
            })?;
        let what = format!("{} {}", entry.action, entry.address);
        let (changes, state, detail) = match (entry.action.as_str(), seen) {
            ("delete", None) => (
                vec![Change::Remove(entry.address.clone())],
                JournalState::Done,
                "reconciled after a crash: the delete took effect",
            ),
            ("delete", Some(_)) => (
                vec![],
                JournalState::Failed,
                "reconciled after a crash: the delete did not take effect",
            ),
            // A resource that exists proves a create took effect, but not
            // an update or a replacement: the old version exists too, and
            // an entry may be journaled ahead of its start. Those are
            // recorded as observed with an unknown desired digest, so the
            // next plan compares them property by property and redoes the
            // write if it had not happened.
            (action, Some(o)) => (
                vec![Change::Put {
                    observed: Box::new(o),
                    applied: if action == "create" {
                        entry.desired
                    } else {
                        None
                    },
                }],
                JournalState::Done,
                if action == "create" {
                    "reconciled after a crash: the create took effect"
                } else {
                    "reconciled after a crash: the resource exists; the next plan compares it with the release"
                },
            ),
            (_, None) => (
                vec![],
                JournalState::Failed,
                "reconciled after a crash: the write did not take effect",
            ),
        };
        if state == JournalState::Done
            && !changes.is_empty()
            && entry.action != "create"
            && entry.action != "delete"
        {
            report.to_check.push(what);
        } else if state == JournalState::Done {
            report.took_effect.push(what);
        } else {
            report.did_not.push(what);
        }
        store.record(
            stack,
            g.number,
            changes,
            &[(entry.seq, state, Some(detail.to_string()))],
        )?;
    }
    let summary = vec![format!(
        "interrupted; reconciled from the provider: {} took effect, {} did not, {} to check against the release",
        report.took_effect.len(),
        report.did_not.len(),
        report.to_check.len()
    )];
    store.finish_generation(
        stack,
        g.number,
        Outcome::Partial,
        summary,
        Vec::new(),
        actor,
        None,
    )?;
    Ok(report)
}
