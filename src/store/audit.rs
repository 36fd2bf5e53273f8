use redb::{ReadableTable, WriteTransaction};

use super::codec;
use super::db::{Actor, Store};
use super::error::StoreError;
use super::schema;
use crate::model::{AuditEntry, UtcTime};

/// What an audit record says, besides who and when.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// The action, e.g. `release.create`.
    pub action: String,
    /// The stack or estate it touched.
    pub target: String,
    /// The Azure region, when relevant.
    pub region: Option<String>,
    /// Why, when given.
    pub reason: Option<String>,
    /// Details.
    pub details: String,
}

/// Appends one record inside the caller's transaction, so the audit entry
/// commits atomically with the change it describes.
pub(crate) fn append(
    w: &WriteTransaction,
    now: UtcTime,
    actor: &Actor,
    event: AuditEvent,
) -> Result<u64, StoreError> {
    let mut t = w.open_table(schema::AUDIT)?;
    let seq = match t.last()? {
        Some((k, _)) => k.value() + 1,
        None => 1,
    };
    let entry = AuditEntry {
        seq,
        at: now,
        actor: actor.name.clone(),
        action: event.action,
        target: event.target,
        region: event.region,
        reason: event.reason,
        how: actor.how.clone(),
        details: event.details,
    };
    let bytes = codec::encode(&entry).map_err(|source| StoreError::Encode {
        what: "audit entry",
        source,
    })?;
    t.insert(seq, bytes.as_slice())?;
    Ok(seq)
}

impl Store {
    /// Appends an audit record on its own (for actions that change nothing
    /// else, e.g. a refused apply or a force-unlock).
    pub fn audit(&self, actor: &Actor, event: AuditEvent) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.write(|w| append(w, now, actor, event))
    }

    /// The audit log, oldest first; only records whose target starts with
    /// `target_prefix` when one is given.
    pub fn audit_log(&self, target_prefix: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::AUDIT)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let e: AuditEntry =
                    codec::decode(v.value()).map_err(|source| StoreError::Corrupt {
                        table: "audit",
                        key: k.value().to_string(),
                        source,
                    })?;
                if target_prefix.is_none_or(|p| e.target.starts_with(p)) {
                    out.push(e);
                }
            }
            Ok(out)
        })
    }
}
