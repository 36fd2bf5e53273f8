//! Where the mirror is and which key seals it: `[mirror]` in the project's
//! `statectl.toml`, overridden by environment variables.
//!
//! ```toml
//! [mirror]
//! # A local directory (relative to the project), or an Azure Blob Storage
//! # container URL: https://<account>.blob.core.windows.net/<container>
//! url = "dir:../statectl-mirror"
//! # The key provider: "local" (a key file; development and tests) or
//! # "azure-keyvault" (wrapKey/unwrapKey with RSA-OAEP-256 on a Key Vault key).
//! keys = "local"
//! key_file = "/secure/statectl-mirror.key"  # local: default ~/.config/statectl/mirror.key
//! key_vault_key = "https://<vault>.vault.azure.net/keys/<name>"   # azure-keyvault
//! # "apply": push at the end of every apply (the default, RPO 0);
//! # "manual": only `statectl mirror push`.
//! push = "apply"
//! ```
//!
//! Environment: `STATECTL_MIRROR` (the url), `STATECTL_MIRROR_KEY_FILE`,
//! `STATECTL_MIRROR_SAS` (a SAS token for the container, used instead of
//! Microsoft Entra ID; never printed).

use std::path::{Path, PathBuf};

use crate::settings::Settings;

/// Which blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Dir(PathBuf),
    /// An Azure Blob Storage container: the account endpoint and the
    /// container name.
    Azure {
        /// e.g. `https://acct.blob.core.windows.net` or
        /// `http://127.0.0.1:10000/devstoreaccount1` (Azurite).
        account_url: String,
        /// The container.
        container: String,
    },
}

/// Which key provider seals the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    /// A local key file.
    Local(PathBuf),
    /// A Key Vault key URL (`https://<vault>.vault.azure.net/keys/<name>`).
    AzureKeyVault(String),
}

/// When pushes happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// At the end of every apply.
    Apply,
    /// Only on `statectl mirror push`.
    Manual,
}

/// A resolved mirror configuration.
///
/// Invariant: the SAS token is held here only to build the client; `Debug`
/// hides it and nothing prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct MirrorConfig {
    /// Where.
    pub location: Location,
    /// Sealed with what.
    pub keys: Keys,
    /// When.
    pub push: PushMode,
    /// A SAS token for Azure, if given.
    pub sas: Option<String>,
    /// Where the setting came from, for messages.
    pub origin: String,
    /// How Azure clients sign in and retry.
    pub azure: super::azure::AzureAuth,
}

impl std::fmt::Debug for MirrorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorConfig")
            .field("location", &self.location)
            .field("keys", &self.keys)
            .field("push", &self.push)
            .field("sas", &self.sas.as_ref().map(|_| "<hidden>"))
            .field("origin", &self.origin)
            .field("azure", &self.azure)
            .finish()
    }
}

/// Why the configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// The file (and key) or variable.
    pub origin: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Where the local mirror key lives by default: outside the state
/// directory (`$XDG_CONFIG_HOME/statectl/mirror.key`, else
/// `~/.config/statectl/mirror.key`), so losing the state directory does not
/// lose the key that reads its mirror. Without a home directory, beside the
/// state directory.
pub fn default_key_file(state_dir: &Path, settings: &Settings) -> PathBuf {
    match &settings.config_home {
        Some(b) => b.join("statectl").join("mirror.key"),
        None => state_dir.with_file_name(".statectl-mirror.key"),
    }
}

/// Parses a mirror url: `dir:PATH` (relative to `project`), a bare path,
/// or an `http(s)://` container URL.
pub fn parse_location(url: &str, project: &Path, origin: &str) -> Result<Location, ConfigError> {
    let err = |message: String| ConfigError {
        origin: origin.to_string(),
        message,
    };
    let url = url.trim();
    if let Some(rest) = url
        .strip_prefix("https://")
        .map(|r| ("https", r))
        .or_else(|| url.strip_prefix("http://").map(|r| ("http", r)))
    {
        let (scheme, rest) = rest;
        if rest.contains('?') {
            return Err(err(
                "put the SAS token in STATECTL_MIRROR_SAS, not in the url (urls end up in logs)"
                    .into(),
            ));
        }
        let rest = rest.trim_end_matches('/');
        let Some((account, container)) = rest.rsplit_once('/') else {
            return Err(err(format!(
                "`{url}` names no container: write {scheme}://<account>.blob.core.windows.net/<container>"
            )));
        };
        let ok = !container.is_empty()
            && container.len() >= 3
            && container
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(err(format!(
                "`{container}` is not a valid container name (3-63 lowercase letters, digits and -)"
            )));
        }
        return Ok(Location::Azure {
            account_url: format!("{scheme}://{account}"),
            container: container.to_string(),
        });
    }
    let path = url.strip_prefix("dir:").unwrap_or(url);
    if path.is_empty() {
        return Err(err("the mirror url is empty".into()));
    }
    let p = PathBuf::from(path);
    Ok(Location::Dir(if p.is_absolute() {
        p
    } else {
        project.join(p)
    }))
}

