use std::path::PathBuf;

use super::codec::CodecError;
use crate::keys::KeyError;
use crate::model::Digest;

/// Everything the store can fail with. Each variant names what is broken
/// (file, table and key, stack, release, generation) and, where the user can
/// act, what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or database file could not be created or opened.
    #[error("cannot open state store {path}: {message}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What went wrong, with the fix.
        message: String,
    },
    /// There is no store yet and the command needs one.
    #[error(
        "no state store at {0}; run `statectl release create` or `statectl apply` first, or pass --state-dir"
    )]
    Missing(PathBuf),
    /// The file was written by a newer statectl.
    #[error(
        "state store {path} has schema version {found}; this statectl supports up to {supported}: upgrade statectl"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The embedded database reported an error.
    #[error("state store error: {0}")]
    Db(#[from] redb::Error),
    /// A record does not decode.
    #[error(
        "corrupt record in table `{table}` at key `{key}`: {source}; run `statectl store check`, or restore from the mirror"
    )]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The key, as text.
        key: String,
        /// What the codec found.
        #[source]
        source: CodecError,
    },
    /// A value could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The codec's reason.
        #[source]
        source: CodecError,
    },
    /// An object a tree or record points at is absent.
    #[error(
        "missing object {digest} ({context}); the store is damaged: run `statectl store check`, or restore from the mirror"
    )]
    MissingObject {
        /// Its digest.
        digest: Digest,
        /// What pointed at it.
        context: String,
    },
    /// A release version already exists with other content.
    #[error("{estate} {version} already exists with different content; release {next}")]
    ReleaseConflict {
        /// The estate.
        estate: String,
        /// The version, as `v1.2.0`.
        version: String,
        /// The next free patch version, as `v1.2.1`.
        next: String,
    },
    /// A release that does not exist.
    #[error("estate `{estate}` has no release {version}{}", known_versions(.known))]
    UnknownRelease {
        /// The estate.
        estate: String,
        /// The version asked for.
        version: String,
        /// The versions that exist.
        known: Vec<String>,
    },
    /// A version string that is not semantic.
    #[error("`{0}` is not a semantic version: write e.g. v1.2.0")]
    BadVersion(String),
    /// A release does not cover the environment asked for.
    #[error("release {version} of `{estate}` has no environment `{env}`")]
    UnknownEnvironment {
        /// The estate.
        estate: String,
        /// The version.
        version: String,
        /// The environment asked for.
        env: String,
    },
    /// A generation that does not exist.
    #[error("stack {stack} has no generation {number}{}", latest_text(.latest))]
    UnknownGeneration {
        /// The stack.
        stack: String,
        /// The number asked for.
        number: u64,
        /// The latest one, if any.
        latest: Option<u64>,
    },
    /// A resource address not in a generation.
    #[error("{address} is not in generation {generation} of {stack}")]
    UnknownAddress {
        /// The stack.
        stack: String,
        /// The generation.
        generation: u64,
        /// The address.
        address: String,
    },
    /// Another process holds the stack's lock.
    #[error(
        "stack {stack} is locked by {holder}; wait for it to finish, retry with --lock-timeout, or run `statectl force-unlock --estate {estate} --env {env}` if that process is gone"
    )]
    Locked {
        /// The stack.
        stack: String,
        /// Estate and env, for the hint.
        estate: String,
        /// The environment.
        env: String,
        /// Who holds it.
        holder: String,
    },
    /// `state push` would replace newer state.
    #[error(
        "refusing to push: stack {stack} is at generation {latest}, newer than the file's generation {file}; pass --force to push anyway"
    )]
    PushWouldOverwrite {
        /// The stack.
        stack: String,
        /// Latest generation in the store.
        latest: u64,
        /// Generation recorded in the file.
        file: u64,
    },
    /// `state push` of a file that skips generation numbers.
    #[error(
        "refusing to push: the file holds generation {file} but the next generation of stack {stack} is {next}; edit generation.number in the file to {next}, or pass --force to push it as generation {next}"
    )]
    PushGap {
        /// The stack.
        stack: String,
        /// The only number the next generation may have.
        next: u64,
        /// Generation recorded in the file.
        file: u64,
    },
    /// A stack's generation numbers are exhausted.
    #[error(
        "stack {stack} is at generation {latest}, the last number there is; the store is damaged or was fed a bad state file: run `statectl store check`"
    )]
    GenerationOverflow {
        /// The stack.
        stack: String,
        /// Its latest generation.
        latest: u64,
    },
    /// `state push` of a redacted secret that this store holds no value for.
    #[error(
        "refusing to push: {address}: sensitive.{attr} is redacted (`(sensitive)`) in the file and stack {stack} holds no sealed value of it to keep; push a file written by `statectl state pull --show-sensitive`, or remove the attribute so a refresh reads it from the cloud"
    )]
    RedactedSecret {
        /// The stack.
        stack: String,
        /// The resource.
        address: String,
        /// The secret attribute.
        attr: String,
    },
    /// A generation is not in progress, or the journal refers to another generation.
    #[error("generation {number} of {stack} is {state}; {hint}")]
    GenerationState {
        /// The stack.
        stack: String,
        /// The generation.
        number: u64,
        /// Its current state.
        state: String,
        /// What to do.
        hint: String,
    },
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Sealing or opening a sensitive value failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The store holds secrets sealed under a data key that its key file
    /// no longer opens (missing, replaced or damaged).
    #[error(
        "the store's secrets are sealed under a data key wrapped by the key file {file}, which cannot open it; restore that file from your copy (see docs/store-format.md, \"The store key\"); nothing was changed"
    )]
    StoreKey {
        /// The key file.
        file: String,
        /// Why it cannot open the data key.
        #[source]
        source: KeyError,
    },
    /// The storage engine failed on the file's contents: the file is damaged.
    #[error(
        "state store {path} is damaged (the storage engine failed reading it: {detail}); run `statectl store check`, and restore it with `statectl mirror restore` or from a backup"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What the engine reported.
        detail: String,
    },
    /// A read came back short or out of sequence: what it returned does
    /// not add up to what the store's own records say it holds, so the
    /// store is damaged and nothing may be built on the read.
    #[error(
        "state store {path} is damaged: {what}; nothing was changed. Run `statectl store check`, and restore it with `statectl mirror restore` or from a backup (`statectl state backups`)"
    )]
    Incomplete {
        /// The database file.
        path: PathBuf,
        /// What does not add up.
        what: String,
    },
    /// Imported history does not fit what this store already holds.
    #[error("cannot import {what}: {detail}")]
    ImportConflict {
        /// What was being imported.
        what: String,
        /// Why it does not fit.
        detail: String,
    },
    /// An internal invariant broke.
    #[error("bug in statectl: {0}")]
    Bug(String),
}

fn known_versions(known: &[String]) -> String {
    if known.is_empty() {
        "; it has no releases yet: run `statectl release create`".to_string()
    } else {
        format!("; known: {}", known.join(", "))
    }
}

fn latest_text(latest: &Option<u64>) -> String {
    match latest {
        Some(n) => format!(" (latest is {n})"),
        None => " (it has no generations yet)".to_string(),
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError
);
