use std::collections::BTreeMap;
use std::sync::Mutex;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::audit::{self, AuditEvent};
use super::codec;
use super::db::{Actor, ReadObjects, Store, WriteObjects};
use super::error::StoreError;
use super::journal::{self, JournalState};
use super::object::{self, Object, Objects};
use super::rows::{ReadRows, Rows, WriteRows};
use super::schema;
use super::tree;
use crate::model::{
    Address, Checkpoint, Digest, Generation, GenerationKind, ObservedResource, Outcome, Secret,
    Stack, UtcTime,
};

/// What the applied tree holds for a resource that was not applied from a
/// release (imported or refreshed): never equal to a real desired digest, so
/// a plan always compares such a resource property by property.
pub const UNKNOWN_DESIRED: Digest = Digest([0; 32]);

/// Delta rows after a checkpoint before the next one is materialized. Reading
/// any generation costs one tree walk plus at most this many rows; a commit
/// that crosses the bound folds the rows into the trees.
pub const CHECKPOINT_EVERY: u64 = 1024;

/// What a new generation is for.
#[derive(Debug, Clone)]
pub struct NewGeneration {
    /// Why it exists.
    pub kind: GenerationKind,
    /// The release being applied, if any.
    pub release: Option<String>,
    /// The plan applied, if any.
    pub plan_hash: Option<Digest>,
    /// Why, when given.
    pub reason: Option<String>,
}

/// One change to observed state.
#[derive(Debug, Clone)]
pub enum Change {
    /// The provider now holds this resource; `applied` is the digest of the
    /// desired resource it was applied from (none for imports and refreshes).
    Put {
        /// What the provider reported (plain secrets are sealed on write).
        observed: Box<ObservedResource>,
        /// The desired resource's digest, when applied from a release.
        applied: Option<Digest>,
    },
    /// The provider no longer holds this resource.
    Remove(Address),
}

/// One stored change of a stack's observed state: the unit a one-resource
/// commit writes (besides its generation record and audit entry).
///
/// Invariant: rows of a stack are numbered 1, 2, 3, ... with no gaps, in
/// commit order; secrets in `Put` are sealed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeltaRow {
    /// The generation the change belongs to.
    pub generation: u64,
    /// The resource.
    pub address: Address,
    /// What happened to it.
    pub change: DeltaChange,
}

/// The change a [`DeltaRow`] records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DeltaChange {
    /// The resource as observed, and the desired digest it was applied from.
    Put {
        /// The observed resource (secrets sealed).
        observed: Box<ObservedResource>,
        /// The desired-resource digest, when applied from a release.
        applied: Option<Digest>,
    },
    /// The resource is gone.
    Remove,
}

fn gen_key(stack: &Stack) -> String {
    stack.key()
}

fn decode_gen(stack: &str, n: u64, bytes: &[u8]) -> Result<Generation, StoreError> {
    codec::decode(bytes).map_err(|source| StoreError::Corrupt {
        table: "generations",
        key: format!("{stack}#{n}"),
        source,
    })
}

fn decode_row(
    table: &'static str,
    stack: &str,
    seq: u64,
    bytes: &[u8],
) -> Result<DeltaRow, StoreError> {
    codec::decode(bytes).map_err(|source| StoreError::Corrupt {
        table,
        key: format!("{stack}@{seq}"),
        source,
    })
}

pub(crate) fn put_gen(w: &WriteTransaction, g: &Generation) -> Result<(), StoreError> {
    let bytes = codec::encode(g).map_err(|source| StoreError::Encode {
        what: "generation",
        source,
    })?;
    let key = g.stack.key();
    w.open_table(schema::GENERATIONS)?
        .insert((key.as_str(), g.number), bytes.as_slice())?;
    Ok(())
}

fn latest_in(w: &WriteTransaction, stack: &Stack) -> Result<Option<Generation>, StoreError> {
    let t = w.open_table(schema::GENERATIONS)?;
    let key = gen_key(stack);
    let last = t
        .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
        .next_back();
    match last {
        Some(row) => {
            let (k, v) = row?;
            Ok(Some(decode_gen(&key, k.value().1, v.value())?))
        }
        None => Ok(None),
    }
}

fn get_in(w: &WriteTransaction, stack: &Stack, n: u64) -> Result<Option<Generation>, StoreError> {
    let t = w.open_table(schema::GENERATIONS)?;
    let key = gen_key(stack);
    t.get((key.as_str(), n))?
        .map(|g| decode_gen(&key, n, g.value()))
        .transpose()
}

/// Whether a generation ending with rows up to `last_seq` on checkpoint
/// `base_seq` folds them ([`CHECKPOINT_EVERY`]).
fn fold_due(last_seq: u64, base_seq: u64) -> bool {
    // A damaged index could put the checkpoint past the last row: that is
    // `store check`'s to report, never a panic here.
    last_seq.saturating_sub(base_seq) >= CHECKPOINT_EVERY
}

