//! The one place values become bytes and back.
//!
//! Record layout (all fixed-width integers little-endian):
//!
//! ```text
//! +---------+-----------------+----------------------------------+
//! | version | checksum (4 B)  | payload: bincode 1.3.3 through   |
//! | (1 B)   | SHA-256[0..4]   | serde, no trailing bytes         |
//! +---------+-----------------+----------------------------------+
//! ```
//!
//! Two versions exist, both read by this build:
//!
//! - [`CANONICAL_VERSION`] (1): fixed-width integers and length prefixes
//!   (`u64` lengths). Content-addressed objects are written in it and
//!   nothing else: an object's digest is the SHA-256 of these bytes, so
//!   their encoding may never change, or every release and checkpoint
//!   written before would stop matching its own content.
//! - [`COMPACT_VERSION`] (2): variable-length integers (bincode's varint:
//!   one byte below 251, zigzag for signed). Every record that is not
//!   content-addressed (delta rows, generations, audit, journal, locks,
//!   releases, mirror blobs) is written in it: a delta row of a typical
//!   resource shrinks by about 40%, which is what keeps a 100,000-resource
//!   store small enough for cheap commits (docs/BENCHMARKS.md). Records a
//!   version-1 build wrote stay readable.
//!
//! A record with another version is refused by name rather than misread,
//! which keeps a later switch away from bincode (no longer developed; its
//! maintainers call 1.3.3 complete) possible. The checksum covers the
//! payload, so a flipped byte in a record that is not content-addressed is
//! still caught. Decoding is bounded by [`MAX_RECORD_BYTES`], so a corrupt
//! length prefix cannot make it allocate without limit.

use bincode::Options;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The encoding of content-addressed objects (fixed-width; see the module
/// documentation).
pub const CANONICAL_VERSION: u8 = 1;
/// The encoding of every other record (variable-length integers).
pub const COMPACT_VERSION: u8 = 2;
/// The largest record the decoder accepts.
pub const MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;
const HEADER: usize = 5;

/// Why bytes could not be decoded (or a value encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Shorter than the 5-byte header.
    #[error("record is truncated ({0} bytes, the header alone is 5)")]
    Truncated(usize),
    /// Written by a format this build does not know.
    #[error(
        "record has codec version {0}, this statectl reads versions {CANONICAL_VERSION} and {COMPACT_VERSION}; upgrade statectl"
    )]
    UnknownVersion(u8),
    /// Payload does not match its checksum.
    #[error("record checksum mismatch: the bytes were altered")]
    Checksum,
    /// Larger than the decoder's limit.
    #[error("record is {0} bytes, over the {MAX_RECORD_BYTES}-byte limit")]
    TooLarge(usize),
    /// The payload does not decode as the expected type.
    #[error("record payload is malformed: {0}")]
    Malformed(String),
    /// A value could not be encoded (e.g. an unsealed secret).
    #[error("cannot encode value: {0}")]
    Encode(String),
}

fn canonical() -> impl Options {
    bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_RECORD_BYTES)
        .reject_trailing_bytes()
}

fn compact() -> impl Options {
    bincode::options()
        .with_varint_encoding()
        .with_little_endian()
        .with_limit(MAX_RECORD_BYTES)
        .reject_trailing_bytes()
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let d = crate::model::Digest::of(payload);
    [d.0[0], d.0[1], d.0[2], d.0[3]]
}

fn frame(version: u8, payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(version);
    out.extend_from_slice(&checksum(&payload));
    out.extend_from_slice(&payload);
    out
}

/// Encodes a record that is not content-addressed, in the compact
/// encoding.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let payload = compact()
        .serialize(value)
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(frame(COMPACT_VERSION, payload))
}

/// Encodes a content-addressed object in the canonical encoding, whose
/// bytes its digest is taken over.
pub fn encode_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let payload = canonical()
        .serialize(value)
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(frame(CANONICAL_VERSION, payload))
}

/// Decodes a record of either version, checking version, checksum and
/// size.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() < HEADER {
        return Err(CodecError::Truncated(bytes.len()));
    }
    let version = bytes[0];
    if version != CANONICAL_VERSION && version != COMPACT_VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let payload = &bytes[HEADER..];
    if checksum(payload) != bytes[1..HEADER] {
        return Err(CodecError::Checksum);
    }
    let decoded = if version == CANONICAL_VERSION {
        canonical().deserialize(payload)
    } else {
        compact().deserialize(payload)
    };
    decoded.map_err(|e| CodecError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header() {
        let bytes = encode(&("abc", 7u32)).unwrap();
        assert_eq!(bytes[0], COMPACT_VERSION);
        assert_eq!(
            decode::<(String, u32)>(&bytes).unwrap(),
            ("abc".to_string(), 7)
        );
        // One length byte and one integer byte: 5 + 1 + 3 + 1.
        assert_eq!(bytes.len(), 10);
        let canonical = encode_canonical(&("abc", 7u32)).unwrap();
        assert_eq!(canonical[0], CANONICAL_VERSION);
        // An eight-byte length and a four-byte integer: 5 + 8 + 3 + 4.
        assert_eq!(canonical.len(), 20);
        assert_eq!(
            decode::<(String, u32)>(&canonical).unwrap(),
            ("abc".to_string(), 7)
        );
    }

    #[test]
    fn every_damage_is_named() {
        let bytes = encode(&("abc", 7u32)).unwrap();
        assert_eq!(
            decode::<(String, u32)>(&bytes[..3]),
            Err(CodecError::Truncated(3))
        );
        let mut v = bytes.clone();
        v[0] = 9;
        assert_eq!(
            decode::<(String, u32)>(&v),
            Err(CodecError::UnknownVersion(9))
        );
        let mut v = bytes.clone();
        *v.last_mut().unwrap() ^= 1;
        assert_eq!(decode::<(String, u32)>(&v), Err(CodecError::Checksum));
        // A truncated payload with a matching checksum is malformed, not a panic.
        let payload = &bytes[5..bytes.len() - 1];
        let mut v = vec![COMPACT_VERSION];
        v.extend_from_slice(&checksum(payload));
        v.extend_from_slice(payload);
        assert!(matches!(
            decode::<(String, u32)>(&v),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn huge_length_prefix_is_refused_not_allocated() {
        // A string claiming 2^60 bytes.
        let payload = (1u64 << 60).to_le_bytes();
        let mut v = vec![CANONICAL_VERSION];
        v.extend_from_slice(&checksum(&payload));
        v.extend_from_slice(&payload);
        assert!(matches!(
            decode::<String>(&v),
            Err(CodecError::Malformed(_))
        ));
        // The same in the compact encoding: marker 253 then a u64.
        let mut payload = vec![253u8];
        payload.extend_from_slice(&(1u64 << 60).to_le_bytes());
        let v = frame(COMPACT_VERSION, payload);
        assert!(matches!(
            decode::<String>(&v),
            Err(CodecError::Malformed(_))
        ));
    }
}
