//! Where mirrored objects live: a blob container, with the few operations
//! the mirror needs (create-only put, compare-and-swap put, get, list by
//! prefix, delete, leases, account properties).
//!
//! Two implementations with the same semantics: a local directory (the
//! embedded default) and Azure Blob Storage through the official SDK
//! (`super::azure`). Dispatch is an enum, not a trait object, because the
//! operations are async.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::model::Digest;

/// An entity tag: changes whenever a blob's content does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Etag(pub String);

/// A held lease on a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseId(pub String);

/// What the blob service says about data protection, where it can say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceProperties {
    /// Blob soft delete: `Some(days)` when enabled, `Some(0)` when off,
    /// `None` when the service cannot report it.
    pub delete_retention_days: Option<u32>,
    /// Blob versioning, when the service reports it.
    pub versioning: Option<bool>,
    /// What could not be determined, and why.
    pub notes: Vec<String>,
}

/// Why a blob operation failed. Never contains a SAS token or key.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A create-only put found the blob already there.
    #[error("{path} already exists")]
    Exists {
        /// The blob.
        path: String,
    },
    /// A conditional put found a different version (someone else moved it).
    #[error("{path} changed since it was read (precondition failed)")]
    Changed {
        /// The blob.
        path: String,
    },
    /// No such blob.
    #[error("{path} does not exist")]
    NotFound {
        /// The blob.
        path: String,
    },
    /// Another holder has the lease.
    #[error("{path} is leased by another holder")]
    Leased {
        /// The blob.
        path: String,
    },
    /// The service could not be reached or answered with an error.
    #[error("{operation} {path}: {message}")]
    Service {
        /// What was attempted.
        operation: &'static str,
        /// The blob or prefix.
        path: String,
        /// The service's answer (status and error code), or the I/O error.
        message: String,
        /// Whether trying again later may succeed (network, 5xx, throttling).
        transient: bool,
    },
}

impl BlobError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BlobError::Service {
                transient: true,
                ..
            }
        )
    }
}

/// A blob store the mirror writes to.
#[derive(Debug)]
pub enum Backend {
    /// A local directory.
    Local(LocalDir),
    /// An Azure Blob Storage container.
    Azure(Box<super::azure::AzureBlob>),
}

impl Backend {
    /// A short description for messages (never includes credentials).
    pub fn describe(&self) -> String {
        match self {
            Backend::Local(l) => format!("directory {}", l.root.display()),
            Backend::Azure(a) => a.describe(),
        }
    }

    /// Where the blobs live (directory, or account URL and container),
    /// without the credential: what identifies this mirror to the store's
    /// push bookkeeping.
    pub fn location(&self) -> String {
        match self {
            Backend::Local(l) => format!("dir:{}", l.root.display()),
            Backend::Azure(a) => a.location(),
        }
    }

    /// Writes `bytes` to `path` only if nothing is there (If-None-Match: *).
    pub async fn put_new(&self, path: &str, bytes: &[u8]) -> Result<Etag, BlobError> {
        match self {
            Backend::Local(l) => l.put_new(path, bytes),
            Backend::Azure(a) => a.put_new(path, bytes).await,
        }
    }

    /// Replaces `path` only if it still has `etag` (If-Match).
    pub async fn put_if(&self, path: &str, bytes: &[u8], etag: &Etag) -> Result<Etag, BlobError> {
        match self {
            Backend::Local(l) => l.put_if(path, bytes, etag),
            Backend::Azure(a) => a.put_if(path, bytes, etag).await,
        }
    }

    /// Reads a blob and its etag.
    pub async fn get(&self, path: &str) -> Result<(Vec<u8>, Etag), BlobError> {
        match self {
            Backend::Local(l) => l.get(path),
            Backend::Azure(a) => a.get(path).await,
        }
    }

