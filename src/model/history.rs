use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::address::is_identifier;
use super::digest::Digest;
use super::time::UtcTime;

/// One estate in one environment: the unit that has observed state, history
/// and a lock.
///
/// Invariant: `estate` is a folder name (lowercase letters, digits, `-`, `_`)
/// and `env` an identifier; neither contains `/`, so `estate/env` is unique.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stack {
    /// The estate name.
    pub estate: String,
    /// The environment name.
    pub env: String,
}

/// A string that cannot name an estate or environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid {1} name: use lowercase letters, digits, `-` and `_`")]
pub struct StackNameError(pub String, pub &'static str);

impl Stack {
    /// Validates and builds a stack.
    pub fn new(estate: &str, env: &str) -> Result<Self, StackNameError> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        if !ok(estate) {
            return Err(StackNameError(estate.to_string(), "estate"));
        }
        if !ok(env) || !is_identifier(&env.replace('-', "_")) {
            return Err(StackNameError(env.to_string(), "environment"));
        }
        Ok(Stack {
            estate: estate.to_string(),
            env: env.to_string(),
        })
    }

    /// `estate/env`, the key used in the store and in messages.
    pub fn key(&self) -> String {
        format!("{}/{}", self.estate, self.env)
    }
}

impl fmt::Display for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.estate, self.env)
    }
}

/// An immutable version of an estate's desired state, for every environment.
///
/// Invariant: `content` is the digest of the per-environment roots, so two
/// releases with the same content have the same digest; once stored, a
/// release never changes (the store refuses a second, different release of
/// the same version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The estate.
    pub estate: String,
    /// The semantic version, e.g. `1.2.0` (shown as `v1.2.0`).
    pub version: String,
    /// Digest over every environment's header and resource tree.
    pub content: Digest,
    /// Per environment: the digest of its header object and of its resource tree root.
    pub environments: BTreeMap<String, ReleaseEnv>,
    /// When it was created.
    pub created_at: UtcTime,
    /// Who created it.
    pub created_by: String,
    /// The git commit of the working tree, when there was one.
    pub git_commit: Option<String>,
    /// Number of resources per environment.
    pub resource_counts: BTreeMap<String, u64>,
}

/// The stored desired state of one environment in a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEnv {
    /// Environment, objectives and cost items (a content-addressed object).
    pub header: Digest,
    /// Root of the resource tree (address -> resource digest).
    pub root: Digest,
}

/// How an apply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Still running, or interrupted (see the journal).
    InProgress,
    /// Every operation succeeded.
    Succeeded,
    /// Some operations failed, others succeeded.
    Partial,
    /// Nothing succeeded.
    Failed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::InProgress => "in-progress",
            Outcome::Succeeded => "succeeded",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        })
    }
}

/// Why a generation exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GenerationKind {
    /// An apply of a release.
    Apply,
    /// A rollback to an earlier release.
    Rollback,
    /// An emergency apply (outside the window, with a reason).
    Emergency,
    /// Observed state refreshed from the provider.
    Refresh,
    /// Imported with `state push`.
    Import,
}

impl fmt::Display for GenerationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GenerationKind::Apply => "apply",
            GenerationKind::Rollback => "rollback",
            GenerationKind::Emergency => "emergency",
            GenerationKind::Refresh => "refresh",
            GenerationKind::Import => "import",
        })
    }
}

/// The metadata of observed generation `number` of a stack: what the provider
/// held after apply `number`.
///
/// Invariant: generation numbers of a stack increase strictly (from 1, by one
/// for every apply; `state push` may keep a pushed file's higher number);
/// generation n+1 is created only after n is committed. Its state is the
/// checkpoint `base` plus the stack's delta rows after `base.seq` up to and
/// including `last_seq`; the store keeps `last_seq - base.seq` bounded, which
/// bounds the cost of reading any generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// The stack.
    pub stack: Stack,
    /// 1, 2, 3, ...
    pub number: u64,
    /// Why it exists.
    pub kind: GenerationKind,
    /// The release applied, if any.
    pub release: Option<String>,
    /// Digest of the plan that was applied, if any.
    pub plan_hash: Option<Digest>,
    /// Who ran it (`user@host` or a CI identity).
    pub actor: String,
    /// Why (free text, issue or PR link).
    pub reason: Option<String>,
    /// When the apply started.
    pub started_at: UtcTime,
    /// When it ended (equal to `started_at` while in progress).
    pub ended_at: UtcTime,
    /// How it ended.
    pub outcome: Outcome,
    /// One line per failed or notable operation.
    pub summary: Vec<String>,
    /// The checkpoint this generation's state builds on.
    pub base: Checkpoint,
    /// The last delta row (per-stack sequence number) in this generation's state.
    pub last_seq: u64,
    /// Number of resources observed.
    pub resource_count: u64,
    /// Stateful resources restored from backup by this generation.
    pub restores: Vec<RestoreReport>,
}

/// What an emergency restore of one stateful resource achieved, on the
/// provider's clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// The restored resource.
    pub address: super::address::Address,
    /// The backup point it came back from.
    pub restore_point: UtcTime,
    /// Data lost: from the restore point to the loss (the RPO achieved).
    pub data_loss_secs: u64,
    /// How long the restore took (the RTO achieved).
    pub elapsed_secs: u64,
}

/// A materialized point of a stack's change sequence: the trees of observed
/// resources and of the desired-resource digests they were applied from,
/// after every delta row up to `seq`.
///
/// Invariant: `root` and `applied` hold exactly the state after applying
/// delta rows 1..=`seq` in order; `count` is the number of entries of `root`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last delta row folded in (0 for the empty start).
    pub seq: u64,
    /// Root of the observed resource tree (address -> observed digest).
    pub root: Digest,
    /// Root of the applied tree (address -> desired-resource digest), what a
    /// no-op plan compares against a release without decoding a resource.
    pub applied: Digest,
    /// Number of observed resources.
    pub count: u64,
}

/// One append-only audit record: who, what, when, where, why, how.
///
/// Invariant: sequence numbers start at 1 and have no gaps; records are never
/// changed or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log.
    pub seq: u64,
    /// When (UTC).
    pub at: UtcTime,
    /// Who: `user@host` or a CI identity.
    pub actor: String,
    /// What: the action, e.g. `release.create`, `apply`, `force-unlock`.
    pub action: String,
    /// Where: the stack or estate it touched.
    pub target: String,
    /// Where: the Azure region, when it applies.
    pub region: Option<String>,
    /// Why: the reason given, if any.
    pub reason: Option<String>,
    /// How: the statectl version and command line.
    pub how: String,
    /// Details (release, generation, counts).
    pub details: String,
}
