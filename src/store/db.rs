use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use redb::{
    ConcurrencyMode, Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};

use super::error::StoreError;
use super::object::Objects;
use super::schema::{self, SCHEMA_VERSION};
use crate::clock::Clock;
use crate::keys::{KeyProvider, LocalKeyFile};
use crate::model::{Digest, ObservedResource};

/// The file name of the database inside a state directory.
pub const DB_FILE: &str = "state.redb";

/// Who is acting, for audit records and generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user@host`, or a CI identity.
    pub name: String,
    /// How: the statectl version and the command line.
    pub how: String,
}

impl Actor {
    /// The actor of this process: a CI identity when one is set (GitHub
    /// Actions, Azure DevOps), else `user@host`; `how` is the version and
    /// command line.
    pub fn new(identity: &crate::settings::Identity, command: &str) -> Self {
        let name = if let Some((actor, repo)) = &identity.github {
            format!("github:{repo}@{actor}")
        } else if let Some(who) = &identity.azure_devops {
            format!("azure-devops:{who}")
        } else {
            let user = identity
                .user
                .clone()
                .or_else(user_from_uid)
                .unwrap_or_else(|| "unknown".into());
            format!("{user}@{}", hostname())
        };
        Actor {
            name,
            how: format!("statectl {} {command}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The user name of this process's uid, from /proc and /etc/passwd.
fn user_from_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next()?;
        (f.next()? == uid).then(|| name.to_string())
    })
}

/// This machine's host name, from the kernel (what tells whether a lock's
/// pid is of this machine).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` is running on this machine. Only a definite "no"
/// counts (Linux: no `/proc/<pid>`); where that cannot be told, it is
/// taken as running, so nothing is ever taken from a live holder.
pub fn pid_alive(pid: u32) -> bool {
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// How to open a store.
#[derive(Clone)]
pub struct StoreOptions {
    /// The clock for every timestamp the store writes.
    pub clock: Arc<dyn Clock>,
    /// The key file that wraps the data key for sensitive values; default
    /// `<state dir>/local.key`.
    pub key_file: Option<PathBuf>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("key_file", &self.key_file)
            .finish()
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: Arc::new(crate::clock::SystemClock),
            key_file: None,
        }
    }
}