    /// Every blob name under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut v = match self {
            Backend::Local(l) => l.list(prefix)?,
            Backend::Azure(a) => a.list(prefix).await?,
        };
        v.sort();
        Ok(v)
    }

    /// Deletes a blob (missing is not an error).
    pub async fn delete(&self, path: &str) -> Result<(), BlobError> {
        match self {
            Backend::Local(l) => l.delete(path),
            Backend::Azure(a) => a.delete(path).await,
        }
    }

    /// Takes a lease on `path` (created empty if missing) for `secs`
    /// seconds; fails with [`BlobError::Leased`] if someone holds it.
    pub async fn lease(&self, path: &str, secs: u32) -> Result<LeaseId, BlobError> {
        match self {
            Backend::Local(l) => l.lease(path, secs),
            Backend::Azure(a) => a.lease(path, secs).await,
        }
    }

    /// Renews a held lease.
    pub async fn renew(&self, path: &str, lease: &LeaseId) -> Result<(), BlobError> {
        match self {
            Backend::Local(l) => l.renew(path, lease),
            Backend::Azure(a) => a.renew(path, lease).await,
        }
    }

    /// Releases a held lease.
    pub async fn release(&self, path: &str, lease: &LeaseId) -> Result<(), BlobError> {
        match self {
            Backend::Local(l) => l.release(path, lease),
            Backend::Azure(a) => a.release(path, lease).await,
        }
    }

    /// Breaks whatever lease is on `path` (force-unlock).
    pub async fn break_lease(&self, path: &str) -> Result<(), BlobError> {
        match self {
            Backend::Local(l) => l.break_lease(path),
            Backend::Azure(a) => a.break_lease(path).await,
        }
    }

    /// Data protection settings of the account, as far as it reports them.
    pub async fn properties(&self) -> Result<ServiceProperties, BlobError> {
        match self {
            Backend::Local(_) => Ok(ServiceProperties {
                delete_retention_days: None,
                versioning: None,
                notes: vec![
                    "a local directory has no soft delete or versioning of its own; statectl's tombstones and create-only objects are what protect it".into(),
                ],
            }),
            Backend::Azure(a) => a.properties().await,
        }
    }
}

/// A local directory with blob semantics: create-only and compare-and-swap
/// writes (under a lock file), atomic replacement (write, sync, rename),
/// etags from content digests, leases as files with an expiry.
///
/// Invariant: a blob's file is only ever replaced whole by rename, so a
/// reader sees the old or the new content, never a mix.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

fn io(operation: &'static str, path: &str, e: impl std::fmt::Display) -> BlobError {
    BlobError::Service {
        operation,
        path: path.to_string(),
        message: e.to_string(),
        transient: false,
    }
}

/// `file` with `suffix` appended to its name (not replacing an extension).
fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn etag_of(bytes: &[u8]) -> Etag {
    Etag(format!("\"{}\"", Digest::of(bytes).short()))
}

fn now_millis() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(i64::MAX)
}

