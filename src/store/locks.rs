use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable};
use serde::{Deserialize, Serialize};

use super::audit::{self, AuditEvent};
use super::codec;
use super::db::{Actor, Store, hostname};
use super::error::StoreError;
use super::schema;
use crate::model::{Stack, UtcTime};

/// Who holds a stack's lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// `user@host` or CI identity.
    pub owner: String,
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The command holding it.
    pub command: String,
    /// Since when.
    pub acquired_at: UtcTime,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {} on {}, `{}`, since {})",
            self.owner, self.pid, self.host, self.command, self.acquired_at
        )
    }
}

/// The state of a stack's lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockStatus {
    /// Nobody holds it.
    Free,
    /// A live process holds it (the OS lock is taken); the record says who,
    /// when there is one.
    Held(Option<LockInfo>),
    /// A record remains but its holder is gone (the OS released its lock
    /// when the process ended).
    Stale(LockInfo),
}

/// A held stack lock: one writer per stack. Released (OS lock and record)
/// when dropped.
///
/// Invariant: while a `StackLock` exists, this process holds the exclusive
/// OS lock on the stack's lock file, so no other process on this machine
/// holds a `StackLock` for the same stack; readers are never blocked.
#[derive(Debug)]
pub struct StackLock {
    file: File,
    db: Arc<Database>,
    key: String,
    /// This holder.
    pub info: LockInfo,
    /// A stale holder whose record was taken over, if any.
    pub took_over: Option<LockInfo>,
}

impl Drop for StackLock {
    fn drop(&mut self) {
        // Best effort: remove our record, then release the OS lock. If the
        // record cannot be removed, the next holder finds it stale.
        if let Ok(mut w) = self.db.begin_write() {
            w.set_quick_repair(true);
            let ok = match w.open_table(schema::LOCKS) {
                Ok(mut t) => {
                    let ours = t
                        .get(self.key.as_str())
                        .ok()
                        .flatten()
                        .and_then(|g| codec::decode::<LockInfo>(g.value()).ok())
                        .is_some_and(|i| i.pid == self.info.pid && i.host == self.info.host);
                    if ours {
                        t.remove(self.key.as_str()).is_ok()
                    } else {
                        true
                    }
                }
                Err(_) => false,
            };
            if ok {
                let _ = w.commit();
            }
        }
        let _ = self.file.unlock();
    }
}

impl Store {
    fn lock_path(&self, stack: &Stack) -> PathBuf {
        self.dir
            .join("locks")
            .join(format!("{}@{}.lock", stack.estate, stack.env))
    }

    fn open_lock_file(&self, stack: &Stack) -> Result<File, StoreError> {
        let path = self.lock_path(stack);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                action: "cannot create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Io {
                action: "cannot open lock file",
                path,
                source,
            })
    }

    fn lock_record(&self, stack: &Stack) -> Result<Option<LockInfo>, StoreError> {
        let key = stack.key();
        self.read(|r| {
            let t = r.open_table(schema::LOCKS)?;
            t.get(key.as_str())?
                .map(|g| {
                    codec::decode(g.value()).map_err(|source| StoreError::Corrupt {
                        table: "locks",
                        key: key.clone(),
                        source,
                    })
                })
                .transpose()
        })
    }

    /// Takes the stack's lock, waiting up to `timeout` for another holder.
    /// A record left by a holder that is gone is taken over (and reported in
    /// [`StackLock::took_over`]).
    pub fn lock(
        &self,
        stack: &Stack,
        actor: &Actor,
        command: &str,
        timeout: Duration,
    ) -> Result<StackLock, StoreError> {
        let file = self.open_lock_file(stack)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        let holder = self.lock_record(stack)?.map_or_else(
                            || "another process (no lock record yet)".to_string(),
                            |i| i.to_string(),
                        );
                        return Err(StoreError::Locked {
                            stack: stack.to_string(),
                            estate: stack.estate.clone(),
                            env: stack.env.clone(),
                            holder,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50).min(timeout));
                }
                Err(TryLockError::Error(source)) => {
                    return Err(StoreError::Io {
                        action: "cannot lock",
                        path: self.lock_path(stack),
                        source,
                    });
                }
            }
        }
        let info = LockInfo {
            owner: actor.name.clone(),
            pid: std::process::id(),
            host: hostname(),
            command: command.to_string(),
            acquired_at: self.clock.now(),
        };
        let key = stack.key();
        let bytes = codec::encode(&info).map_err(|source| StoreError::Encode {
            what: "lock record",
            source,
        })?;
        let took_over = self.write(|w| {
            let mut t = w.open_table(schema::LOCKS)?;
            let old = t
                .get(key.as_str())?
                .and_then(|g| codec::decode::<LockInfo>(g.value()).ok());
            t.insert(key.as_str(), bytes.as_slice())?;
            Ok(old)
        })?;
        Ok(StackLock {
            file,
            db: self.db.clone(),
            key,
            info,
            took_over,
        })
    }

    /// Whether the stack is locked, by whom, or left locked by a holder that
    /// is gone. Never blocks.
    pub fn lock_status(&self, stack: &Stack) -> Result<LockStatus, StoreError> {
        let record = self.lock_record(stack)?;
        let path = self.lock_path(stack);
        if !path.exists() {
            return Ok(record.map_or(LockStatus::Free, LockStatus::Stale));
        }
        let file = self.open_lock_file(stack)?;
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(record.map_or(LockStatus::Free, LockStatus::Stale))
            }
            Err(TryLockError::WouldBlock) => Ok(LockStatus::Held(record)),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                action: "cannot test lock",
                path,
                source,
            }),
        }
    }

    /// Removes a stale lock record, audited. A lock held by a live process
    /// cannot be broken from here: that process must end first.
    pub fn force_unlock(
        &self,
        stack: &Stack,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<Option<LockInfo>, StoreError> {
        match self.lock_status(stack)? {
            LockStatus::Held(holder) => Err(StoreError::Locked {
                stack: stack.to_string(),
                estate: stack.estate.clone(),
                env: stack.env.clone(),
                holder: format!(
                    "{} which is still running; stop that process first (a live lock cannot be forced)",
                    holder.map_or_else(|| "another process".to_string(), |i| i.to_string())
                ),
            }),
            LockStatus::Free => Ok(None),
            LockStatus::Stale(info) => {
                let key = stack.key();
                let now = self.clock.now();
                self.write(|w| {
                    w.open_table(schema::LOCKS)?.remove(key.as_str())?;
                    audit::append(
                        w,
                        now,
                        actor,
                        AuditEvent {
                            action: "force-unlock".into(),
                            target: key.clone(),
                            reason,
                            details: format!("removed stale lock of {info}"),
                            ..AuditEvent::default()
                        },
                    )?;
                    Ok(())
                })?;
                Ok(Some(info))
            }
        }
    }
}