/// The state store: one redb database per state directory holding releases,
/// observed generations, the audit log, the journal and lock records.
///
/// Invariants: every change is one redb write transaction (committed with
/// immediate durability and quick repair), so a crash leaves either all of a
/// change or none of it; the database is opened in redb's multi-writer mode,
/// so other processes can read (and take their own stack locks) while an
/// apply runs; every record read back is checked by the codec.
pub struct Store {
    pub(crate) db: Arc<Database>,
    pub(crate) dir: PathBuf,
    pub(crate) path: PathBuf,
    pub(crate) clock: Arc<dyn Clock>,
    key_file: PathBuf,
    provider: OnceLock<Arc<LocalKeyFile>>,
    key_cache: super::sealing::KeyCache,
    overlay_cache: super::generations::OverlayCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the store in `dir`, creating the directory and the database if
    /// they do not exist.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "cannot create state directory",
            path: dir.to_path_buf(),
            source,
        })?;
        if !dir.join(DB_FILE).exists() {
            Self::create_file(dir, &opts)?;
        }
        Self::open_file(dir, &dir.join(DB_FILE), opts, false)
    }

    /// Creates the database with its schema through
    /// [`crate::util::create_atomically`]: a process killed while creating
    /// the store (before redb has written a valid header) must not leave a
    /// half-written `state.redb` that every later open refuses.
    fn create_file(dir: &Path, opts: &StoreOptions) -> Result<(), StoreError> {
        let path = dir.join(DB_FILE);
        crate::util::create_atomically(&path, |tmp| {
            Self::open_file(dir, tmp, opts.clone(), true).map(drop)
        })
        .map_err(|e| match e {
            crate::util::CreateError::Init(e) => e,
            crate::util::CreateError::Io(action, path, source) => StoreError::Io {
                action,
                path,
                source,
            },
        })
    }

    /// Opens the store in `dir`; fails with [`StoreError::Missing`] if there
    /// is none (for commands that only read).
    pub fn open_existing(dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        if !dir.join(DB_FILE).is_file() {
            return Err(StoreError::Missing(dir.to_path_buf()));
        }
        Self::open_file(dir, &dir.join(DB_FILE), opts, false)
    }

    fn open_file(
        dir: &Path,
        path: &Path,
        opts: StoreOptions,
        create: bool,
    ) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let open = || {
            let mut b = Database::builder();
            b.set_concurrency_mode(ConcurrencyMode::MultiWriter);
            b.set_cache_size(64 * 1024 * 1024);
            if create {
                b.create(&path)
            } else {
                b.open(&path)
            }
        };
        // redb documents that a plain open of a file altered behind its back
        // may panic; a damaged file must be an error, not a crash.
        let db = super::guard::contain(&path, || {
            open().map_err(|e| StoreError::Open {
                path: path.clone(),
                message: format!("{e}; if the file is damaged, run `statectl store check` or restore it with `statectl mirror restore`"),
            })
        })?;
        let key_file = opts
            .key_file
            .clone()
            .unwrap_or_else(|| dir.join("local.key"));
        let store = Store {
            db: Arc::new(db),
            dir: dir.to_path_buf(),
            path,
            clock: opts.clock,
            key_file,
            provider: OnceLock::new(),
            key_cache: Default::default(),
            overlay_cache: Default::default(),
        };
        store.ensure_schema()?;
        Ok(store)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn ensure_schema(&self) -> Result<(), StoreError> {
        let found = self.read(|r| match r.open_table(schema::META) {
            Ok(t) => Ok(t.get(schema::META_SCHEMA)?.map(|g| g.value().to_vec())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        })?;
        let version = match found {
            Some(bytes) => {
                let arr: [u8; 4] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt {
                            table: "meta",
                            key: schema::META_SCHEMA.into(),
                            source: super::codec::CodecError::Truncated(bytes.len()),
                        })?;
                Some(u32::from_le_bytes(arr))
            }
            None => None,
        };
        match version {
            Some(v) if v == SCHEMA_VERSION => Ok(()),
            Some(v) if v > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: v,
                supported: SCHEMA_VERSION,
            }),
            other => self.write(|w| {
                // Re-read inside the write transaction: another process may
                // have initialized or migrated the store meanwhile.
                let mut meta = w.open_table(schema::META)?;
                let now = meta
                    .get(schema::META_SCHEMA)?
                    .and_then(|g| g.value().try_into().ok().map(u32::from_le_bytes));
                let from = now.or(other).unwrap_or(0);
                if from < SCHEMA_VERSION {
                    migrate(w, from)?;
                    meta.insert(schema::META_SCHEMA, SCHEMA_VERSION.to_le_bytes().as_slice())?;
                }
                Ok(())
            }),
        }
    }

    /// Runs `f` in one write transaction and commits it; on error nothing is
    /// written.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let r = super::guard::contain(&self.path, || {
            let mut txn = self.db.begin_write()?;
            txn.set_quick_repair(true);
            let out = f(&txn)?;
            txn.commit()?;
            Ok(out)
        });
        if r.is_err() {
            // A cache filled inside an aborted transaction describes nothing.
            self.overlay_cache.clear();
        }
        r
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        super::guard::contain(&self.path, || {
            let txn = self.db.begin_read()?;
            f(&txn)
        })
    }

    /// The key file that wraps the store's data key. Only `create` (the
    /// first secret of a store that holds no data key yet) may create it:
    /// a store whose data key exists never gets a new key file, since a
    /// new key cannot open what the old one sealed.
    pub(crate) fn provider(&self, create: bool) -> Result<Arc<LocalKeyFile>, StoreError> {
        if let Some(p) = self.provider.get() {
            return Ok(p.clone());
        }
        let p = if create {
            LocalKeyFile::open_or_create(&self.key_file)?
        } else {
            LocalKeyFile::load(&self.key_file).map_err(|source| StoreError::StoreKey {
                file: self.key_file.display().to_string(),
                source,
            })?
        };
        Ok(self.provider.get_or_init(|| Arc::new(p)).clone())
    }

    pub(crate) fn key_file_path(&self) -> &std::path::Path {
        &self.key_file
    }

    pub(crate) fn key_cache(&self) -> &super::sealing::KeyCache {
        &self.key_cache
    }

    pub(crate) fn overlay_cache(&self) -> &super::generations::OverlayCache {
        &self.overlay_cache
    }

    /// Describes the key provider (for `statectl store info`).
    pub fn key_description(&self) -> Result<String, StoreError> {
        Ok(self.provider(false)?.describe())
    }

    /// Compacts the database file (redb files only grow otherwise). Needs
    /// exclusive use of this handle.
    pub fn compact(&mut self) -> Result<bool, StoreError> {
        let db = Arc::get_mut(&mut self.db)
            .ok_or_else(|| StoreError::Bug("store is shared while compacting".into()))?;
        Ok(db.compact()?)
    }

    /// Size of the database file in bytes.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// Creates every table (new store) or brings an older schema forward. Runs
