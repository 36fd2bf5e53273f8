//! Containment of storage-engine panics.
//!
//! redb documents that reading a file altered behind its back may panic
//! (an index out of range in a damaged page, for example). A damaged state
//! file is bad input, and bad input must give a clear error, so every call
//! into the engine runs under [`contain`], which turns such a panic into
//! [`StoreError::Damaged`]. While a contained call runs, [`in_engine`] is
//! true, so the CLI's panic hook stays quiet about it.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use super::error::StoreError;

thread_local! {
    static IN_ENGINE: Cell<u32> = const { Cell::new(0) };
}

/// Whether the current thread is inside a contained engine call.
pub fn in_engine() -> bool {
    IN_ENGINE.with(|c| c.get() > 0)
}

/// Runs `f`; a panic inside becomes [`StoreError::Damaged`] naming `path`.
pub(crate) fn contain<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    IN_ENGINE.with(|c| c.set(c.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_ENGINE.with(|c| c.set(c.get().saturating_sub(1)));
    match r {
        Ok(r) => r,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".into());
            Err(StoreError::Damaged {
                path: path.to_path_buf(),
                detail,
            })
        }
    }
}
