//! The applier: runs a plan through a provider with bounded parallelism,
//! starting each operation as soon as the actions it needs are done.
//!
//! Every operation is journaled before it starts and its result committed
//! to the observed generation as it ends (with the journal entry resolved in
//! the same transaction). A failure stops its dependents; independent work
//! goes on; the generation ends as succeeded, partial or failed with a
//! summary. After a crash, [`reconcile`] reads the provider for every
//! unresolved journal entry so nothing is untracked; applying the release
//! again then finishes the work (puts are idempotent by ARM id, so nothing
//! is created twice). The applier never parses specs and knows nothing of
//! the cloud behind the [`Provider`].

mod applier;
mod drift;
mod progress;
mod reconcile;

pub use applier::{
    ApplyError, ApplyOptions, ApplyReport, JOURNAL_AHEAD, OpOutcome, OpResult, PENDING_MAX,
    PENDING_WAIT, apply,
};
pub use drift::{DriftReport, DriftedProperty, detect};
pub use progress::{LineProgress, Progress, QuietProgress};
pub use reconcile::{ReconcileReport, reconcile};
