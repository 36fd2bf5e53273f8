use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Address, Digest, Stack, Value};

/// What an action does to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionKind {
    /// Create a resource that does not exist.
    Create,
    /// Change an existing resource in place.
    Update,
    /// Delete and create again (a property that forces replacement changed,
    /// or `--replace` asked for it).
    Replace,
    /// Delete a resource no longer desired.
    Delete,
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Replace => "replace",
            ActionKind::Delete => "delete",
        })
    }
}

/// One property that changes. `before`/`after` are `None` when absent;
/// `unknown` when the new value is only known after apply (it depends on an
/// attribute of something being created or replaced).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropertyChange {
    /// Dotted path: `sku_name`, `tags.owner`, `name`.
    pub path: String,
    /// Current value.
    pub before: Option<Value>,
    /// Desired value (references left symbolic when unknown).
    pub after: Option<Value>,
    /// Known only after apply.
    pub unknown: bool,
    /// This change alone forces a replacement.
    pub forces_replacement: bool,
}

/// One planned operation on one resource.
///
/// Invariant: `needs` names actions of the same plan (by index) that must
/// finish first; they come earlier in the plan's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The resource.
    pub address: Address,
    /// What happens to it.
    pub kind: ActionKind,
    /// ARM type.
    pub arm_type: String,
    /// Azure name (desired, or current for deletes).
    pub name: String,
    /// Why, in words (`location forces replacement`, `requested with --replace`).
    pub reason: Option<String>,
    /// The per-property diff.
    pub changes: Vec<PropertyChange>,
    /// The whole resource before (`name`, properties, `tags`), for deletes,
    /// updates and replacements.
    pub before: Option<Value>,
    /// The whole resource after, for creates, updates and replacements;
    /// unknown values hold their `${...}` reference.
    pub after: Option<Value>,
    /// Top-level keys of `after` known only after apply.
    pub after_unknown: Vec<String>,
    /// Digest of the desired resource (none for deletes).
    pub desired: Option<Digest>,
    /// Whether the resource holds data (catalog) or is protected: deleting or
    /// replacing it loses data.
    pub destructive_to_data: bool,
    /// Set when the action may not run (data would be lost without
    /// `--allow-data-loss`, or a production rule forbids it).
    pub blocked: Option<String>,
    /// Indices of the actions that must finish first.
    pub needs: Vec<usize>,
}

/// A resource or a whole module, as `--target` and `--replace` name them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Target {
    /// One resource.
    Resource(Address),
    /// Every resource of a module.
    Module(String),
}

impl Target {
    /// Parses `data.postgres`, `module.data` or `module.data.postgres`.
    pub fn parse(s: &str) -> Result<Target, String> {
        if let Some(rest) = s.strip_prefix("module.") {
            if let Ok(a) = rest.parse::<Address>() {
                return Ok(Target::Resource(a));
            }
            if crate::model::is_identifier(rest) {
                return Ok(Target::Module(rest.to_string()));
            }
            return Err(format!(
                "`{s}` is not a target: write `module.<module>` or `<module>.<resource>`"
            ));
        }
        s.parse::<Address>().map(Target::Resource).map_err(|_| {
            format!("`{s}` is not a target: write `module.<module>` or `<module>.<resource>`")
        })
    }

    /// Whether `a` is this target.
    pub fn matches(&self, a: &Address) -> bool {
        match self {
            Target::Resource(r) => r == a,
            Target::Module(m) => a.module() == m,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Resource(a) => write!(f, "{a}"),
            Target::Module(m) => write!(f, "module.{m}"),
        }
    }
}

/// Choices that shape a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Only these resources and what they need (`--target`).
    pub targets: Vec<Target>,
    /// Replace these even if unchanged (`--replace`).
    pub replace: Vec<Target>,
    /// Allow deleting or replacing stateful or protected resources.
    pub allow_data_loss: bool,
    /// Plan to delete everything (`statectl destroy`).
    pub destroy: bool,
    /// Keep (do not delete) resources that hold data or are protected, and
    /// list them in [`Plan::kept`] instead of blocking (rollback).
    pub keep_stateful: bool,
}

