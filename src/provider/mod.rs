//! Providers: what creates, reads, updates and deletes one resource in a
//! cloud. The applier drives a provider through [`Provider`] and knows
//! nothing else about the cloud behind it.
//!
//! [`sim`] is the embedded default: a simulated Azure control plane
//! persisted beside the store, with ARM-like validation, computed
//! attributes, soft-deleted Key Vaults, per-type durations on a virtual
//! clock, fault injection and out-of-band edits. A provider never plans and
//! never touches the state store.

pub mod sim;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use crate::model::{Address, ObservedResource, Value};

/// A resource ready for a provider: every reference resolved to a value.
///
/// Invariant: `properties` holds no `Ref` or `Template` values.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedResource {
    /// Where it is declared.
    pub address: Address,
    /// The ARM type.
    pub arm_type: String,
    /// The Azure name.
    pub name: String,
    /// The subscription it lives in.
    pub subscription: String,
    /// Properties, resolved.
    pub properties: BTreeMap<String, Value>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// What it depends on (references and `depends_on`).
    pub dependencies: BTreeSet<Address>,
    /// Lifecycle flag, carried into observed state.
    pub prevent_destroy: bool,
}

/// What kind of write an operation is (providers may time them differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A new resource.
    Create,
    /// An in-place update of an existing one.
    Update,
    /// A stateful resource brought back from its backup (emergency restore).
    Restore,
}

/// Why a resource is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteMode {
    /// It is no longer wanted: refused while something else still uses it.
    Destroy,
    /// It is about to be created again (a replacement or a restore) under the
    /// same id: what links to it will reconnect, so use is not checked.
    Replace,
}

/// A provider failure, in the shape of an ARM error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProviderError {
    /// The ARM-style error code, e.g. `LinkedResourceNotFound`.
    pub code: String,
    /// What happened, naming the resource.
    pub message: String,
    /// Whether trying again later can succeed (throttling, transient faults).
    pub retryable: bool,
}

impl ProviderError {
    /// A failure that retrying will not fix.
    pub fn fatal(code: &str, message: impl Into<String>) -> Self {
        ProviderError {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }
    /// A failure that may pass if retried.
    pub fn transient(code: &str, message: impl Into<String>) -> Self {
        ProviderError {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }
}

/// Creates, reads, updates and deletes one resource.
///
/// Invariant every implementation keeps: `put` is idempotent by ARM id (a
/// repeated put of the same resource updates it, never duplicates it), so an
/// apply resumed after a crash cannot create a resource twice; `read`
/// reports what the cloud holds now.
pub trait Provider: Send + Sync {
    /// A short name for messages (`sim`, `azure`).
    fn name(&self) -> &str;

    /// Creates or updates a resource and reports what the cloud now holds.
    fn put(
        &self,
        op: Operation,
        resource: &ResolvedResource,
    ) -> impl Future<Output = Result<ObservedResource, ProviderError>> + Send;

    /// Deletes a resource and its children (soft-deleting where the service
    /// does).
    fn delete(
        &self,
        resource: &ObservedResource,
        mode: DeleteMode,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// What the cloud holds for this id, if anything.
    fn read(
        &self,
        arm_type: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<ObservedResource>, ProviderError>> + Send;

    /// Every resource whose ARM id starts with `prefix` (case-insensitive),
    /// for finding resources statectl does not manage.
    fn list(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObservedResource>, ProviderError>> + Send;
}
