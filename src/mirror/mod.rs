//! The encrypted state mirror: the store's history copied to a blob
//! container (Azure Blob Storage, or a local directory), every object under
//! envelope encryption with the customer's key, so a lost machine loses
//! nothing and a lost local store can be rebuilt.
//!
//! What is pushed: the store's sensitive-value key (wrapped), every
//! content-addressed object (in packs of up to 1,024, so a first push and a
//! restore take a few requests, not one per object), every release, every settled generation with
//! its rows (chunked, so a one-resource change uploads O(1) objects), each
//! stack's HEAD (advanced by compare-and-swap), and the audit log in runs.
//! Everything but HEAD is written create-only: nothing is overwritten. The
//! store records what it pushed (`mirrored` table), so a push uploads only
//! what is new; that record is bookkeeping and can be rebuilt.
//!
//! Restore reads it all back, opening and checking every object (envelope
//! authentication, then the store codec's checksum and the object digest)
//! before the store imports it in one transaction per kind.

pub mod azure;
pub mod backend;
pub mod config;
pub mod envelope;
pub mod layout;
mod manifest;
pub mod retention;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use backend::{Backend, BlobError, Etag, LeaseId, LocalDir, ServiceProperties};
pub use envelope::EnvelopeError;

use crate::keys::{DataKey, KeyProvider};
use crate::model::{Digest, Stack};
use crate::store::{GenerationRows, ReleaseRow, Store, StoreError, codec};

/// Delta rows per generation chunk: a chunk stays well under a few MB.
pub const CHUNK_ROWS: usize = 4096;
/// Requests in flight at once.
const PARALLEL: usize = 64;
/// Objects per pack: about 0.5-1 MiB for typical resources.
const PACK_OBJECTS: usize = 1024;

/// Why a mirror operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The blob service.
    #[error("mirror {backend}: {source}")]
    Blob {
        /// The backend, described.
        backend: String,
        /// What failed.
        source: BlobError,
    },
    /// Encryption or decryption.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The local store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A mirrored record that does not decode.
    #[error("{path}: {message}")]
    Corrupt {
        /// The blob.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The mirror holds a different history for this stack.
    #[error(
        "{stack}: the mirror's history differs from this store's at {what}; another store pushed a different history to this mirror. Restore from the mirror into an empty state directory (`statectl mirror restore`) or point at another mirror"
    )]
    Diverged {
        /// The stack.
        stack: String,
        /// Where they differ.
        what: String,
    },
    /// Configuration.
    #[error("{0}")]
    Config(String),
    /// The mirror lacks blobs its manifest says were pushed: a restore
    /// would silently hold less than was mirrored.
    #[error(
        "the mirror lacks what was pushed to it: {}; nothing was restored. A blob was deleted, or an older copy written over it: `statectl mirror undelete` brings back what statectl pruned, the storage account's soft delete and versioning what someone else deleted or overwrote",
        missing.join("; ")
    )]
    Incomplete {
        /// What is missing, each named.
        missing: Vec<String>,
    },
    /// Someone else holds the stack's lease.
    #[error(
        "{stack} is being applied from another machine ({path} is leased); wait for it to finish, or, if that machine is gone, `statectl force-unlock --estate {estate} --env {env} --reason ...` breaks the lease"
    )]
    Locked {
        /// The stack.
        stack: String,
        /// Its estate.
        estate: String,
        /// Its environment.
        env: String,
        /// The leased blob, and who holds it.
        path: String,
        /// The holder as it recorded itself, when its record reads (boxed:
        /// errors travel by value and most never carry one).
        holder: Option<Box<LeaseHolder>>,
    },
    /// Another machine applied to the stack since this store last saw the
    /// mirror: applying now would plan against stale observed state and
    /// fork the history.
    #[error(
        "{stack}: the mirror holds generation {mirrored} and this store only generation {local}: another machine applied since; run `statectl mirror restore --estate {estate} --env {env}` to bring this store up to date, then plan again"
    )]
    Behind {
        /// The stack.
        stack: String,
        /// Its estate.
        estate: String,
        /// Its environment.
        env: String,
        /// The newest generation in the mirror.
        mirrored: u64,
        /// The newest generation here.
        local: u64,
    },
    /// A background task failed to run.
    #[error("bug in statectl: {0}")]
    Bug(String),
}

/// Progress of a long push or restore.
pub trait TransferProgress: Send {
    /// `done` of `total` objects, `bytes` so far.
    fn update(&mut self, done: usize, total: usize, bytes: u64);
}

/// Progress reporting that reports nothing.
#[derive(Debug, Default)]
pub struct NoProgress;

impl TransferProgress for NoProgress {
    fn update(&mut self, _: usize, _: usize, _: u64) {}
}

/// One chunk of a mirrored generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Chunk {
    /// How many chunks the generation has (every chunk says it).
    count: u32,
    /// The generation record, in chunk 0.
    generation: Option<Vec<u8>>,
    /// The pre-apply backup, in chunk 0.
    backup: Option<Vec<u8>>,
    /// Checkpoints, in chunk 0.
    checkpoints: Vec<(u64, Vec<u8>)>,
    /// This chunk's delta rows.
    deltas: Vec<(u64, Vec<u8>)>,
}

