//! Keys and sealing: AES-256-GCM data keys, and key providers that wrap them
//! under a customer-managed key-encryption key.
//!
//! This module owns every use of the cipher. The store seals sensitive
//! attribute values with a data key; the mirror (later) seals whole objects
//! with a fresh data key each. Key providers are apart from the AEAD method:
//! `local` (a key file, for development and tests) today, Azure Key Vault
//! wrap/unwrap later. It never logs or returns key or plaintext bytes in an
//! error.

mod local;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use serde::{Deserialize, Serialize};

pub use local::LocalKeyFile;

const NONCE_LEN: usize = 12;

/// Why a key operation failed. Messages never contain key material or
/// plaintext.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Authentication failed: wrong key, or the bytes or their context changed.
    #[error("cannot decrypt {what}: wrong key, or the data was altered or moved")]
    Decrypt {
        /// What was being opened (e.g. `sensitive attribute data.redis.primary_access_key`).
        what: String,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A key file problem.
    #[error("key file {path}: {message}")]
    File {
        /// The key file.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A wrapped key names a provider, key or version this provider cannot unwrap.
    #[error("data key was wrapped by {wanted}, but the configured key provider is {have}")]
    WrongProvider {
        /// What the wrapped key names.
        wanted: String,
        /// What is configured.
        have: String,
    },
}

/// A 256-bit AES-GCM data key.
///
/// Invariant: 32 random bytes from the system CSPRNG (or unwrapped from a
/// provider); never serialized except wrapped; `Debug` hides it.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, KeyError> {
        let k = Key::<Aes256Gcm>::try_generate().map_err(|_| KeyError::Random)?;
        let mut out = [0u8; 32];
        out.copy_from_slice(k.as_slice());
        Ok(DataKey(out))
    }

    /// A key from raw bytes (unwrapped from a provider).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }

    /// The raw bytes, for wrapping only.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Encrypts `plaintext` bound to `aad` (which is not stored): returns
    /// nonce || ciphertext || tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| KeyError::Random)?;
        let nonce = Nonce::try_generate().map_err(|_| KeyError::Random)?;
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| KeyError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`DataKey::seal`] produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8], what: &str) -> Result<Vec<u8>, KeyError> {
        let err = || KeyError::Decrypt {
            what: what.to_string(),
        };
        if sealed.len() < NONCE_LEN + 16 {
            return Err(err());
        }
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| err())?;
        let nonce = Nonce::try_from(&sealed[..NONCE_LEN]).map_err(|_| err())?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed[NONCE_LEN..],
                    aad,
                },
            )
            .map_err(|_| err())
    }
}

/// A data key wrapped by a key provider, with what is needed to unwrap it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The provider kind, e.g. `local` or `azure-keyvault`.
    pub provider: String,
    /// The key-encryption key's id (a file path's fingerprint, a Key Vault key URL).
    pub key_id: String,
    /// The key-encryption key's version.
    pub version: String,
    /// The wrapped bytes.
    pub bytes: Vec<u8>,
}

/// Wraps and unwraps data keys under a key-encryption key the customer
/// controls.
///
/// Invariant: `unwrap(wrap(k)) == k` for every version the provider still
/// holds; a wrapped key names the version it was wrapped under.
pub trait KeyProvider: Send + Sync {
    /// Provider kind and key id, for messages and headers.
    fn describe(&self) -> String;
    /// Wraps a data key under the newest key version.
    fn wrap(&self, key: &DataKey) -> Result<WrappedKey, KeyError>;
    /// Unwraps a data key.
    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let k = DataKey::generate().unwrap();
        let sealed = k.seal(b"hunter2", b"a/b").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(k.open(&sealed, b"a/b", "x").unwrap(), b"hunter2");
        assert!(k.open(&sealed, b"a/c", "x").is_err(), "aad is bound");
        let other = DataKey::generate().unwrap();
        assert!(other.open(&sealed, b"a/b", "x").is_err(), "wrong key");
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        let e = k.open(&flipped, b"a/b", "the value").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot decrypt the value: wrong key, or the data was altered or moved"
        );
        assert!(k.open(&sealed[..5], b"a/b", "x").is_err());
    }
}