/// The delta rows of `stack` in `(after, upto]`, in order.
fn rows_in<T: ReadableTable<(&'static str, u64), &'static [u8]>>(
    path: &std::path::Path,
    rows: &Rows<T>,
    stack: &str,
    after: u64,
    upto: u64,
) -> Result<Vec<(u64, DeltaRow)>, StoreError> {
    let found = rows.range(stack, after, upto)?;
    // Rows are numbered without gaps: a run that is short or out of order
    // was damaged, and a state built on it would silently lose resources.
    let mut expect = after.saturating_add(1);
    for (seq, _, _) in &found {
        if *seq != expect {
            return Err(incomplete(
                path,
                format!("delta row {stack}@{expect} is missing (the next one read is @{seq})"),
            ));
        }
        expect = seq.saturating_add(1);
    }
    if upto > after && expect != upto.saturating_add(1) {
        return Err(incomplete(
            path,
            format!("delta rows {stack}@{expect}..@{upto} are missing"),
        ));
    }
    found
        .into_iter()
        .map(|(seq, bytes, table)| Ok((seq, decode_row(table, stack, seq, &bytes)?)))
        .collect()
}

/// A read of the store at `path` that does not add up.
fn incomplete(path: &std::path::Path, what: String) -> StoreError {
    StoreError::Incomplete {
        path: path.to_path_buf(),
        what,
    }
}

/// Where an observed object lives when it is not in `objects`: the value
/// of its `observed_at` entry.
fn place(stack: &str, seq: u64) -> Vec<u8> {
    let mut v = seq.to_le_bytes().to_vec();
    v.extend_from_slice(stack.as_bytes());
    v
}

/// Records that the observed object `digest` is the one in row
/// `(stack, seq)`, unless `objects` or an earlier row already holds it.
pub(crate) fn index_observed(
    at: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    objs: &WriteObjects<'_>,
    digest: &Digest,
    stack: &str,
    seq: u64,
) -> Result<(), StoreError> {
    if !objs.holds(digest)? && at.get(digest.0.as_slice())?.is_none() {
        at.insert(digest.0.as_slice(), place(stack, seq).as_slice())?;
    }
    Ok(())
}

/// The observed object `digest` from the delta row its `observed_at` entry
/// `place` names: the resource and its object bytes, checked against the
/// digest.
pub(crate) fn observed_at_row<T: ReadableTable<(&'static str, u64), &'static [u8]>>(
    rows: &Rows<T>,
    digest: &Digest,
    place: &[u8],
) -> Result<(ObservedResource, Vec<u8>), StoreError> {
    let bad = |why: String| StoreError::Corrupt {
        table: "observed_at",
        key: digest.to_hex(),
        source: codec::CodecError::Malformed(why),
    };
    let (seq, stack) = match (place.get(..8), place.get(8..)) {
        (Some(n), Some(s)) => (
            u64::from_le_bytes(n.try_into().map_err(|_| bad("short entry".into()))?),
            std::str::from_utf8(s).map_err(|_| bad("stack is not UTF-8".into()))?,
        ),
        _ => return Err(bad("short entry".into())),
    };
    let Some((bytes, table)) = rows.get(stack, seq)? else {
        return Err(bad(format!(
            "it names row {stack}@{seq}, which does not exist"
        )));
    };
    let DeltaChange::Put { observed, .. } = decode_row(table, stack, seq, &bytes)?.change else {
        return Err(bad(format!("it names row {stack}@{seq}, a removal")));
    };
    let object = Object::Observed(*observed);
    let (d, bytes) = object::encode(&object)?;
    if d != *digest {
        return Err(StoreError::Corrupt {
            table: "observed_at",
            key: digest.to_hex(),
            source: codec::CodecError::Checksum,
        });
    }
    match object {
        Object::Observed(o) => Ok((o, bytes)),
        _ => Err(StoreError::Bug("an observed object changed kind".into())),
    }
}

/// Which addresses exist in the rows after a checkpoint, as of the last
/// commit of this process, so consecutive commits need not re-read the rows.
#[derive(Default)]
pub(crate) struct OverlayCache(Mutex<Option<CachedOverlay>>);

/// (stack, checkpoint seq, last row seq, address -> exists).
type CachedOverlay = (String, u64, u64, BTreeMap<Address, bool>);

impl OverlayCache {
    fn take_if(&self, stack: &str, base: u64, last: u64) -> Option<BTreeMap<Address, bool>> {
        let mut guard = self.0.lock().ok()?;
        match guard.take() {
            Some((s, b, l, o)) if s == stack && b == base && l == last => Some(o),
            _ => None,
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = None;
        }
    }

    fn put(&self, stack: String, base: u64, last: u64, overlay: BTreeMap<Address, bool>) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((stack, base, last, overlay));
        }
    }
}

