//! The one place values become bytes and back.
//!
//! Record layout (all integers little-endian):
//!
//! ```text
//! +---------+-----------------+----------------------------------+
//! | version | checksum (4 B)  | payload: bincode 1.3.3, fixint,  |
//! | (1 B)   | SHA-256[0..4]   | little-endian, no trailing bytes |
//! +---------+-----------------+----------------------------------+
//! ```
//!
//! `version` is [`FORMAT_VERSION`]; a record with another version is refused
//! by name rather than misread, which keeps a later switch away from bincode
//! (no longer developed; its maintainers call 1.3.3 complete) possible. The
//! checksum covers the payload, so a flipped byte in a record that is not
//! content-addressed is still caught. Decoding is bounded by
//! [`MAX_RECORD_BYTES`], so a corrupt length prefix cannot make it allocate
//! without limit.

use bincode::Options;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The codec format version written today.
pub const FORMAT_VERSION: u8 = 1;
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
        "record has codec version {0}, this statectl reads version {FORMAT_VERSION}; upgrade statectl"
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

fn options() -> impl Options {
    bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_RECORD_BYTES)
        .reject_trailing_bytes()
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let d = crate::model::Digest::of(payload);
    [d.0[0], d.0[1], d.0[2], d.0[3]]
}

/// Encodes a value as a record.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let payload = options()
        .serialize(value)
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&checksum(&payload));
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes a record, checking version, checksum and size.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() < HEADER {
        return Err(CodecError::Truncated(bytes.len()));
    }
    if bytes[0] != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion(bytes[0]));
    }
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let payload = &bytes[HEADER..];
    if checksum(payload) != bytes[1..HEADER] {
        return Err(CodecError::Checksum);
    }
    options()
        .deserialize(payload)
        .map_err(|e| CodecError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header() {
        let bytes = encode(&("abc", 7u32)).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(
            decode::<(String, u32)>(&bytes).unwrap(),
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
        let mut v = vec![FORMAT_VERSION];
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
        let mut v = vec![FORMAT_VERSION];
        v.extend_from_slice(&checksum(&payload));
        v.extend_from_slice(&payload);
        assert!(matches!(
            decode::<String>(&v),
            Err(CodecError::Malformed(_))
        ));
    }
}
