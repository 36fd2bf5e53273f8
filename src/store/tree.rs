//! A content-addressed map from resource address to object digest: a hash
//! array mapped trie with 16-way branches.
//!
//! The shape is a function of the entries alone (a node at depth `d` with at
//! most [`LEAF_MAX`] entries under it is a leaf, otherwise a branch on the
//! `d`-th nibble of SHA-256 of the address), so equal maps have equal root
//! digests whatever their history. Changing one entry rewrites one leaf and
//! the branches above it (about log16(N / 32) of them, 16 children each),
//! so a one-resource commit to a 100,000-resource stack writes a few KiB,
//! and unchanged subtrees are shared between every release and generation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::object::{self, Object, Objects};
use crate::model::{Address, Digest};

/// One differing entry: `(address, digest in a, digest in b)`.
pub type DiffEntry = (Address, Option<Digest>, Option<Digest>);

/// Most entries a leaf holds before it splits.
pub const LEAF_MAX: usize = 32;
const MAX_DEPTH: usize = 64;

/// A tree node.
///
/// Invariant: a `Leaf` has at most [`LEAF_MAX`] entries (unless at the
/// maximal depth), sorted by address and unique; a `Branch` has more than
/// `LEAF_MAX` entries under it, its children sorted by nibble, none empty,
/// each with its entry count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// Entries, sorted by address.
    Leaf(Vec<(Address, Digest)>),
    /// Children by nibble: (nibble, child digest, entries under the child).
    Branch(Vec<(u8, Digest, u64)>),
}

fn key_hash(a: &Address) -> Digest {
    Digest::of(a.to_string().as_bytes())
}

fn nibble(h: &Digest, depth: usize) -> u8 {
    let b = h.0[depth / 2];
    if depth.is_multiple_of(2) {
        b >> 4
    } else {
        b & 0x0f
    }
}

fn load(objects: &dyn Objects, digest: &Digest) -> Result<Node, StoreError> {
    match object::get(objects, digest, "tree node")? {
        Object::Node(n) => Ok(n),
        _ => Err(StoreError::Bug(format!(
            "object {} is not a tree node",
            digest.short()
        ))),
    }
}

fn store(objects: &mut dyn Objects, node: Node) -> Result<Digest, StoreError> {
    object::put(objects, &Object::Node(node))
}

/// The root of the empty map (stored on first use).
pub fn empty(objects: &mut dyn Objects) -> Result<Digest, StoreError> {
    store(objects, Node::Leaf(Vec::new()))
}

/// Builds a tree holding `entries` and returns its root.
pub fn build(
    objects: &mut dyn Objects,
    entries: &BTreeMap<Address, Digest>,
) -> Result<Digest, StoreError> {
    let mut hashed: Vec<(Digest, Address, Digest)> = entries
        .iter()
        .map(|(a, d)| (key_hash(a), a.clone(), *d))
        .collect();
    hashed.sort();
    build_level(objects, 0, &hashed)
}

fn build_level(
    objects: &mut dyn Objects,
    depth: usize,
    entries: &[(Digest, Address, Digest)],
) -> Result<Digest, StoreError> {
    if entries.len() <= LEAF_MAX || depth >= MAX_DEPTH {
        let mut leaf: Vec<(Address, Digest)> =
            entries.iter().map(|(_, a, d)| (a.clone(), *d)).collect();
        leaf.sort();
        return store(objects, Node::Leaf(leaf));
    }
    let mut children = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let n = nibble(&entries[start].0, depth);
        let end = start
            + entries[start..]
                .iter()
                .take_while(|e| nibble(&e.0, depth) == n)
                .count();
        let child = build_level(objects, depth + 1, &entries[start..end])?;
        children.push((n, child, (end - start) as u64));
        start = end;
    }
    store(objects, Node::Branch(children))
}

/// Applies `changes` (address -> new digest, or `None` to remove) to the
/// tree at `root` and returns the new root. Only the paths to changed
/// entries are rewritten.
pub fn update(
    objects: &mut dyn Objects,
    root: &Digest,
    changes: &BTreeMap<Address, Option<Digest>>,
) -> Result<Digest, StoreError> {
    if changes.is_empty() {
        return Ok(*root);
    }
    let mut hashed: Vec<(Digest, Address, Option<Digest>)> = changes
        .iter()
        .map(|(a, d)| (key_hash(a), a.clone(), *d))
        .collect();
    hashed.sort();
    Ok(update_level(objects, 0, Some(root), &hashed)?.0)
}