/// Reads the mirror configuration for a project: `None` when no mirror is
/// configured.
pub fn load(
    project: &Path,
    state_dir: &Path,
    settings: &Settings,
) -> Result<Option<MirrorConfig>, ConfigError> {
    let file = project.join("statectl.toml");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ConfigError {
                origin: file.display().to_string(),
                message: format!("cannot read: {e}"),
            });
        }
    };
    let origin = format!("{} [mirror]", file.display());
    let table: Option<toml::Table> = match &text {
        Some(t) => {
            let doc: toml::Table = toml::from_str(t).map_err(|e| ConfigError {
                origin: file.display().to_string(),
                message: e.to_string(),
            })?;
            match doc.get("mirror") {
                Some(toml::Value::Table(m)) => Some(m.clone()),
                Some(_) => {
                    return Err(ConfigError {
                        origin,
                        message: "`mirror` must be a table: [mirror]".into(),
                    });
                }
                None => None,
            }
        }
        None => None,
    };
    let get = |k: &str| -> Result<Option<String>, ConfigError> {
        match table.as_ref().and_then(|t| t.get(k)) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ConfigError {
                origin: format!("{origin} {k}"),
                message: "must be a string".into(),
            }),
        }
    };
    if let Some(t) = &table {
        for k in t.keys() {
            if !["url", "keys", "key_file", "key_vault_key", "push"].contains(&k.as_str()) {
                return Err(ConfigError {
                    origin: format!("{origin} {k}"),
                    message:
                        "unknown setting; the settings are url, keys, key_file, key_vault_key, push"
                            .into(),
                });
            }
        }
    }
    let (url, url_origin) = match settings.mirror.clone() {
        Some(u) => (u, "STATECTL_MIRROR".to_string()),
        None => match get("url")? {
            Some(u) => (u, format!("{origin} url")),
            None => return Ok(None),
        },
    };
    let location = parse_location(&url, project, &url_origin)?;
    let keys = match get("keys")?.as_deref().unwrap_or("local") {
        "local" => Keys::Local(local_key_file(
            project,
            state_dir,
            settings,
            get("key_file")?.as_deref(),
        )),
        "azure-keyvault" => Keys::AzureKeyVault(get("key_vault_key")?.ok_or_else(|| {
            ConfigError {
                origin: format!("{origin} key_vault_key"),
                message: "keys = \"azure-keyvault\" needs key_vault_key = \"https://<vault>.vault.azure.net/keys/<name>\"".into(),
            }
        })?),
        other => {
            return Err(ConfigError {
                origin: format!("{origin} keys"),
                message: format!("`{other}` is not a key provider: use \"local\" or \"azure-keyvault\""),
            });
        }
    };
    let push = match get("push")?.as_deref().unwrap_or("apply") {
        "apply" => PushMode::Apply,
        "manual" => PushMode::Manual,
        other => {
            return Err(ConfigError {
                origin: format!("{origin} push"),
                message: format!("`{other}`: use \"apply\" or \"manual\""),
            });
        }
    };
    Ok(Some(MirrorConfig {
        location,
        keys,
        push,
        sas: settings.mirror_sas.clone(),
        origin: url_origin,
        azure: super::azure::AzureAuth::from_settings(settings),
    }))
}

/// The local key file that seals the mirror, by precedence:
/// `STATECTL_MIRROR_KEY_FILE`, then `key_file` in `statectl.toml` (relative
/// to the project), then [`default_key_file`]. The one statement of the
/// rule: `keys init` and the configuration both use it.
pub fn local_key_file(
    project: &Path,
    state_dir: &Path,
    settings: &Settings,
    configured: Option<&str>,
) -> PathBuf {
    match (&settings.mirror_key_file, configured) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) if Path::new(p).is_absolute() => PathBuf::from(p),
        (None, Some(p)) => project.join(p),
        (None, None) => default_key_file(state_dir, settings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = Path::new("/proj");
        assert_eq!(
            parse_location("dir:../m", p, "x").unwrap(),
            Location::Dir(PathBuf::from("/proj/../m"))
        );
        assert_eq!(
            parse_location("https://acct.blob.core.windows.net/statectl", p, "x").unwrap(),
            Location::Azure {
                account_url: "https://acct.blob.core.windows.net".into(),
                container: "statectl".into()
            }
        );
        assert_eq!(
            parse_location("http://127.0.0.1:10000/devstoreaccount1/state/", p, "x").unwrap(),
            Location::Azure {
                account_url: "http://127.0.0.1:10000/devstoreaccount1".into(),
                container: "state".into()
            }
        );
        let e = parse_location("https://a.blob.core.windows.net/c?sig=abc", p, "x").unwrap_err();
        assert!(e.message.contains("STATECTL_MIRROR_SAS"), "{e}");
        assert!(!e.to_string().contains("abc"), "the token is not echoed");
        assert!(parse_location("https://a.blob.core.windows.net/Bad_Name", p, "x").is_err());
    }
}
