//! Planning steps every workflow shares: find a release's desired state,
//! plan it against the latest generation (with an O(1) shortcut when
//! nothing changed), check that a stack is not mid-apply, and read what the
//! history says (rollback points, promotion). Each step calls the module
//! that owns it; this one only sequences them.

use std::collections::BTreeMap;

use super::OpsError;
use crate::model::{
    Address, Digest, Estate, Generation, ObservedResource, Outcome, Release, Stack,
};
use crate::plan::{self, Plan, PlanInput, PlanOptions};
use crate::spec::{Loader, SpecErrors};
use crate::store::{Actor, ReleaseOutcome, Store, StoreError, parse_version, resource_digest};

/// The desired state of one stack at one version.
#[derive(Clone, Debug)]
pub struct Desired {
    /// The estate, resolved for the environment.
    pub estate: Estate,
    /// Digest of every resource (what the applied tree compares).
    pub digests: BTreeMap<Address, Digest>,
    /// The stored release, if it is stored.
    pub release: Option<Release>,
    /// The canonical version, e.g. `1.2.0`.
    pub version: String,
    /// Whether this call created the release from the working tree.
    pub created: bool,
}

/// Finds the desired state of `estate` in `env` at `version`: the stored
/// release, or the working tree (stored as that release when `create`).
pub fn desired(
    store: &Store,
    loader: &Loader,
    estate: &str,
    env: &str,
    version: &str,
    create: Option<(&Actor, Option<String>)>,
) -> Result<Desired, OpsError> {
    let v = parse_version(version)?.to_string();
    let mut created = false;
    let release = match store.release(estate, &v) {
        Ok(r) => Some(r),
        Err(StoreError::UnknownRelease { .. }) => match create {
            Some((actor, git)) => {
                let mut envs = Vec::new();
                for e in loader.environment_names().map_err(SpecErrors::from)? {
                    envs.push(loader.load(estate, &e)?);
                }
                match store.create_release(estate, &v, &envs, git, actor)? {
                    ReleaseOutcome::Created { release, .. } => {
                        created = true;
                        Some(release)
                    }
                    ReleaseOutcome::Unchanged(r) => Some(r),
                }
            }
            None => None,
        },
        Err(e) => return Err(e.into()),
    };
    match release {
        Some(r) => {
            let estate_state = store.release_estate(&r, env)?;
            let digests = store
                .release_resources(&r, env)?
                .into_iter()
                .map(|(a, (d, _))| (a, d))
                .collect();
            Ok(Desired {
                estate: estate_state,
                digests,
                release: Some(r),
                version: v,
                created,
            })
        }
        None => {
            let e = loader.load(estate, env)?;
            let mut digests = BTreeMap::new();
            for (a, r) in e.resources() {
                digests.insert(a.clone(), resource_digest(r)?);
            }
            Ok(Desired {
                estate: e,
                digests,
                release: None,
                version: v,
                created,
            })
        }
    }
}

/// The latest generation, refusing an interrupted one.
pub fn latest_settled(store: &Store, stack: &Stack) -> Result<Option<Generation>, OpsError> {
    match store.latest_generation(stack)? {
        Some(g) if g.outcome == Outcome::InProgress => Err(OpsError::Interrupted {
            stack: stack.to_string(),
            estate: stack.estate.clone(),
            env: stack.env.clone(),
            generation: g.number,
        }),
        other => Ok(other),
    }
}

/// Whether a stored release environment equals what the generation applied,
/// decided from the two trees' roots and the rows since the checkpoint:
/// O(1) in the number of resources.
pub fn nothing_to_do(
    store: &Store,
    release: &Release,
    env: &str,
    latest: Option<&Generation>,
) -> Result<bool, OpsError> {
    let Some(re) = release.environments.get(env) else {
        return Ok(false);
    };
    Ok(latest.is_some() && store.applied_diff(&re.root, latest)?.is_empty())
}

/// Plans `desired` against the latest generation of `stack`, in full.
/// Returns the plan and the observed state it was made against.
pub fn make_plan(
    store: &Store,
    stack: &Stack,
    desired: &Desired,
    options: &PlanOptions,
) -> Result<(Plan, BTreeMap<Address, ObservedResource>), OpsError> {
    let latest = latest_settled(store, stack)?;
    let (observed, applied) = match &latest {
        Some(g) => (store.observed(g)?, store.applied(g)?),
        None => (BTreeMap::new(), BTreeMap::new()),
    };
    let input = PlanInput {
        stack,
        release: (!options.destroy).then_some(desired.version.as_str()),
        release_content: desired.release.as_ref().map(|r| r.content),
        desired: Some(&desired.estate),
        desired_digests: &desired.digests,
        base_generation: latest.as_ref().map(|g| g.number),
        observed: &observed,
        applied: &applied,
    };
    let p = plan::plan(&input, options)?;
    Ok((p, observed))
}

