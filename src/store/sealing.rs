//! Sealing of sensitive values: the secrets a provider returns (keys,
//! passwords) are encrypted with AES-256-GCM under the store's data key
//! before any encoder sees them, and decrypted only on an explicit
//! `--show-sensitive` read. redb has no encryption at rest; this is it.
//!
//! The data key is wrapped by the key provider (a local key file) and kept
//! in `meta`; each sealed value is bound to its stack, address and
//! attribute as associated data, so a value moved elsewhere does not open.

use std::sync::Mutex;

use redb::{ReadableTable as _, WriteTransaction};

use super::codec;
use super::db::Store;
use super::error::StoreError;
use super::schema;
use crate::keys::{DataKey, KeyProvider as _, WrappedKey};
use crate::model::{Address, ObservedResource, Secret, Stack};

/// The associated data a sealed value of `stack`'s `addr`.`attr` is bound
/// to (version 1 of the layout).
pub(crate) fn sensitive_aad(stack: &Stack, addr: &Address, attr: &str) -> String {
    format!("statectl/sensitive/v1/{stack}/{addr}/{attr}")
}

/// The data key that seals sensitive values, cached after first use.
#[derive(Default)]
pub(crate) struct KeyCache(pub(crate) Mutex<Option<DataKey>>);

impl KeyCache {
    /// Forgets the cached key (after the stored key changed).
    pub(crate) fn clear(&self) {
        if let Ok(mut k) = self.0.lock() {
            *k = None;
        }
    }
}

impl Store {
    /// The data key, if an earlier call opened it.
    fn cached_key(&self) -> Result<Option<DataKey>, StoreError> {
        Ok(self
            .key_cache()
            .0
            .lock()
            .map_err(|_| StoreError::Bug("key cache poisoned".into()))?
            .clone())
    }

    /// Keeps the opened data key for later calls.
    fn cache_key(&self, key: &DataKey) -> Result<(), StoreError> {
        *self
            .key_cache()
            .0
            .lock()
            .map_err(|_| StoreError::Bug("key cache poisoned".into()))? = Some(key.clone());
        Ok(())
    }

    fn data_key_in(&self, w: &WriteTransaction) -> Result<DataKey, StoreError> {
        if let Some(k) = self.cached_key()? {
            return Ok(k);
        }
        let mut meta = w.open_table(schema::META)?;
        let existing = meta.get(schema::META_DATA_KEY)?.map(|g| g.value().to_vec());
        let key = match existing {
            Some(bytes) => self.unwrap_data_key(&bytes)?,
            None => {
                let provider = self.provider(true)?;
                let key = DataKey::generate()?;
                let wrapped = provider.wrap(&key)?;
                let bytes = codec::encode(&wrapped).map_err(|source| StoreError::Encode {
                    what: "wrapped key",
                    source,
                })?;
                meta.insert(schema::META_DATA_KEY, bytes.as_slice())?;
                drop(meta);
                // A new key is an event worth a record: a copy of the key
                // file must now be kept.
                super::audit::append(
                    w,
                    self.clock().now(),
                    &super::db::Actor {
                        name: "statectl".into(),
                        how: "first sealed secret".into(),
                    },
                    super::audit::AuditEvent {
                        action: "store.key.create".into(),
                        target: "store".into(),
                        details: format!(
                            "data key created, wrapped by {}: keep a copy of that file",
                            provider.describe()
                        ),
                        ..Default::default()
                    },
                )?;
                key
            }
        };
        self.cache_key(&key)?;
        Ok(key)
    }

    /// Opens the stored wrapped data key with the key file (never created
    /// here); a key file that cannot open it is [`StoreError::StoreKey`].
    pub(crate) fn unwrap_data_key(&self, bytes: &[u8]) -> Result<DataKey, StoreError> {
        let wrapped: WrappedKey = codec::decode(bytes).map_err(|source| StoreError::Corrupt {
            table: "meta",
            key: schema::META_DATA_KEY.into(),
            source,
        })?;
        self.provider(false)?
            .unwrap(&wrapped)
            .map_err(|source| StoreError::StoreKey {
                file: self.key_file_path().display().to_string(),
                source,
            })
    }

    /// Checks that the key file opens the store's data key, when the store
    /// has one: run before a workflow calls a provider, so a missing or
    /// wrong key stops it before the cloud changes rather than after.
    pub fn check_data_key(&self) -> Result<(), StoreError> {
        let bytes = self.read(|r| {
            let meta = r.open_table(schema::META)?;
            Ok(meta.get(schema::META_DATA_KEY)?.map(|g| g.value().to_vec()))
        })?;
        match bytes {
            Some(b) => self.unwrap_data_key(&b).map(|_| ()),
            None => Ok(()),
        }
    }

    fn data_key_read(&self) -> Result<DataKey, StoreError> {
        if let Some(k) = self.cached_key()? {
            return Ok(k);
        }
        let bytes = self.read(|r| {
            let meta = r.open_table(schema::META)?;
            Ok(meta.get(schema::META_DATA_KEY)?.map(|g| g.value().to_vec()))
        })?;
        let Some(bytes) = bytes else {
            return Err(StoreError::Bug(
                "a sealed value exists but the store has no data key".into(),
            ));
        };
        let key = self.unwrap_data_key(&bytes)?;
        self.cache_key(&key)?;
        Ok(key)
    }