impl Store {
    /// Appends changes to generation `g` as delta rows (maintaining its
    /// count). Folding them into a checkpoint is [`Self::fold_if_due`]'s, when
    /// the generation ends. Once the generation holds enough rows that its
    /// end will fold them (rows are never taken back, so that is certain),
    /// its rows go straight where the fold would move them (`super::rows`):
    /// a 5,000-resource apply writes 4,000 of its rows once instead of twice.
    fn apply_changes(
        &self,
        w: &WriteTransaction,
        g: &mut Generation,
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let folds = fold_due(g.last_seq + changes.len() as u64, g.base.seq);
        let key = g.stack.key();
        // Which addresses exist now: the rows since the checkpoint override
        // the checkpoint's tree.
        // The cache holds the overlay of the last commit in this process; it
        // is reused only when it describes exactly these rows.
        let cached = self.overlay_cache().take_if(&key, g.base.seq, g.last_seq);
        let mut overlay: BTreeMap<Address, bool> = match cached {
            Some(o) => o,
            None => {
                let t = WriteRows::write(w)?;
                rows_in(&self.path, &t, &key, g.base.seq, g.last_seq)?
                    .into_iter()
                    .map(|(_, r)| (r.address, matches!(r.change, DeltaChange::Put { .. })))
                    .collect()
            }
        };
        let objs = WriteObjects::open(w)?;
        let mut rows = WriteRows::write(w)?;
        let mut count = g.resource_count;
        for c in changes {
            let (address, change) = match c {
                Change::Put {
                    mut observed,
                    applied,
                } => {
                    self.seal(w, &g.stack, &mut observed)?;
                    (
                        observed.address.clone(),
                        DeltaChange::Put { observed, applied },
                    )
                }
                Change::Remove(a) => (a, DeltaChange::Remove),
            };
            let before = match overlay.get(&address) {
                Some(e) => *e,
                None => tree::get(&objs, &g.base.root, &address)?.is_some(),
            };
            let after = matches!(change, DeltaChange::Put { .. });
            count = count + u64::from(after) - u64::from(before);
            overlay.insert(address.clone(), after);
            g.last_seq += 1;
            let row = DeltaRow {
                generation: g.number,
                address,
                change,
            };
            let bytes = codec::encode(&row).map_err(|source| StoreError::Encode {
                what: "delta row",
                source,
            })?;
            rows.insert(&key, g.last_seq, &bytes, folds)?;
        }
        drop(rows);
        drop(objs);
        g.resource_count = count;
        // Kept for the next commit; if this transaction aborts, its
        // `last_seq` never commits and the entry is never matched (nor after
        // a fold, which moves `base`).
        self.overlay_cache()
            .put(key, g.base.seq, g.last_seq, overlay);
        Ok(())
    }

    /// Folds the rows since the checkpoint into the trees when there are
    /// [`CHECKPOINT_EVERY`] or more. Called when a generation ends, not on
    /// every commit of one in progress: an apply that creates 5,000
    /// resources folds once instead of once per 1,024 rows, each fold
    /// rewriting most of the tree (the rows of a generation in progress are
    /// read by nobody but the applier, which holds them in memory).
    fn fold_if_due(&self, w: &WriteTransaction, g: &mut Generation) -> Result<(), StoreError> {
        if fold_due(g.last_seq, g.base.seq) {
            self.materialize(w, g)?;
            // The cached overlay described the rows now folded.
            self.overlay_cache().clear();
        }
        Ok(())
    }

    /// [`Self::materialize`], for the export module.
    pub(crate) fn materialize_into(
        &self,
        w: &WriteTransaction,
        g: &mut Generation,
    ) -> Result<(), StoreError> {
        self.materialize(w, g)
    }

    /// Folds the rows since `g.base` into the trees, records the new
    /// checkpoint and moves the rows it folded to `folded_deltas`.
    fn materialize(&self, w: &WriteTransaction, g: &mut Generation) -> Result<(), StoreError> {
        let key = g.stack.key();
        let rows = {
            let mut t = WriteRows::write(w)?;
            t.settle(&key, g.last_seq)?;
            rows_in(&self.path, &t, &key, g.base.seq, g.last_seq)?
        };
        let mut objs = WriteObjects::batched(w)?;
        let mut at = w.open_table(schema::OBSERVED_AT)?;
        // Indexed in digest order after the loop, for the reason objects
        // are batched (see `WriteObjects::batched`); the first row holding
        // an object is the one indexed.
        let mut places: BTreeMap<Digest, u64> = BTreeMap::new();
        let mut observed: BTreeMap<Address, Option<Digest>> = BTreeMap::new();
        let mut applied: BTreeMap<Address, Option<Digest>> = BTreeMap::new();
        for (seq, row) in rows {
            match row.change {
                DeltaChange::Put {
                    observed: o,
                    applied: a,
                } => {
                    // The tree points at the row, which already holds the
                    // resource: no second copy in `objects`.
                    let (d, _) = object::encode(&Object::Observed(*o))?;
                    places.entry(d).or_insert(seq);
                    observed.insert(row.address.clone(), Some(d));
                    applied.insert(row.address, Some(a.unwrap_or(UNKNOWN_DESIRED)));
                }
                DeltaChange::Remove => {
                    observed.insert(row.address.clone(), None);
                    applied.insert(row.address, None);
                }
            }
        }
        let cp = Checkpoint {
            seq: g.last_seq,
            root: tree::update(&mut objs, &g.base.root, &observed)?,
            applied: tree::update(&mut objs, &g.base.applied, &applied)?,
            count: g.resource_count,
        };
        for (d, seq) in places {
            index_observed(&mut at, &objs, &d, &key, seq)?;
        }
        drop(at);
        objs.finish()?;
        let bytes = codec::encode(&cp).map_err(|source| StoreError::Encode {
            what: "checkpoint",
            source,
        })?;
        w.open_table(schema::CHECKPOINTS)?
            .insert((key.as_str(), cp.seq), bytes.as_slice())?;
        g.base = cp;
        Ok(())
    }

