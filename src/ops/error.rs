//! Why a workflow stopped: one typed error for every workflow, each variant
//! keeping the error it wraps as its source, so a caller sees the whole
//! cause chain (the CLI prints it as "caused by" lines).

use crate::apply::ApplyError;
use crate::keys::KeyError;
use crate::mirror::MirrorError;
use crate::mirror::azure::AzureSetupError;
use crate::mirror::config::ConfigError;
use crate::plan::PlanError;
use crate::provider::ProviderError;
use crate::provider::sim::SimError;
use crate::spec::{SpecError, SpecErrors};
use crate::store::StoreError;

/// Why a workflow stopped.
///
/// Invariant: a variant that wraps another error keeps it as its
/// `source()`; messages name the stack, release or file at fault and how to
/// go on.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The specs are invalid.
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The applier could not run.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The provider failed outside an apply (drift, refresh, reconcile).
    #[error("cannot read the provider")]
    Provider(#[source] ProviderError),
    /// The simulator failed or refused.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The mirror failed or refused.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// The mirror configuration is unusable.
    #[error(transparent)]
    MirrorConfig(#[from] ConfigError),
    /// An Azure client cannot be built.
    #[error(transparent)]
    AzureSetup(#[from] AzureSetupError),
    /// A key file or key provider failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The clock override does not parse.
    #[error(transparent)]
    Clock(#[from] crate::clock::NowError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Reading a file the user named failed.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A state file does not parse.
    #[error("invalid state file {file}: {source}")]
    StateFile {
        /// The file.
        file: String,
        /// Where and what.
        #[source]
        source: crate::store::statefile::StateFileError,
    },
    /// Reporting to the caller failed (e.g. a closed pipe).
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
    /// The last apply was interrupted.
    #[error(
        "the last apply of {stack} (generation {generation}) was interrupted; run `statectl apply --estate {estate} --env {env} --resume` to reconcile and finish it"
    )]
    Interrupted {
        /// The stack.
        stack: String,
        /// Its estate.
        estate: String,
        /// Its environment.
        env: String,
        /// The interrupted generation.
        generation: u64,
    },
    /// The plan has blocked actions.
    #[error("{0} action(s) blocked; nothing was applied")]
    Blocked(usize),
    /// The production rules refuse the apply (the violations were reported
    /// as an event and audited).
    #[error("{0} production rule(s) refuse this apply; nothing was applied")]
    Refused(usize),
    /// The user did not confirm.
    #[error("apply cancelled")]
    Cancelled,
    /// The apply was interrupted through the interrupt handle (as if the
    /// process died at that point): the journal holds what was in flight.
    #[error(
        "the apply of {stack} was interrupted; run `statectl apply --estate {estate} --env {env} --resume` to reconcile and finish it"
    )]
    Aborted {
        /// The stack.
        stack: String,
        /// Its estate.
        estate: String,
        /// Its environment.
        env: String,
    },
    /// An option needs a reason.
    #[error("{why} needs --reason \"...\" (recorded in history and the audit log)")]
    ReasonRequired {
        /// What needs it.
        why: String,
    },
    /// No release was named and none can be inferred.
    #[error("--version is required (see --help)")]
    VersionRequired,
    /// The stack has no generation for a workflow that needs one.
    #[error("{stack} has never been applied; there is nothing to {what}")]
    NeverApplied {
        /// The stack.
        stack: String,
        /// What the workflow would have done.
        what: &'static str,
    },
    /// A generation records no release to go back to.
    #[error("generation {generation} of {stack} has no release to return to")]
    NoRelease {
        /// The stack.
        stack: String,
        /// The generation.
        generation: u64,
    },
    /// A saved plan no longer applies.
    #[error("{0}; make a new plan")]
    StalePlan(String),
    /// A saved plan does not parse.
    #[error("{path}: {message}")]
    BadPlanFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A rollback target is not a rollback point.
    #[error(
        "release v{version} was never applied successfully to {stack}; `statectl rollback --estate {estate} --env {env} --list` shows the rollback points"
    )]
    NotARollbackPoint {
        /// The release.
        version: String,
        /// The stack.
        stack: String,
        /// Its estate.
        estate: String,
        /// Its environment.
        env: String,
    },
    /// Nothing earlier to roll back to.
    #[error("{stack} has no earlier successful release than v{current} to roll back to")]
    NoEarlierRelease {
        /// The stack.
        stack: String,
        /// The release it is at.
        current: String,
    },
    /// A command needs a mirror and none is configured.
    #[error(
        "no mirror is configured: add [mirror] url = \"dir:PATH\" (or an Azure container URL) to {file}, or set STATECTL_MIRROR"
    )]
    NoMirror {
        /// The project's statectl.toml.
        file: String,
    },
    /// An argument is well-formed but not valid here.
    #[error("{0}")]
    Invalid(String),
}

impl From<SpecError> for OpsError {
    fn from(e: SpecError) -> Self {
        OpsError::Spec(e.into())
    }
}

impl OpsError {
    /// The spec errors inside, if that is why it stopped (for rendering
    /// them with their source lines).
    pub fn spec_errors(&self) -> Option<&SpecErrors> {
        match self {
            OpsError::Spec(s) => Some(s),
            _ => None,
        }
    }
}