    pub(crate) fn seal(
        &self,
        w: &WriteTransaction,
        stack: &Stack,
        obs: &mut ObservedResource,
    ) -> Result<(), StoreError> {
        let plain: Vec<String> = obs
            .sensitive
            .iter()
            .filter(|(_, s)| matches!(s, Secret::Plain(_)))
            .map(|(k, _)| k.clone())
            .collect();
        if plain.is_empty() {
            return Ok(());
        }
        let key = self.data_key_in(w)?;
        for attr in plain {
            if let Some(Secret::Plain(text)) = obs.sensitive.get(&attr) {
                let sealed = key.seal(
                    text.as_bytes(),
                    sensitive_aad(stack, &obs.address, &attr).as_bytes(),
                )?;
                obs.sensitive.insert(attr, Secret::Sealed(sealed));
            }
        }
        Ok(())
    }

    /// Decrypts the sealed secrets of an observed resource read from `stack`
    /// (for `--show-sensitive`).
    pub fn unseal(&self, stack: &Stack, obs: &mut ObservedResource) -> Result<(), StoreError> {
        let sealed: Vec<String> = obs
            .sensitive
            .iter()
            .filter(|(_, s)| matches!(s, Secret::Sealed(_)))
            .map(|(k, _)| k.clone())
            .collect();
        if sealed.is_empty() {
            return Ok(());
        }
        let key = self.data_key_read()?;
        for attr in sealed {
            if let Some(Secret::Sealed(bytes)) = obs.sensitive.get(&attr) {
                let what = format!("sensitive attribute {}.{attr}", obs.address);
                let plain = key.open(
                    bytes,
                    sensitive_aad(stack, &obs.address, &attr).as_bytes(),
                    &what,
                )?;
                let text = String::from_utf8(plain)
                    .map_err(|_| StoreError::Bug(format!("{what} is not UTF-8")))?;
                obs.sensitive.insert(attr, Secret::Plain(text));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::store::StoreOptions;

    fn resource(addr: &str, secret: &str) -> ObservedResource {
        let address: Address = addr.parse().unwrap();
        ObservedResource {
            id: format!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/{}",
                address.name()
            ),
            name: address.name().to_string(),
            address,
            arm_type: "Microsoft.Cache/redis".into(),
            properties: Default::default(),
            attributes: Default::default(),
            sensitive: [("primary_key".to_string(), Secret::Plain(secret.into()))].into(),
            tags: Default::default(),
            dependencies: Default::default(),
            prevent_destroy: false,
        }
    }

    fn sealed_in(store: &Store, stack: &Stack, r: &mut ObservedResource) {
        store.write(|w| store.seal(w, stack, r)).unwrap();
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_stack_address_and_attribute() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let stack = Stack::new("shop", "prod").unwrap();
        let mut r = resource("data.redis", "s3cr3t");
        sealed_in(&store, &stack, &mut r);
        let Some(Secret::Sealed(bytes)) = r.sensitive.get("primary_key") else {
            panic!("not sealed: {:?}", r.sensitive);
        };
        assert!(
            !bytes.windows(6).any(|w| w == b"s3cr3t"),
            "the clear text is not in the sealed bytes"
        );
        // Another stack (or address) cannot open it: the AAD binds it.
        let mut elsewhere = r.clone();
        let other = Stack::new("shop", "dev").unwrap();
        let e = store
            .unseal(&other, &mut elsewhere)
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.redis.primary_key"), "names the value: {e}");
        // Its own stack opens it.
        store.unseal(&stack, &mut r).unwrap();
        assert_eq!(r.sensitive["primary_key"], Secret::Plain("s3cr3t".into()));
    }

    #[test]
    fn a_tampered_sealed_value_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let stack = Stack::new("shop", "prod").unwrap();
        let mut r = resource("data.redis", "s3cr3t");
        sealed_in(&store, &stack, &mut r);
        if let Some(Secret::Sealed(bytes)) = r.sensitive.get_mut("primary_key") {
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
        }
        let e = store.unseal(&stack, &mut r).unwrap_err().to_string();
        assert!(e.contains("data.redis.primary_key"), "{e}");
    }

    #[test]
    fn one_data_key_seals_every_value_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack::new("shop", "prod").unwrap();
        let mut a = resource("data.redis", "one");
        let mut b = resource("data.cache", "two");
        {
            let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
            sealed_in(&store, &stack, &mut a);
            sealed_in(&store, &stack, &mut b);
        }
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.unseal(&stack, &mut a).unwrap();
        store.unseal(&stack, &mut b).unwrap();
        assert_eq!(a.sensitive["primary_key"], Secret::Plain("one".into()));
        assert_eq!(b.sensitive["primary_key"], Secret::Plain("two".into()));
    }
}
