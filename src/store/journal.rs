use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::codec;
use super::db::Store;
use super::error::StoreError;
use super::schema;
use crate::model::{Address, Stack, UtcTime};

/// Where an in-flight provider operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JournalState {
    /// Written before the operation started; not resolved yet.
    Begun,
    /// The operation succeeded and its result is in the generation.
    Done,
    /// The operation failed.
    Failed,
}

/// The durable intent of one provider operation.
///
/// Invariant: an entry is written (state `Begun`) before its operation
/// starts and resolved after it ends, in the same transaction that records
/// the result; an entry still `Begun` after a crash means the outcome is
/// unknown and the provider must be read to learn it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The stack.
    pub stack: String,
    /// Sequence number within the stack, from 1.
    pub seq: u64,
    /// The generation the operation belongs to.
    pub generation: u64,
    /// The resource.
    pub address: Address,
    /// The action: create, update, replace, delete.
    pub action: String,
    /// The ARM type.
    pub arm_type: String,
    /// The ARM id the operation writes, so a crash can be reconciled by
    /// reading the provider.
    pub resource_id: String,
    /// The digest of the desired resource being applied (none for deletes).
    pub desired: Option<crate::model::Digest>,
    /// Where it stands.
    pub state: JournalState,
    /// When it started.
    pub started_at: UtcTime,
    /// When it was resolved.
    pub ended_at: Option<UtcTime>,
    /// The error, for failed operations.
    pub detail: Option<String>,
}

/// How an operation ended: the second record of a journal entry.
///
/// Invariant: stored in `journal_ends` under the key of the entry it
/// resolves, written in the transaction that records the operation's
/// result, and never rewritten. Appending a small record to a table of its
/// own instead of rewriting the entry keeps a resolution from touching the
/// leaves the entries were written to: that rewrite was a fifth of what an
/// apply wrote to the store (docs/BENCHMARKS.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalResolution {
    /// Done or failed.
    pub state: JournalState,
    /// When it was resolved.
    pub ended_at: UtcTime,
    /// The error, for failed operations.
    pub detail: Option<String>,
}

/// What an operation is about to do, for [`Store::journal_begin`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalIntent {
    /// The resource.
    pub address: Address,
    /// The action.
    pub action: String,
    /// The ARM type.
    pub arm_type: String,
    /// The ARM id it writes.
    pub resource_id: String,
    /// The desired digest being applied.
    pub desired: Option<crate::model::Digest>,
}

fn decode<T: serde::de::DeserializeOwned>(
    table: &'static str,
    stack: &str,
    seq: u64,
    bytes: &[u8],
) -> Result<T, StoreError> {
    codec::decode(bytes).map_err(|source| StoreError::Corrupt {
        table,
        key: format!("{stack}#{seq}"),
        source,
    })
}

fn put(w: &WriteTransaction, e: &JournalEntry) -> Result<(), StoreError> {
    let bytes = codec::encode(e).map_err(|source| StoreError::Encode {
        what: "journal entry",
        source,
    })?;
    w.open_table(schema::JOURNAL)?
        .insert((e.stack.as_str(), e.seq), bytes.as_slice())?;
    Ok(())
}

pub(crate) fn begin_in(
    w: &WriteTransaction,
    stack: &Stack,
    generation: u64,
    intents: &[JournalIntent],
    now: UtcTime,
) -> Result<Vec<u64>, StoreError> {
    if intents.is_empty() {
        return Ok(Vec::new());
    }
    let key = stack.key();
    let mut seq = {
        let t = w.open_table(schema::JOURNAL)?;
        let last = t
            .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
            .next_back();
        match last {
            Some(row) => row?.0.value().1,
            None => 0,
        }
    };
    let mut out = Vec::with_capacity(intents.len());
    for i in intents {
        seq += 1;
        put(
            w,
            &JournalEntry {
                stack: key.clone(),
                seq,
                generation,
                address: i.address.clone(),
                action: i.action.clone(),
                arm_type: i.arm_type.clone(),
                resource_id: i.resource_id.clone(),
                desired: i.desired,
                state: JournalState::Begun,
                started_at: now,
                ended_at: None,
                detail: None,
            },
        )?;
        out.push(seq);
    }
    Ok(out)
}

pub(crate) fn resolve_in(
    w: &WriteTransaction,
    stack: &Stack,
    seq: u64,
    state: JournalState,
    detail: Option<String>,
    now: UtcTime,
) -> Result<(), StoreError> {
    let key = stack.key();
    if w.open_table(schema::JOURNAL)?
        .get((key.as_str(), seq))?
        .is_none()
    {
        return Err(StoreError::Bug(format!(
            "journal entry {key}#{seq} does not exist"
        )));
    }
    let bytes = codec::encode(&JournalResolution {
        state,
        ended_at: now,
        detail,
    })
    .map_err(|source| StoreError::Encode {
        what: "journal resolution",
        source,
    })?;
    w.open_table(schema::JOURNAL_ENDS)?
        .insert((key.as_str(), seq), bytes.as_slice())?;
    Ok(())
}

impl Store {
    /// Writes the intent of operations before they start, in one
    /// transaction; returns their sequence numbers.
    pub fn journal_begin(
        &self,
        stack: &Stack,
        generation: u64,
        intents: &[JournalIntent],
    ) -> Result<Vec<u64>, StoreError> {
        let now = self.clock.now();
        self.write(|w| begin_in(w, stack, generation, intents, now))
    }

    /// Resolves an entry on its own (when there is no result to record).
    pub fn journal_resolve(
        &self,
        stack: &Stack,
        seq: u64,
        state: JournalState,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.write(|w| resolve_in(w, stack, seq, state, detail, now))
    }

    /// Every journal entry of a stack, oldest first.
    pub fn journal(&self, stack: &Stack) -> Result<Vec<JournalEntry>, StoreError> {
        let key = stack.key();
        self.read(|r| {
            let t = r.open_table(schema::JOURNAL)?;
            let mut out: Vec<JournalEntry> = Vec::new();
            for row in t.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))? {
                let (k, v) = row?;
                out.push(decode("journal", &key, k.value().1, v.value())?);
            }
            let ends = match r.open_table(schema::JOURNAL_ENDS) {
                Ok(t) => t,
                // A version-2 store opened read-only before its migration.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            for row in ends.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))? {
                let (k, v) = row?;
                let seq = k.value().1;
                let r: JournalResolution = decode("journal_ends", &key, seq, v.value())?;
                let Ok(i) = out.binary_search_by_key(&seq, |e| e.seq) else {
                    return Err(StoreError::Corrupt {
                        table: "journal_ends",
                        key: format!("{key}#{seq}"),
                        source: codec::CodecError::Malformed(
                            "it resolves an entry that does not exist".into(),
                        ),
                    });
                };
                let entry = &mut out[i];
                entry.state = r.state;
                entry.ended_at = Some(r.ended_at);
                entry.detail = r.detail;
            }
            Ok(out)
        })
    }

    /// The entries still `Begun`: operations whose outcome is unknown.
    pub fn unresolved(&self, stack: &Stack) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self
            .journal(stack)?
            .into_iter()
            .filter(|e| e.state == JournalState::Begun)
            .collect())
    }
}
