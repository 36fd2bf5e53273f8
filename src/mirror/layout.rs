//! Where each record lives in the mirror. Every path starts with the layout
//! version, so a later layout can live beside this one.
//!
//! ```text
//! v1/manifest                                what every push recorded (CAS)
//! v1/store/data-key                          the store's sensitive-value key
//! v1/objects/<sha256 hex>                    one content-addressed object
//! v1/releases/<estate>/<version>             one release record
//! v1/stacks/<estate>/<env>/gen/<n>.<chunk>   one generation, chunked
//! v1/stacks/<estate>/<env>/HEAD              the newest generation (CAS)
//! v1/stacks/<estate>/<env>/base/<n>          state before generation n, once older ones are pruned
//! v1/stacks/<estate>/<env>/lock              the apply lease
//! v1/audit/<first>-<last>                    a run of audit records
//! v1/tombstones/<unix ms>/<original path>    a pruned blob, until gc
//! v1/holds/<estate>/<env>/<n>                a legal hold on a generation
//! ```
//!
//! Everything but HEAD (compare-and-swap) is written create-only.

use crate::model::{Digest, Stack};

/// The layout version prefix.
pub const ROOT: &str = "v1";

/// The store's sensitive-value key.
pub fn data_key() -> String {
    format!("{ROOT}/store/data-key")
}

/// The record of everything pushed (see `manifest.rs`).
pub fn manifest() -> String {
    format!("{ROOT}/manifest")
}

/// Prefix of every object.
pub fn objects() -> String {
    format!("{ROOT}/objects/")
}

/// One object.
pub fn object(d: &Digest) -> String {
    format!("{ROOT}/objects/{}", d.to_hex())
}

/// Prefix of every pack of objects.
pub fn packs() -> String {
    format!("{ROOT}/packs/")
}

/// One pack, named by the digest of its members' digests.
pub fn pack(name: &Digest) -> String {
    format!("{ROOT}/packs/{}", name.to_hex())
}

/// Prefix of every release.
pub fn releases() -> String {
    format!("{ROOT}/releases/")
}

/// One release.
pub fn release(estate: &str, version: &str) -> String {
    format!("{ROOT}/releases/{estate}/{version}")
}

/// Prefix of every stack.
pub fn stacks() -> String {
    format!("{ROOT}/stacks/")
}

/// Prefix of one stack.
pub fn stack(s: &Stack) -> String {
    format!("{ROOT}/stacks/{}/{}/", s.estate, s.env)
}

/// A stack's HEAD pointer.
pub fn head(s: &Stack) -> String {
    format!("{}HEAD", stack(s))
}

/// A stack's apply lease blob.
pub fn lock(s: &Stack) -> String {
    format!("{}lock", stack(s))
}

/// Prefix of one generation's chunks.
pub fn generation(s: &Stack, n: u64) -> String {
    format!("{}gen/{n:010}.", stack(s))
}

/// One chunk of a generation.
pub fn chunk(s: &Stack, n: u64, k: u32) -> String {
    format!("{}{k:04}", generation(s, n))
}

/// Prefix of one stack's generation chunks.
pub fn generations(s: &Stack) -> String {
    format!("{}gen/", stack(s))
}

/// The base checkpoint that stands for the pruned generations before `n`.
pub fn base(s: &Stack, n: u64) -> String {
    format!("{}base/{n:010}", stack(s))
}

/// Prefix of the audit runs.
pub fn audit() -> String {
    format!("{ROOT}/audit/")
}

/// A run of audit records.
pub fn audit_run(first: u64, last: u64) -> String {
    format!("{ROOT}/audit/{first:012}-{last:012}")
}

/// Prefix of tombstones.
pub fn tombstones() -> String {
    format!("{ROOT}/tombstones/")
}

/// The tombstone of `path`, deleted at `at_ms`.
pub fn tombstone(at_ms: i64, path: &str) -> String {
    format!("{ROOT}/tombstones/{at_ms:013}/{path}")
}

/// A legal hold on generation `n` of a stack.
pub fn hold(s: &Stack, n: u64) -> String {
    format!("{ROOT}/holds/{}/{}/{n:010}", s.estate, s.env)
}

/// Prefix of every hold.
pub fn holds() -> String {
    format!("{ROOT}/holds/")
}

/// The stack and generation a generation chunk path belongs to.
pub fn parse_chunk(path: &str) -> Option<(Stack, u64, u32)> {
    let rest = path.strip_prefix(&format!("{ROOT}/stacks/"))?;
    let mut parts = rest.split('/');
    let (estate, env, g, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if g != "gen" || parts.next().is_some() {
        return None;
    }
    let (n, k) = file.split_once('.')?;
    Some((
        Stack::new(estate, env).ok()?,
        n.parse().ok()?,
        k.parse().ok()?,
    ))
}

/// The stack a HEAD path belongs to.
pub fn parse_head(path: &str) -> Option<Stack> {
    let rest = path.strip_prefix(&format!("{ROOT}/stacks/"))?;
    let mut parts = rest.split('/');
    let (estate, env, file) = (parts.next()?, parts.next()?, parts.next()?);
    (file == "HEAD" && parts.next().is_none())
        .then(|| Stack::new(estate, env).ok())
        .flatten()
}

/// The deletion time and original path of a tombstone.
pub fn parse_tombstone(path: &str) -> Option<(i64, String)> {
    let rest = path.strip_prefix(&format!("{ROOT}/tombstones/"))?;
    let (at, original) = rest.split_once('/')?;
    Some((at.parse().ok()?, original.to_string()))
}

/// The generation a hold path names.
pub fn parse_hold(path: &str) -> Option<(Stack, u64)> {
    let rest = path.strip_prefix(&format!("{ROOT}/holds/"))?;
    let mut parts = rest.split('/');
    let (estate, env, n) = (parts.next()?, parts.next()?, parts.next()?);
    Some((Stack::new(estate, env).ok()?, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_back() {
        let s = Stack::new("chatwoot", "prod").unwrap();
        let c = chunk(&s, 42, 3);
        assert_eq!(c, "v1/stacks/chatwoot/prod/gen/0000000042.0003");
        assert_eq!(parse_chunk(&c), Some((s.clone(), 42, 3)));
        assert_eq!(parse_head(&head(&s)), Some(s.clone()));
        assert_eq!(parse_head(&lock(&s)), None);
        assert_eq!(parse_chunk(&head(&s)), None);
    }
}