/// Returns the new node digest and its entry count.
fn update_level(
    objects: &mut dyn Objects,
    depth: usize,
    node: Option<&Digest>,
    changes: &[(Digest, Address, Option<Digest>)],
) -> Result<(Digest, u64), StoreError> {
    let current = match node {
        Some(d) => load(objects, d)?,
        None => Node::Leaf(Vec::new()),
    };
    match current {
        Node::Leaf(entries) => {
            let mut map: BTreeMap<Address, Digest> = entries.into_iter().collect();
            for (_, a, d) in changes {
                match d {
                    Some(d) => map.insert(a.clone(), *d),
                    None => map.remove(a),
                };
            }
            let count = map.len() as u64;
            let mut hashed: Vec<(Digest, Address, Digest)> =
                map.into_iter().map(|(a, d)| (key_hash(&a), a, d)).collect();
            hashed.sort();
            Ok((build_level(objects, depth, &hashed)?, count))
        }
        Node::Branch(children) => {
            let mut by_nibble: BTreeMap<u8, (Digest, u64)> =
                children.into_iter().map(|(n, d, c)| (n, (d, c))).collect();
            let mut start = 0;
            while start < changes.len() {
                let n = nibble(&changes[start].0, depth);
                let end = start
                    + changes[start..]
                        .iter()
                        .take_while(|c| nibble(&c.0, depth) == n)
                        .count();
                let old = by_nibble.get(&n).map(|(d, _)| *d);
                let (child, count) =
                    update_level(objects, depth + 1, old.as_ref(), &changes[start..end])?;
                if count == 0 {
                    by_nibble.remove(&n);
                } else {
                    by_nibble.insert(n, (child, count));
                }
                start = end;
            }
            let total: u64 = by_nibble.values().map(|(_, c)| c).sum();
            if total as usize <= LEAF_MAX {
                // Collapse: few enough entries for one leaf again.
                let mut all = BTreeMap::new();
                for (d, _) in by_nibble.values() {
                    collect(objects, d, &mut all)?;
                }
                let leaf: Vec<(Address, Digest)> = all.into_iter().collect();
                return Ok((store(objects, Node::Leaf(leaf))?, total));
            }
            let children = by_nibble.into_iter().map(|(n, (d, c))| (n, d, c)).collect();
            Ok((store(objects, Node::Branch(children))?, total))
        }
    }
}

fn collect(
    objects: &dyn Objects,
    digest: &Digest,
    out: &mut BTreeMap<Address, Digest>,
) -> Result<(), StoreError> {
    match load(objects, digest)? {
        Node::Leaf(entries) => out.extend(entries),
        Node::Branch(children) => {
            for (_, d, _) in children {
                collect(objects, &d, out)?;
            }
        }
    }
    Ok(())
}

/// The number of entries (read from the root alone).
pub fn count(objects: &dyn Objects, root: &Digest) -> Result<u64, StoreError> {
    Ok(match load(objects, root)? {
        Node::Leaf(e) => e.len() as u64,
        Node::Branch(c) => c.iter().map(|(_, _, n)| n).sum(),
    })
}

/// Every entry of the tree.
pub fn entries(
    objects: &dyn Objects,
    root: &Digest,
) -> Result<BTreeMap<Address, Digest>, StoreError> {
    let mut out = BTreeMap::new();
    collect(objects, root, &mut out)?;
    Ok(out)
}

/// The digest stored for one address.
pub fn get(
    objects: &dyn Objects,
    root: &Digest,
    addr: &Address,
) -> Result<Option<Digest>, StoreError> {
    let h = key_hash(addr);
    let mut digest = *root;
    for depth in 0..=MAX_DEPTH {
        match load(objects, &digest)? {
            Node::Leaf(entries) => {
                return Ok(entries
                    .binary_search_by(|(a, _)| a.cmp(addr))
                    .ok()
                    .map(|i| entries[i].1));
            }
            Node::Branch(children) => {
                let n = nibble(&h, depth);
                match children.iter().find(|(c, _, _)| *c == n) {
                    Some((_, d, _)) => digest = *d,
                    None => return Ok(None),
                }
            }
        }
    }
    Ok(None)
}

/// Entries that differ between two trees: `(address, in a, in b)`. Equal
/// subtrees are skipped without being read, so comparing two versions costs
/// O(changes), not O(entries).
pub fn diff(objects: &dyn Objects, a: &Digest, b: &Digest) -> Result<Vec<DiffEntry>, StoreError> {
    let mut out = Vec::new();
    diff_nodes(objects, Some(a), Some(b), &mut out)?;
    out.sort();
    Ok(out)
}

