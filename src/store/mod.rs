//! The versioned transactional store, on redb: releases (desired state,
//! immutable, content-addressed), observed generations per stack, the audit
//! log, the operation journal and stack locks.
//!
//! It takes in model types (estates, observed resources) and hands back the
//! same; it never talks to a provider, never plans, and never prints. Every
//! change is one redb write transaction. Values are encoded only by
//! [`codec`]; content-addressed objects are shared between versions through
//! [`tree`], so a one-resource change writes O(1) bytes. Sensitive values
//! are sealed with AES-256-GCM before they reach an encoder. The on-disk
//! layout is documented in `docs/store-format.md`.

mod audit;
mod backups;
mod check;
pub mod codec;
mod db;
mod error;
mod export;
mod generations;
pub mod guard;
mod journal;
mod locks;
pub mod object;
mod releases;
mod rows;
mod schema;
mod sealing;
pub mod statefile;
pub mod tree;
pub mod views;

pub use audit::AuditEvent;
pub use backups::StateBackup;
pub use check::CheckReport;
pub use db::{Actor, DB_FILE, Store, StoreOptions, hostname, pid_alive};
pub use error::StoreError;
pub use export::{GenerationRows, ObjectsToPush, ReleaseRow};
pub use generations::{
    CHECKPOINT_EVERY, Change, DeltaChange, DeltaRow, NewGeneration, UNKNOWN_DESIRED,
};
pub use journal::{JournalEntry, JournalIntent, JournalResolution, JournalState};
pub use locks::{LockInfo, LockStatus, StackLock};
pub use object::{EnvHeader, Object, resource_digest};
pub use releases::{ReleaseOutcome, display_version, parse_version};
pub use schema::SCHEMA_VERSION;

/// Decodes `data` as every record type the store keeps, returning how many
/// accepted it. The fuzz target and its corpus replay call this: whatever
/// the bytes, it must return, never panic or allocate without bound.
pub fn decode_any(data: &[u8]) -> usize {
    use crate::model::{AuditEntry, Generation, Release};
    let mut ok = 0;
    ok += usize::from(codec::decode::<Object>(data).is_ok());
    ok += usize::from(codec::decode::<Release>(data).is_ok());
    ok += usize::from(codec::decode::<Generation>(data).is_ok());
    ok += usize::from(codec::decode::<AuditEntry>(data).is_ok());
    ok += usize::from(codec::decode::<JournalEntry>(data).is_ok());
    ok += usize::from(codec::decode::<JournalResolution>(data).is_ok());
    ok += usize::from(codec::decode::<LockInfo>(data).is_ok());
    ok += usize::from(codec::decode::<crate::keys::WrappedKey>(data).is_ok());
    ok += usize::from(codec::decode::<DeltaRow>(data).is_ok());
    ok += usize::from(codec::decode::<crate::model::Checkpoint>(data).is_ok());
    if let Ok(text) = std::str::from_utf8(data) {
        ok += usize::from(statefile::from_json(text).is_ok());
    }
    ok
}

#[cfg(test)]
mod tests;