/// A stack's HEAD pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    generation: u64,
}

/// Who holds a stack's apply lease, recorded (sealed, like every blob:
/// it names a person and a host) beside the lease, so a machine that is
/// refused can name the holder, and a process on the holder's own host can
/// tell that the holder is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    /// Who (user@host of the actor).
    pub actor: String,
    /// The host the holding process runs on.
    pub host: String,
    /// The holding process.
    pub pid: u32,
    /// Since when.
    pub since: String,
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on {} (pid {}) since {}",
            self.actor, self.host, self.pid, self.since
        )
    }
}

/// What a push did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// Blobs written.
    pub blobs: usize,
    /// Bytes written (sealed).
    pub bytes: u64,
    /// Generations pushed, per stack.
    pub generations: Vec<(Stack, u64, u64)>,
    /// What was read to find the objects to send: every object on a
    /// mirror's first push, the objects inserted since the last one after.
    pub objects_examined: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// What rebuilding a store from the mirror (`statectl mirror restore`) did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Objects imported (new to this store).
    pub objects: usize,
    /// Releases imported.
    pub releases: usize,
    /// Generations imported, per stack (stack, up to generation).
    pub generations: Vec<(Stack, u64, usize)>,
    /// Audit records imported.
    pub audit: usize,
    /// Bytes read.
    pub bytes: u64,
    /// How long it took: the state's own RTO.
    pub elapsed: Duration,
}

/// How far behind the mirror is for one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackStatus {
    /// The stack.
    pub stack: Stack,
    /// Its newest settled local generation.
    pub local: u64,
    /// The newest generation the mirror's HEAD points at (None: unreadable).
    pub mirrored: Option<u64>,
    /// When the oldest unmirrored generation ended, if any is behind.
    pub behind_since: Option<crate::model::UtcTime>,
}

/// Which stacks, and how far, a restore brings back.
#[derive(Debug, Default, Clone)]
pub struct RebuildFilter {
    /// Only this estate.
    pub estate: Option<String>,
    /// Only this environment.
    pub env: Option<String>,
    /// Only up to this generation.
    pub generation: Option<u64>,
}

/// A mirror: a backend and the key provider that seals what goes there.
#[derive(Clone)]
pub struct Mirror {
    backend: Arc<Backend>,
    keys: Arc<dyn KeyProvider>,
    /// Prefix of this mirror's entries in the store's push bookkeeping, so
    /// that a store pushed to one mirror pushes everything to another.
    scope: String,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mirror({}, {})",
            self.backend.describe(),
            self.keys.describe()
        )
    }
}

fn encode<T: Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, MirrorError> {
    codec::encode(v).map_err(|source| StoreError::Encode { what, source }.into())
}

fn decode<T: serde::de::DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, MirrorError> {
    codec::decode(bytes).map_err(|e| MirrorError::Corrupt {
        path: path.to_string(),
        message: e.to_string(),
    })
}

impl Mirror {
    /// A mirror on `backend`, sealing with `keys`.
    pub fn new(backend: Backend, keys: Arc<dyn KeyProvider>) -> Self {
        let scope = format!("{}@", Digest::of(backend.location().as_bytes()).short());
        Mirror {
            backend: Arc::new(backend),
            keys,
            scope,
        }
    }

    /// This mirror's key for `path` in the store's push bookkeeping.
    fn mark(&self, path: &str) -> String {
        format!("{}{path}", self.scope)
    }

    /// Records paths (with their values) as pushed to this mirror.
    fn mark_pushed(&self, store: &Store, items: &[(String, Vec<u8>)]) -> Result<(), MirrorError> {
        let scoped: Vec<(String, Vec<u8>)> = items
            .iter()
            .map(|(p, v)| (self.mark(p), v.clone()))
            .collect();
        Ok(store.mark_mirrored(&scoped)?)
    }

    /// What this mirror's bookkeeping holds for `path`.
    fn pushed(&self, store: &Store, path: &str) -> Result<Option<Vec<u8>>, MirrorError> {
        Ok(store.mirrored(&self.mark(path))?)
    }

