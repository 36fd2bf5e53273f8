//! The mirror's manifest: what every push recorded (each stack's HEAD, every
//! release, the audit log's extent, the data key), so that a restore can
//! tell a whole mirror from one that lost a blob. Without it, a deleted
//! HEAD, release, audit run or data key, or an older HEAD copied over the
//! current one, restored "successfully" with less data (issue 15).
//!
//! The manifest only grows: each push merges what it sent into it by
//! compare-and-swap, so two machines pushing never undo each other.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::backend::BlobError;
use super::{Mirror, MirrorError, RebuildFilter, decode, encode, envelope, layout};
use crate::model::Stack;
use crate::store::Store;

/// What the mirror must hold for a restore to be whole.
///
/// Invariant: every field only grows across pushes (a HEAD number never
/// goes down, a release or the data key is never dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Manifest {
    /// Each stack's HEAD as last pushed (`estate/env` -> generation).
    pub stacks: BTreeMap<String, u64>,
    /// Every release pushed (`estate/version`).
    pub releases: BTreeSet<String>,
    /// The last audit record pushed (records run from 1).
    pub audit_last: u64,
    /// Whether the store's data key was pushed.
    pub data_key: bool,
}

impl Manifest {
    fn merge(&mut self, other: &Manifest) {
        for (k, n) in &other.stacks {
            let e = self.stacks.entry(k.clone()).or_default();
            *e = (*e).max(*n);
        }
        self.releases.extend(other.releases.iter().cloned());
        self.audit_last = self.audit_last.max(other.audit_last);
        self.data_key |= other.data_key;
    }
}

fn stack_key(s: &Stack) -> String {
    format!("{}/{}", s.estate, s.env)
}

impl Mirror {
    /// Reads the manifest (`None`: the mirror has none) and its etag.
    async fn read_manifest(&self) -> Result<Option<(Manifest, super::backend::Etag)>, MirrorError> {
        let path = layout::manifest();
        match self.backend.get(&path).await {
            Ok((sealed, etag)) => {
                let bytes = envelope::open(self.keys.as_ref(), &path, &sealed)?;
                Ok(Some((decode(&path, &bytes)?, etag)))
            }
            Err(BlobError::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.blob(e)),
        }
    }

