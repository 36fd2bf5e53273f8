//! The simulated Azure control plane: the embedded default provider.
//!
//! It keeps its resources in `<state dir>/sim.redb` (so they survive between
//! commands) and behaves like ARM where it matters for ordering and safety:
//! it rejects a write whose parent, scope, resource group, linked resource,
//! principal, private DNS zone link or Key Vault certificate does not exist
//! yet ([`rules`]), and a delete of something still in use; it computes ids
//! and read-only attributes ([`attrs`]); a deleted Key Vault stays
//! soft-deleted for its retention and holds its name, and purge protection
//! forbids purging it. Each operation sleeps its catalog duration on the
//! tokio clock: run on a paused runtime, the makespan is exact and costs no
//! wall time. Faults can be injected ([`FaultPlan`]) and resources edited
//! out of band, for drift and drills.

pub mod attrs;
pub mod rules;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redb::{ConcurrencyMode, Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{DeleteMode, Operation, Provider, ProviderError, ResolvedResource};
use crate::catalog;
use crate::clock::Clock;
use crate::model::{Address, ObservedResource, UtcTime, Value};
use rules::Index;

const RESOURCES: TableDefinition<&str, &[u8]> = TableDefinition::new("resources");
const SOFT_DELETED: TableDefinition<&str, &[u8]> = TableDefinition::new("soft_deleted");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const LOST: TableDefinition<&str, &[u8]> = TableDefinition::new("lost");

/// The file name of the simulator's database inside a state directory.
pub const SIM_FILE: &str = "sim.redb";

/// One simulated resource, as the simulated cloud stores it (never a
/// secret: those are derived from the id when read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimRecord {
    /// Where statectl declared it.
    pub address: Address,
    /// ARM type.
    pub arm_type: String,
    /// Azure name.
    pub name: String,
    /// ARM id.
    pub id: String,
    /// Properties as last written (or edited out of band).
    pub properties: BTreeMap<String, Value>,
    /// Non-secret computed attributes.
    pub attributes: BTreeMap<String, Value>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Dependencies as written.
    pub dependencies: std::collections::BTreeSet<Address>,
    /// Lifecycle flag as written.
    pub prevent_destroy: bool,
    /// Principal id, for identities.
    pub principal: Option<String>,
    /// When created.
    pub created_at: UtcTime,
    /// When last written.
    pub updated_at: UtcTime,
}

/// A Key Vault name held by a soft-deleted vault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoftDeleted {
    /// The vault's id.
    pub id: String,
    /// When it was deleted.
    pub deleted_at: UtcTime,
    /// Days it is kept.
    pub retention_days: u32,
    /// Whether purging is forbidden.
    pub purge_protection: bool,
}

/// Faults to inject, persisted with the simulator so they apply across
/// commands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Fail the n-th operation (counted from when the fault was set), on one
    /// type or on any.
    pub fail_nth: Vec<FailNth>,
    /// Fail each operation with this probability, from this seed.
    pub fail_random: Option<(u64, f64)>,
    /// Abort the process right after the k-th operation (counted from when
    /// set) took effect in the simulated cloud: the crash the journal exists for.
    pub crash_at: Option<u64>,
}

/// Fail the `nth` operation on `arm_type` (or on any type when `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailNth {
    /// The type, or any.
    pub arm_type: Option<String>,
    /// Which operation, from 1.
    pub nth: u64,
}

/// How long simulated operations take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SimTiming {
    /// The catalog's durations (on a paused runtime: virtual time).
    Catalog,
    /// No time at all (benchmarks of statectl itself).
    Zero,
    /// The catalog's durations divided by this factor (demos on a real clock).
    Scaled(f64),
}

/// Whether each simulated write is made durable before it is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimDurability {
    /// Every operation is committed to `sim.redb` before it returns, like a
    /// real cloud: crash tests need this.
    Durable,
    /// Written at [`Sim::flush`] or drop: for benchmarks of statectl itself.
    Deferred,
}

/// Why the simulator's own storage failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The database failed.
    #[error("simulator storage {path}: {message}")]
    Storage {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// No such resource.
    #[error("the simulator holds no resource `{0}`; `statectl sim list` shows what it holds")]
    NotFound(String),
    /// Refused.
    #[error("{0}")]
    Refused(String),
}

