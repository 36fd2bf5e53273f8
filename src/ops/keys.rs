//! `keys init` (create the local key that seals the mirror) and `keys
//! rotate` (a new key version, and every mirrored object's data key
//! re-wrapped under it; payloads unchanged).

use std::path::PathBuf;
use std::sync::Arc;

use super::sync::mirror_runtime;
use super::{Hooks, OpsError, Project};
use crate::keys::{KeyProvider, LocalKeyFile};
use crate::mirror::config::{self, Keys};
use crate::mirror::{MirrorError, envelope, layout};

/// What `keys init` found or made.
#[derive(Debug)]
pub struct KeyInit {
    /// The key file.
    pub path: PathBuf,
    /// Whether this call created it.
    pub created: bool,
    /// The key, described (never its bytes).
    pub describe: String,
    /// Its current version.
    pub version: u32,
}

/// What `keys rotate` did.
#[derive(Debug)]
pub struct Rotated {
    /// The new current version of a local key file (Key Vault rotates in
    /// the vault).
    pub local_version: Option<(PathBuf, u32)>,
    /// Objects whose data key was re-wrapped.
    pub changed: usize,
    /// Objects looked at.
    pub total: usize,
    /// The key provider, described.
    pub keys: String,
}

impl std::fmt::Display for KeyInit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.path.display();
        if self.created {
            writeln!(
                f,
                "created {p} (mode 0600), {}: keep a copy somewhere safe; without it the mirror cannot be read",
                self.describe
            )
        } else {
            writeln!(
                f,
                "{p} exists: {} (version {})",
                self.describe, self.version
            )
        }
    }
}

impl std::fmt::Display for Rotated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((path, v)) = &self.local_version {
            writeln!(f, "{}: version {v} is now current", path.display())?;
        }
        writeln!(
            f,
            "re-wrapped the data keys of {} of {} mirrored object(s) under {}; payloads unchanged",
            self.changed, self.total, self.keys
        )
    }
}

impl Project {
    /// Creates the mirror's local key file if it does not exist.
    pub fn keys_init(&self) -> Result<KeyInit, OpsError> {
        let path = match self.mirror()?.map(|m| m.config().keys.clone()) {
            Some(Keys::AzureKeyVault(url)) => {
                return Err(OpsError::Invalid(format!(
                    "the mirror is sealed by the Key Vault key {url}: create and rotate it in Key Vault (az keyvault key create --kty RSA --size 3072); there is no local key file to create"
                )));
            }
            Some(Keys::Local(p)) => p,
            None => config::local_key_file(&self.root, &self.state_dir, &self.settings, None),
        };
        let created = !path.exists();
        let k = if created {
            LocalKeyFile::open_or_create(&path)?
        } else {
            LocalKeyFile::load(&path)?
        };
        Ok(KeyInit {
            describe: k.describe(),
            version: k.current_version(),
            path,
            created,
        })
    }

    /// Rotates the mirror's key and re-wraps every mirrored object's data
    /// key under the new version.
    pub fn keys_rotate(&self, hooks: &mut dyn Hooks) -> Result<Rotated, OpsError> {
        let sync = self.mirror()?.ok_or_else(|| {
            OpsError::Invalid(
                "no mirror is configured: nothing to re-wrap (see `statectl mirror push --help`)"
                    .into(),
            )
        })?;
        let (keys, local_version): (Arc<dyn KeyProvider>, _) = match &sync.config().keys {
            Keys::Local(path) => {
                let mut k = LocalKeyFile::load(path)?;
                let v = k.rotate()?;
                (Arc::new(k), Some((path.clone(), v)))
            }
            Keys::AzureKeyVault(_) => (sync.keys(false, hooks)?, None),
        };
        let b = sync.backend()?;
        let rt = mirror_runtime()?;
        let blob_err = |source| MirrorError::Blob {
            backend: b.describe(),
            source,
        };
        let all = rt
            .block_on(b.list(&format!("{}/", layout::ROOT)))
            .map_err(blob_err)?;
        let mut bar = hooks.transfer("re-wrap");
        let (mut changed, mut total) = (0, 0);
        for (i, path) in all.iter().enumerate() {
            if path.ends_with("/lock") {
                continue;
            }
            total += 1;
            let (sealed, etag) = rt.block_on(b.get(path)).map_err(blob_err)?;
            // A tombstone is still sealed for the path it came from.
            let sealed_for = layout::parse_tombstone(path).map_or(path.clone(), |(_, o)| o);
            if let Some(new) =
                envelope::rewrap(keys.as_ref(), &sealed_for, &sealed).map_err(MirrorError::from)?
            {
                rt.block_on(b.put_if(path, &new, &etag)).map_err(blob_err)?;
                changed += 1;
            }
            bar.update(i + 1, all.len(), 0);
        }
        Ok(Rotated {
            local_version,
            changed,
            total,
            keys: keys.describe(),
        })
    }
}
