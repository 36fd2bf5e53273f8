use crate::store::StoreError;

/// Why an apply could not run or finish.
///
/// Invariant: whatever the variant, every operation that started has a
/// journal entry, so `apply --resume` can learn what it did.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed; the journal says what was in flight.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plan has blocked actions.
    #[error("the plan has {0} blocked action(s); nothing was applied")]
    Blocked(usize),
    /// An internal invariant broke.
    #[error("bug in statectl: {0}")]
    Bug(String),
}
