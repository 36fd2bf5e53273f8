use std::collections::BTreeMap;

use redb::ReadableTable;

use super::audit::{self, AuditEvent};
use super::codec;
use super::db::{Actor, ReadObjects, Store, WriteObjects};
use super::error::StoreError;
use super::object::{self, EnvHeader, Object, Objects};
use super::schema;
use super::tree;
use crate::model::{Address, Digest, Estate, Release, ReleaseEnv, Resource};

/// What `create_release` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// A new release was stored; `new_objects` counts the objects it added
    /// (changed resources and tree nodes; unchanged ones are shared).
    Created {
        /// The release.
        release: Release,
        /// Objects written.
        new_objects: u64,
    },
    /// The same version with the same content already existed.
    Unchanged(Release),
}

/// Parses `v1.2.0` or `1.2.0` into the canonical `1.2.0`.
pub fn parse_version(s: &str) -> Result<semver::Version, StoreError> {
    let t = s.strip_prefix('v').unwrap_or(s);
    semver::Version::parse(t).map_err(|_| StoreError::BadVersion(s.to_string()))
}

/// Formats a stored version for people: `v1.2.0`.
pub fn display_version(v: &str) -> String {
    format!("v{v}")
}

fn decode_release(key: (&str, &str), bytes: &[u8]) -> Result<Release, StoreError> {
    codec::decode(bytes).map_err(|source| StoreError::Corrupt {
        table: "releases",
        key: format!("{}/{}", key.0, key.1),
        source,
    })
}

/// Counts objects written through it.
struct Counting<'a, 't> {
    inner: &'a mut WriteObjects<'t>,
    written: u64,
}

impl Objects for Counting<'_, '_> {
    fn get_raw(&self, d: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_raw(d)
    }
    fn put_raw(&mut self, d: Digest, bytes: &[u8]) -> Result<(), StoreError> {
        if self.inner.get_raw(&d)?.is_none() {
            self.written += 1;
            self.inner.put_raw(d, bytes)?;
        }
        Ok(())
    }
}

impl Store {
    /// Stores a release: the desired state of every environment in `envs`
    /// (all of one estate). Unchanged resources and subtrees are shared with
    /// earlier releases. The same version with the same content is a no-op;
    /// with other content it is refused.
    pub fn create_release(
        &self,
        estate: &str,
        version: &str,
        envs: &[Estate],
        git_commit: Option<String>,
        actor: &Actor,
    ) -> Result<ReleaseOutcome, StoreError> {
        let v = parse_version(version)?.to_string();
        if let Some(e) = envs.iter().find(|e| e.name != estate) {
            return Err(StoreError::Bug(format!(
                "estate {} passed as a release of {estate}",
                e.name
            )));
        }
        let now = self.clock.now();
        self.write(|w| {
            let mut objs = WriteObjects::batched(w)?;
            let mut counting = Counting {
                inner: &mut objs,
                written: 0,
            };
            let mut environments = BTreeMap::new();
            let mut resource_counts = BTreeMap::new();
            for e in envs {
                let header = object::put(
                    &mut counting,
                    &Object::EnvHeader(EnvHeader {
                        estate: e.name.clone(),
                        environment: e.environment.clone(),
                        objectives: e.objectives.clone(),
                        cost_items: e.cost_items.clone(),
                    }),
                )?;
                let mut entries = BTreeMap::new();
                for (addr, r) in e.resources() {
                    entries.insert(
                        addr.clone(),
                        object::put(&mut counting, &Object::Resource(r.clone()))?,
                    );
                }
                let root = tree::build(&mut counting, &entries)?;
                environments.insert(e.environment.name.clone(), ReleaseEnv { header, root });
                resource_counts.insert(e.environment.name.clone(), e.resources().len() as u64);
            }
            let mut parts: Vec<Vec<u8>> = Vec::new();
            for (name, re) in &environments {
                parts.push(name.as_bytes().to_vec());
                parts.push(re.header.0.to_vec());
                parts.push(re.root.0.to_vec());
            }
            let content = Digest::of_parts(parts.iter().map(Vec::as_slice));
            let new_objects = counting.written;
            objs.finish()?;

            let mut t = w.open_table(schema::RELEASES)?;
            if let Some(existing) = t.get((estate, v.as_str()))? {
                let existing = decode_release((estate, &v), existing.value())?;
                if existing.content == content {
                    return Ok(ReleaseOutcome::Unchanged(existing));
                }
                let mut next = parse_version(&v)?;
                loop {
                    next.patch += 1;
                    next.pre = semver::Prerelease::EMPTY;
                    if t.get((estate, next.to_string().as_str()))?.is_none() {
                        break;
                    }
                }
                return Err(StoreError::ReleaseConflict {
                    estate: estate.to_string(),
                    version: display_version(&v),
                    next: display_version(&next.to_string()),
                });
            }
            let release = Release {
                estate: estate.to_string(),
                version: v.clone(),
                content,
                environments,
                created_at: now,
                created_by: actor.name.clone(),
                git_commit,
                resource_counts,
            };
            let bytes = codec::encode(&release).map_err(|source| StoreError::Encode {
                what: "release",
                source,
            })?;
            t.insert((estate, v.as_str()), bytes.as_slice())?;
            drop(t);
            audit::append(
                w,
                now,
                actor,
                AuditEvent {
                    action: "release.create".into(),
                    target: estate.to_string(),
                    details: format!(
                        "{} content {} ({new_objects} new objects)",
                        display_version(&v),
                        content.short()
                    ),
                    ..AuditEvent::default()
                },
            )?;
            Ok(ReleaseOutcome::Created {
                release,
                new_objects,
            })
        })
    }