    /// Starts generation `latest + 1` of `stack` (state carried over from the
    /// latest), marked in progress. Refused while the latest is still in
    /// progress: that apply must be resumed or finished first.
    pub fn begin_generation(
        &self,
        stack: &Stack,
        new: NewGeneration,
        actor: &Actor,
    ) -> Result<Generation, StoreError> {
        let now = self.clock.now();
        self.write(|w| self.begin_in(w, stack, new, actor, now))
    }

    fn begin_in(
        &self,
        w: &WriteTransaction,
        stack: &Stack,
        new: NewGeneration,
        actor: &Actor,
        now: UtcTime,
    ) -> Result<Generation, StoreError> {
        let latest = latest_in(w, stack)?;
        if let Some(l) = &latest
            && l.outcome == Outcome::InProgress
        {
            return Err(StoreError::GenerationState {
                stack: stack.to_string(),
                number: l.number,
                state: "still in progress".into(),
                hint: format!(
                    "resume it with `statectl apply --estate {} --env {} --resume`",
                    stack.estate, stack.env
                ),
            });
        }
        let (base, last_seq, count) = match &latest {
            Some(l) => (l.base.clone(), l.last_seq, l.resource_count),
            None => {
                let mut objs = WriteObjects::open(w)?;
                let e = tree::empty(&mut objs)?;
                (
                    Checkpoint {
                        seq: 0,
                        root: e,
                        applied: e,
                        count: 0,
                    },
                    0,
                    0,
                )
            }
        };
        let g = Generation {
            stack: stack.clone(),
            number: next_number(stack, latest.as_ref())?,
            kind: new.kind,
            release: new.release,
            plan_hash: new.plan_hash,
            actor: actor.name.clone(),
            reason: new.reason,
            started_at: now,
            ended_at: now,
            outcome: Outcome::InProgress,
            summary: Vec::new(),
            base,
            last_seq,
            resource_count: count,
            restores: Vec::new(),
        };
        put_gen(w, &g)?;
        Ok(g)
    }

    /// Records changes to the in-progress generation `number`, and resolves
    /// journal entries, in one transaction: an operation's result and the
    /// end of its journal entry commit together.
    pub fn record(
        &self,
        stack: &Stack,
        number: u64,
        changes: Vec<Change>,
        resolve: &[(u64, JournalState, Option<String>)],
    ) -> Result<Generation, StoreError> {
        Ok(self
            .record_and_begin(stack, number, changes, resolve, &[])?
            .0)
    }

    /// [`Store::record`], and in the same transaction the journal entries of
    /// the operations about to start: one durable write per round of the
    /// applier. Returns their sequence numbers.
    pub fn record_and_begin(
        &self,
        stack: &Stack,
        number: u64,
        changes: Vec<Change>,
        resolve: &[(u64, JournalState, Option<String>)],
        begin: &[journal::JournalIntent],
    ) -> Result<(Generation, Vec<u64>), StoreError> {
        let now = self.clock.now();
        self.write(|w| {
            let mut g = self.in_progress(w, stack, number)?;
            let changed = !changes.is_empty();
            self.apply_changes(w, &mut g, changes)?;
            for (seq, state, detail) in resolve {
                journal::resolve_in(w, stack, *seq, *state, detail.clone(), now)?;
            }
            let seqs = journal::begin_in(w, stack, number, begin, now)?;
            if changed {
                put_gen(w, &g)?;
            }
            Ok((g, seqs))
        })
    }

