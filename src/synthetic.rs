//! Synthetic estates of any size, for benchmarks and property tests: a
//! layered DAG under one resource group.
//!
//! `layered(n, width, seed)` makes `n` resources: a resource group, then
//! layers of `width` network security groups; each resource in a layer
//! references one to three resources of the layer above (a dependency), so
//! the critical path is `ceil((n - 1) / width)` deep.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Address, Environment, Estate, Interval, Lifecycle, Objectives, Reference, Resource, Value,
};

/// A small deterministic generator (xorshift64*), so estates replay exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds it (0 is mapped to a fixed non-zero seed).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// The environment synthetic estates live in.
pub fn environment(name: &str) -> Environment {
    Environment::plain(name, "00000000-0000-4000-8000-0000000000aa", "eastus")
}

/// A layered estate of `n` resources (at least 1), `width` per layer.
pub fn layered(name: &str, n: usize, width: usize, seed: u64) -> Estate {
    let width = width.max(1);
    let mut rng = Rng::new(seed);
    let tags = BTreeMap::from([
        ("environment".to_string(), "dev".to_string()),
        ("owner".to_string(), "bench".to_string()),
        ("cost-center".to_string(), "cc-bench".to_string()),
    ]);
    let rg = Address::new("core", "rg").unwrap_or_else(|_| unreachable!("fixed identifiers"));
    let mut resources = BTreeMap::new();
    resources.insert(
        rg.clone(),
        Resource {
            address: rg.clone(),
            arm_type: "Microsoft.Resources/resourceGroups".into(),
            name: format!("{name}-dev-rg-eastus"),
            properties: BTreeMap::from([("location".into(), Value::String("eastus".into()))]),
            tags: tags.clone(),
            depends_on: BTreeSet::new(),
            lifecycle: Lifecycle::default(),
        },
    );
    let mut previous: Vec<Address> = Vec::new();
    let mut layer: Vec<Address> = Vec::new();
    for i in 1..n {
        let module = format!("m{}", (i - 1) / width % 100);
        let Ok(address) = Address::new(&module, &format!("r{i}")) else {
            continue;
        };
        let mut properties = BTreeMap::from([
            (
                "resource_group".to_string(),
                Value::Ref(Reference {
                    address: rg.clone(),
                    attr: "name".into(),
                }),
            ),
            ("location".to_string(), Value::String("eastus".into())),
            ("rule_count".to_string(), Value::Int((i % 7) as i64)),
        ]);
        if !previous.is_empty() {
            let k = 1 + rng.below(3) as usize;
            let peers: BTreeSet<usize> = (0..k)
                .map(|_| rng.below(previous.len() as u64) as usize)
                .collect();
            let refs: Vec<Value> = peers
                .into_iter()
                .map(|p| {
                    Value::Ref(Reference {
                        address: previous[p].clone(),
                        attr: "id".into(),
                    })
                })
                .collect();
            properties.insert("peers".into(), Value::List(refs));
        }
        resources.insert(
            address.clone(),
            Resource {
                address: address.clone(),
                arm_type: "Microsoft.Network/networkSecurityGroups".into(),
                name: format!("{name}-dev-nsg{i}-eastus"),
                properties,
                tags: tags.clone(),
                depends_on: BTreeSet::new(),
                lifecycle: Lifecycle::default(),
            },
        );
        layer.push(address);
        if layer.len() == width {
            previous = std::mem::take(&mut layer);
        }
    }
    let objectives = Objectives {
        rto: Interval::from_hours(4),
        rpo: Interval::from_hours(4),
        monthly_budget_usd: None,
        required_tags: vec![],
    };
    Estate::new(
        name.to_string(),
        environment("dev"),
        objectives,
        Vec::new(),
        resources,
    )
    .unwrap_or_else(|e| unreachable!("a layered estate is acyclic by construction: {e}"))
}

/// The deterministic resources the crash test expects generation `n` to
/// write: row 0 is `m.r<n mod 50>`, row j > 0 is `b.r<j-1>`; property `n`.
pub fn crash_resource(n: u64, row: u64) -> crate::model::ObservedResource {
    let (module, name) = match row {
        0 => ("m", format!("r{}", n % 50)),
        j => ("b", format!("r{}", j - 1)),
    };
    // `m`/`b` and `r<digits>` are always identifiers.
    let address = Address::new(module, &name)
        .or_else(|_| Address::new("m", "r"))
        .unwrap_or_else(|_| std::process::abort());
    crate::model::ObservedResource {
        id: format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/{}",
            address.name()
        ),
        name: address.name().to_string(),
        address,
        arm_type: "Microsoft.Network/virtualNetworks".into(),
        properties: [("n".to_string(), Value::Int(n as i64))]
            .into_iter()
            .collect(),
        attributes: Default::default(),
        sensitive: Default::default(),
        tags: Default::default(),
        dependencies: Default::default(),
        prevent_destroy: false,
    }
}

/// Commits the next generation of `stack`: `rows` [`crash_resource`]s
/// (the kill -9 test's workload; a generation acknowledged after this
/// returns must survive a crash).
pub fn commit_next(
    store: &crate::store::Store,
    stack: &crate::model::Stack,
    rows: u64,
    actor: &crate::store::Actor,
) -> Result<crate::model::Generation, crate::store::StoreError> {
    use crate::model::{GenerationKind, Outcome};
    use crate::store::{Change, NewGeneration};
    let n = store
        .latest_generation(stack)?
        .map_or(0, |g| g.number)
        .saturating_add(1);
    store.commit_generation(
        stack,
        NewGeneration {
            kind: GenerationKind::Apply,
            release: None,
            plan_hash: None,
            reason: None,
        },
        (0..rows.max(1))
            .map(|j| Change::Put {
                observed: Box::new(crash_resource(n, j)),
                applied: None,
            })
            .collect(),
        Outcome::Succeeded,
        actor,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_has_the_requested_shape() {
        let e = layered("bench", 101, 10, 7);
        assert_eq!(e.resources().len(), 101);
        // Every non-root resource depends on the resource group.
        let rg: Address = "core.rg".parse().unwrap();
        assert!(
            e.resources()
                .keys()
                .filter(|a| **a != rg)
                .all(|a| e.graph().has_edge(a, &rg))
        );
        assert_eq!(layered("bench", 101, 10, 7), e, "deterministic");
    }
}