fn diff_nodes(
    objects: &dyn Objects,
    a: Option<&Digest>,
    b: Option<&Digest>,
    out: &mut Vec<DiffEntry>,
) -> Result<(), StoreError> {
    if a == b {
        return Ok(());
    }
    let na = a.map(|d| load(objects, d)).transpose()?;
    let nb = b.map(|d| load(objects, d)).transpose()?;
    if let (Some(Node::Branch(ca)), Some(Node::Branch(cb))) = (&na, &nb) {
        let ma: BTreeMap<u8, Digest> = ca.iter().map(|(n, d, _)| (*n, *d)).collect();
        let mb: BTreeMap<u8, Digest> = cb.iter().map(|(n, d, _)| (*n, *d)).collect();
        for n in 0u8..16 {
            diff_nodes(objects, ma.get(&n), mb.get(&n), out)?;
        }
        return Ok(());
    }
    let mut ea = BTreeMap::new();
    if let Some(d) = a {
        collect(objects, d, &mut ea)?;
    }
    let mut eb = BTreeMap::new();
    if let Some(d) = b {
        collect(objects, d, &mut eb)?;
    }
    for (addr, da) in &ea {
        match eb.get(addr) {
            Some(db) if db == da => {}
            other => out.push((addr.clone(), Some(*da), other.copied())),
        }
    }
    for (addr, db) in eb {
        if !ea.contains_key(&addr) {
            out.push((addr, None, Some(db)));
        }
    }
    Ok(())
}

/// Calls `f` on the digest of every node of the tree (for integrity checks
/// and the mirror).
pub fn walk_nodes(
    objects: &dyn Objects,
    root: &Digest,
    f: &mut dyn FnMut(&Digest, &Node),
) -> Result<(), StoreError> {
    let node = load(objects, root)?;
    f(root, &node);
    if let Node::Branch(children) = &node {
        for (_, d, _) in children {
            walk_nodes(objects, d, f)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::object::MemObjects;
    use proptest::prelude::*;

    fn addr(i: usize) -> Address {
        Address::new("m", &format!("r{i}")).unwrap()
    }

    fn d(i: u64) -> Digest {
        Digest::of(&i.to_le_bytes())
    }

    #[test]
    fn shape_is_canonical_and_updates_are_local() {
        let mut objs = MemObjects::default();
        let full: BTreeMap<Address, Digest> = (0..1000).map(|i| (addr(i), d(i as u64))).collect();
        let root = build(&mut objs, &full).unwrap();
        assert_eq!(entries(&objs, &root).unwrap(), full);
        assert_eq!(get(&objs, &root, &addr(7)).unwrap(), Some(d(7)));
        assert_eq!(get(&objs, &root, &addr(5000)).unwrap(), None);

        let before = objs.0.len();
        let change = BTreeMap::from([(addr(7), Some(d(99_999)))]);
        let root2 = update(&mut objs, &root, &change).unwrap();
        let written = objs.0.len() - before;
        assert!(written <= 4, "one change wrote {written} nodes");
        let mut expect = full.clone();
        expect.insert(addr(7), d(99_999));
        // Same content built from scratch gives the same root.
        assert_eq!(build(&mut objs, &expect).unwrap(), root2);
        assert_eq!(
            diff(&objs, &root, &root2).unwrap(),
            vec![(addr(7), Some(d(7)), Some(d(99_999)))]
        );
    }

    proptest! {
        #[test]
        fn update_equals_build(
            initial in prop::collection::btree_map(0usize..300, 0u64..5, 0..120),
            changes in prop::collection::btree_map(0usize..300, prop::option::of(0u64..5), 0..80),
        ) {
            let mut objs = MemObjects::default();
            let init: BTreeMap<Address, Digest> = initial.iter().map(|(k, v)| (addr(*k), d(*v))).collect();
            let root = build(&mut objs, &init).unwrap();
            let ch: BTreeMap<Address, Option<Digest>> = changes.iter().map(|(k, v)| (addr(*k), v.map(d))).collect();
            let updated = update(&mut objs, &root, &ch).unwrap();
            let mut expect = init.clone();
            for (k, v) in &ch {
                match v { Some(v) => { expect.insert(k.clone(), *v); } None => { expect.remove(k); } }
            }
            prop_assert_eq!(entries(&objs, &updated).unwrap(), expect.clone());
            prop_assert_eq!(build(&mut objs, &expect).unwrap(), updated);
            let changed: Vec<Address> = diff(&objs, &root, &updated).unwrap().into_iter().map(|(a, _, _)| a).collect();
            let want: Vec<Address> = ch.keys().filter(|k| init.get(*k) != expect.get(*k)).cloned().collect();
            prop_assert_eq!(changed, want);
        }
    }
}
