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
//!
//! One apply is taken apart by concern: `applier` begins and finishes its
//! generation; `run` drives the operations in between; `scheduler`
//! decides what may start (dependencies, critical path, free slots,
//! failures and the skips they cause); `group_commit` batches results into
//! store commits; `journaled` keeps the entries written ahead of their
//! operations; `resolve` fills references and predicts ARM ids;
//! `operation` runs one action on the provider.
//!
//! [`Provider`]: crate::provider::Provider

mod applier;
mod drift;
mod error;
mod group_commit;
mod journaled;
mod operation;
mod progress;
mod reconcile;
mod report;
mod resolve;
mod run;
mod scheduler;

pub use applier::{ApplyOptions, apply};
pub use drift::{DriftReport, DriftedProperty, detect};
pub use error::ApplyError;
pub use group_commit::{PENDING_MAX, PENDING_WAIT};
pub use journaled::JOURNAL_AHEAD;
pub use progress::{LineProgress, Progress, QuietProgress};
pub use reconcile::{ReconcileReport, reconcile};
pub use report::{ApplyReport, OpOutcome, OpResult};
