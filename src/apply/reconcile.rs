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
            (_, Some(o)) => (
                vec![Change::Put {
                    observed: Box::new(o),
                    applied: entry.desired,
                }],
                JournalState::Done,
                "reconciled after a crash: the write took effect",
            ),
            (_, None) => (
                vec![],
                JournalState::Failed,
                "reconciled after a crash: the write did not take effect",
            ),
        };
        if state == JournalState::Done {
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
        "interrupted; reconciled from the provider: {} took effect, {} did not",
        report.took_effect.len(),
        report.did_not.len()
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