    /// The backend and key provider, described (no credentials).
    pub fn describe(&self) -> String {
        format!(
            "{}, sealed with {}",
            self.backend.describe(),
            self.keys.describe()
        )
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn blob(&self, source: BlobError) -> MirrorError {
        MirrorError::Blob {
            backend: self.backend.describe(),
            source,
        }
    }

    /// Seals and writes `payload` create-only. `Ok(false)` when the blob
    /// already exists and holds the same payload; [`MirrorError::Diverged`]
    /// when it holds a different one.
    async fn put_new(&self, path: &str, payload: &[u8]) -> Result<(bool, u64), MirrorError> {
        let sealed = envelope::seal(self.keys.as_ref(), path, payload)?;
        match self.backend.put_new(path, &sealed).await {
            Ok(_) => Ok((true, sealed.len() as u64)),
            Err(BlobError::Exists { .. }) => {
                let (existing, _) = self.get(path).await?;
                if existing == payload {
                    Ok((false, 0))
                } else {
                    Err(MirrorError::Diverged {
                        stack: "mirror".into(),
                        what: path.to_string(),
                    })
                }
            }
            Err(e) => Err(self.blob(e)),
        }
    }

    /// Opens a sealed blob read from `path`.
    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Vec<u8>, MirrorError> {
        Ok(envelope::open(self.keys.as_ref(), path, sealed)?)
    }

    /// Reads and opens a blob.
    async fn get(&self, path: &str) -> Result<(Vec<u8>, Etag), MirrorError> {
        let (sealed, etag) = self.backend.get(path).await.map_err(|e| self.blob(e))?;
        Ok((envelope::open(self.keys.as_ref(), path, &sealed)?, etag))
    }

    /// Writes many create-only blobs, a bounded number at once.
    async fn put_many(
        &self,
        items: Vec<(String, Vec<u8>)>,
        store: &Store,
        progress: &mut dyn TransferProgress,
        report: &mut PushReport,
    ) -> Result<(), MirrorError> {
        let total = items.len();
        let mut done = 0usize;
        let mut set = tokio::task::JoinSet::new();
        let mut items = items.into_iter();
        let mut marks = Vec::new();
        loop {
            while set.len() < PARALLEL {
                let Some((path, payload)) = items.next() else {
                    break;
                };
                let me = self.clone();
                set.spawn(async move {
                    let r = me.put_new(&path, &payload).await;
                    (path, r)
                });
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let (path, r) = joined.map_err(|e| MirrorError::Bug(e.to_string()))?;
            let (new, bytes) = r?;
            if new {
                report.blobs += 1;
                report.bytes += bytes;
            }
            marks.push((path, Vec::new()));
            done += 1;
            progress.update(done, total, report.bytes);
            if marks.len() >= 256 {
                self.mark_pushed(store, &std::mem::take(&mut marks))?;
            }
        }
        self.mark_pushed(store, &marks)?;
        Ok(())
    }

    /// The bookkeeping key of a pack planned but not yet known to be in
    /// the mirror.
    fn pending_key(&self, name: &Digest) -> String {
        self.mark(&format!("pending/{}", name.to_hex()))
    }

    /// The packs an earlier push planned and did not finish, with members.
    fn pending_packs(&self, store: &Store) -> Result<Vec<(Digest, Vec<Digest>)>, MirrorError> {
        let prefix = self.mark("pending/");
        let mut out = Vec::new();
        for key in store.mirrored_under(&prefix)? {
            let hex = key.trim_start_matches(&prefix);
            let name: Digest = hex.parse().map_err(|e: crate::model::DigestError| {
                MirrorError::Bug(format!("pending pack `{key}`: {e}"))
            })?;
            let members: Vec<Digest> = match store.mirrored(&key)? {
                Some(b) => decode(&key, &b)?,
                None => continue,
            };
            out.push((name, members));
        }
        Ok(out)
    }

    /// Writes packs create-only, a bounded number at once; as each lands,
    /// its objects are marked pushed and its plan entry is dropped.
    async fn put_packs(
        &self,
        packs: Vec<(Digest, Vec<Digest>)>,
        store: &Store,
        progress: &mut dyn TransferProgress,
        report: &mut PushReport,
    ) -> Result<(), MirrorError> {
        let total: usize = packs.iter().map(|(_, m)| m.len()).sum();
        let mut done = 0usize;
        let mut set = tokio::task::JoinSet::new();
        let mut queue = packs.into_iter();
        loop {
            while set.len() < PARALLEL {
                let Some((name, members)) = queue.next() else {
                    break;
                };
                let mut objects = Vec::with_capacity(members.len());
                for d in &members {
                    let bytes = store.object_bytes(d)?.ok_or_else(|| {
                        MirrorError::Bug(format!("object {} vanished from the store", d.to_hex()))
                    })?;
                    objects.push((*d, bytes));
                }
                let payload = encode("pack", &objects)?;
                let me = self.clone();
                set.spawn(async move {
                    let path = layout::pack(&name);
                    let r = me.put_new(&path, &payload).await;
                    (name, members, path, r)
                });
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let (name, members, path, r) = joined.map_err(|e| MirrorError::Bug(e.to_string()))?;
            let (new, bytes) = r?;
            if new {
                report.blobs += 1;
                report.bytes += bytes;
            }
            let mut marks: Vec<(String, Vec<u8>)> = members
                .iter()
                .map(|d| (layout::object(d), Vec::new()))
                .collect();
            marks.push((path, Vec::new()));
            let scoped: Vec<(String, Vec<u8>)> =
                marks.into_iter().map(|(p, v)| (self.mark(&p), v)).collect();
            store.settle_mirrored(&scoped, &[self.pending_key(&name)])?;
            done += members.len();
            progress.update(done, total, report.bytes);
        }
        Ok(())
    }

    /// Pushes everything the mirror lacks: the data key, objects, releases,
    /// the settled generations of `stacks` (all stacks when empty), and
    /// the audit log. Safe to repeat; safe to interrupt.
    pub async fn push(
        &self,
        store: &Store,
        stacks: &[Stack],
        progress: &mut dyn TransferProgress,
    ) -> Result<PushReport, MirrorError> {
        let started = Instant::now();
        let mut report = PushReport::default();
        // Objects are matched against their marks in one ordered pass
        // below; this set holds the rest (data key, releases).
        let pushed: BTreeSet<String> = store
            .mirrored_under(&self.mark(&layout::releases()))?
            .into_iter()
            .chain(store.mirrored_under(&self.mark(&layout::data_key()))?)
            .filter_map(|p| p.strip_prefix(&self.scope).map(str::to_string))
            .collect();

        let mut items: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(k) = store.export_data_key()?
            && !pushed.contains(&layout::data_key())
        {
            items.push((layout::data_key(), k.bytes().to_vec()));
        }
        // Objects travel in packs (one blob per up to PACK_OBJECTS objects):
        // a first push and a restore are then a few requests, not one per
        // object. Packs an interrupted push planned are finished first, with
        // the same members, so a retry never packs an object twice.
        let pending = self.pending_packs(store)?;
        let planned: BTreeSet<Digest> = pending
            .iter()
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        // The store logs the objects it inserts while a mirror follows it,
        // so after a first full scan a push reads only what is new.
        store.follow_objects(&self.scope)?;
        let todo = store.objects_to_push(&self.scope, &self.mark(&layout::objects()))?;
        report.objects_examined = todo.examined;
        let fresh: Vec<Digest> = todo
            .digests
            .into_iter()
            .filter(|d| !planned.contains(d))
            .collect();
        let mut packs = pending;
        let mut plan = Vec::new();
        for members in fresh.chunks(PACK_OBJECTS) {
            let name = Digest::of_parts(members.iter().map(|d| d.0.as_slice()));
            plan.push((
                self.pending_key(&name),
                encode("pack members", &members.to_vec())?,
            ));
            packs.push((name, members.to_vec()));
        }
        if !plan.is_empty() {
            store.mark_mirrored(&plan)?;
        }
        self.put_packs(packs, store, progress, &mut report).await?;
        store.objects_pushed(&self.scope, todo.log_end)?;
        for r in store.export_releases()? {
            let path = layout::release(&r.estate, &r.version);
            if !pushed.contains(&path) {
                items.push((path, r.bytes));
            }
        }
        // Objects and releases first: a generation never references what
        // the mirror lacks.
        self.put_many(items, store, progress, &mut report).await?;

        let stacks = if stacks.is_empty() {
            store.stacks()?
        } else {
            stacks.to_vec()
        };
        for s in &stacks {
            let mut from = self.mirrored_head(store, s).await?;
            // An older HEAD written over the mirror's (the same history, cut
            // short): push again from where it now points.
            if let Some((n, _)) = self.read_head(s).await?
                && n < from
            {
                let mine = store.export_generations(s, n.saturating_sub(1))?;
                let same = match mine.first() {
                    Some(g) if n == 0 || g.number == n => {
                        n == 0 || *g == self.read_generation(s, n).await?
                    }
                    _ => false,
                };
                if !same {
                    return Err(MirrorError::Diverged {
                        stack: s.to_string(),
                        what: format!("generation {n}"),
                    });
                }
                from = n;
            }
            let gens = store.export_generations(s, from)?;
            let Some(last) = gens.last().map(|g| g.number) else {
                continue;
            };
            let mut chunks = Vec::new();
            for g in gens {
                chunks.extend(chunks_of(s, g)?);
            }
            self.put_many(chunks, store, progress, &mut report).await?;
            self.advance_head(store, s, from, last).await?;
            report.generations.push((s.clone(), from + 1, last));
        }

        // Another machine may have extended the shared log since: take its
        // records first, so this store's new ones follow them.
        let (_, _, after) = self.pull_audit(store).await?;
        let records = store.export_audit(after)?;
        if let (Some(first), Some(last)) = (records.first(), records.last()) {
            let path = layout::audit_run(first.0, last.0);
            let payload = encode("audit run", &records)?;
            let (new, bytes) = self.put_new(&path, &payload).await?;
            if new {
                report.blobs += 1;
                report.bytes += bytes;
            }
            self.mark_pushed(
                store,
                &[
                    (path, Vec::new()),
                    (
                        format!("{}audit-watermark", layout::audit()),
                        last.0.to_le_bytes().to_vec(),
                    ),
                ],
            )?;
        }
        // Last: the record a restore checks itself against, of everything
        // now in the mirror.
        self.record_manifest(store).await?;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Imports the mirror's audit runs this store has not seen (past its
    /// watermark) and moves the watermark to the mirror's last record.
    /// Returns (records added, bytes read, the new watermark).
    async fn pull_audit(&self, store: &Store) -> Result<(usize, u64, u64), MirrorError> {
        let mark = format!("{}audit-watermark", layout::audit());
        let after = store
            .mirrored(&self.mark(&mark))?
            .and_then(|b| b.try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let mut runs = Vec::new();
        for path in self
            .backend
            .list(&layout::audit())
            .await
            .map_err(|e| self.blob(e))?
        {
            // `.../audit/<first>-<last>`; anything else is not a run.
            let Some(last) = path
                .rsplit('/')
                .next()
                .and_then(|n| n.split_once('-'))
                .and_then(|(_, l)| l.parse::<u64>().ok())
            else {
                continue;
            };
            if last > after {
                runs.push((last, path));
            }
        }
        if runs.is_empty() {
            return Ok((0, 0, after));
        }
        let mut records = Vec::new();
        let mut bytes_read = 0;
        let mut top = after;
        for (last, path) in runs {
            let (bytes, _) = self.get(&path).await?;
            bytes_read += bytes.len() as u64;
            let run: Vec<(u64, Vec<u8>)> = decode(&path, &bytes)?;
            records.extend(run.into_iter().filter(|(n, _)| *n > after));
            top = top.max(last);
        }
        let added = store.import_audit(&records)?;
        self.mark_pushed(store, &[(mark, top.to_le_bytes().to_vec())])?;
        Ok((added, bytes_read, top))
    }

    /// The generation the mirror's HEAD of `s` points at, as this store
    /// last saw it (or as the mirror says, when this store never pushed).
    async fn mirrored_head(&self, store: &Store, s: &Stack) -> Result<u64, MirrorError> {
        if let Some(b) = self.pushed(store, &layout::head(s))?
            && let Ok(arr) = <[u8; 8]>::try_from(b.as_slice())
        {
            return Ok(u64::from_le_bytes(arr));
        }
        match self.read_head(s).await? {
            None => Ok(0),
            Some((n, _)) => {
                // The mirror has history this store never pushed: it must be
                // the same history, or pushing would fork it.
                let mine = store.export_generations(s, n.saturating_sub(1))?;
                let theirs = self.read_generation(s, n).await?;
                match mine.first() {
                    Some(g) if g.number == n && *g == theirs => Ok(n),
                    _ => Err(MirrorError::Diverged {
                        stack: s.to_string(),
                        what: format!("generation {n}"),
                    }),
                }
            }
        }
    }

    async fn read_head(&self, s: &Stack) -> Result<Option<(u64, Etag)>, MirrorError> {
        let path = layout::head(s);
        match self.backend.get(&path).await {
            Ok((sealed, etag)) => {
                let bytes = envelope::open(self.keys.as_ref(), &path, &sealed)?;
                let h: Head = decode(&path, &bytes)?;
                Ok(Some((h.generation, etag)))
            }
            Err(BlobError::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.blob(e)),
        }
    }

    /// Moves HEAD from `from` to `to` by compare-and-swap.
    async fn advance_head(
        &self,
        store: &Store,
        s: &Stack,
        from: u64,
        to: u64,
    ) -> Result<(), MirrorError> {
        let path = layout::head(s);
        let payload = encode("head", &Head { generation: to })?;
        let sealed = envelope::seal(self.keys.as_ref(), &path, &payload)?;
        let current = self.read_head(s).await?;
        let r = match current {
            None if from == 0 => self.backend.put_new(&path, &sealed).await,
            Some((n, etag)) if n == from => self.backend.put_if(&path, &sealed, &etag).await,
            Some((n, _)) if n >= to => {
                // Already there (an interrupted push finished elsewhere).
                self.mark_pushed(store, &[(path, to.to_le_bytes().to_vec())])?;
                return Ok(());
            }
            other => {
                return Err(MirrorError::Diverged {
                    stack: s.to_string(),
                    what: format!(
                        "HEAD (the mirror is at generation {}, this store last pushed {from})",
                        other.map_or(0, |(n, _)| n)
                    ),
                });
            }
        };
        match r {
            Ok(_) => {
                self.mark_pushed(store, &[(path, to.to_le_bytes().to_vec())])?;
                Ok(())
            }
            Err(BlobError::Exists { .. } | BlobError::Changed { .. }) => {
                Err(MirrorError::Diverged {
                    stack: s.to_string(),
                    what: "HEAD (it moved while this push ran)".into(),
                })
            }
            Err(e) => Err(self.blob(e)),
        }
    }

    /// Reads generation `n` of `s` back from its chunks.
    async fn read_generation(&self, s: &Stack, n: u64) -> Result<GenerationRows, MirrorError> {
        let first_path = layout::chunk(s, n, 0);
        let (bytes, _) = self.get(&first_path).await?;
        let first: Chunk = decode(&first_path, &bytes)?;
        let mut g = GenerationRows {
            stack: s.key(),
            number: n,
            generation: first
                .generation
                .clone()
                .ok_or_else(|| MirrorError::Corrupt {
                    path: first_path.clone(),
                    message: "chunk 0 carries no generation record".into(),
                })?,
            deltas: first.deltas,
            checkpoints: first.checkpoints,
            backup: first.backup,
        };
        for k in 1..first.count {
            let path = layout::chunk(s, n, k);
            let (bytes, _) = self.get(&path).await?;
            let c: Chunk = decode(&path, &bytes)?;
            g.deltas.extend(c.deltas);
        }
        Ok(g)
    }

    /// Takes the stack's apply lease (`secs` long; renew it with
    /// [`Mirror::renew_stack`]) and records who holds it. Fails with
    /// [`MirrorError::Locked`] naming the holder when someone else does.
    pub async fn lease_stack(
        &self,
        s: &Stack,
        holder: &LeaseHolder,
        secs: u32,
    ) -> Result<LeaseId, MirrorError> {
        let path = layout::lock(s);
        match self.backend.lease(&path, secs).await {
            Ok(id) => {
                let info = format!("{}holder", layout::stack(s));
                // Who holds it, for the loser's message (sealed like
                // everything else: it names a person and a host). It is
                // bookkeeping, so it is replaced rather than versioned.
                let _ = self.backend.delete(&info).await;
                let record = serde_json::to_vec(holder).unwrap_or_default();
                if let Ok(sealed) = envelope::seal(self.keys.as_ref(), &info, &record) {
                    let _ = self.backend.put_new(&info, &sealed).await;
                }
                Ok(id)
            }
            Err(BlobError::Leased { .. }) => {
                let record = self
                    .get(&format!("{}holder", layout::stack(s)))
                    .await
                    .ok()
                    .map(|(b, _)| b);
                let holder = record
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<LeaseHolder>(b).ok());
                let who = match (&holder, &record) {
                    (Some(h), _) => h.to_string(),
                    // An older record: free text.
                    (None, Some(b)) => String::from_utf8_lossy(b).into_owned(),
                    (None, None) => "another machine".into(),
                };
                Err(MirrorError::Locked {
                    stack: s.to_string(),
                    estate: s.estate.clone(),
                    env: s.env.clone(),
                    path: format!("{path}, held by {who}"),
                    holder: holder.map(Box::new),
                })
            }
            Err(e) => Err(self.blob(e)),
        }
    }

    /// Renews the stack's apply lease.
    pub async fn renew_stack(&self, s: &Stack, lease: &LeaseId) -> Result<(), MirrorError> {
        self.backend
            .renew(&layout::lock(s), lease)
            .await
            .map_err(|e| self.blob(e))
    }

    /// Releases the stack's apply lease.
    pub async fn release_stack(&self, s: &Stack, lease: &LeaseId) -> Result<(), MirrorError> {
        self.backend
            .release(&layout::lock(s), lease)
            .await
            .map_err(|e| self.blob(e))
    }

    /// Breaks whatever lease is on the stack (force-unlock).
    pub async fn break_stack(&self, s: &Stack) -> Result<(), MirrorError> {
        self.backend
            .break_lease(&layout::lock(s))
            .await
            .map_err(|e| self.blob(e))
    }

    /// How far behind the mirror is, per stack.
    pub async fn status(
        &self,
        store: &Store,
        stacks: &[Stack],
    ) -> Result<Vec<StackStatus>, MirrorError> {
        let stacks = if stacks.is_empty() {
            store.stacks()?
        } else {
            stacks.to_vec()
        };
        let mut out = Vec::new();
        for s in stacks {
            let local = settled(store, &s)?;
            let mirrored = match self.read_head(&s).await {
                Ok(h) => Some(h.map_or(0, |(n, _)| n)),
                Err(MirrorError::Blob { .. }) => None,
                Err(e) => return Err(e),
            };
            let known = mirrored.unwrap_or_else(|| {
                store
                    .mirrored(&self.mark(&layout::head(&s)))
                    .ok()
                    .flatten()
                    .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                    .map_or(0, u64::from_le_bytes)
            });
            let behind_since = if local > known {
                store.generation(&s, known + 1).ok().map(|g| g.ended_at)
            } else {
                None
            };
            out.push(StackStatus {
                stack: s,
                local,
                mirrored,
                behind_since,
            });
        }
        Ok(out)
    }

    /// Rebuilds history from the mirror into `store` (normally empty),
    /// verifying every object.
    pub async fn rebuild(
        &self,
        store: &Store,
        filter: &RebuildFilter,
        progress: &mut dyn TransferProgress,
    ) -> Result<RebuildReport, MirrorError> {
        let started = Instant::now();
        let mut report = RebuildReport::default();
        // Whole or nothing: what the manifest says was pushed must all be
        // there before anything is taken in.
        let missing = self.missing(filter).await?;
        if !missing.is_empty() {
            return Err(MirrorError::Incomplete { missing });
        }

        match self.get(&layout::data_key()).await {
            Ok((bytes, _)) => {
                let arr: [u8; 32] = bytes.try_into().map_err(|_| MirrorError::Corrupt {
                    path: layout::data_key(),
                    message: "the data key is not 32 bytes".into(),
                })?;
                store.import_data_key(&DataKey::from_bytes(arr))?;
            }
            Err(MirrorError::Blob {
                source: BlobError::NotFound { .. },
                ..
            }) => {}
            Err(e) => return Err(e),
        }

        // Objects: packs, and single objects (how early pushes stored them).
        // Packs this store already took in, or pushed, are skipped.
        let seen: BTreeSet<String> = store
            .mirrored_under(&self.mark(&layout::packs()))?
            .into_iter()
            .filter_map(|p| p.strip_prefix(&self.scope).map(str::to_string))
            .collect();
        let have: BTreeSet<Digest> = store.object_digests()?.into_iter().collect();
        let mut wanted: Vec<(String, Option<Digest>)> = Vec::new();
        for path in self
            .backend
            .list(&layout::packs())
            .await
            .map_err(|e| self.blob(e))?
        {
            if !seen.contains(&path) {
                wanted.push((path, None));
            }
        }
        for path in self
            .backend
            .list(&layout::objects())
            .await
            .map_err(|e| self.blob(e))?
        {
            let hex = path.trim_start_matches(&layout::objects());
            let d: Digest =
                hex.parse()
                    .map_err(|e: crate::model::DigestError| MirrorError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
            if !have.contains(&d) {
                wanted.push((path, Some(d)));
            }
        }
        let total = wanted.len();
        let mut set = tokio::task::JoinSet::new();
        let mut queue = wanted.into_iter();
        let mut done = 0;
        loop {
            while set.len() < PARALLEL {
                let Some((path, d)) = queue.next() else {
                    break;
                };
                let me = self.clone();
                set.spawn(async move {
                    let r = me.get(&path).await;
                    (path, d, r)
                });
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let (path, d, r) = joined.map_err(|e| MirrorError::Bug(e.to_string()))?;
            let (bytes, _) = r?;
            report.bytes += bytes.len() as u64;
            let objects: Vec<(Digest, Vec<u8>)> = match d {
                Some(d) => vec![(d, bytes)],
                None => decode(&path, &bytes)?,
            };
            report.objects += store.import_objects(&objects)?;
            // What came from the mirror is in the mirror: never pushed again.
            let mut marks: Vec<(String, Vec<u8>)> = objects
                .iter()
                .map(|(d, _)| (self.mark(&layout::object(d)), Vec::new()))
                .collect();
            if d.is_none() {
                marks.push((self.mark(&path), Vec::new()));
            }
            store.settle_mirrored(&marks, &[])?;
            done += 1;
            progress.update(done, total, report.bytes);
        }

        let mut releases = Vec::new();
        for path in self
            .backend
            .list(&layout::releases())
            .await
            .map_err(|e| self.blob(e))?
        {
            let rest = path.trim_start_matches(&layout::releases());
            let Some((estate, version)) = rest.split_once('/') else {
                continue;
            };
            if filter.estate.as_deref().is_some_and(|e| e != estate) {
                continue;
            }
            let (bytes, _) = self.get(&path).await?;
            report.bytes += bytes.len() as u64;
            releases.push(ReleaseRow {
                estate: estate.to_string(),
                version: version.to_string(),
                bytes,
            });
        }
        report.releases = store.import_releases(&releases)?;

        let heads: Vec<Stack> = self
            .backend
            .list(&layout::stacks())
            .await
            .map_err(|e| self.blob(e))?
            .iter()
            .filter_map(|p| layout::parse_head(p))
            .filter(|s| filter.estate.as_deref().is_none_or(|e| e == s.estate))
            .filter(|s| filter.env.as_deref().is_none_or(|e| e == s.env))
            .collect();
        let mut marks = Vec::new();
        for s in heads {
            let Some((head, _)) = self.read_head(&s).await? else {
                continue;
            };
            let upto = filter.generation.map_or(head, |g| g.min(head));
            let local = settled(store, &s)?;
            let present = self.present_generations(&s).await?;
            let first = present.first().copied().unwrap_or(1);
            // Older generations pruned: a base checkpoint stands for them,
            // and replaces the base of every generation that reaches back
            // past it.
            let base = if local == 0 && first > 1 {
                Some(self.read_base(&s, first).await?)
            } else {
                None
            };
            let start = if local == 0 { first } else { local + 1 };
            let mut gens = Vec::new();
            for n in start..=upto {
                if !present.contains(&n) {
                    return Err(MirrorError::Corrupt {
                        path: layout::generation(&s, n),
                        message: format!(
                            "generation {n} is missing (present: {}); `statectl mirror undelete` brings back pruned generations",
                            retention::range_text(&present)
                        ),
                    });
                }
                let mut g = self.read_generation(&s, n).await?;
                if let Some(b) = &base {
                    let path = layout::chunk(&s, n, 0);
                    let mut record: crate::model::Generation = decode(&path, &g.generation)?;
                    if record.base.seq < b.seq {
                        record.base = b.clone();
                        g.generation = encode("generation", &record)?;
                    }
                }
                gens.push(g);
            }
            let count = store.import_generations(&gens)?;
            report.generations.push((s.clone(), upto, count));
            if upto == head {
                marks.push((layout::head(&s), head.to_le_bytes().to_vec()));
            }
        }

        let (added, bytes, _) = self.pull_audit(store).await?;
        report.audit = added;
        report.bytes += bytes;
        self.mark_pushed(store, &marks)?;
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// The newest settled generation of `s` (0: none): the generation records
/// only, not their rows.
fn settled(store: &Store, s: &Stack) -> Result<u64, MirrorError> {
    Ok(store
        .generations(s)?
        .iter()
        .take_while(|g| g.outcome != crate::model::Outcome::InProgress)
        .last()
        .map_or(0, |g| g.number))
}

/// Splits a generation into chunks of at most [`CHUNK_ROWS`] delta rows.
fn chunks_of(s: &Stack, g: GenerationRows) -> Result<Vec<(String, Vec<u8>)>, MirrorError> {
    let rows: Vec<Vec<(u64, Vec<u8>)>> = if g.deltas.is_empty() {
        vec![Vec::new()]
    } else {
        g.deltas.chunks(CHUNK_ROWS).map(<[_]>::to_vec).collect()
    };
    let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let mut out = Vec::new();
    for (k, deltas) in rows.into_iter().enumerate() {
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        let first = k == 0;
        let c = Chunk {
            count,
            generation: first.then(|| g.generation.clone()),
            backup: if first { g.backup.clone() } else { None },
            checkpoints: if first {
                g.checkpoints.clone()
            } else {
                Vec::new()
            },
            deltas,
        };
        out.push((
            layout::chunk(s, g.number, k),
            encode("generation chunk", &c)?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::keys::LocalKeyFile;
    use crate::model::{GenerationKind, Outcome};
    use crate::store::{Actor, Change, NewGeneration, StoreOptions};

    fn actor() -> Actor {
        Actor {
            name: "mirror@test".into(),
            how: "unit test".into(),
        }
    }

    /// A store in `dir/state` with `n` one-resource generations of shop/dev.
    fn store_with(dir: &std::path::Path, n: u64) -> (Store, Stack) {
        let store = Store::open(&dir.join("state"), StoreOptions::default()).unwrap();
        let stack = Stack::new("shop", "dev").unwrap();
        for i in 1..=n {
            store
                .commit_generation(
                    &stack,
                    NewGeneration {
                        kind: GenerationKind::Apply,
                        release: None,
                        plan_hash: None,
                        reason: None,
                    },
                    vec![Change::Put {
                        observed: Box::new(crate::synthetic::crash_resource(i, 0)),
                        applied: None,
                    }],
                    Outcome::Succeeded,
                    &actor(),
                )
                .unwrap();
        }
        (store, stack)
    }

    fn mirror(dir: &std::path::Path) -> Mirror {
        let keys = LocalKeyFile::open_or_create(&dir.join("mirror.key")).unwrap();
        Mirror::new(
            Backend::Local(LocalDir::new(dir.join("mirror"))),
            Arc::new(keys),
        )
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_generation_is_cut_into_chunks_and_only_the_first_carries_its_record() {
        let s = Stack::new("shop", "dev").unwrap();
        let rows = GenerationRows {
            stack: s.key(),
            number: 3,
            generation: vec![1, 2, 3],
            deltas: (0..(CHUNK_ROWS as u64 * 2 + 1))
                .map(|i| (i, vec![0]))
                .collect(),
            checkpoints: vec![(5, vec![9])],
            backup: None,
        };
        let chunks = chunks_of(&s, rows).unwrap();
        assert_eq!(chunks.len(), 3);
        let decoded: Vec<Chunk> = chunks.iter().map(|(p, b)| decode(p, b).unwrap()).collect();
        assert!(decoded.iter().all(|c| c.count == 3));
        assert_eq!(decoded[0].generation.as_deref(), Some(&[1u8, 2, 3][..]));
        assert!(decoded[1].generation.is_none() && decoded[2].generation.is_none());
        assert_eq!(decoded[0].checkpoints.len(), 1);
        assert!(decoded[1].checkpoints.is_empty());
        assert_eq!(decoded[2].deltas.len(), 1);
        // An empty generation still has its one chunk.
        let empty = GenerationRows {
            stack: s.key(),
            number: 4,
            generation: vec![7],
            deltas: vec![],
            checkpoints: vec![],
            backup: None,
        };
        assert_eq!(chunks_of(&s, empty).unwrap().len(), 1);
    }

    #[test]
    fn a_pushed_store_rebuilds_whole_and_a_second_push_sends_only_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let (store, stack) = store_with(dir.path(), 3);
        let m = mirror(dir.path());
        let rt = rt();
        let first = rt.block_on(m.push(&store, &[], &mut NoProgress)).unwrap();
        assert_eq!(first.generations, vec![(stack.clone(), 1, 3)]);
        assert_eq!(
            rt.block_on(m.read_head(&stack)).unwrap().map(|(n, _)| n),
            Some(3)
        );
        let again = rt.block_on(m.push(&store, &[], &mut NoProgress)).unwrap();
        assert_eq!(again.blobs, 0, "nothing new: {again:?}");

        let restored = Store::open(&dir.path().join("restored"), StoreOptions::default()).unwrap();
        let r = rt
            .block_on(m.rebuild(&restored, &RebuildFilter::default(), &mut NoProgress))
            .unwrap();
        assert_eq!(r.generations.len(), 1, "{r:?}");
        let numbers = |s: &Store| -> Vec<u64> {
            s.generations(&stack)
                .unwrap()
                .iter()
                .map(|g| g.number)
                .collect()
        };
        assert_eq!(numbers(&restored), numbers(&store));
        let g = restored.latest_generation(&stack).unwrap().unwrap();
        assert_eq!(
            restored.observed(&g).unwrap(),
            store
                .observed(&store.latest_generation(&stack).unwrap().unwrap())
                .unwrap()
        );
    }

    #[test]
    fn a_blob_opens_only_at_the_path_it_was_sealed_for() {
        let dir = tempfile::tempdir().unwrap();
        let (store, stack) = store_with(dir.path(), 1);
        let m = mirror(dir.path());
        let rt = rt();
        rt.block_on(m.push(&store, &[], &mut NoProgress)).unwrap();
        let (sealed, _) = rt.block_on(m.backend().get(&layout::head(&stack))).unwrap();
        // The same bytes at another stack's HEAD (a copy, a rollback of
        // another stack's blob) do not open: the path is bound in.
        let other = layout::head(&Stack::new("shop", "prod").unwrap());
        let e = m.open(&other, &sealed).unwrap_err().to_string();
        assert!(e.contains(&other), "names the blob: {e}");
        assert!(m.open(&layout::head(&stack), &sealed).is_ok());
    }
}