/// A stateful resource that was deleted, with what its backups allow: the
/// simulated cloud keeps backups after a delete, as Azure does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lost {
    /// The resource as it was.
    pub record: SimRecord,
    /// When it was lost.
    pub lost_at: UtcTime,
}

#[derive(Default)]
struct State {
    records: BTreeMap<String, SimRecord>,
    soft_deleted: BTreeMap<String, SoftDeleted>,
    lost: BTreeMap<String, Lost>,
    meta: Meta,
    index: Index,
    dirty: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Meta {
    ops: u64,
    ops_by_type: BTreeMap<String, u64>,
    faults: FaultPlan,
    /// Operation counters when the faults were set.
    faults_base: u64,
    faults_base_by_type: BTreeMap<String, u64>,
}

/// The simulated Azure control plane.
///
/// Invariant: the in-memory state is the truth for this process and is
/// written through to `sim.redb` after every operation in durable mode;
/// secrets are derived, never stored.
pub struct Sim {
    path: PathBuf,
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
    timing: SimTiming,
    durability: SimDurability,
    state: Mutex<State>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("path", &self.path).finish()
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Sim {
    /// Opens (creating) the simulator in `dir`.
    pub fn open(
        dir: &Path,
        clock: Arc<dyn Clock>,
        timing: SimTiming,
        durability: SimDurability,
    ) -> Result<Sim, SimError> {
        let path = dir.join(SIM_FILE);
        let err = |e: &dyn std::fmt::Display| SimError::Storage {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let open = |p: &Path| {
            std::panic::catch_unwind(|| {
                let mut b = Database::builder();
                b.set_concurrency_mode(ConcurrencyMode::MultiWriter);
                b.set_cache_size(16 * 1024 * 1024);
                b.create(p)
            })
            .map_err(|_| {
                err(&"the simulator database is damaged; delete it to start an empty simulated cloud")
            })?
            .map_err(|e| err(&e))
        };
        // A new simulator is created whole or not at all, so a process
        // killed while creating it leaves no file that later opens refuse.
        if !path.exists() {
            crate::util::create_atomically(&path, |tmp| {
                let db = open(tmp)?;
                let w = db.begin_write().map_err(|e| err(&e))?;
                for t in [RESOURCES, SOFT_DELETED, LOST, META] {
                    w.open_table(t).map_err(|e| err(&e))?;
                }
                w.commit().map_err(|e| err(&e))
            })
            .map_err(|e| match e {
                crate::util::CreateError::Init(e) => e,
                crate::util::CreateError::Io(action, p, source) => {
                    err(&format!("{action} {}: {source}", p.display()))
                }
            })?;
        }
        let db = open(&path)?;
        let sim = Sim {
            path: path.clone(),
            db: Arc::new(db),
            clock,
            timing,
            durability,
            state: Mutex::new(State::default()),
        };
        sim.load()?;
        Ok(sim)
    }

    fn err(&self, e: impl std::fmt::Display) -> SimError {
        SimError::Storage {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load(&self) -> Result<(), SimError> {
        let w = self.db.begin_write().map_err(|e| self.err(e))?;
        for t in [RESOURCES, SOFT_DELETED, LOST, META] {
            w.open_table(t).map_err(|e| self.err(e))?;
        }
        w.commit().map_err(|e| self.err(e))?;
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut st = self.lock();
        st.records = self.read_table(&r, RESOURCES)?;
        st.soft_deleted = self.read_table(&r, SOFT_DELETED)?;
        st.lost = self.read_table(&r, LOST)?;
        if let Some(m) = r
            .open_table(META)
            .map_err(|e| self.err(e))?
            .get("meta")
            .map_err(|e| self.err(e))?
        {
            st.meta = serde_json::from_slice(m.value()).map_err(|e| self.err(e))?;
        }
        let mut index = Index::default();
        for rec in st.records.values() {
            index.add(rec, &rec.attributes);
        }
        st.index = index;
        Ok(())
    }

    fn read_table<T: serde::de::DeserializeOwned>(
        &self,
        r: &redb::ReadTransaction,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<BTreeMap<String, T>, SimError> {
        let mut out = BTreeMap::new();
        for row in r
            .open_table(def)
            .map_err(|e| self.err(e))?
            .iter()
            .map_err(|e| self.err(e))?
        {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let value: T = serde_json::from_slice(v.value())
                .map_err(|e| self.err(format!("{}: {e}", k.value())))?;
            out.insert(k.value().to_string(), value);
        }
        Ok(out)
    }

    /// Writes `keys` of `map` to `def` (all of it, replacing the table, when `keys` is `None`).
    fn write_table<T: Serialize>(
        &self,
        w: &redb::WriteTransaction,
        def: TableDefinition<&str, &[u8]>,
        map: &BTreeMap<String, T>,
        keys: Option<&[String]>,
    ) -> Result<(), SimError> {
        let mut t = w.open_table(def).map_err(|e| self.err(e))?;
        let all: Vec<String>;
        let keys = match keys {
            Some(k) => k,
            None => {
                t.retain(|_, _| false).map_err(|e| self.err(e))?;
                all = map.keys().cloned().collect();
                &all
            }
        };
        for k in keys {
            match map.get(k) {
                Some(v) => {
                    let bytes = serde_json::to_vec(v).map_err(|e| self.err(e))?;
                    t.insert(k.as_str(), bytes.as_slice())
                        .map_err(|e| self.err(e))?;
                }
                None => {
                    t.remove(k.as_str()).map_err(|e| self.err(e))?;
                }
            }
        }
        Ok(())
    }

    fn write_meta(&self, w: &redb::WriteTransaction, st: &State) -> Result<(), SimError> {
        let bytes = serde_json::to_vec(&st.meta).map_err(|e| self.err(e))?;
        w.open_table(META)
            .map_err(|e| self.err(e))?
            .insert("meta", bytes.as_slice())
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Writes the whole in-memory state (deferred mode) or nothing (durable
    /// mode, already written).
    pub fn flush(&self) -> Result<(), SimError> {
        let mut st = self.lock();
        if !st.dirty {
            return Ok(());
        }
        let w = self.db.begin_write().map_err(|e| self.err(e))?;
        self.write_table(&w, RESOURCES, &st.records, None)?;
        self.write_table(&w, SOFT_DELETED, &st.soft_deleted, None)?;
        self.write_table(&w, LOST, &st.lost, None)?;
        self.write_meta(&w, &st)?;
        w.commit().map_err(|e| self.err(e))?;
        st.dirty = false;
        Ok(())
    }

    /// Persists the given resource ids (and their backups) and vault names
    /// (durable mode), or marks the state dirty (deferred mode).
    fn persist(
        &self,
        st: &mut State,
        ids: &[String],
        vault_names: &[String],
    ) -> Result<(), SimError> {
        if self.durability == SimDurability::Deferred {
            st.dirty = true;
            return Ok(());
        }
        let w = self.db.begin_write().map_err(|e| self.err(e))?;
        self.write_table(&w, RESOURCES, &st.records, Some(ids))?;
        self.write_table(&w, LOST, &st.lost, Some(ids))?;
        self.write_table(&w, SOFT_DELETED, &st.soft_deleted, Some(vault_names))?;
        self.write_meta(&w, st)?;
        w.commit().map_err(|e| self.err(e))
    }

    fn duration(&self, secs: u32) -> Duration {
        match self.timing {
            SimTiming::Catalog => Duration::from_secs(u64::from(secs)),
            SimTiming::Zero => Duration::ZERO,
            SimTiming::Scaled(f) if f > 0.0 => Duration::from_secs_f64(f64::from(secs) / f),
            SimTiming::Scaled(_) => Duration::ZERO,
        }
    }

    /// Counts an operation and applies the fault plan: `Err` for an injected
    /// failure; `Ok(true)` when the process must crash after this operation.
    fn count_op(&self, st: &mut State, arm_type: &str) -> Result<bool, ProviderError> {
        st.meta.ops += 1;
        *st.meta.ops_by_type.entry(arm_type.to_string()).or_default() += 1;
        let since = st.meta.ops - st.meta.faults_base;
        let since_type = st.meta.ops_by_type.get(arm_type).copied().unwrap_or(0)
            - st.meta
                .faults_base_by_type
                .get(arm_type)
                .copied()
                .unwrap_or(0);
        for f in &st.meta.faults.fail_nth {
            let n = if f.arm_type.as_deref() == Some(arm_type) {
                since_type
            } else if f.arm_type.is_none() {
                since
            } else {
                continue;
            };
            if n == f.nth {
                return Err(ProviderError::fatal(
                    "InjectedFault",
                    format!(
                        "simulated failure of operation {n} on {arm_type} (statectl sim fault)"
                    ),
                ));
            }
        }
        if let Some((seed, p)) = st.meta.faults.fail_random {
            let x = crate::model::Digest::of(format!("{seed}/{}", st.meta.ops).as_bytes()).0;
            let u = f64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])) / f64::from(u32::MAX);
            if u < p {
                return Err(ProviderError::transient(
                    "InjectedFault",
                    format!(
                        "simulated random failure of operation {} (seed {seed})",
                        st.meta.ops
                    ),
                ));
            }
        }
        Ok(st.meta.faults.crash_at == Some(since))
    }

    fn crash(&self) -> ! {
        // The crash the journal exists for: no destructors, no flush.
        std::process::abort()
    }

    fn observed(rec: &SimRecord) -> ObservedResource {
        let sensitive = catalog::lookup(&rec.arm_type)
            .map(|rt| attrs::computed(rt, &rec.id, &rec.name, &rec.properties).1)
            .unwrap_or_default();
        ObservedResource {
            address: rec.address.clone(),
            arm_type: rec.arm_type.clone(),
            name: rec.name.clone(),
            id: rec.id.clone(),
            properties: rec.properties.clone(),
            attributes: rec.attributes.clone(),
            sensitive,
            tags: rec.tags.clone(),
            dependencies: rec.dependencies.clone(),
            prevent_destroy: rec.prevent_destroy,
        }
    }

    /// Sets the fault plan (counting starts now).
    pub fn set_faults(&self, plan: FaultPlan) -> Result<(), SimError> {
        let mut st = self.lock();
        st.meta.faults_base = st.meta.ops;
        st.meta.faults_base_by_type = st.meta.ops_by_type.clone();
        st.meta.faults = plan;
        self.persist(&mut st, &[], &[])?;
        self.flush_if_deferred(st)
    }

    fn flush_if_deferred(&self, st: MutexGuard<'_, State>) -> Result<(), SimError> {
        drop(st);
        if self.durability == SimDurability::Deferred {
            self.flush()?;
        }
        Ok(())
    }

    /// The fault plan in force.
    pub fn faults(&self) -> FaultPlan {
        self.lock().meta.faults.clone()
    }

    /// Operations performed so far (all time).
    pub fn op_count(&self) -> u64 {
        self.lock().meta.ops
    }

    /// Every resource the simulated cloud holds, by id.
    pub fn resources(&self) -> Vec<ObservedResource> {
        self.lock().records.values().map(Self::observed).collect()
    }

    /// The soft-deleted vaults holding their names.
    pub fn soft_deleted(&self) -> Vec<(String, SoftDeleted)> {
        self.lock()
            .soft_deleted
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The ARM id of the resource at `address` in `subscription`
    /// (environments deploy into their own subscriptions).
    pub fn id_in_subscription(&self, address: &str, subscription: &str) -> Option<String> {
        let prefix = format!("/subscriptions/{}/", subscription.to_ascii_lowercase());
        self.resources()
            .into_iter()
            .find(|r| {
                r.address.to_string() == address && r.id.to_ascii_lowercase().starts_with(&prefix)
            })
            .map(|r| r.id)
    }

    /// Finds a resource by id (case-insensitive) or by statectl address.
    pub fn find(&self, key: &str) -> Option<ObservedResource> {
        let st = self.lock();
        st.records
            .get(&lower(key))
            .or_else(|| st.records.values().find(|r| r.address.to_string() == key))
            .map(Self::observed)
    }

    fn resolve_key(st: &State, key: &str) -> Result<String, SimError> {
        if st.records.contains_key(&lower(key)) {
            return Ok(lower(key));
        }
        let matches: Vec<&String> = st
            .records
            .iter()
            .filter(|(_, r)| r.address.to_string() == key)
            .map(|(k, _)| k)
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(SimError::NotFound(key.to_string())),
            _ => Err(SimError::Refused(format!(
                "`{key}` matches several resources (one per stack); pass the ARM id instead"
            ))),
        }
    }

    /// Changes a property out of band (drift), as a portal edit would.
    pub fn set_property(
        &self,
        key: &str,
        property: &str,
        value: Value,
    ) -> Result<ObservedResource, SimError> {
        let mut st = self.lock();
        let id = Self::resolve_key(&st, key)?;
        let now = self.clock.now();
        let rec = st
            .records
            .get_mut(&id)
            .ok_or_else(|| SimError::NotFound(key.to_string()))?;
        rec.properties.insert(property.to_string(), value);
        rec.updated_at = now;
        let out = Self::observed(rec);
        self.persist(&mut st, &[id], &[])?;
        self.flush_if_deferred(st)?;
        Ok(out)
    }

    /// Deletes a resource out of band (drift or a lost resource in a drill);
    /// a Key Vault goes to soft delete as it would in Azure.
    pub fn remove(&self, key: &str) -> Result<ObservedResource, SimError> {
        let mut st = self.lock();
        let id = Self::resolve_key(&st, key)?;
        let rec = st
            .records
            .get(&id)
            .cloned()
            .ok_or_else(|| SimError::NotFound(key.to_string()))?;
        let (ids, vaults) = self.remove_subtree(&mut st, &id);
        self.persist(&mut st, &ids, &vaults)?;
        self.flush_if_deferred(st)?;
        Ok(Self::observed(&rec))
    }

    /// Removes a resource and its children (ARM deletes children with their
    /// parent), keeping backups of the stateful ones; returns the ids and
    /// the soft-deleted vault names touched.
    fn remove_subtree(&self, st: &mut State, id: &str) -> (Vec<String>, Vec<String>) {
        let ids = rules::subtree(id, &st.records);
        let mut vaults = Vec::new();
        for k in &ids {
            if let Some(rec) = st.records.remove(k) {
                vaults.extend(self.soft_delete(st, &rec));
            }
        }
        let mut index = Index::default();
        for r in st.records.values() {
            index.add(r, &r.attributes);
        }
        st.index = index;
        (ids, vaults)
    }

    fn soft_delete(&self, st: &mut State, rec: &SimRecord) -> Vec<String> {
        if catalog::lookup(&rec.arm_type).is_ok_and(|rt| rt.stateful) {
            st.lost.insert(
                lower(&rec.id),
                Lost {
                    record: rec.clone(),
                    lost_at: self.clock.now(),
                },
            );
        }
        if rec.arm_type != "Microsoft.KeyVault/vaults" {
            return Vec::new();
        }
        let retention = rec
            .properties
            .get("soft_delete_retention_days")
            .and_then(Value::as_int)
            .unwrap_or(90);
        let purge_protection = rec
            .properties
            .get("purge_protection_enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let name = lower(&rec.name);
        st.soft_deleted.insert(
            name.clone(),
            SoftDeleted {
                id: rec.id.clone(),
                deleted_at: self.clock.now(),
                retention_days: u32::try_from(retention).unwrap_or(90),
                purge_protection,
            },
        );
        vec![name]
    }

    /// Purges a soft-deleted vault, freeing its name; refused under purge
    /// protection.
    pub fn purge(&self, name: &str) -> Result<(), SimError> {
        let mut st = self.lock();
        let key = lower(name);
        let sd = st
            .soft_deleted
            .get(&key)
            .ok_or_else(|| SimError::NotFound(format!("soft-deleted vault {name}")))?;
        if sd.purge_protection {
            return Err(SimError::Refused(format!(
                "vault `{name}` has purge protection: it cannot be purged before its {}-day retention ends",
                sd.retention_days
            )));
        }
        st.soft_deleted.remove(&key);
        self.persist(&mut st, &[], &[key])?;
        self.flush_if_deferred(st)
    }

    /// Drops soft-deleted vaults whose retention has passed.
    fn expire_soft_deleted(&self, st: &mut State) -> Vec<String> {
        let now = self.clock.now();
        let expired: Vec<String> = st
            .soft_deleted
            .iter()
            .filter(|(_, sd)| {
                now.millis_since(sd.deleted_at) > u64::from(sd.retention_days) * 86_400_000
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &expired {
            st.soft_deleted.remove(k);
        }
        expired
    }
}

/// The newest backup point of a lost resource, and the data lost since,
/// from the catalog's backup model and the resource's backup settings.
fn restore_point(
    rt: &catalog::ResourceType,
    lost: Option<&Lost>,
    name: &str,
) -> Result<(UtcTime, u64), ProviderError> {
    let Some(lost) = lost else {
        return Err(ProviderError::fatal(
            "NoBackupFound",
            format!(
                "{} `{name}`: there is no backup to restore from (the resource was never lost)",
                rt.arm_type
            ),
        ));
    };
    let props = &lost.record.properties;
    let int = |k: &str| props.get(k).and_then(Value::as_int);
    let at = lost.lost_at;
    let point = match rt.backup {
        Some(catalog::Backup::PointInTime {
            retention_days,
            granularity_secs,
        }) => {
            let retention = int(retention_days).unwrap_or(7);
            if retention <= 0 {
                return Err(ProviderError::fatal(
                    "NoBackupFound",
                    format!("`{name}` keeps no backups ({retention_days} = {retention})"),
                ));
            }
            UtcTime(at.0 - i64::from(granularity_secs) * 1000).max(lost.record.created_at)
        }
        Some(catalog::Backup::Snapshot { interval_minutes }) => {
            let interval = int(interval_minutes).unwrap_or(60).max(1) * 60_000;
            let since = at.0 - lost.record.created_at.0;
            // The last snapshot before the loss; before the first one, nothing but an empty instance.
            UtcTime(lost.record.created_at.0 + since.div_euclid(interval) * interval)
        }
        Some(catalog::Backup::GeoReplica {
            replication,
            lag_secs,
        }) => {
            let kind = props
                .get(replication)
                .and_then(Value::as_str)
                .unwrap_or("LRS")
                .to_ascii_uppercase();
            if !kind.contains("GRS") && !kind.contains("GZRS") {
                return Err(ProviderError::fatal(
                    "NoReplicaAvailable",
                    format!("`{name}` is {kind}: there is no geo-replica to fail over to"),
                ));
            }
            UtcTime(at.0 - i64::from(lag_secs) * 1000).max(lost.record.created_at)
        }
        Some(catalog::Backup::SoftDelete { .. }) => at,
        None => {
            return Err(ProviderError::fatal(
                "NoBackupFound",
                format!("{} `{name}` has no backup model", rt.arm_type),
            ));
        }
    };
    Ok((point, at.millis_since(point) / 1000))
}

impl Provider for Sim {
    fn name(&self) -> &str {
        "sim"
    }

    async fn put(
        &self,
        op: Operation,
        r: &ResolvedResource,
    ) -> Result<ObservedResource, ProviderError> {
        let rt = catalog::lookup(&r.arm_type)
            .map_err(|e| ProviderError::fatal("InvalidResourceType", e.to_string()))?;
        let id = rt
            .arm_id(&r.subscription, &r.name, &|p| {
                r.properties
                    .get(p)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .map_err(|e| {
                ProviderError::fatal(
                    "InvalidRequestContent",
                    format!("{} `{}`: {e}", r.arm_type, r.name),
                )
            })?;
        let (crash, secs, restored) = {
            let mut st = self.lock();
            let crash = self.count_op(&mut st, rt.arm_type)?;
            let expired = self.expire_soft_deleted(&mut st);
            if !expired.is_empty() {
                st.dirty = true;
            }
            rules::check_put(r, rt, &st.records, &st.index)?;
            let exists = st.records.contains_key(&lower(&id));
            // A restore of a soft-deleted vault is its recovery (ARM's
            // createMode "recover"); a plain create is refused.
            if rt.arm_type == "Microsoft.KeyVault/vaults"
                && !exists
                && !matches!(op, Operation::Restore)
                && let Some(sd) = st.soft_deleted.get(&lower(&r.name))
            {
                return Err(ProviderError::fatal(
                    "VaultAlreadyExists",
                    format!(
                        "The vault name '{}' is in use by a soft-deleted vault (deleted {}, kept {} days); recover it or purge it first{}.",
                        r.name,
                        sd.deleted_at,
                        sd.retention_days,
                        if sd.purge_protection {
                            " (purge protection is on: only recovery is possible)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            let secs = match op {
                Operation::Create if !exists => rt.timing.create,
                Operation::Restore => rt.timing.restore.unwrap_or(rt.timing.create),
                _ => rt.timing.update,
            };
            let restored = match op {
                Operation::Restore => Some(restore_point(rt, st.lost.get(&lower(&id)), &r.name)?),
                _ => None,
            };
            (crash, secs, restored)
        };
        tokio::time::sleep(self.duration(secs)).await;
        let now = self.clock.now();
        let mut st = self.lock();
        let (mut attributes, _) = attrs::computed(rt, &id, &r.name, &r.properties);
        let mut touched = vec![lower(&id)];
        let mut recovered_vaults = Vec::new();
        if let Some((point, loss)) = restored {
            if rt.arm_type == "Microsoft.KeyVault/vaults"
                && st.soft_deleted.remove(&lower(&r.name)).is_some()
            {
                recovered_vaults.push(lower(&r.name));
            }
            attributes.insert("restore_point".into(), Value::String(point.to_string()));
            attributes.insert(
                "data_loss_seconds".into(),
                Value::Int(i64::try_from(loss).unwrap_or(i64::MAX)),
            );
            st.lost.remove(&lower(&id));
            // The backup holds the children too (a server's databases).
            let children: Vec<String> = st
                .lost
                .iter()
                .filter(|(_, l)| {
                    l.record
                        .properties
                        .get("parent")
                        .and_then(Value::as_str)
                        .is_some_and(|p| lower(p) == lower(&id))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in children {
                if let Some(l) = st.lost.remove(&k) {
                    st.index.add(&l.record, &l.record.attributes);
                    st.records.insert(k.clone(), l.record);
                    touched.push(k);
                }
            }
        }
        let created_at = st
            .records
            .get(&lower(&id))
            .map_or(now, |old| old.created_at);
        let rec = SimRecord {
            address: r.address.clone(),
            arm_type: rt.arm_type.to_string(),
            name: r.name.clone(),
            id: id.clone(),
            properties: r.properties.clone(),
            principal: attributes
                .get("principal_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            attributes,
            tags: r.tags.clone(),
            dependencies: r.dependencies.clone(),
            prevent_destroy: r.prevent_destroy,
            created_at,
            updated_at: now,
        };
        let replaced = st.records.insert(lower(&id), rec.clone()).is_some();
        if replaced {
            let mut index = Index::default();
            for x in st.records.values() {
                index.add(x, &x.attributes);
            }
            st.index = index;
        } else {
            st.index.add(&rec, &rec.attributes);
        }
        self.persist(&mut st, &touched, &recovered_vaults)
            .map_err(|e| ProviderError::transient("InternalServerError", e.to_string()))?;
        if crash {
            drop(st);
            let _ = self.flush();
            self.crash();
        }
        Ok(Self::observed(&rec))
    }

    async fn delete(
        &self,
        resource: &ObservedResource,
        mode: DeleteMode,
    ) -> Result<(), ProviderError> {
        let rt = catalog::lookup(&resource.arm_type)
            .map_err(|e| ProviderError::fatal("InvalidResourceType", e.to_string()))?;
        let crash = {
            let mut st = self.lock();
            let crash = self.count_op(&mut st, rt.arm_type)?;
            if !st.records.contains_key(&lower(&resource.id)) {
                // ARM answers a delete of a missing resource with 204: done.
                return Ok(());
            }
            if mode == DeleteMode::Destroy {
                rules::check_delete(&resource.id, &st.records)?;
            }
            crash
        };
        tokio::time::sleep(self.duration(rt.timing.delete)).await;
        let mut st = self.lock();
        let key = lower(&resource.id);
        if st.records.contains_key(&key) {
            let (ids, vaults) = self.remove_subtree(&mut st, &key);
            self.persist(&mut st, &ids, &vaults)
                .map_err(|e| ProviderError::transient("InternalServerError", e.to_string()))?;
        }
        if crash {
            drop(st);
            let _ = self.flush();
            self.crash();
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObservedResource>, ProviderError> {
        Ok(self.list_prefix(prefix))
    }

    async fn read(
        &self,
        _arm_type: &str,
        id: &str,
    ) -> Result<Option<ObservedResource>, ProviderError> {
        Ok(self.lock().records.get(&lower(id)).map(Self::observed))
    }
}

impl Sim {
    fn list_prefix(&self, prefix: &str) -> Vec<ObservedResource> {
        let p = lower(prefix);
        self.lock()
            .records
            .iter()
            .filter(|(k, _)| k.starts_with(&p))
            .map(|(_, r)| Self::observed(r))
            .collect()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Parses an out-of-band edit `PROPERTY=VALUE`: the value as JSON when it
/// parses (numbers, booleans, lists, maps), else as a string.
pub fn parse_assignment(s: &str) -> Result<(String, Value), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not PROPERTY=VALUE"))?;
    let value = match serde_json::from_str::<serde_json::Value>(v) {
        Ok(j) => {
            Value::from_json(&j).ok_or_else(|| format!("`{v}`: null is not a property value"))?
        }
        Err(_) => Value::String(v.to_string()),
    };
    Ok((k.to_string(), value))
}
