use std::io::Write;
use std::path::{Path, PathBuf};

use super::{DataKey, KeyError, KeyProvider, WrappedKey};

const MAGIC: &str = "statectl-local-key-file v1";

/// A local key-encryption key file: the development and test key provider.
///
/// Format: a first line `statectl-local-key-file v1`, then one line per key
/// version, `<version> <64 hex chars>`, oldest first; the last line is the
/// current version. Created with mode 0600.
///
/// Invariant: versions are 1, 2, 3, ... in order; rotation appends a line and
/// never removes one, so everything wrapped under an older version still
/// unwraps.
#[derive(Debug)]
pub struct LocalKeyFile {
    path: PathBuf,
    id: String,
    versions: Vec<(u32, DataKey)>,
}

impl LocalKeyFile {
    /// Loads the key file at `path`, creating it (one fresh version) if it
    /// does not exist.
    pub fn open_or_create(path: &Path) -> Result<Self, KeyError> {
        if !path.exists() {
            let key = DataKey::generate()?;
            write_new(path, &format!("{MAGIC}\n1 {}\n", hex(key.bytes())))?;
        }
        Self::load(path)
    }

    /// Loads an existing key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let err = |message: String| KeyError::File {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(err(format!(
                "not a statectl key file (first line must be `{MAGIC}`)"
            )));
        }
        let mut versions = Vec::new();
        for (i, line) in lines.enumerate() {
            let (v, k) = line
                .split_once(' ')
                .ok_or_else(|| err(format!("line {} is not `<version> <hex key>`", i + 2)))?;
            let v: u32 = v
                .parse()
                .map_err(|_| err(format!("line {}: bad version", i + 2)))?;
            let bytes = unhex(k)
                .ok_or_else(|| err(format!("line {}: the key must be 64 hex characters", i + 2)))?;
            if v as usize != versions.len() + 1 {
                return Err(err(format!(
                    "line {}: versions must count up from 1",
                    i + 2
                )));
            }
            versions.push((v, DataKey::from_bytes(bytes)));
        }
        if versions.is_empty() {
            return Err(err("holds no key".into()));
        }
        let first = versions[0].1.bytes();
        let id = crate::model::Digest::of(first).short();
        Ok(LocalKeyFile {
            path: path.to_path_buf(),
            id,
            versions,
        })
    }

    /// Appends a new key version and makes it current; returns it.
    pub fn rotate(&mut self) -> Result<u32, KeyError> {
        let key = DataKey::generate()?;
        let v = self.versions.len() as u32 + 1;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| KeyError::File {
                path: self.path.clone(),
                message: format!("cannot append: {e}"),
            })?;
        writeln!(f, "{v} {}", hex(key.bytes()))
            .and_then(|_| f.sync_all())
            .map_err(|e| KeyError::File {
                path: self.path.clone(),
                message: format!("cannot write: {e}"),
            })?;
        self.versions.push((v, key));
        Ok(v)
    }

    /// The current version.
    pub fn current_version(&self) -> u32 {
        self.versions.last().map_or(0, |(v, _)| *v)
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn aad(&self, version: u32) -> String {
        format!("statectl-wrap/local/{}/{version}", self.id)
    }
}

impl KeyProvider for LocalKeyFile {
    fn describe(&self) -> String {
        format!("local key file {} (id {})", self.path.display(), self.id)
    }

    fn wrap(&self, key: &DataKey) -> Result<WrappedKey, KeyError> {
        let (v, kek) = self.versions.last().ok_or_else(|| KeyError::File {
            path: self.path.clone(),
            message: "holds no key".into(),
        })?;
        Ok(WrappedKey {
            provider: "local".into(),
            key_id: self.id.clone(),
            version: v.to_string(),
            bytes: kek.seal(key.bytes(), self.aad(*v).as_bytes())?,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        if wrapped.provider != "local" || wrapped.key_id != self.id {
            return Err(KeyError::WrongProvider {
                wanted: format!(
                    "{} key {} version {}",
                    wrapped.provider, wrapped.key_id, wrapped.version
                ),
                have: self.describe(),
            });
        }
        let v: u32 = wrapped.version.parse().unwrap_or(0);
        let (_, kek) =
            self.versions
                .iter()
                .find(|(x, _)| *x == v)
                .ok_or_else(|| KeyError::WrongProvider {
                    wanted: format!("local key {} version {}", wrapped.key_id, wrapped.version),
                    have: format!(
                        "{} (versions 1..={})",
                        self.describe(),
                        self.current_version()
                    ),
                })?;
        let bytes = kek.open(&wrapped.bytes, self.aad(v).as_bytes(), "wrapped data key")?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Decrypt {
            what: "wrapped data key".into(),
        })?;
        Ok(DataKey::from_bytes(arr))
    }
}

fn write_new(path: &Path, text: &str) -> Result<(), KeyError> {
    let err = |message: String| KeyError::File {
        path: path.to_path_buf(),
        message,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(format!("cannot create folder: {e}")))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| err(format!("cannot create: {e}")))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| err(format!("cannot write: {e}")))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, c) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_wrap_rotate_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/local.key");
        let mut kf = LocalKeyFile::open_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let dk = DataKey::generate().unwrap();
        let w1 = kf.wrap(&dk).unwrap();
        assert_eq!(w1.version, "1");
        assert_eq!(kf.rotate().unwrap(), 2);
        let w2 = kf.wrap(&dk).unwrap();
        assert_eq!(w2.version, "2");
        let reloaded = LocalKeyFile::load(&path).unwrap();
        assert_eq!(reloaded.unwrap(&w1).unwrap().bytes(), dk.bytes());
        assert_eq!(reloaded.unwrap(&w2).unwrap().bytes(), dk.bytes());
        let other = LocalKeyFile::open_or_create(&dir.path().join("other.key")).unwrap();
        assert!(matches!(
            other.unwrap(&w1),
            Err(KeyError::WrongProvider { .. })
        ));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        std::fs::write(&path, "nope\n").unwrap();
        let e = LocalKeyFile::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("bad.key") && e.contains("not a statectl key file"),
            "{e}"
        );
    }
}
