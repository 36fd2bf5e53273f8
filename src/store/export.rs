//! Raw export and import of the store's durable records, for the mirror.
//!
//! Rows travel as the codec bytes they are stored as (format byte and
//! checksum included), so the mirror holds exactly what the store holds and
//! nothing is re-encoded on the way. Import decodes and checks every row
//! before it writes anything, writes in one transaction, and never
//! overwrites a row that differs: a restore either yields the mirrored
//! history or fails naming what did not fit.
//!
//! The journal and locks are not exported: they describe this machine's
//! operations in flight, not history.

use std::collections::BTreeMap;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::backups::StateBackup;
use super::codec;
use super::db::Store;
use super::error::StoreError;
use super::object::Object;
use super::schema;
use crate::keys::{DataKey, KeyProvider as _};
use crate::model::{AuditEntry, Checkpoint, Digest, Generation, Outcome, Release, Stack};

/// One settled generation and the rows that belong to it alone.
///
/// Invariant: `deltas` are exactly the stack's delta rows with sequence
/// numbers after the previous generation's last row, up to this one's; the
/// checkpoints are those taken within that range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRows {
    /// The stack key, `estate/env`.
    pub stack: String,
    /// The generation number.
    pub number: u64,
    /// The generation record.
    pub generation: Vec<u8>,
    /// Its delta rows, by sequence number.
    pub deltas: Vec<(u64, Vec<u8>)>,
    /// Checkpoints taken within its rows, by sequence number.
    pub checkpoints: Vec<(u64, Vec<u8>)>,
    /// The pre-apply backup of the generation before it, if one was taken.
    pub backup: Option<Vec<u8>>,
}

/// A stored release row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRow {
    /// The estate.
    pub estate: String,
    /// The canonical version.
    pub version: String,
    /// The release record.
    pub bytes: Vec<u8>,
}

fn corrupt(table: &'static str, key: String, source: codec::CodecError) -> StoreError {
    StoreError::Corrupt { table, key, source }
}

/// What a push must send, from [`Store::objects_to_push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectsToPush {
    /// Objects not marked pushed, in digest order.
    pub digests: Vec<Digest>,
    /// How many objects (full scan) or log entries were read to find them.
    pub examined: usize,
    /// The object log's last sequence number in the snapshot read.
    pub log_end: u64,
    /// Whether every object was read (no completed push to start from).
    pub full_scan: bool,
}

fn last_logged<T: ReadableTable<u64, &'static [u8]>>(log: &T) -> Result<u64, StoreError> {
    Ok(log.last()?.map_or(0, |(k, _)| k.value()))
}

fn watermark(seq: u64, complete: bool) -> Vec<u8> {
    let mut v = seq.to_le_bytes().to_vec();
    v.push(u8::from(complete));
    v
}

fn read_watermark(v: &[u8]) -> Option<(u64, bool)> {
    let seq = u64::from_le_bytes(v.get(..8)?.try_into().ok()?);
    Some((seq, *v.get(8)? == 1))
}

/// The digest an `objects` key holds.
fn object_key(k: &[u8]) -> Result<Digest, StoreError> {
    let bytes: [u8; 32] = k.try_into().map_err(|_| {
        corrupt(
            "objects",
            format!("{k:02x?}"),
            codec::CodecError::Truncated(k.len()),
        )
    })?;
    Ok(Digest(bytes))
}