    fn in_progress(
        &self,
        w: &WriteTransaction,
        stack: &Stack,
        number: u64,
    ) -> Result<Generation, StoreError> {
        let g = get_in(w, stack, number)?.ok_or(StoreError::UnknownGeneration {
            stack: stack.to_string(),
            number,
            latest: latest_in(w, stack)?.map(|l| l.number),
        })?;
        if g.outcome != Outcome::InProgress {
            return Err(StoreError::GenerationState {
                stack: stack.to_string(),
                number,
                state: format!("already {}", g.outcome),
                hint: "start a new apply".into(),
            });
        }
        Ok(g)
    }

    /// Ends the in-progress generation `number` with its outcome and
    /// summary, and audits it.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_generation(
        &self,
        stack: &Stack,
        number: u64,
        outcome: Outcome,
        summary: Vec<String>,
        restores: Vec<crate::model::RestoreReport>,
        actor: &Actor,
        region: Option<String>,
    ) -> Result<Generation, StoreError> {
        let now = self.clock.now();
        self.write(|w| {
            let mut g = self.in_progress(w, stack, number)?;
            g.restores = restores;
            self.finish_in(w, &mut g, outcome, summary, actor, region, now)?;
            Ok(g)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_in(
        &self,
        w: &WriteTransaction,
        g: &mut Generation,
        outcome: Outcome,
        summary: Vec<String>,
        actor: &Actor,
        region: Option<String>,
        now: UtcTime,
    ) -> Result<(), StoreError> {
        g.outcome = outcome;
        g.summary = summary;
        g.ended_at = now;
        self.fold_if_due(w, g)?;
        put_gen(w, g)?;
        audit::append(
            w,
            now,
            actor,
            AuditEvent {
                action: g.kind.to_string(),
                target: g.stack.key(),
                region,
                reason: g.reason.clone(),
                details: format!(
                    "generation {} {}{} ({} resources)",
                    g.number,
                    g.outcome,
                    g.release
                        .as_deref()
                        .map(|r| format!(" release v{r}"))
                        .unwrap_or_default(),
                    g.resource_count
                ),
            },
        )?;
        Ok(())
    }

    /// Begins, records and finishes a generation in one transaction.
    pub fn commit_generation(
        &self,
        stack: &Stack,
        new: NewGeneration,
        changes: Vec<Change>,
        outcome: Outcome,
        actor: &Actor,
    ) -> Result<Generation, StoreError> {
        let now = self.clock.now();
        self.write(|w| {
            let mut g = self.begin_in(w, stack, new, actor, now)?;
            self.apply_changes(w, &mut g, changes)?;
            self.finish_in(w, &mut g, outcome, Vec::new(), actor, None, now)?;
            Ok(g)
        })
    }

    /// Writes a generation whose metadata is given whole (`state push`): its
    /// state becomes exactly `resources`. Its number must be above the
    /// latest unless `force`, in which case it becomes `latest + 1`.
    pub fn import_generation(
        &self,
        template: Generation,
        resources: Vec<ObservedResource>,
        force: bool,
        actor: &Actor,
    ) -> Result<Generation, StoreError> {
        let now = self.clock.now();
        let stack = template.stack.clone();
        self.write(|w| {
            let latest = latest_in(w, &stack)?;
            let mut g = template.clone();
            let next = next_number(&stack, latest.as_ref())?;
            if g.number != next {
                if !force {
                    return Err(match &latest {
                        Some(l) if g.number <= l.number => StoreError::PushWouldOverwrite {
                            stack: stack.to_string(),
                            latest: l.number,
                            file: g.number,
                        },
                        _ => StoreError::PushGap {
                            stack: stack.to_string(),
                            next,
                            file: g.number,
                        },
                    });
                }
                g.number = next;
            }
            // Start from the latest state and change it into the file's.
            let (base, last_seq, count, current) = match &latest {
                Some(l) => (
                    l.base.clone(),
                    l.last_seq,
                    l.resource_count,
                    self.state_in(w, l)?,
                ),
                None => {
                    let mut objs = WriteObjects::open(w)?;
                    let e = tree::empty(&mut objs)?;
                    (
                        Checkpoint {
                            seq: 0,
                            root: e,
                            applied: e,
                            count: 0,
                        },
                        0,
                        0,
                        BTreeMap::new(),
                    )
                }
            };
            let resources = match &latest {
                Some(l) => {
                    let objs = WriteObjects::open(w)?;
                    keep_sealed(&stack, resources, |a| match current.get(a) {
                        Some(slot) => slot.clone().load(&objs, a, l).map(Some),
                        None => Ok(None),
                    })?
                }
                None => keep_sealed(&stack, resources, |_| Ok(None))?,
            };
            g.base = base;
            g.last_seq = last_seq;
            g.resource_count = count;
            let keep: std::collections::BTreeSet<&Address> =
                resources.iter().map(|r| &r.address).collect();
            let mut changes: Vec<Change> = current
                .into_keys()
                .filter(|a| !keep.contains(a))
                .map(Change::Remove)
                .collect();
            changes.extend(resources.iter().cloned().map(|observed| Change::Put {
                observed: Box::new(observed),
                applied: None,
            }));
            self.apply_changes(w, &mut g, changes)?;
            self.fold_if_due(w, &mut g)?;
            put_gen(w, &g)?;
            audit::append(
                w,
                now,
                actor,
                AuditEvent {
                    action: "state.push".into(),
                    target: stack.key(),
                    details: format!(
                        "generation {} ({} resources){}",
                        g.number,
                        g.resource_count,
                        if force { " forced" } else { "" }
                    ),
                    ..AuditEvent::default()
                },
            )?;
            Ok(g)
        })
    }

    /// Every generation of `stack`, oldest first.
    pub fn generations(&self, stack: &Stack) -> Result<Vec<Generation>, StoreError> {
        let key = gen_key(stack);
        self.read(|r| {
            let t = r.open_table(schema::GENERATIONS)?;
            let mut out = Vec::new();
            for row in t.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))? {
                let (k, v) = row?;
                out.push(decode_gen(&key, k.value().1, v.value())?);
            }
            Ok(out)
        })
    }

    /// Every restore recorded in `stack`'s history (emergency applies and
    /// drills), oldest first: the measured RTO/RPO the checks compare with
    /// the objectives.
    pub fn restores(&self, stack: &Stack) -> Result<Vec<crate::model::RestoreReport>, StoreError> {
        Ok(self
            .generations(stack)?
            .into_iter()
            .flat_map(|g| g.restores)
            .collect())
    }

    /// The latest generation of `stack`, if any.
    pub fn latest_generation(&self, stack: &Stack) -> Result<Option<Generation>, StoreError> {
        let key = gen_key(stack);
        self.read(|r| {
            let t = r.open_table(schema::GENERATIONS)?;
            let last = t
                .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
                .next_back();
            match last {
                Some(row) => {
                    let (k, v) = row?;
                    Ok(Some(decode_gen(&key, k.value().1, v.value())?))
                }
                None => Ok(None),
            }
        })
    }

    /// Generation `number` of `stack`.
    pub fn generation(&self, stack: &Stack, number: u64) -> Result<Generation, StoreError> {
        let key = gen_key(stack);
        let g = self.read(|r| {
            let t = r.open_table(schema::GENERATIONS)?;
            t.get((key.as_str(), number))?
                .map(|g| decode_gen(&key, number, g.value()))
                .transpose()
        })?;
        match g {
            Some(g) => Ok(g),
            None => Err(StoreError::UnknownGeneration {
                stack: stack.to_string(),
                number,
                latest: self.latest_generation(stack)?.map(|l| l.number),
            }),
        }
    }

    /// Every stack that has a generation.
    pub fn stacks(&self) -> Result<Vec<Stack>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::GENERATIONS)?;
            let mut out: Vec<Stack> = Vec::new();
            for row in t.iter()? {
                let (k, _) = row?;
                let key = k.value().0;
                if out.last().is_some_and(|s| s.key() == key) {
                    continue;
                }
                if let Some((e, v)) = key.split_once('/')
                    && let Ok(s) = Stack::new(e, v)
                {
                    out.push(s);
                }
            }
            Ok(out)
        })
    }

    /// The state of a generation: the checkpoint's tree, overridden by the
    /// rows since. Entries are either still in the tree (a digest) or carried
    /// by a row.
    fn overlay<T: ReadableTable<(&'static str, u64), &'static [u8]>>(
        &self,
        objs: &dyn Objects,
        rows: &Rows<T>,
        g: &Generation,
    ) -> Result<BTreeMap<Address, Slot>, StoreError> {
        let tree = tree::entries(objs, &g.base.root)?;
        if tree.len() as u64 != g.base.count {
            return Err(incomplete(
                &self.path,
                format!(
                    "the checkpoint of {} at row {} holds {} resources where its record says {}",
                    g.stack,
                    g.base.seq,
                    tree.len(),
                    g.base.count
                ),
            ));
        }
        let mut out: BTreeMap<Address, Slot> = tree
            .into_iter()
            .map(|(a, d)| (a, Slot::Stored(d)))
            .collect();
        for (_, row) in rows_in(&self.path, rows, &g.stack.key(), g.base.seq, g.last_seq)? {
            match row.change {
                DeltaChange::Put { observed, .. } => {
                    out.insert(row.address, Slot::Inline(observed));
                }
                DeltaChange::Remove => {
                    out.remove(&row.address);
                }
            }
        }
        if out.len() as u64 != g.resource_count {
            return Err(incomplete(
                &self.path,
                format!(
                    "generation {} of {} reads as {} resources where its record says {}",
                    g.number,
                    g.stack,
                    out.len(),
                    g.resource_count
                ),
            ));
        }
        Ok(out)
    }

    fn state_in(
        &self,
        w: &WriteTransaction,
        g: &Generation,
    ) -> Result<BTreeMap<Address, Slot>, StoreError> {
        let objs = WriteObjects::open(w)?;
        let rows = WriteRows::write(w)?;
        self.overlay(&objs, &rows, g)
    }

    fn state_read(
        &self,
        r: &ReadTransaction,
        g: &Generation,
    ) -> Result<(ReadObjects, BTreeMap<Address, Slot>), StoreError> {
        let objs = ReadObjects::open(r)?;
        let rows = ReadRows::read(r)?;
        let state = self.overlay(&objs, &rows, g)?;
        Ok((objs, state))
    }

    /// The observed resources of a generation (secrets stay sealed).
    pub fn observed(
        &self,
        g: &Generation,
    ) -> Result<BTreeMap<Address, ObservedResource>, StoreError> {
        self.read(|r| {
            let (objs, state) = self.state_read(r, g)?;
            let mut out = BTreeMap::new();
            for (addr, slot) in state {
                let o = slot.load(&objs, &addr, g)?;
                out.insert(addr, o);
            }
            Ok(out)
        })
    }

    /// One observed resource of a generation.
    pub fn observed_resource(
        &self,
        g: &Generation,
        addr: &Address,
    ) -> Result<ObservedResource, StoreError> {
        self.read(|r| {
            let objs = ReadObjects::open(r)?;
            let rows = ReadRows::read(r)?;
            // The newest row about `addr` wins; else the checkpoint's tree.
            for (_, row) in rows_in(&self.path, &rows, &g.stack.key(), g.base.seq, g.last_seq)?
                .into_iter()
                .rev()
            {
                if &row.address == addr {
                    return match row.change {
                        DeltaChange::Put { observed, .. } => Ok(*observed),
                        DeltaChange::Remove => Err(StoreError::UnknownAddress {
                            stack: g.stack.to_string(),
                            generation: g.number,
                            address: addr.to_string(),
                        }),
                    };
                }
            }
            let d = tree::get(&objs, &g.base.root, addr)?.ok_or_else(|| {
                StoreError::UnknownAddress {
                    stack: g.stack.to_string(),
                    generation: g.number,
                    address: addr.to_string(),
                }
            })?;
            Slot::Stored(d).load(&objs, addr, g)
        })
    }

    /// The addresses of a generation.
    pub fn addresses(&self, g: &Generation) -> Result<Vec<Address>, StoreError> {
        self.read(|r| Ok(self.state_read(r, g)?.1.into_keys().collect()))
    }

    /// The applied state of a generation: address -> digest of the desired
    /// resource it was applied from ([`UNKNOWN_DESIRED`] for imports and
    /// refreshes). Its keys are exactly the generation's addresses.
    pub fn applied(&self, g: &Generation) -> Result<BTreeMap<Address, Digest>, StoreError> {
        self.read(|r| {
            let objs = ReadObjects::open(r)?;
            let rows = ReadRows::read(r)?;
            let mut out = tree::entries(&objs, &g.base.applied)?;
            for (_, row) in rows_in(&self.path, &rows, &g.stack.key(), g.base.seq, g.last_seq)? {
                match row.change {
                    DeltaChange::Put {
                        applied: Some(d), ..
                    } => {
                        out.insert(row.address, d);
                    }
                    _ => {
                        out.remove(&row.address);
                    }
                }
            }
            Ok(out)
        })
    }

    /// Addresses whose applied digest differs between a release environment's
    /// tree and a generation: `(address, in release, applied)`. Equal
    /// subtrees are skipped and at most [`CHECKPOINT_EVERY`] rows are read,
    /// so when nothing changed the comparison costs O(1), not O(resources).
    pub fn applied_diff(
        &self,
        release_root: &Digest,
        g: Option<&Generation>,
    ) -> Result<Vec<tree::DiffEntry>, StoreError> {
        self.read(|r| {
            let objs = ReadObjects::open(r)?;
            let Some(g) = g else {
                return Ok(tree::entries(&objs, release_root)?
                    .into_iter()
                    .map(|(a, d)| (a, Some(d), None))
                    .collect());
            };
            let rows = ReadRows::read(r)?;
            let mut diff: BTreeMap<Address, (Option<Digest>, Option<Digest>)> =
                tree::diff(&objs, release_root, &g.base.applied)?
                    .into_iter()
                    .map(|(a, x, y)| (a, (x, y)))
                    .collect();
            for (_, row) in rows_in(&self.path, &rows, &g.stack.key(), g.base.seq, g.last_seq)? {
                let applied = match row.change {
                    DeltaChange::Put { applied, .. } => Some(applied.unwrap_or(UNKNOWN_DESIRED)),
                    DeltaChange::Remove => None,
                };
                let desired = match diff.get(&row.address) {
                    Some((d, _)) => *d,
                    None => tree::get(&objs, release_root, &row.address)?,
                };
                diff.insert(row.address, (desired, applied));
            }
            Ok(diff
                .into_iter()
                .filter(|(_, (d, a))| d != a)
                .map(|(k, (d, a))| (k, d, a))
                .collect())
        })
    }

    /// The delta rows of one generation (what it changed), in order.
    pub fn generation_changes(&self, g: &Generation) -> Result<Vec<DeltaRow>, StoreError> {
        self.read(|r| {
            let key = g.stack.key();
            // Its rows follow the previous generation's (absent when a
            // pruned mirror restored the stack from a later generation).
            let after = match r
                .open_table(schema::GENERATIONS)?
                .range((key.as_str(), 0)..(key.as_str(), g.number))?
                .next_back()
            {
                Some(prev) => {
                    let (k, v) = prev?;
                    decode_gen(&key, k.value().1, v.value())?.last_seq
                }
                None => 0,
            };
            Ok(
                rows_in(&self.path, &ReadRows::read(r)?, &key, after, g.last_seq)?
                    .into_iter()
                    .map(|(_, row)| row)
                    .filter(|row| row.generation == g.number)
                    .collect(),
            )
        })
    }
}