impl LocalDir {
    /// A backend rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file(&self, path: &str) -> Result<PathBuf, BlobError> {
        let ok = !path.is_empty()
            && path.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && !seg.starts_with(".lock")
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c))
            });
        if !ok {
            return Err(io("address", path, "not a valid blob name"));
        }
        Ok(self.root.join(path))
    }

    /// Serializes writers of one blob across processes.
    fn locked<T>(
        &self,
        path: &str,
        f: impl FnOnce(&Path) -> Result<T, BlobError>,
    ) -> Result<T, BlobError> {
        let file = self.file(path)?;
        let dir = file
            .parent()
            .ok_or_else(|| io("address", path, "no parent folder"))?;
        std::fs::create_dir_all(dir).map_err(|e| io("create folder for", path, e))?;
        // One lock per folder: writers are few, and a lock file per blob
        // would double the files.
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io("lock", path, e))?;
        lock.lock().map_err(|e| io("lock", path, e))?;
        let out = f(&file);
        let _ = lock.unlock();
        out
    }

    fn write_atomic(file: &Path, path: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let tmp = sibling(file, &format!(".tmp.{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("write", path, e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| io("write", path, e))?;
        std::fs::rename(&tmp, file).map_err(|e| io("write", path, e))?;
        if let Some(dir) = file.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn put_new(&self, path: &str, bytes: &[u8]) -> Result<Etag, BlobError> {
        self.locked(path, |file| {
            if file.exists() {
                return Err(BlobError::Exists {
                    path: path.to_string(),
                });
            }
            Self::write_atomic(file, path, bytes)?;
            Ok(etag_of(bytes))
        })
    }

    fn put_if(&self, path: &str, bytes: &[u8], etag: &Etag) -> Result<Etag, BlobError> {
        self.locked(path, |file| {
            let current = std::fs::read(file).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => BlobError::Changed {
                    path: path.to_string(),
                },
                _ => io("read", path, e),
            })?;
            if etag_of(&current) != *etag {
                return Err(BlobError::Changed {
                    path: path.to_string(),
                });
            }
            Self::write_atomic(file, path, bytes)?;
            Ok(etag_of(bytes))
        })
    }

    fn get(&self, path: &str) -> Result<(Vec<u8>, Etag), BlobError> {
        let file = self.file(path)?;
        match std::fs::read(&file) {
            Ok(b) => {
                let e = etag_of(&b);
                Ok((b, e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound {
                path: path.to_string(),
            }),
            Err(e) => Err(io("read", path, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("list", prefix, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io("list", prefix, e))?;
                let p = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".lock") || name.contains(".tmp.") || name.ends_with(".lease") {
                    continue;
                }
                let ft = entry.file_type().map_err(|e| io("list", prefix, e))?;
                if ft.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    if rel.starts_with(prefix) {
                        out.push(rel);
                    }
                }
            }
        }
        Ok(out)
    }

    fn delete(&self, path: &str) -> Result<(), BlobError> {
        self.locked(path, |file| match std::fs::remove_file(file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", path, e)),
        })
    }

    fn lease_file(file: &Path) -> PathBuf {
        sibling(file, ".lease")
    }

    /// The current lease on a blob: (id, expiry in ms), if unexpired.
    fn current_lease(file: &Path) -> Option<(String, i64)> {
        let text = std::fs::read_to_string(Self::lease_file(file)).ok()?;
        let (id, until) = text.trim().split_once(' ')?;
        let until: i64 = until.parse().ok()?;
        (until > now_millis()).then(|| (id.to_string(), until))
    }

    fn lease(&self, path: &str, secs: u32) -> Result<LeaseId, BlobError> {
        self.locked(path, |file| {
            if Self::current_lease(file).is_some() {
                return Err(BlobError::Leased {
                    path: path.to_string(),
                });
            }
            if !file.exists() {
                Self::write_atomic(file, path, b"")?;
            }
            let id = Digest::of(format!("{path}{}{}", now_millis(), std::process::id()).as_bytes())
                .short();
            let until = now_millis() + i64::from(secs) * 1000;
            Self::write_atomic(
                &Self::lease_file(file),
                path,
                format!("{id} {until}").as_bytes(),
            )?;
            Ok(LeaseId(id))
        })
    }

    fn renew(&self, path: &str, lease: &LeaseId) -> Result<(), BlobError> {
        self.locked(path, |file| {
            let text = std::fs::read_to_string(Self::lease_file(file)).unwrap_or_default();
            let Some((id, _)) = text.trim().split_once(' ') else {
                return Err(BlobError::Leased {
                    path: path.to_string(),
                });
            };
            if id != lease.0 {
                return Err(BlobError::Leased {
                    path: path.to_string(),
                });
            }
            // Renewal keeps the original duration semantics simple: 60 s.
            let until = now_millis() + 60_000;
            Self::write_atomic(
                &Self::lease_file(file),
                path,
                format!("{id} {until}").as_bytes(),
            )
        })
    }

    fn release(&self, path: &str, lease: &LeaseId) -> Result<(), BlobError> {
        self.locked(path, |file| {
            match Self::current_lease(file) {
                Some((id, _)) if id != lease.0 => {
                    return Err(BlobError::Leased {
                        path: path.to_string(),
                    });
                }
                _ => {}
            }
            match std::fs::remove_file(Self::lease_file(file)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io("release lease on", path, e)),
            }
        })
    }

    fn break_lease(&self, path: &str) -> Result<(), BlobError> {
        self.locked(path, |file| {
            match std::fs::remove_file(Self::lease_file(file)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io("break lease on", path, e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn local_dir_has_blob_semantics() {
        let dir = tempfile::tempdir().unwrap();
        let b = Backend::Local(LocalDir::new(dir.path()));
        rt().block_on(async {
            let e1 = b.put_new("a/b/obj", b"one").await.unwrap();
            assert!(matches!(
                b.put_new("a/b/obj", b"two").await,
                Err(BlobError::Exists { .. })
            ));
            let (bytes, e) = b.get("a/b/obj").await.unwrap();
            assert_eq!((bytes.as_slice(), &e), (&b"one"[..], &e1));
            let e2 = b.put_if("a/b/obj", b"two", &e1).await.unwrap();
            assert!(matches!(
                b.put_if("a/b/obj", b"three", &e1).await,
                Err(BlobError::Changed { .. })
            ));
            assert_ne!(e1, e2);
            b.put_new("a/c", b"x").await.unwrap();
            b.put_new("z", b"y").await.unwrap();
            assert_eq!(b.list("a/").await.unwrap(), vec!["a/b/obj", "a/c"]);
            b.delete("a/c").await.unwrap();
            b.delete("a/c").await.unwrap();
            assert!(matches!(
                b.get("a/c").await,
                Err(BlobError::NotFound { .. })
            ));
            assert!(b.get("../etc/passwd").await.is_err());

            let l = b.lease("locks/s", 30).await.unwrap();
            assert!(matches!(
                b.lease("locks/s", 30).await,
                Err(BlobError::Leased { .. })
            ));
            b.renew("locks/s", &l).await.unwrap();
            assert!(b.renew("locks/s", &LeaseId("other".into())).await.is_err());
            b.release("locks/s", &l).await.unwrap();
            let l2 = b.lease("locks/s", 30).await.unwrap();
            b.break_lease("locks/s").await.unwrap();
            assert!(b.release("locks/s", &l2).await.is_ok());
            assert_eq!(b.list("locks/").await.unwrap(), vec!["locks/s"]);
        });
    }
}