/// A plan and what it was made from.
#[derive(Debug)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Observed state it was made against (empty when nothing changed).
    pub observed: BTreeMap<Address, ObservedResource>,
    /// The desired state, loaded only when the plan has actions.
    pub desired: Option<Desired>,
}

/// Plans release `version` of `stack`: when the release is stored and its
/// tree equals what the latest generation applied, answers "no changes" in
/// O(1) without loading a resource; otherwise loads desired and observed
/// state and plans in full. `create` stores a missing release from the
/// working tree (apply); without it a missing release is planned from the
/// working tree unstored (plan).
pub fn plan_release(
    store: &Store,
    loader: &Loader,
    stack: &Stack,
    version: &str,
    options: &PlanOptions,
    create: Option<(&Actor, Option<String>)>,
) -> Result<Planned, OpsError> {
    let v = parse_version(version)?.to_string();
    let latest = latest_settled(store, stack)?;
    let simple = options.targets.is_empty() && options.replace.is_empty() && !options.destroy;
    if simple
        && let Ok(r) = store.release(&stack.estate, &v)
        && nothing_to_do(store, &r, &stack.env, latest.as_ref())?
    {
        let mut p = Plan {
            stack: stack.clone(),
            release: Some(v),
            release_content: Some(r.content),
            base_generation: latest.as_ref().map(|g| g.number),
            actions: Vec::new(),
            unchanged: r.resource_counts.get(&stack.env).copied().unwrap_or(0),
            kept: Vec::new(),
            options: options.clone(),
            hash: Digest([0; 32]),
        };
        p.hash = p.compute_hash();
        return Ok(Planned {
            plan: p,
            observed: BTreeMap::new(),
            desired: None,
        });
    }
    let d = desired(store, loader, &stack.estate, &stack.env, &v, create)?;
    let (plan, observed) = make_plan(store, stack, &d, options)?;
    Ok(Planned {
        plan,
        observed,
        desired: Some(d),
    })
}

/// Whether release `version` may enter `env`: it must have succeeded in the
/// environment's `promote_from` upstream first.
pub fn promotion(
    store: &Store,
    estate: &str,
    env: &crate::model::Environment,
    version: &str,
) -> Result<crate::policy::Promotion, OpsError> {
    use crate::policy::Promotion;
    let Some(from) = &env.promote_from else {
        return Ok(Promotion::NotRequired);
    };
    let upstream = Stack::new(estate, from).map_err(|e| StoreError::Bug(e.to_string()))?;
    let v = parse_version(version)?.to_string();
    let hit = store
        .generations(&upstream)?
        .into_iter()
        .rev()
        .find(|g| g.outcome == Outcome::Succeeded && g.release.as_deref() == Some(v.as_str()));
    Ok(match hit {
        Some(g) => Promotion::Satisfied {
            from: from.clone(),
            generation: g.number,
        },
        None => Promotion::Missing { from: from.clone() },
    })
}

/// The stateful resources a plan replaces on request (`--replace`): they
/// come back from their backups rather than empty.
pub fn restore_targets(plan: &Plan) -> Vec<Address> {
    plan.actions
        .iter()
        .filter(|a| {
            a.kind == crate::plan::ActionKind::Replace
                && a.destructive_to_data
                && plan.options.replace.iter().any(|t| t.matches(&a.address))
        })
        .filter(|a| crate::catalog::lookup(&a.arm_type).is_ok_and(|rt| rt.backup.is_some()))
        .map(|a| a.address.clone())
        .collect()
}

/// The rollback points of a stack: for each release, its newest successful
/// generation (apply, rollback or emergency), newest first.
pub fn rollback_points(store: &Store, stack: &Stack) -> Result<Vec<Generation>, OpsError> {
    use crate::model::GenerationKind;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for g in store.generations(stack)?.into_iter().rev() {
        if g.outcome != Outcome::Succeeded
            || !matches!(
                g.kind,
                GenerationKind::Apply | GenerationKind::Rollback | GenerationKind::Emergency
            )
        {
            continue;
        }
        if let Some(r) = &g.release
            && seen.insert(r.clone())
        {
            out.push(g);
        }
    }
    Ok(out)
}