/// Where an entry of a generation's state lives.
#[derive(Clone)]
enum Slot {
    /// In the checkpoint's tree, by digest.
    Stored(Digest),
    /// In a delta row since the checkpoint.
    Inline(Box<ObservedResource>),
}

impl Slot {
    fn load(
        self,
        objs: &dyn Objects,
        addr: &Address,
        g: &Generation,
    ) -> Result<ObservedResource, StoreError> {
        let d = match self {
            Slot::Inline(o) => return Ok(*o),
            Slot::Stored(d) => d,
        };
        if let Some(o) = objs.observed_in_row(&d)? {
            return Ok(o);
        }
        match object::get(
            objs,
            &d,
            &format!("{addr} in generation {} of {}", g.number, g.stack),
        )? {
            Object::Observed(o) => Ok(o),
            _ => Err(StoreError::Bug(format!(
                "object {} is not an observed resource",
                d.short()
            ))),
        }
    }
}

/// The number the next generation of `stack` gets: one past the latest,
/// never wrapping (a stack at `u64::MAX` is damaged, not new).
fn next_number(stack: &Stack, latest: Option<&Generation>) -> Result<u64, StoreError> {
    match latest {
        None => Ok(1),
        Some(l) => l
            .number
            .checked_add(1)
            .ok_or_else(|| StoreError::GenerationOverflow {
                stack: stack.to_string(),
                latest: l.number,
            }),
    }
}

