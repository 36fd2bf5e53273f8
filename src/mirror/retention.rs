//! Versioning, soft delete and legal hold, on top of any blob store.
//!
//! Generations are never overwritten. Pruning moves old generations'
//! chunks to tombstones stamped with their deletion time (the sealed bytes
//! are copied as they are, so undelete puts them back unchanged); a base
//! checkpoint written first stands for them, so the generations kept still
//! restore. `undelete` brings tombstones back; `gc` purges tombstones only
//! once they are older than the environment's retention, and never one of a
//! generation under legal hold. Pruning skips held generations too.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{BlobError, Mirror, MirrorError, decode, encode, envelope, layout};
use crate::model::{Checkpoint, Stack, UtcTime};
use crate::store::Store;

/// Which generations to prune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneRule {
    /// Keep the newest N generations.
    Keep(u64),
    /// Prune generations that ended before this time.
    EndedBefore(UtcTime),
}

/// What a prune did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// Generations moved to tombstones.
    pub pruned: Vec<u64>,
    /// Generations kept because they are under legal hold.
    pub held: Vec<u64>,
    /// The oldest generation still restorable.
    pub oldest_kept: u64,
}

/// What a gc did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Tombstones purged.
    pub purged: usize,
    /// Tombstones kept: still within retention.
    pub within_retention: usize,
    /// Tombstones kept: under legal hold.
    pub held: usize,
}

impl std::fmt::Display for GcReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "purged {} tombstone(s); kept {} within retention and {} under legal hold",
            self.purged, self.within_retention, self.held
        )
    }
}

/// A legal hold's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Why.
    pub reason: String,
    /// Who set it.
    pub actor: String,
    /// When.
    pub at: UtcTime,
}

impl Mirror {
    /// The generations of `s` present in the mirror (not pruned).
    pub async fn present_generations(&self, s: &Stack) -> Result<BTreeSet<u64>, MirrorError> {
        Ok(self
            .backend
            .list(&layout::generations(s))
            .await
            .map_err(|e| self.blob(e))?
            .iter()
            .filter_map(|p| layout::parse_chunk(p))
            .filter(|(_, _, k)| *k == 0)
            .map(|(_, n, _)| n)
            .collect())
    }

    /// The generations of `s` under legal hold.
    pub async fn holds(&self, s: &Stack) -> Result<Vec<(u64, Hold)>, MirrorError> {
        let prefix = format!("{}/holds/{}/{}/", layout::ROOT, s.estate, s.env);
        let mut out = Vec::new();
        for p in self.backend.list(&prefix).await.map_err(|e| self.blob(e))? {
            if let Some((_, n)) = layout::parse_hold(&p) {
                let (bytes, _) = self.get(&p).await?;
                out.push((n, decode(&p, &bytes)?));
            }
        }
        Ok(out)
    }

