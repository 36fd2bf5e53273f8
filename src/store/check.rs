use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable};

use super::codec;
use super::db::{ReadObjects, Store};
use super::error::StoreError;
use super::journal::{JournalEntry, JournalResolution};
use super::locks::LockInfo;
use super::object::{self, Object, Objects};
use super::schema;
use super::tree;
use crate::model::{AuditEntry, Digest, Generation, Outcome, Release};

/// What `statectl store check` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Whether the storage engine's own check (page checksums, allocator)
    /// passed without repair.
    pub engine_ok: bool,
    /// Releases read.
    pub releases: u64,
    /// Generations read.
    pub generations: u64,
    /// Objects read and verified against their digests.
    pub objects: u64,
    /// Audit records read.
    pub audit_entries: u64,
    /// Journal entries read.
    pub journal_entries: u64,
    /// Delta rows read.
    pub delta_rows: u64,
    /// Every problem found, one line each; empty when the store is sound.
    pub problems: Vec<String>,
}

impl Store {
    /// Walks everything, like redb's `check_integrity()`: the engine check,
    /// then every record of every table decoded, every object checked against
    /// its digest, every tree of every release and generation walked to its
    /// leaves, and the audit sequence checked for gaps.
    pub fn check(&mut self) -> Result<CheckReport, StoreError> {
        let path = self.path.clone();
        super::guard::contain(&path, || self.check_inner())
    }

    fn check_inner(&mut self) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        {
            let db = Arc::get_mut(&mut self.db)
                .ok_or_else(|| StoreError::Bug("store is shared while checking".into()))?;
            report.engine_ok = match db.check_integrity() {
                Ok(ok) => ok,
                Err(e) => {
                    report.problems.push(format!("storage engine: {e}"));
                    false
                }
            };
        }
        if !report.engine_ok && report.problems.is_empty() {
            report
                .problems
                .push("storage engine: the file needed repair (it was repaired)".into());
        }
        let txn = self.db.begin_read()?;
        let objs = ReadObjects::open(&txn)?;
        let mut problems = Vec::new();

        // Every object: digest and decoding.
        let mut all_objects = BTreeSet::new();
        for row in objs.table.iter()? {
            let (k, v) = row?;
            report.objects += 1;
            let key = k.value();
            let Ok(arr) = <[u8; 32]>::try_from(key) else {
                problems.push(format!(
                    "objects: key of {} bytes is not a digest",
                    key.len()
                ));
                continue;
            };
            let d = Digest(arr);
            all_objects.insert(d);
            if Digest::of(v.value()) != d {
                problems.push(format!(
                    "objects/{}: content does not match its digest",
                    d.short()
                ));
                continue;
            }
            if let Err(e) = codec::decode::<Object>(v.value()) {
                problems.push(format!("objects/{}: {e}", d.short()));
            }
        }