/// The ordered actions that take observed state to desired state.
///
/// Invariants: at most one action per address; every action comes after
/// the actions it `needs`; creates and updates follow the dependency graph,
/// deletes run in reverse of it; `hash` is the digest of everything else,
/// so a saved plan can be checked before it is applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The stack.
    pub stack: Stack,
    /// The release the plan moves to (`None` for `destroy`).
    pub release: Option<String>,
    /// The release's content digest, when it is stored.
    pub release_content: Option<Digest>,
    /// The generation the plan was made against (`None` from empty).
    pub base_generation: Option<u64>,
    /// The actions, in an order that respects `needs`.
    pub actions: Vec<Action>,
    /// Resources that need nothing.
    pub unchanged: u64,
    /// Resources no longer desired but kept because they hold data
    /// (rollback without `--allow-data-loss`).
    pub kept: Vec<Address>,
    /// The options it was made with.
    pub options: PlanOptions,
    /// Digest of all of the above.
    pub hash: Digest,
}

/// Counts of a plan's actions, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCounts {
    /// Creates.
    pub create: usize,
    /// In-place updates.
    pub update: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub delete: usize,
    /// Blocked actions.
    pub blocked: usize,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The actions that may not run.
    pub fn blocked(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.blocked.is_some())
    }

    /// Counts by kind.
    pub fn counts(&self) -> PlanCounts {
        let mut c = PlanCounts::default();
        for a in &self.actions {
            match a.kind {
                ActionKind::Create => c.create += 1,
                ActionKind::Update => c.update += 1,
                ActionKind::Replace => c.replace += 1,
                ActionKind::Delete => c.delete += 1,
            }
            if a.blocked.is_some() {
                c.blocked += 1;
            }
        }
        c
    }

    /// Computes the digest over the plan's content (everything but `hash`).
    pub fn compute_hash(&self) -> Digest {
        let mut copy = self.clone();
        copy.hash = Digest([0; 32]);
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        Digest::of(&bytes)
    }

    /// The addresses the plan touches.
    pub fn addresses(&self) -> BTreeSet<Address> {
        self.actions.iter().map(|a| a.address.clone()).collect()
    }
}

impl Plan {
    /// The catalog duration of every action, in seconds (a replace is a
    /// delete then a create).
    pub fn durations(&self) -> Vec<u64> {
        self.actions
            .iter()
            .map(|a| {
                let t = crate::catalog::lookup(&a.arm_type).map(|rt| rt.timing).ok();
                let t = t.map_or((0, 0, 0), |t| {
                    (
                        u64::from(t.create),
                        u64::from(t.update),
                        u64::from(t.delete),
                    )
                });
                match a.kind {
                    ActionKind::Create => t.0,
                    ActionKind::Update => t.1,
                    ActionKind::Delete => t.2,
                    ActionKind::Replace => t.2 + t.0,
                }
            })
            .collect()
    }

    /// The lower bound on an apply's makespan with `parallelism` operations
    /// in flight: `max(critical path, total work / parallelism)`, in seconds,
    /// with the two terms.
    pub fn makespan_bound(&self, parallelism: usize) -> (u64, u64, u64) {
        let d = self.durations();
        // Actions come after everything they need, so one pass computes the
        // longest path ending at each.
        let mut finish = vec![0u64; d.len()];
        for (i, a) in self.actions.iter().enumerate() {
            let start = a
                .needs
                .iter()
                .map(|j| finish.get(*j).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            finish[i] = start + d[i];
        }
        let critical = finish.iter().copied().max().unwrap_or(0);
        let work: u64 = d.iter().sum();
        let p = parallelism.max(1) as u64;
        let spread = work.div_ceil(p);
        (critical.max(spread), critical, spread)
    }
}
