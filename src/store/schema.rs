//! Table definitions and the schema version.
//!
//! | table | key | value (codec record) |
//! |---|---|---|
//! | `meta` | name | schema version (u32 LE, raw), wrapped data key |
//! | `objects` | SHA-256 of the value (32 B) | [`Object`](super::object::Object) |
//! | `observed_at` | SHA-256 of an observed object (32 B) | the delta row holding it: seq (u64 LE) then the stack key (raw) |
//! | `releases` | (estate, version) | [`Release`](crate::model::Release) |
//! | `generations` | (stack `estate/env`, number) | [`Generation`](crate::model::Generation) |
//! | `deltas` | (stack, sequence number) | [`DeltaRow`](super::DeltaRow): one observed change not yet folded into a checkpoint |
//! | `folded_deltas` | (stack, sequence number) | [`DeltaRow`](super::DeltaRow): a change a checkpoint has folded (moved here by the fold; [`super::rows`]) |
//! | `checkpoints` | (stack, sequence number) | [`Checkpoint`](crate::model::Checkpoint) |
//! | `audit` | sequence number | [`AuditEntry`](crate::model::AuditEntry) |
//! | `journal` | (stack, sequence number) | [`JournalEntry`](super::JournalEntry) as written when the operation was about to start |
//! | `journal_ends` | (stack, sequence number) | [`JournalResolution`](super::JournalResolution): how that operation ended |
//! | `locks` | stack | [`LockRecord`](super::LockRecord) |
//! | `backups` | (stack, generation) | a state backup taken before a prod apply |
//! | `mirrored` | mirror blob path | what this store knows it pushed there (raw) |
//! | `object_log` | sequence number | digest of an object inserted while a mirror follows the store (raw, 32 B) |

use redb::TableDefinition;

/// The schema this build writes. Opening a newer one is refused; an older one
/// is migrated in one transaction.
///
/// Version 3 adds `journal_ends` and writes records in the compact codec
/// encoding (codec version 2); a build that cannot read them refuses the
/// store on open instead of failing on a record.
///
/// Version 4 adds `folded_deltas`: a fold moves the rows it folds there, so
/// `deltas` keeps only the rows since each stack's checkpoint. The migration
/// moves the rows already folded; an older build would miss them.
///
/// Version 5 adds `object_log`: while a mirror follows the store, every
/// object inserted is logged, so a push reads what is new instead of every
/// object; an older build would insert objects without logging them.
pub const SCHEMA_VERSION: u32 = 5;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
/// Observed objects that live in a delta row rather than in `objects`:
/// folding a generation's rows into its checkpoint points the tree at the
/// rows instead of copying every resource into `objects` a second time.
pub(crate) const OBSERVED_AT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("observed_at");
pub(crate) const RELEASES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("releases");
pub(crate) const GENERATIONS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("generations");
pub(crate) const DELTAS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("deltas");
/// Delta rows a checkpoint has folded (see [`super::rows`]).
pub(crate) const FOLDED_DELTAS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("folded_deltas");
pub(crate) const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("checkpoints");
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const JOURNAL: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("journal");
/// How journal entries ended, beside them rather than in them: a
/// resolution appends here instead of rewriting its entry.
pub(crate) const JOURNAL_ENDS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("journal_ends");
pub(crate) const LOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("locks");
pub(crate) const BACKUPS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("backups");
/// Bookkeeping of the mirror (not history): which blobs this store has
/// pushed, so a push uploads only what is new. Losing it costs a re-check,
/// never data: pushes are create-only.
pub(crate) const MIRRORED: TableDefinition<&str, &[u8]> = TableDefinition::new("mirrored");

/// Objects in the order they were inserted, while a mirror follows the
/// store: sequence number -> digest (32 bytes). A push to a mirror reads the
/// entries after its watermark (`meta` key [`META_OBJECT_LOG`] + scope)
/// instead of every object; entries every watermark has passed are pruned.
pub(crate) const OBJECT_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("object_log");

pub(crate) const META_SCHEMA: &str = "schema_version";
/// Prefix of the `meta` keys holding each mirror scope's object-log
/// watermark: the log sequence number its pushes have covered (u64 LE),
/// then 1 once a push completed from it, 0 while the first full scan is
/// still to complete.
pub(crate) const META_OBJECT_LOG: &str = "object_log/";
pub(crate) const META_DATA_KEY: &str = "sensitive_data_key";