/// inside the caller's write transaction, so a failed migration changes
/// nothing.
fn migrate(w: &WriteTransaction, from: u32) -> Result<(), StoreError> {
    // Version 0 is a store without a schema record (a pre-release build);
    // version 1 adds no table beyond creating them all.
    if from < 1 {
        w.open_table(schema::OBJECTS)?;
        w.open_table(schema::RELEASES)?;
        w.open_table(schema::GENERATIONS)?;
        w.open_table(schema::DELTAS)?;
        w.open_table(schema::CHECKPOINTS)?;
        w.open_table(schema::AUDIT)?;
        w.open_table(schema::JOURNAL)?;
        w.open_table(schema::LOCKS)?;
        w.open_table(schema::BACKUPS)?;
    }
    // Version 2 adds `observed_at`; the observed objects a version-1 store
    // copied into `objects` stay there and are found first.
    if from < 2 {
        w.open_table(schema::OBSERVED_AT)?;
    }
    // Version 3 writes new records in the compact codec encoding (the
    // version-1 records already stored stay as they are and read as such)
    // and resolves journal entries in `journal_ends` (entries an older
    // build resolved in place keep their state).
    if from < 3 {
        w.open_table(schema::JOURNAL_ENDS)?;
    }
    // Version 4 keeps folded rows in `folded_deltas`: move every stack's
    // rows up to its latest checkpoint there.
    if from < 4 {
        let mut latest: BTreeMap<String, u64> = BTreeMap::new();
        for row in w.open_table(schema::CHECKPOINTS)?.iter()? {
            let (k, _) = row?;
            let (stack, seq) = k.value();
            let e = latest.entry(stack.to_string()).or_default();
            *e = (*e).max(seq);
        }
        let mut rows = super::rows::WriteRows::write(w)?;
        for (stack, seq) in latest {
            rows.settle(&stack, seq)?;
        }
    }
    // Version 5 adds `object_log`, empty: no mirror follows the store until
    // its next push, which starts with a full scan.
    if from < 5 {
        w.open_table(schema::OBJECT_LOG)?;
    }
    Ok(())
}

/// Object access inside a write transaction.
///
/// An observed object not in `objects` is read from the delta row that
/// `observed_at` names (opening `deltas` for that read only, so no caller
/// may hold `deltas` open while loading an observed object through it).
///
/// Opened with [`WriteObjects::batched`], new objects wait in memory and
/// go into the table in digest order at [`WriteObjects::finish`]: digests
/// are random, and inserting thousands in random order leaves redb's
/// leaves about 60% full where sorted inserts fill them (a fold of 100,000
/// resources: 18.3 MiB of `objects` pages became 14.3 MiB). Invariant: a batched handle dropped
/// without `finish` writes nothing, which is only right on an error path,
/// where the transaction aborts anyway.
///
/// While a mirror follows the store (a watermark in `meta`), every object
/// inserted is also appended to `object_log`, so the next push finds it
/// without reading every object.
pub(crate) struct WriteObjects<'t> {
    pub(crate) table: redb::Table<'t, &'static [u8], &'static [u8]>,
    w: &'t WriteTransaction,
    pending: Option<BTreeMap<Digest, Vec<u8>>>,
    /// The object log and its next sequence number, when a mirror follows.
    log: Option<(redb::Table<'t, u64, &'static [u8]>, u64)>,
}

impl<'t> WriteObjects<'t> {
    /// Objects written straight to the table.
    pub(crate) fn open(w: &'t WriteTransaction) -> Result<Self, StoreError> {
        let followed = {
            let meta = w.open_table(schema::META)?;
            let first = meta.range(schema::META_OBJECT_LOG..)?.next().transpose()?;
            first.is_some_and(|(k, _)| k.value().starts_with(schema::META_OBJECT_LOG))
        };
        let log = if followed {
            let t = w.open_table(schema::OBJECT_LOG)?;
            let next = t.last()?.map_or(1, |(k, _)| k.value() + 1);
            Some((t, next))
        } else {
            None
        };
        Ok(WriteObjects {
            table: w.open_table(schema::OBJECTS)?,
            w,
            pending: None,
            log,
        })
    }