    /// Merges what this store has pushed into the manifest.
    pub(super) async fn record_manifest(&self, store: &Store) -> Result<(), MirrorError> {
        let mut mine = Manifest::default();
        for s in store.stacks()? {
            if let Some(b) = self.pushed(store, &layout::head(&s))?
                && let Ok(arr) = <[u8; 8]>::try_from(b.as_slice())
            {
                mine.stacks.insert(stack_key(&s), u64::from_le_bytes(arr));
            }
        }
        let releases = layout::releases();
        for p in store.mirrored_under(&self.mark(&releases))? {
            if let Some(r) = p.strip_prefix(&self.mark(&releases)) {
                mine.releases.insert(r.to_string());
            }
        }
        mine.data_key = self.pushed(store, &layout::data_key())?.is_some();
        let mark = format!("{}audit-watermark", layout::audit());
        mine.audit_last = self
            .pushed(store, &mark)?
            .and_then(|b| b.try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        let path = layout::manifest();
        // Another machine may write it between our read and write: merge
        // and try again, a few times.
        for _ in 0..5 {
            let current = self.read_manifest().await?;
            let mut next = mine.clone();
            if let Some((m, _)) = &current {
                next.merge(m);
                if next == *m {
                    return Ok(());
                }
            }
            let sealed = envelope::seal(self.keys.as_ref(), &path, &encode("manifest", &next)?)?;
            let r = match &current {
                None => self.backend.put_new(&path, &sealed).await,
                Some((_, etag)) => self.backend.put_if(&path, &sealed, etag).await,
            };
            match r {
                Ok(_) => return Ok(()),
                Err(BlobError::Exists { .. } | BlobError::Changed { .. }) => continue,
                Err(e) => return Err(self.blob(e)),
            }
        }
        Err(MirrorError::Diverged {
            stack: "mirror".into(),
            what: "manifest (it kept changing while this push ran; push again)".into(),
        })
    }

    /// Everything the manifest records that the mirror no longer holds,
    /// for the stacks and estate `filter` selects: an empty list when a
    /// restore will be whole.
    pub(super) async fn missing(&self, filter: &RebuildFilter) -> Result<Vec<String>, MirrorError> {
        let Some((m, _)) = self.read_manifest().await? else {
            let heads = self
                .backend
                .list(&layout::stacks())
                .await
                .map_err(|e| self.blob(e))?;
            let releases = self
                .backend
                .list(&layout::releases())
                .await
                .map_err(|e| self.blob(e))?;
            return Ok(if heads.is_empty() && releases.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "{} (the record of what was pushed; without it a lost blob cannot be told from one never pushed): push from a machine that has the whole store to write it again",
                    layout::manifest()
                )]
            });
        };
        let mut out = Vec::new();
        if m.data_key {
            match self.backend.get(&layout::data_key()).await {
                Ok(_) => {}
                Err(BlobError::NotFound { .. }) => out.push(format!(
                    "{} (the key that seals secrets in state)",
                    layout::data_key()
                )),
                Err(e) => return Err(self.blob(e)),
            }
        }
        let present: BTreeSet<String> = self
            .backend
            .list(&layout::releases())
            .await
            .map_err(|e| self.blob(e))?
            .into_iter()
            .filter_map(|p| p.strip_prefix(&layout::releases()).map(str::to_string))
            .collect();
        for r in &m.releases {
            let estate = r.split('/').next().unwrap_or_default();
            if filter.estate.as_deref().is_some_and(|e| e != estate) {
                continue;
            }
            if !present.contains(r) {
                out.push(format!("release {r}"));
            }
        }
        for (key, want) in &m.stacks {
            let Some((estate, env)) = key.split_once('/') else {
                continue;
            };
            if filter.estate.as_deref().is_some_and(|e| e != estate)
                || filter.env.as_deref().is_some_and(|e| e != env)
            {
                continue;
            }
            let s = Stack {
                estate: estate.to_string(),
                env: env.to_string(),
            };
            match self.read_head(&s).await? {
                None => out.push(format!("the HEAD of {key} (generation {want})")),
                Some((n, _)) if n < *want => out.push(format!(
                    "generations {}..={want} of {key}: its HEAD says {n} (an older HEAD was written over it)",
                    n + 1
                )),
                Some(_) => {}
            }
        }
        if m.audit_last > 0 {
            let mut runs: Vec<(u64, u64)> = self
                .backend
                .list(&layout::audit())
                .await
                .map_err(|e| self.blob(e))?
                .iter()
                .filter_map(|p| {
                    let (a, b) = p.rsplit('/').next()?.split_once('-')?;
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect();
            runs.sort_unstable();
            let mut next = 1u64;
            for (first, last) in runs {
                if first > next {
                    break;
                }
                next = next.max(last.saturating_add(1));
            }
            if next <= m.audit_last {
                out.push(format!("audit records {next}..={}", m.audit_last));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_only_grows() {
        let mut a = Manifest {
            stacks: [("x/dev".to_string(), 3)].into(),
            releases: ["x/1.0.0".to_string()].into(),
            audit_last: 9,
            data_key: false,
        };
        let b = Manifest {
            stacks: [("x/dev".to_string(), 2), ("y/prod".to_string(), 1)].into(),
            releases: ["y/2.0.0".to_string()].into(),
            audit_last: 4,
            data_key: true,
        };
        a.merge(&b);
        assert_eq!(a.stacks["x/dev"], 3, "a HEAD never goes down");
        assert_eq!(a.stacks["y/prod"], 1);
        assert_eq!(a.releases.len(), 2);
        assert_eq!(a.audit_last, 9);
        assert!(a.data_key);
    }
}
