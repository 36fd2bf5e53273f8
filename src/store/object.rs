//! Content-addressed objects: every resource version, tree node and
//! environment header is stored once, under the digest of its encoding, and
//! shared by every release and generation that contains it.

use serde::{Deserialize, Serialize};

use super::codec;
use super::error::StoreError;
use super::tree::Node;
use crate::model::{CostItem, Digest, Environment, Objectives, ObservedResource, Resource};

/// Everything the `objects` table holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Object {
    /// A desired resource, as a release holds it.
    Resource(Resource),
    /// An observed resource, as a generation holds it (secrets sealed).
    Observed(ObservedResource),
    /// A node of a resource tree.
    Node(Node),
    /// The environment, objectives and cost lines of one env in a release.
    EnvHeader(EnvHeader),
}

/// The non-resource part of an estate in one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvHeader {
    /// The estate name.
    pub estate: String,
    /// The environment as resolved for this estate.
    pub environment: Environment,
    /// The estate's objectives.
    pub objectives: Objectives,
    /// Cost lines that are not resources.
    pub cost_items: Vec<CostItem>,
}

/// Read and write access to content-addressed objects, inside one store
/// transaction.
pub trait Objects {
    /// The raw bytes stored under `digest`, if any.
    fn get_raw(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `bytes` under `digest` unless it is already there.
    fn put_raw(&mut self, digest: Digest, bytes: &[u8]) -> Result<(), StoreError>;
    /// The observed resource `digest` when a delta row holds it rather than
    /// `objects` (checked against the digest): one decode instead of
    /// building the object's bytes and decoding them again. `None` means
    /// "ask [`get`]".
    fn observed_in_row(&self, _digest: &Digest) -> Result<Option<ObservedResource>, StoreError> {
        Ok(None)
    }
}

/// Encodes an object and returns its digest and bytes.
pub fn encode(object: &Object) -> Result<(Digest, Vec<u8>), StoreError> {
    let bytes = codec::encode_canonical(object).map_err(|source| StoreError::Encode {
        what: "object",
        source,
    })?;
    Ok((Digest::of(&bytes), bytes))
}

/// Stores an object, returning its digest.
pub fn put(objects: &mut dyn Objects, object: &Object) -> Result<Digest, StoreError> {
    let (digest, bytes) = encode(object)?;
    objects.put_raw(digest, &bytes)?;
    Ok(digest)
}

/// Reads an object, checking it against its digest.
pub fn get(objects: &dyn Objects, digest: &Digest, context: &str) -> Result<Object, StoreError> {
    let bytes = objects
        .get_raw(digest)?
        .ok_or_else(|| StoreError::MissingObject {
            digest: *digest,
            context: context.to_string(),
        })?;
    if Digest::of(&bytes) != *digest {
        return Err(StoreError::Corrupt {
            table: "objects",
            key: digest.to_hex(),
            source: codec::CodecError::Checksum,
        });
    }
    codec::decode(&bytes).map_err(|source| StoreError::Corrupt {
        table: "objects",
        key: digest.to_hex(),
        source,
    })
}

/// The digest a desired resource is stored under (what "applied" trees hold).
pub fn resource_digest(resource: &Resource) -> Result<Digest, StoreError> {
    Ok(encode(&Object::Resource(resource.clone()))?.0)
}

/// An in-memory object store, for tests and for computing digests without a
/// database.
#[derive(Debug, Default, Clone)]
pub struct MemObjects(pub std::collections::HashMap<Digest, Vec<u8>>);

impl Objects for MemObjects {
    fn get_raw(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(digest).cloned())
    }
    fn put_raw(&mut self, digest: Digest, bytes: &[u8]) -> Result<(), StoreError> {
        self.0.entry(digest).or_insert_with(|| bytes.to_vec());
        Ok(())
    }
}