/// See [`Store::objects_not_marked`].
fn unmarked_objects(r: &redb::ReadTransaction, prefix: &str) -> Result<Vec<Digest>, StoreError> {
    let objects = r.open_table(schema::OBJECTS)?;
    let marks = match r.open_table(schema::MIRRORED) {
        Ok(t) => Some(t),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let mut marked = match &marks {
        Some(t) => Some(t.range(prefix..)?),
        None => None,
    };
    let next_mark = |marked: &mut Option<_>| -> Result<Option<String>, StoreError> {
        let Some(it) = marked else { return Ok(None) };
        let it: &mut redb::Range<'_, &str, &[u8]> = it;
        match it.next() {
            Some(row) => {
                let (k, _) = row?;
                Ok(k.value().strip_prefix(prefix).map(str::to_string))
            }
            None => Ok(None),
        }
    };
    let mut mark = next_mark(&mut marked)?;
    let mut hex = String::with_capacity(64);
    let mut out = Vec::new();
    for row in objects.iter()? {
        let (k, _) = row?;
        let d = object_key(k.value())?;
        hex.clear();
        for b in d.0 {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
        }
        while let Some(m) = &mark
            && m.as_str() < hex.as_str()
        {
            mark = next_mark(&mut marked)?;
        }
        if mark.as_deref() != Some(hex.as_str()) {
            out.push(d);
        }
    }
    Ok(out)
}

impl Store {
    /// Every object digest in the store.
    pub fn object_digests(&self) -> Result<Vec<Digest>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::OBJECTS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, _) = row?;
                out.push(object_key(k.value())?);
            }
            Ok(out)
        })
    }

    /// The stored objects whose key `<prefix><hex digest>` is not in the
    /// mirror bookkeeping: one pass over both tables in key order (both
    /// sort the same way: hex preserves byte order), with no set built.
    pub fn objects_not_marked(&self, prefix: &str) -> Result<Vec<Digest>, StoreError> {
        self.read(|r| unmarked_objects(r, prefix))
    }

    /// Makes the store log the objects it inserts for the mirror scope
    /// `scope` from now on, unless it already does. Until a push completes
    /// from there ([`Store::objects_pushed`]), [`Store::objects_to_push`]
    /// still reads every object: what was inserted before the log started
    /// is not in it.
    pub fn follow_objects(&self, scope: &str) -> Result<(), StoreError> {
        let key = format!("{}{scope}", schema::META_OBJECT_LOG);
        let known = self.read(|r| Ok(r.open_table(schema::META)?.get(key.as_str())?.is_some()))?;
        if known {
            return Ok(());
        }
        self.write(|w| {
            let end = last_logged(&w.open_table(schema::OBJECT_LOG)?)?;
            let mut meta = w.open_table(schema::META)?;
            if meta.get(key.as_str())?.is_none() {
                meta.insert(key.as_str(), watermark(end, false).as_slice())?;
            }
            Ok(())
        })
    }

    /// The objects a push to the mirror scope `scope` must send: those not
    /// marked under `prefix`. Once a push has completed for the scope, only
    /// the objects logged since are read; before, every object is. One read
    /// transaction, so `log_end` is exactly what the answer covers.
    pub fn objects_to_push(&self, scope: &str, prefix: &str) -> Result<ObjectsToPush, StoreError> {
        let key = format!("{}{scope}", schema::META_OBJECT_LOG);
        self.read(|r| {
            let log = r.open_table(schema::OBJECT_LOG)?;
            let log_end = last_logged(&log)?;
            let from = r
                .open_table(schema::META)?
                .get(key.as_str())?
                .and_then(|g| read_watermark(g.value()))
                .filter(|(_, complete)| *complete)
                .map(|(seq, _)| seq);
            let Some(from) = from else {
                let digests = unmarked_objects(r, prefix)?;
                let examined = redb::ReadableTableMetadata::len(&r.open_table(schema::OBJECTS)?)?;
                return Ok(ObjectsToPush {
                    digests,
                    examined: examined as usize,
                    log_end,
                    full_scan: true,
                });
            };
            let marks = match r.open_table(schema::MIRRORED) {
                Ok(t) => Some(t),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let mut seen = std::collections::BTreeSet::new();
            let mut examined = 0;
            for row in log.range(from + 1..)? {
                let (k, v) = row?;
                examined += 1;
                let d: [u8; 32] = v.value().try_into().map_err(|_| {
                    corrupt(
                        "object_log",
                        k.value().to_string(),
                        codec::CodecError::Truncated(v.value().len()),
                    )
                })?;
                let d = Digest(d);
                let marked = match &marks {
                    Some(t) => t.get(format!("{prefix}{}", d.to_hex()).as_str())?.is_some(),
                    None => false,
                };
                if !marked {
                    seen.insert(d);
                }
            }
            Ok(ObjectsToPush {
                digests: seen.into_iter().collect(),
                examined,
                log_end,
                full_scan: false,
            })
        })
    }

    /// Records that a push for `scope` has sent every object up to log
    /// sequence `log_end` (from [`Store::objects_to_push`]), and drops the
    /// log entries every scope has passed (but the last).
    pub fn objects_pushed(&self, scope: &str, log_end: u64) -> Result<(), StoreError> {
        let key = format!("{}{scope}", schema::META_OBJECT_LOG);
        self.write(|w| {
            let mut meta = w.open_table(schema::META)?;
            meta.insert(key.as_str(), watermark(log_end, true).as_slice())?;
            let mut floor = u64::MAX;
            for row in meta.range(schema::META_OBJECT_LOG..)? {
                let (k, v) = row?;
                if !k.value().starts_with(schema::META_OBJECT_LOG) {
                    break;
                }
                // An unreadable watermark keeps the whole log.
                floor = floor.min(read_watermark(v.value()).map_or(0, |(seq, _)| seq));
            }
            drop(meta);
            // The last entry stays: it carries the sequence on (see
            // `WriteObjects::open`), so a number once given is never given
            // again, and a watermark never covers an entry written after it.
            let mut log = w.open_table(schema::OBJECT_LOG)?;
            let last = last_logged(&log)?;
            let upto = floor.min(last.saturating_sub(1));
            log.retain_in(..=upto, |_, _| false)?;
            Ok(())
        })
    }

    /// The raw bytes of one object.
    pub fn object_bytes(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::OBJECTS)?;
            Ok(t.get(digest.0.as_slice())?.map(|g| g.value().to_vec()))
        })
    }

    /// The settled generations of `stack` numbered above `after`, oldest
    /// first, with their rows. An in-progress generation and everything
    /// after it are left out (they are not history yet).
    pub fn export_generations(
        &self,
        stack: &Stack,
        after: u64,
    ) -> Result<Vec<GenerationRows>, StoreError> {
        let key = stack.key();
        self.read(|r| {
            let gens = r.open_table(schema::GENERATIONS)?;
            let deltas = super::rows::ReadRows::read(r)?;
            let checkpoints = r.open_table(schema::CHECKPOINTS)?;
            let backups = r.open_table(schema::BACKUPS)?;
            let mut out = Vec::new();
            let mut prev_last = 0u64;
            for row in gens.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))? {
                let (k, v) = row?;
                let number = k.value().1;
                let bytes = v.value().to_vec();
                let g: Generation = codec::decode(&bytes)
                    .map_err(|e| corrupt("generations", format!("{key}#{number}"), e))?;
                if g.outcome == Outcome::InProgress {
                    break;
                }
                let (from, to) = (prev_last, g.last_seq);
                prev_last = g.last_seq;
                if number <= after {
                    continue;
                }
                let mut rows = Vec::new();
                let mut cps = Vec::new();
                if to > from {
                    rows = deltas
                        .range(&key, from, to)?
                        .into_iter()
                        .map(|(seq, bytes, _)| (seq, bytes))
                        .collect();
                    for c in checkpoints.range((key.as_str(), from + 1)..=(key.as_str(), to))? {
                        let (k, v) = c?;
                        cps.push((k.value().1, v.value().to_vec()));
                    }
                }
                let backup = backups
                    .get((key.as_str(), number))?
                    .map(|g| g.value().to_vec());
                out.push(GenerationRows {
                    stack: key.clone(),
                    number,
                    generation: bytes,
                    deltas: rows,
                    checkpoints: cps,
                    backup,
                });
            }
            Ok(out)
        })
    }

    /// Every release row.
    pub fn export_releases(&self) -> Result<Vec<ReleaseRow>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::RELEASES)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let (estate, version) = k.value();
                out.push(ReleaseRow {
                    estate: estate.to_string(),
                    version: version.to_string(),
                    bytes: v.value().to_vec(),
                });
            }
            Ok(out)
        })
    }

    /// Audit records numbered above `after`, oldest first.
    pub fn export_audit(&self, after: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::AUDIT)?;
            let mut out = Vec::new();
            for row in t.range(after.saturating_add(1)..)? {
                let (k, v) = row?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// The key that seals sensitive values, unwrapped, if the store has
    /// one: the mirror keeps it wrapped under the customer's key so a store
    /// restored on another machine can still open its sealed values.
    pub fn export_data_key(&self) -> Result<Option<DataKey>, StoreError> {
        let bytes = self.read(|r| {
            let meta = r.open_table(schema::META)?;
            Ok(meta.get(schema::META_DATA_KEY)?.map(|g| g.value().to_vec()))
        })?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        Ok(Some(self.unwrap_data_key(&bytes)?))
    }

    /// Installs the sensitive-value key from a mirror, wrapped under this
    /// machine's key file. Refuses to replace a different key.
    pub fn import_data_key(&self, key: &DataKey) -> Result<(), StoreError> {
        if let Some(existing) = self.export_data_key()? {
            if existing.bytes() == key.bytes() {
                return Ok(());
            }
            return Err(StoreError::ImportConflict {
                what: "the sensitive-value data key".into(),
                detail: "this store already seals values with a different key; restore into an empty state directory".into(),
            });
        }
        // Restoring onto a machine without a key file creates one.
        let wrapped = self.provider(true)?.wrap(key)?;
        let bytes = codec::encode(&wrapped).map_err(|source| StoreError::Encode {
            what: "wrapped key",
            source,
        })?;
        self.write(|w| {
            let mut meta = w.open_table(schema::META)?;
            meta.insert(schema::META_DATA_KEY, bytes.as_slice())?;
            Ok(())
        })?;
        self.key_cache().clear();
        Ok(())
    }

    /// Imports objects, checking each against its digest and decoding it.
    /// Returns how many were new.
    pub fn import_objects(&self, objects: &[(Digest, Vec<u8>)]) -> Result<usize, StoreError> {
        for (d, bytes) in objects {
            if Digest::of(bytes) != *d {
                return Err(corrupt("objects", d.to_hex(), codec::CodecError::Checksum));
            }
            codec::decode::<Object>(bytes).map_err(|e| corrupt("objects", d.to_hex(), e))?;
        }
        self.write(|w| {
            use super::object::Objects as _;
            let mut t = super::db::WriteObjects::open(w)?;
            let mut new = 0;
            for (d, bytes) in objects {
                if !t.holds(d)? {
                    t.put_raw(*d, bytes)?;
                    new += 1;
                }
            }
            Ok(new)
        })
    }

    /// Imports release rows (checked by decoding). An existing row must hold
    /// the same content; when only its metadata differs (the same working
    /// tree released on two machines: who, when), the imported row replaces
    /// it, so the mirror's record of who released it first is the one kept.
    pub fn import_releases(&self, rows: &[ReleaseRow]) -> Result<usize, StoreError> {
        let mut contents = Vec::with_capacity(rows.len());
        for r in rows {
            let rel = codec::decode::<Release>(&r.bytes)
                .map_err(|e| corrupt("releases", format!("{}@{}", r.estate, r.version), e))?;
            contents.push(rel.content);
        }
        self.write(|w| {
            let mut t = w.open_table(schema::RELEASES)?;
            let mut new = 0;
            for (r, content) in rows.iter().zip(&contents) {
                let key = (r.estate.as_str(), r.version.as_str());
                let existing = t.get(key)?.map(|g| g.value().to_vec());
                let same_content = |b: &[u8]| {
                    codec::decode::<Release>(b).is_ok_and(|mine| mine.content == *content)
                };
                match existing {
                    Some(b) if b == r.bytes => {}
                    Some(b) if same_content(&b) => {
                        t.insert(key, r.bytes.as_slice())?;
                    }
                    Some(_) => {
                        return Err(StoreError::ImportConflict {
                            what: format!("release {} {}", r.estate, r.version),
                            detail: "this store holds a different release under that version"
                                .into(),
                        });
                    }
                    None => {
                        t.insert(key, r.bytes.as_slice())?;
                        new += 1;
                    }
                }
            }
            Ok(new)
        })
    }

    /// Imports generations with their rows, in order. Each must continue
    /// the stack's history: the next number, rows right after the last.
    pub fn import_generations(&self, gens: &[GenerationRows]) -> Result<usize, StoreError> {
        // (stack, seq, digest) of every imported row that puts a resource:
        // the checkpoints imported with them point at these rows.
        let mut observed_rows: Vec<(String, u64, Digest)> = Vec::new();
        for g in gens {
            let key = format!("{}#{}", g.stack, g.number);
            let decoded: Generation =
                codec::decode(&g.generation).map_err(|e| corrupt("generations", key.clone(), e))?;
            if decoded.stack.key() != g.stack || decoded.number != g.number {
                return Err(StoreError::ImportConflict {
                    what: format!("generation {key}"),
                    detail: format!(
                        "the record inside is {}#{}",
                        decoded.stack.key(),
                        decoded.number
                    ),
                });
            }
            for (seq, b) in &g.deltas {
                let row = codec::decode::<super::generations::DeltaRow>(b)
                    .map_err(|e| corrupt("deltas", format!("{}#{seq}", g.stack), e))?;
                if let super::generations::DeltaChange::Put { observed, .. } = row.change {
                    let (d, _) = super::object::encode(&Object::Observed(*observed))?;
                    observed_rows.push((g.stack.clone(), *seq, d));
                }
            }
            for (seq, b) in &g.checkpoints {
                codec::decode::<Checkpoint>(b)
                    .map_err(|e| corrupt("checkpoints", format!("{}#{seq}", g.stack), e))?;
            }
            if let Some(b) = &g.backup {
                codec::decode::<StateBackup>(b).map_err(|e| corrupt("backups", key.clone(), e))?;
            }
        }
        // Rows up to a stack's latest checkpoint go to `folded_deltas`
        // (`super::rows`): the incoming checkpoints' and the stored ones'.
        let mut folded_upto: BTreeMap<&str, u64> = BTreeMap::new();
        for g in gens {
            for (seq, _) in &g.checkpoints {
                let e = folded_upto.entry(g.stack.as_str()).or_default();
                *e = (*e).max(*seq);
            }
        }
        self.write(|w| {
            let mut gt = w.open_table(schema::GENERATIONS)?;
            let mut dt = super::rows::WriteRows::write(w)?;
            let mut ct = w.open_table(schema::CHECKPOINTS)?;
            let mut folded_upto = folded_upto.clone();
            for (s, upto) in folded_upto.iter_mut() {
                if let Some(last) = ct.range((*s, 0)..=(*s, u64::MAX))?.next_back() {
                    *upto = (*upto).max(last?.0.value().1);
                }
            }
            let mut bt = w.open_table(schema::BACKUPS)?;
            let mut new = 0;
            for g in gens {
                let s = g.stack.as_str();
                if let Some(existing) = gt.get((s, g.number))?.map(|v| v.value().to_vec()) {
                    if existing == g.generation {
                        continue;
                    }
                    return Err(StoreError::ImportConflict {
                        what: format!("generation {s}#{}", g.number),
                        detail: "this store holds a different generation under that number".into(),
                    });
                }
                let last = gt
                    .range((s, 0)..=(s, u64::MAX))?
                    .next_back()
                    .transpose()?
                    .map(|(k, _)| k.value().1)
                    .unwrap_or(0);
                // An empty stack may start after 1: the mirror pruned the
                // generations before, and the first one carries a base
                // checkpoint that stands for them.
                if last != 0 && g.number != last + 1 {
                    return Err(StoreError::ImportConflict {
                        what: format!("generation {s}#{}", g.number),
                        detail: format!("the stack's last generation here is {last}"),
                    });
                }
                gt.insert((s, g.number), g.generation.as_slice())?;
                let upto = folded_upto.get(s).copied().unwrap_or(0);
                for (seq, b) in &g.deltas {
                    dt.insert(s, *seq, b, *seq <= upto)?;
                }
                for (seq, b) in &g.checkpoints {
                    ct.insert((s, *seq), b.as_slice())?;
                }
                if let Some(b) = &g.backup {
                    bt.insert((s, g.number), b.as_slice())?;
                }
                new += 1;
            }
            for (s, upto) in &folded_upto {
                dt.settle(s, *upto)?;
            }
            drop((gt, dt, ct, bt));
            let objs = super::db::WriteObjects::open(w)?;
            let mut at = w.open_table(schema::OBSERVED_AT)?;
            // In digest order (see `WriteObjects::batched`); the first row
            // holding an object is the one indexed.
            let mut places = std::collections::BTreeMap::new();
            for (s, seq, d) in &observed_rows {
                places.entry(*d).or_insert((s, *seq));
            }
            for (d, (s, seq)) in places {
                super::generations::index_observed(&mut at, &objs, &d, s, seq)?;
            }
            Ok(new)
        })
        .inspect(|_| self.overlay_cache().clear())
    }

    /// Imports audit records from the mirror, the shared log. A record
    /// already here is skipped. Local records that hold numbers the mirror
    /// has given to other records (written on this machine and not yet
    /// mirrored while another machine's were) are not lost: they move,
    /// in their order, after the highest number, renumbered, to be pushed
    /// next. Returns how many records were added.
    pub fn import_audit(&self, rows: &[(u64, Vec<u8>)]) -> Result<usize, StoreError> {
        for (seq, b) in rows {
            codec::decode::<AuditEntry>(b).map_err(|e| corrupt("audit", seq.to_string(), e))?;
        }
        let incoming: BTreeMap<u64, &Vec<u8>> = rows.iter().map(|(k, v)| (*k, v)).collect();
        self.write(|w| {
            let mut t = w.open_table(schema::AUDIT)?;
            // The first number where this store and the mirror disagree.
            let mut conflict = None;
            for (seq, b) in &incoming {
                if let Some(existing) = t.get(*seq)?
                    && existing.value() != b.as_slice()
                {
                    conflict = Some(*seq);
                    break;
                }
            }
            let mut displaced = Vec::new();
            if let Some(from) = conflict {
                for row in t.range(from..)? {
                    let (k, v) = row?;
                    if incoming
                        .get(&k.value())
                        .is_none_or(|b| b.as_slice() != v.value())
                    {
                        displaced.push(v.value().to_vec());
                    }
                }
                let keys: Vec<u64> = t
                    .range(from..)?
                    .map(|r| r.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()?;
                for k in keys {
                    t.remove(k)?;
                }
            }
            let mut new = 0;
            for (seq, b) in &incoming {
                if t.get(*seq)?.is_none() {
                    t.insert(*seq, b.as_slice())?;
                    new += 1;
                }
            }
            let first_free = t.last()?.map_or(1, |(k, _)| k.value() + 1);
            for (next, bytes) in (first_free..).zip(displaced) {
                let mut entry: AuditEntry = codec::decode(&bytes)
                    .map_err(|e| corrupt("audit", "displaced record".to_string(), e))?;
                entry.seq = next;
                let bytes = codec::encode(&entry).map_err(|source| StoreError::Encode {
                    what: "audit entry",
                    source,
                })?;
                t.insert(next, bytes.as_slice())?;
            }
            Ok(new)
        })
    }

    /// What this store recorded about mirror blob `path`, if anything.
    pub fn mirrored(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| match r.open_table(schema::MIRRORED) {
            Ok(t) => Ok(t.get(path)?.map(|g| g.value().to_vec())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        })
    }

    /// Every mirror blob path recorded under `prefix`.
    pub fn mirrored_under(
        &self,
        prefix: &str,
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.read(|r| {
            let t = match r.open_table(schema::MIRRORED) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Default::default()),
                Err(e) => return Err(e.into()),
            };
            let mut out = std::collections::BTreeSet::new();
            for row in t.range(prefix..)? {
                let (k, _) = row?;
                if !k.value().starts_with(prefix) {
                    break;
                }
                out.insert(k.value().to_string());
            }
            Ok(out)
        })
    }

    /// Records mirror blobs as pushed (path and a note, e.g. its etag or
    /// the generation a HEAD points at).
    pub fn mark_mirrored(&self, items: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        self.write(|w| {
            let mut t = w.open_table(schema::MIRRORED)?;
            for (k, v) in items {
                t.insert(k.as_str(), v.as_slice())?;
            }
            Ok(())
        })
    }

    /// Records `items` as pushed and drops the `done` entries, in one
    /// transaction (a planned pack becomes its pushed objects).
    pub fn settle_mirrored(
        &self,
        items: &[(String, Vec<u8>)],
        done: &[String],
    ) -> Result<(), StoreError> {
        self.write(|w| {
            let mut t = w.open_table(schema::MIRRORED)?;
            for (k, v) in items {
                t.insert(k.as_str(), v.as_slice())?;
            }
            for k in done {
                t.remove(k.as_str())?;
            }
            Ok(())
        })
    }

    /// Forgets mirror bookkeeping under `prefix` (after blobs were pruned
    /// or the mirror changed).
    pub fn unmark_mirrored(&self, prefix: &str) -> Result<(), StoreError> {
        self.write(|w| {
            let mut t = w.open_table(schema::MIRRORED)?;
            t.retain(|k, _| !k.starts_with(prefix))?;
            // Objects may now be unmarked that a watermark says were sent:
            // the scopes concerned start again from a full scan.
            let mut meta = w.open_table(schema::META)?;
            meta.retain(|k, _| {
                let Some(scope) = k.strip_prefix(schema::META_OBJECT_LOG) else {
                    return true;
                };
                !(prefix.starts_with(scope) || scope.starts_with(prefix))
            })?;
            Ok(())
        })
    }

    /// The state right after generation `n` of `stack`, as a checkpoint
    /// (its trees written to the objects table): what lets a mirror drop
    /// generations up to `n` and still restore the ones after.
    pub fn checkpoint_after(&self, stack: &Stack, n: u64) -> Result<Checkpoint, StoreError> {
        let mut g = self.generation(stack, n)?;
        self.write(|w| {
            self.materialize_into(w, &mut g)?;
            // The mirror keeps this checkpoint without the rows before it,
            // so the observed objects its tree points at (kept in those
            // rows here) go into `objects`, to be pushed with it.
            let mut objs = super::db::WriteObjects::batched(w)?;
            let mut leaves = Vec::new();
            super::tree::walk_nodes(&objs, &g.base.root, &mut |_, n| {
                if let super::tree::Node::Leaf(entries) = n {
                    leaves.extend(entries.iter().map(|(_, d)| *d));
                }
            })?;
            for d in leaves {
                if !objs.holds(&d)? {
                    use super::object::Objects as _;
                    let bytes = objs.get_raw(&d)?.ok_or_else(|| StoreError::MissingObject {
                        digest: d,
                        context: format!("checkpoint of {stack} after generation {n}"),
                    })?;
                    objs.put_raw(d, &bytes)?;
                }
            }
            objs.finish()?;
            Ok(g.base.clone())
        })
    }
}