    /// Inserts an object the table does not hold, logging it when a mirror
    /// follows the store.
    fn insert(&mut self, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
        self.table.insert(digest.0.as_slice(), bytes)?;
        if let Some((log, next)) = &mut self.log {
            log.insert(*next, digest.0.as_slice())?;
            *next += 1;
        }
        Ok(())
    }

    /// Objects kept until [`Self::finish`], then written in digest order.
    pub(crate) fn batched(w: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(WriteObjects {
            pending: Some(BTreeMap::new()),
            ..Self::open(w)?
        })
    }

    /// Writes the objects a batched handle holds, in digest order.
    pub(crate) fn finish(mut self) -> Result<(), StoreError> {
        for (digest, bytes) in self.pending.take().unwrap_or_default() {
            self.insert(&digest, &bytes)?;
        }
        Ok(())
    }

    /// Whether `objects` itself holds `digest` (or will, once finished).
    pub(crate) fn holds(&self, digest: &Digest) -> Result<bool, StoreError> {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.contains_key(digest))
        {
            return Ok(true);
        }
        Ok(self.table.get(digest.0.as_slice())?.is_some())
    }
}

impl Objects for WriteObjects<'_> {
    fn get_raw(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(bytes) = self.pending.as_ref().and_then(|p| p.get(digest)) {
            return Ok(Some(bytes.clone()));
        }
        if let Some(g) = self.table.get(digest.0.as_slice())? {
            return Ok(Some(g.value().to_vec()));
        }
        let at = self.w.open_table(schema::OBSERVED_AT)?;
        let Some(place) = at.get(digest.0.as_slice())?.map(|g| g.value().to_vec()) else {
            return Ok(None);
        };
        let rows = super::rows::WriteRows::write(self.w)?;
        Ok(Some(
            super::generations::observed_at_row(&rows, digest, &place)?.1,
        ))
    }
    fn put_raw(&mut self, digest: Digest, bytes: &[u8]) -> Result<(), StoreError> {
        if self.holds(&digest)? {
            return Ok(());
        }
        match &mut self.pending {
            Some(p) => {
                p.insert(digest, bytes.to_vec());
            }
            None => self.insert(&digest, bytes)?,
        }
        Ok(())
    }
}

/// Object access inside a read transaction (observed objects kept in delta
/// rows included, as for [`WriteObjects`]).
pub(crate) struct ReadObjects {
    pub(crate) table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    observed_at: Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
    rows: super::rows::ReadRows,
}

impl ReadObjects {
    pub(crate) fn open(r: &ReadTransaction) -> Result<Self, StoreError> {
        let observed_at = match r.open_table(schema::OBSERVED_AT) {
            Ok(t) => Some(t),
            // A version-1 store opened read-only before its migration.
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(ReadObjects {
            table: r.open_table(schema::OBJECTS)?,
            observed_at,
            rows: super::rows::ReadRows::read(r)?,
        })
    }
}

impl ReadObjects {
    /// The resource and object bytes of `digest` when a delta row holds it.
    fn in_row(&self, digest: &Digest) -> Result<Option<(ObservedResource, Vec<u8>)>, StoreError> {
        let Some(at) = &self.observed_at else {
            return Ok(None);
        };
        let Some(place) = at.get(digest.0.as_slice())?.map(|g| g.value().to_vec()) else {
            return Ok(None);
        };
        super::generations::observed_at_row(&self.rows, digest, &place).map(Some)
    }
}

impl Objects for ReadObjects {
    fn get_raw(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(g) = self.table.get(digest.0.as_slice())? {
            return Ok(Some(g.value().to_vec()));
        }
        Ok(self.in_row(digest)?.map(|(_, bytes)| bytes))
    }
    fn observed_in_row(&self, digest: &Digest) -> Result<Option<ObservedResource>, StoreError> {
        Ok(self.in_row(digest)?.map(|(o, _)| o))
    }
    fn put_raw(&mut self, _digest: Digest, _bytes: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::Bug(
            "write attempted in a read transaction".into(),
        ))
    }
}