    /// Puts generation `n` of `s` under legal hold.
    pub async fn hold(&self, s: &Stack, n: u64, hold: &Hold) -> Result<bool, MirrorError> {
        let present = self.present_generations(s).await?;
        if !present.contains(&n) {
            return Err(MirrorError::Config(format!(
                "{s} has no generation {n} in the mirror (present: {})",
                range_text(&present)
            )));
        }
        match self
            .put_new(&layout::hold(s, n), &encode("hold", hold)?)
            .await
        {
            Ok((new, _)) => Ok(new),
            // Already held, with another record: keep the first.
            Err(MirrorError::Diverged { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Lifts the legal hold on generation `n` of `s`.
    pub async fn clear_hold(&self, s: &Stack, n: u64) -> Result<bool, MirrorError> {
        let path = layout::hold(s, n);
        match self.backend.get(&path).await {
            Err(BlobError::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.blob(e)),
            Ok(_) => {
                self.backend.delete(&path).await.map_err(|e| self.blob(e))?;
                Ok(true)
            }
        }
    }

    /// Moves old generations of `s` to tombstones (see the module doc).
    pub async fn prune(
        &self,
        store: &Store,
        s: &Stack,
        rule: PruneRule,
        now: UtcTime,
    ) -> Result<PruneReport, MirrorError> {
        let present = self.present_generations(s).await?;
        let Some((head, _)) = self.read_head(s).await? else {
            return Err(MirrorError::Config(format!(
                "{s} has nothing in the mirror"
            )));
        };
        let held: BTreeSet<u64> = self.holds(s).await?.into_iter().map(|(n, _)| n).collect();
        let candidate = |n: u64| -> Result<bool, MirrorError> {
            if n >= head {
                return Ok(false);
            }
            Ok(match rule {
                PruneRule::Keep(k) => n + k.max(1) <= head,
                PruneRule::EndedBefore(t) => store.generation(s, n)?.ended_at < t,
            })
        };
        // Only a prefix can go: history restores from a base onwards.
        let mut prune = Vec::new();
        let mut report = PruneReport::default();
        for &n in &present {
            if held.contains(&n) {
                report.held.push(n);
                break;
            }
            if !candidate(n)? {
                break;
            }
            prune.push(n);
        }
        report.oldest_kept = present
            .iter()
            .copied()
            .find(|n| !prune.contains(n))
            .unwrap_or(head);
        let Some(&last) = prune.last() else {
            return Ok(report);
        };
        // The base for the first kept generation, and the objects its trees
        // need, before anything goes.
        let base = store.checkpoint_after(s, last)?;
        self.push(store, &[], &mut super::NoProgress).await?;
        match self
            .put_new(&layout::base(s, last + 1), &encode("checkpoint", &base)?)
            .await
        {
            Ok(_) | Err(MirrorError::Diverged { .. }) => {}
            Err(e) => return Err(e),
        }
        let at = now.0;
        for n in &prune {
            for path in self
                .backend
                .list(&layout::generation(s, *n))
                .await
                .map_err(|e| self.blob(e))?
            {
                let (sealed, _) = self.backend.get(&path).await.map_err(|e| self.blob(e))?;
                match self
                    .backend
                    .put_new(&layout::tombstone(at, &path), &sealed)
                    .await
                {
                    Ok(_) | Err(BlobError::Exists { .. }) => {}
                    Err(e) => return Err(self.blob(e)),
                }
                self.backend.delete(&path).await.map_err(|e| self.blob(e))?;
            }
        }
        report.pruned = prune;
        Ok(report)
    }

    /// Brings back pruned generations of `s` (all of them still in
    /// tombstones, i.e. not yet purged by gc). Returns the generations
    /// restored.
    pub async fn undelete(&self, s: &Stack) -> Result<Vec<u64>, MirrorError> {
        let mut back = BTreeSet::new();
        for t in self
            .backend
            .list(&layout::tombstones())
            .await
            .map_err(|e| self.blob(e))?
        {
            let Some((_, original)) = layout::parse_tombstone(&t) else {
                continue;
            };
            let Some((stack, n, _)) = layout::parse_chunk(&original) else {
                continue;
            };
            if stack != *s {
                continue;
            }
            let (sealed, _) = self.backend.get(&t).await.map_err(|e| self.blob(e))?;
            // Still sealed for its original path: check it opens there.
            envelope::open(self.keys.as_ref(), &original, &sealed)?;
            match self.backend.put_new(&original, &sealed).await {
                Ok(_) | Err(BlobError::Exists { .. }) => {}
                Err(e) => return Err(self.blob(e)),
            }
            self.backend.delete(&t).await.map_err(|e| self.blob(e))?;
            back.insert(n);
        }
        Ok(back.into_iter().collect())
    }

    /// Purges tombstones older than `retention_days` for their stack's
    /// environment, never those of a held generation.
    pub async fn gc(
        &self,
        now: UtcTime,
        retention_days: &dyn Fn(&Stack) -> u32,
    ) -> Result<GcReport, MirrorError> {
        let mut report = GcReport::default();
        let holds: BTreeSet<(Stack, u64)> = self
            .backend
            .list(&layout::holds())
            .await
            .map_err(|e| self.blob(e))?
            .iter()
            .filter_map(|p| layout::parse_hold(p))
            .collect();
        for t in self
            .backend
            .list(&layout::tombstones())
            .await
            .map_err(|e| self.blob(e))?
        {
            let Some((at, original)) = layout::parse_tombstone(&t) else {
                continue;
            };
            let chunk = layout::parse_chunk(&original);
            if let Some((s, n, _)) = &chunk
                && holds.contains(&(s.clone(), *n))
            {
                report.held += 1;
                continue;
            }
            let days = chunk.as_ref().map_or(30, |(s, _, _)| retention_days(s));
            if now.0 - at < i64::from(days) * 86_400_000 {
                report.within_retention += 1;
                continue;
            }
            self.backend.delete(&t).await.map_err(|e| self.blob(e))?;
            report.purged += 1;
        }
        Ok(report)
    }

    /// The base checkpoint standing for generations before `n` of `s`.
    pub(super) async fn read_base(&self, s: &Stack, n: u64) -> Result<Checkpoint, MirrorError> {
        let path = layout::base(s, n);
        let (bytes, _) = self.get(&path).await?;
        decode(&path, &bytes)
    }
}

/// "1..4, 7" for a set of numbers.
pub fn range_text(set: &BTreeSet<u64>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut it = set.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end = it.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..{end}")
        });
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}