    /// Every release of `estate`, in semantic-version order.
    pub fn releases(&self, estate: &str) -> Result<Vec<Release>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::RELEASES)?;
            let mut out = Vec::new();
            for row in t.range((estate, "")..)? {
                let (k, v) = row?;
                let (e, ver) = k.value();
                if e != estate {
                    break;
                }
                out.push(decode_release((e, ver), v.value())?);
            }
            out.sort_by_key(|r| parse_version(&r.version).ok());
            Ok(out)
        })
    }

    /// Every estate that has a release.
    pub fn released_estates(&self) -> Result<Vec<String>, StoreError> {
        self.read(|r| {
            let t = r.open_table(schema::RELEASES)?;
            let mut out: Vec<String> = Vec::new();
            for row in t.iter()? {
                let (k, _) = row?;
                let e = k.value().0.to_string();
                if out.last() != Some(&e) {
                    out.push(e);
                }
            }
            Ok(out)
        })
    }

    /// One release.
    pub fn release(&self, estate: &str, version: &str) -> Result<Release, StoreError> {
        let v = parse_version(version)?.to_string();
        let found = self.read(|r| {
            let t = r.open_table(schema::RELEASES)?;
            t.get((estate, v.as_str()))?
                .map(|g| decode_release((estate, &v), g.value()))
                .transpose()
        })?;
        match found {
            Some(r) => Ok(r),
            None => Err(StoreError::UnknownRelease {
                estate: estate.to_string(),
                version: display_version(&v),
                known: self
                    .releases(estate)?
                    .iter()
                    .map(|r| display_version(&r.version))
                    .collect(),
            }),
        }
    }

    /// The desired resources of one environment of a release, with the
    /// digest each is stored under.
    pub fn release_resources(
        &self,
        release: &Release,
        env: &str,
    ) -> Result<BTreeMap<Address, (Digest, Resource)>, StoreError> {
        let re = self.release_env(release, env)?;
        self.read(|r| {
            let objs = ReadObjects::open(r)?;
            let mut out = BTreeMap::new();
            for (addr, d) in tree::entries(&objs, &re.root)? {
                match object::get(
                    &objs,
                    &d,
                    &format!("resource {addr} of release {}", release.version),
                )? {
                    Object::Resource(res) => {
                        out.insert(addr, (d, res));
                    }
                    _ => {
                        return Err(StoreError::Bug(format!(
                            "object {} is not a resource",
                            d.short()
                        )));
                    }
                }
            }
            Ok(out)
        })
    }

    /// The whole desired estate of one environment of a release.
    pub fn release_estate(&self, release: &Release, env: &str) -> Result<Estate, StoreError> {
        let re = self.release_env(release, env)?;
        let header = self.read(|r| {
            let objs = ReadObjects::open(r)?;
            match object::get(&objs, &re.header, "environment header")? {
                Object::EnvHeader(h) => Ok(h),
                _ => Err(StoreError::Bug(format!(
                    "object {} is not an environment header",
                    re.header.short()
                ))),
            }
        })?;
        let resources = self
            .release_resources(release, env)?
            .into_iter()
            .map(|(a, (_, r))| (a, r))
            .collect();
        Estate::new(
            header.estate,
            header.environment,
            header.objectives,
            header.cost_items,
            resources,
        )
        .map_err(|e| {
            StoreError::Bug(format!(
                "stored release {} has an invalid graph: {e}",
                release.version
            ))
        })
    }

    fn release_env(&self, release: &Release, env: &str) -> Result<ReleaseEnv, StoreError> {
        release
            .environments
            .get(env)
            .cloned()
            .ok_or_else(|| StoreError::UnknownEnvironment {
                estate: release.estate.clone(),
                version: display_version(&release.version),
                env: env.to_string(),
            })
    }
}