        // Every observed object kept in a delta row: the row exists and
        // hashes to it (object::get checks the digest).
        match txn.open_table(schema::OBSERVED_AT) {
            Ok(at) => {
                for row in at.iter()? {
                    let (k, _) = row?;
                    let Ok(arr) = <[u8; 32]>::try_from(k.value()) else {
                        problems.push(format!(
                            "observed_at: key of {} bytes is not a digest",
                            k.value().len()
                        ));
                        continue;
                    };
                    let d = Digest(arr);
                    report.objects += 1;
                    if let Err(e) = object::get(&objs as &dyn Objects, &d, "observed_at") {
                        problems.push(format!("observed_at/{}: {e}", d.short()));
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }

        let walk = |what: &str, root: &Digest, problems: &mut Vec<String>| {
            let mut leaves = Vec::new();
            let r = tree::walk_nodes(&objs, root, &mut |_, n| {
                if let tree::Node::Leaf(entries) = n {
                    leaves.extend(entries.iter().map(|(a, d)| (a.clone(), *d)));
                }
            });
            if let Err(e) = r {
                problems.push(format!("{what}: {e}"));
                return;
            }
            for (a, d) in leaves {
                if let Err(e) = object::get(&objs as &dyn Objects, &d, &a.to_string()) {
                    problems.push(format!("{what} {a}: {e}"));
                }
            }
        };

        let releases = txn.open_table(schema::RELEASES)?;
        for row in releases.iter()? {
            let (k, v) = row?;
            let (e, ver) = k.value();
            report.releases += 1;
            match codec::decode::<Release>(v.value()) {
                Ok(r) => {
                    for (env, re) in &r.environments {
                        let what = format!("release {e} v{ver} env {env}");
                        if let Err(err) = object::get(&objs as &dyn Objects, &re.header, &what) {
                            problems.push(format!("{what} header: {err}"));
                        }
                        walk(&what, &re.root, &mut problems);
                    }
                }
                Err(err) => problems.push(format!("releases/{e}/{ver}: {err}")),
            }
        }

        let gens = txn.open_table(schema::GENERATIONS)?;
        // Whether each stack's latest generation is in progress.
        let mut in_progress: BTreeMap<String, bool> = BTreeMap::new();
        for row in gens.iter()? {
            let (k, v) = row?;
            let (s, n) = k.value();
            report.generations += 1;
            in_progress.insert(s.to_string(), false);
            match codec::decode::<Generation>(v.value()) {
                Ok(g) => {
                    in_progress.insert(s.to_string(), g.outcome == Outcome::InProgress);
                    walk(
                        &format!("generation {s}#{n} checkpoint {}", g.base.seq),
                        &g.base.root,
                        &mut problems,
                    );
                    if let Err(err) = tree::walk_nodes(&objs, &g.base.applied, &mut |_, _| {}) {
                        problems.push(format!("generation {s}#{n} applied tree: {err}"));
                    }
                    if g.last_seq < g.base.seq {
                        problems.push(format!(
                            "generation {s}#{n}: last row {} is before its checkpoint {}",
                            g.last_seq, g.base.seq
                        ));
                    }
                }
                Err(err) => problems.push(format!("generations/{s}#{n}: {err}")),
            }
        }

        // A stack's rows, in both tables together, run 1, 2, 3, ... (from
        // after a pruned mirror's base, for a restored stack) without gaps;
        // which table holds each is checked against the checkpoints below.
        let rows = super::rows::ReadRows::read(&txn)?;
        let mut seqs: BTreeMap<String, Vec<(u64, bool)>> = BTreeMap::new();
        for (table, t) in rows.tables() {
            for row in t.iter()? {
                let (k, v) = row?;
                let (s, n) = k.value();
                report.delta_rows += 1;
                seqs.entry(s.to_string())
                    .or_default()
                    .push((n, table == super::rows::FOLDED));
                if let Err(e) = codec::decode::<super::generations::DeltaRow>(v.value()) {
                    problems.push(format!("{table}/{s}@{n}: {e}"));
                }
            }
        }
        let checkpoints = txn.open_table(schema::CHECKPOINTS)?;
        let mut latest_checkpoint: BTreeMap<String, u64> = BTreeMap::new();
        for row in checkpoints.iter()? {
            let (k, v) = row?;
            let (s, n) = k.value();
            latest_checkpoint.insert(s.to_string(), n);
            match codec::decode::<crate::model::Checkpoint>(v.value()) {
                Ok(cp) => {
                    walk(&format!("checkpoint {s}@{n}"), &cp.root, &mut problems);
                    if let Err(err) = tree::walk_nodes(&objs, &cp.applied, &mut |_, _| {}) {
                        problems.push(format!("checkpoint {s}@{n} applied tree: {err}"));
                    }
                }
                Err(e) => problems.push(format!("checkpoints/{s}@{n}: {e}")),
            }
        }
        for (s, mut v) in seqs {
            v.sort_unstable();
            let cp = latest_checkpoint.get(&s).copied().unwrap_or(0);
            let busy = in_progress.get(&s).copied().unwrap_or(false);
            // One line per kind of problem and stack: a misplaced table is
            // one fault however many rows it covers.
            let mut seen = BTreeSet::new();
            for (i, &(n, folded)) in v.iter().enumerate() {
                let problem = match v.get(i + 1) {
                    Some(&(next, _)) if next == n => Some((
                        "both",
                        format!("deltas/{s}@{n}: the row is in both `deltas` and `folded_deltas`"),
                    )),
                    Some(&(next, _)) if next != n + 1 => Some((
                        "gap",
                        format!("deltas/{s}: rows jump from {n} to {next}"),
                    )),
                    _ => None,
                }
                .or_else(|| {
                    (!folded && n <= cp).then(|| {
                        ("unmoved", format!(
                            "deltas/{s}@{n}: checkpoint {s}@{cp} folded this row, but it is not in `folded_deltas`"
                        ))
                    })
                })
                .or_else(|| {
                    (folded && n > cp && !busy).then(|| {
                        ("early", format!(
                            "folded_deltas/{s}@{n}: no checkpoint folds this row (the latest is {cp}); it belongs in `deltas`"
                        ))
                    })
                });
                if let Some((kind, line)) = problem
                    && seen.insert(kind)
                {
                    problems.push(line);
                }
            }
        }

        let audit = txn.open_table(schema::AUDIT)?;
        let mut expect = 1;
        for row in audit.iter()? {
            let (k, v) = row?;
            report.audit_entries += 1;
            if k.value() != expect {
                problems.push(format!(
                    "audit: sequence jumps from {} to {}",
                    expect - 1,
                    k.value()
                ));
            }
            expect = k.value() + 1;
            if let Err(e) = codec::decode::<AuditEntry>(v.value()) {
                problems.push(format!("audit/{}: {e}", k.value()));
            }
        }

        let journal = txn.open_table(schema::JOURNAL)?;
        for row in journal.iter()? {
            let (k, v) = row?;
            report.journal_entries += 1;
            if let Err(e) = codec::decode::<JournalEntry>(v.value()) {
                let (s, n) = k.value();
                problems.push(format!("journal/{s}#{n}: {e}"));
            }
        }
        let ends = txn.open_table(schema::JOURNAL_ENDS)?;
        for row in ends.iter()? {
            let (k, v) = row?;
            let (s, n) = k.value();
            if let Err(e) = codec::decode::<JournalResolution>(v.value()) {
                problems.push(format!("journal_ends/{s}#{n}: {e}"));
            }
            if journal.get((s, n))?.is_none() {
                problems.push(format!(
                    "journal_ends/{s}#{n}: resolves a journal entry that does not exist"
                ));
            }
        }
        let locks = txn.open_table(schema::LOCKS)?;
        for row in locks.iter()? {
            let (k, v) = row?;
            if let Err(e) = codec::decode::<LockInfo>(v.value()) {
                problems.push(format!("locks/{}: {e}", k.value()));
            }
        }
        report.problems.extend(problems);
        Ok(report)
    }
}