/// A pushed file's redacted secrets take the sealed value this stack holds
/// for the same resource and attribute (sealing is bound to stack, address
/// and attribute, so the ciphertext stays valid); one the stack does not
/// hold is refused, so a redacted file never replaces a secret with nothing.
fn keep_sealed(
    stack: &Stack,
    mut resources: Vec<ObservedResource>,
    mut stored: impl FnMut(&Address) -> Result<Option<ObservedResource>, StoreError>,
) -> Result<Vec<ObservedResource>, StoreError> {
    for r in &mut resources {
        if !r.sensitive.values().any(|s| matches!(s, Secret::Unknown)) {
            continue;
        }
        let held = stored(&r.address)?;
        for (attr, secret) in r.sensitive.iter_mut() {
            if !matches!(secret, Secret::Unknown) {
                continue;
            }
            match held.as_ref().and_then(|c| c.sensitive.get(attr)) {
                Some(sealed @ Secret::Sealed(_)) => *secret = sealed.clone(),
                _ => {
                    return Err(StoreError::RedactedSecret {
                        stack: stack.to_string(),
                        address: r.address.to_string(),
                        attr: attr.clone(),
                    });
                }
            }
        }
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_generation_folds_once_it_holds_a_checkpoint_of_rows() {
        assert!(!fold_due(CHECKPOINT_EVERY - 1, 0));
        assert!(fold_due(CHECKPOINT_EVERY, 0));
        assert!(fold_due(10 + CHECKPOINT_EVERY, 10));
        assert!(!fold_due(10 + CHECKPOINT_EVERY - 1, 10));
        // A checkpoint past the last row (a damaged index) does not panic.
        assert!(!fold_due(3, 7));
    }

    #[test]
    fn undecodable_records_are_named_by_table_and_key() {
        let e = decode_gen("shop/prod", 7, b"not a record")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("generations") && e.contains("shop/prod#7"),
            "{e}"
        );
        let e = decode_row("deltas", "shop/prod", 42, &[0xff; 3])
            .unwrap_err()
            .to_string();
        assert!(e.contains("deltas") && e.contains("shop/prod@42"), "{e}");
    }

    #[test]
    fn a_place_holds_its_row_and_stack() {
        let p = place("shop/prod", 0x0102_0304);
        assert_eq!(&p[..8], &0x0102_0304u64.to_le_bytes());
        assert_eq!(&p[8..], b"shop/prod");
    }
}
