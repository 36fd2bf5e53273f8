//! Envelope encryption of every mirrored object.
//!
//! Each object gets a fresh 256-bit data key; the payload is sealed with
//! AES-256-GCM bound to the object's path and the format version (so an
//! object moved or swapped to another path fails to open), and the data key
//! is wrapped by the key provider's key-encryption key (the customer-managed
//! key). The header names the provider, key id and key version, so a key
//! rotation can re-wrap the data key without touching the payload.
//!
//! Layout: `STM1` | header length (u32 LE) | header (JSON) | nonce ||
//! ciphertext || tag. Nothing in the header is secret: the wrapped key is
//! ciphertext under the KEK.

use serde::{Deserialize, Serialize};

use crate::keys::{DataKey, KeyError, KeyProvider, WrappedKey};

const MAGIC: &[u8; 4] = b"STM1";
/// The envelope format version, bound into every payload's associated data.
pub const FORMAT: u32 = 1;

/// Why an envelope could not be made or opened. Never contains plaintext or
/// key bytes.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The blob is not an envelope of a format this build reads.
    #[error("{path}: not a statectl mirror object ({why})")]
    Format {
        /// The object.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The key could not be unwrapped, or the payload did not authenticate.
    #[error("{path}: {source}")]
    Key {
        /// The object.
        path: String,
        /// The key error (wrong key, altered or moved data).
        source: KeyError,
    },
}

/// The clear header of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Envelope format version.
    pub format: u32,
    /// Key provider kind (`local`, `azure-keyvault`).
    pub provider: String,
    /// The key-encryption key's id.
    pub key_id: String,
    /// The key-encryption key's version.
    pub key_version: String,
    /// The wrapped data key, hex.
    pub wrapped_key: String,
}

fn aad(path: &str) -> Vec<u8> {
    format!("statectl-mirror/v{FORMAT}/{path}").into_bytes()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn assemble(header: &Header, sealed: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(8 + h.len() + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(h.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(sealed);
    out
}

/// Splits an envelope into its header and sealed payload.
pub fn parse<'a>(path: &str, blob: &'a [u8]) -> Result<(Header, &'a [u8]), EnvelopeError> {
    let bad = |why: &str| EnvelopeError::Format {
        path: path.to_string(),
        why: why.to_string(),
    };
    if blob.len() < 8 || &blob[..4] != MAGIC {
        return Err(bad("no STM1 magic"));
    }
    let len = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    let h = blob
        .get(8..8 + len)
        .ok_or_else(|| bad("header longer than the object"))?;
    let header: Header =
        serde_json::from_slice(h).map_err(|e| bad(&format!("unreadable header: {e}")))?;
    if header.format != FORMAT {
        return Err(bad(&format!(
            "format {} (this build reads {FORMAT})",
            header.format
        )));
    }
    Ok((header, &blob[8 + len..]))
}

fn wrapped(path: &str, h: &Header) -> Result<WrappedKey, EnvelopeError> {
    Ok(WrappedKey {
        provider: h.provider.clone(),
        key_id: h.key_id.clone(),
        version: h.key_version.clone(),
        bytes: unhex(&h.wrapped_key).ok_or_else(|| EnvelopeError::Format {
            path: path.to_string(),
            why: "the wrapped key is not hex".into(),
        })?,
    })
}

/// Seals `payload` for `path` under a fresh data key wrapped by `keys`.
pub fn seal(keys: &dyn KeyProvider, path: &str, payload: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let key_err = |source| EnvelopeError::Key {
        path: path.to_string(),
        source,
    };
    let dek = DataKey::generate().map_err(key_err)?;
    let w = keys.wrap(&dek).map_err(key_err)?;
    let sealed = dek.seal(payload, &aad(path)).map_err(key_err)?;
    let header = Header {
        format: FORMAT,
        provider: w.provider,
        key_id: w.key_id,
        key_version: w.version,
        wrapped_key: hex(&w.bytes),
    };
    Ok(assemble(&header, &sealed))
}

/// Opens what [`seal`] made for the same `path`.
pub fn open(keys: &dyn KeyProvider, path: &str, blob: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let key_err = |source| EnvelopeError::Key {
        path: path.to_string(),
        source,
    };
    let (header, sealed) = parse(path, blob)?;
    let dek = keys.unwrap(&wrapped(path, &header)?).map_err(key_err)?;
    dek.open(sealed, &aad(path), &format!("mirror object {path}"))
        .map_err(key_err)
}

/// Re-wraps the data key of an envelope under the provider's current key
/// version, leaving the sealed payload as it is. Returns `None` when it is
/// already under that version.
pub fn rewrap(
    keys: &dyn KeyProvider,
    path: &str,
    blob: &[u8],
) -> Result<Option<Vec<u8>>, EnvelopeError> {
    let key_err = |source| EnvelopeError::Key {
        path: path.to_string(),
        source,
    };
    let (header, sealed) = parse(path, blob)?;
    let dek = keys.unwrap(&wrapped(path, &header)?).map_err(key_err)?;
    let w = keys.wrap(&dek).map_err(key_err)?;
    if w.key_id == header.key_id && w.version == header.key_version {
        return Ok(None);
    }
    let new = Header {
        format: FORMAT,
        provider: w.provider,
        key_id: w.key_id,
        key_version: w.version,
        wrapped_key: hex(&w.bytes),
    };
    Ok(Some(assemble(&new, sealed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LocalKeyFile;

    #[test]
    fn seal_open_bind_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = LocalKeyFile::open_or_create(&dir.path().join("k")).unwrap();
        let secret = b"{\"administrator_password\":\"hunter2-hunter2\"}";
        let blob = seal(&keys, "objects/ab", secret).unwrap();
        assert!(!blob.windows(7).any(|w| w == b"hunter2"), "no plaintext");
        assert_eq!(open(&keys, "objects/ab", &blob).unwrap(), secret);

        // Moved to another path: refuses, naming the object.
        let e = open(&keys, "objects/cd", &blob).unwrap_err().to_string();
        assert!(
            e.starts_with("objects/cd: cannot decrypt mirror object objects/cd"),
            "{e}"
        );
        // A flipped byte in the payload.
        let mut bad = blob.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(open(&keys, "objects/ab", &bad).is_err());
        // Not an envelope.
        assert!(matches!(
            open(&keys, "x", b"plain"),
            Err(EnvelopeError::Format { .. })
        ));
        // A different key file.
        let other = LocalKeyFile::open_or_create(&dir.path().join("other")).unwrap();
        assert!(open(&other, "objects/ab", &blob).is_err());

        // Rotation: re-wrapped under version 2, payload bytes unchanged.
        assert!(rewrap(&keys, "objects/ab", &blob).unwrap().is_none());
        keys.rotate().unwrap();
        let re = rewrap(&keys, "objects/ab", &blob).unwrap().unwrap();
        let (h, sealed_new) = parse("objects/ab", &re).unwrap();
        let (_, sealed_old) = parse("objects/ab", &blob).unwrap();
        assert_eq!(h.key_version, "2");
        assert_eq!(sealed_new, sealed_old);
        assert_eq!(open(&keys, "objects/ab", &re).unwrap(), secret);
        // The old envelope still opens while version 1 is kept.
        assert_eq!(open(&keys, "objects/ab", &blob).unwrap(), secret);
    }
}
