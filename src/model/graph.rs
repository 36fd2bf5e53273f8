use std::collections::{BTreeMap, BTreeSet};

use super::address::Address;

/// The dependency graph of an estate: for each resource, the resources it
/// depends on (which must exist before it is created and outlive it).
///
/// Invariant: every node named in an edge is a node of the graph, no node
/// depends on itself, and the graph is acyclic; [`Graph::new`] checks all
/// three, so a constructed `Graph` always has a topological order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    deps: BTreeMap<Address, BTreeSet<Address>>,
    order: Vec<Address>,
}

/// Why a set of edges is not a valid dependency graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// An edge names a resource that does not exist.
    #[error("`{from}` depends on `{to}`, which is not declared")]
    Dangling {
        /// The dependent resource.
        from: Address,
        /// The missing dependency.
        to: Address,
    },
    /// A resource depends on itself.
    #[error("`{0}` depends on itself")]
    SelfEdge(Address),
    /// The edges form a cycle; the path starts and ends with the same node.
    #[error("dependency cycle: {}", display_cycle(.0))]
    Cycle(Vec<Address>),
}

fn display_cycle(path: &[Address]) -> String {
    path.iter()
        .map(Address::to_string)
        .collect::<Vec<_>>()
        .join(" -> ")
}

impl Graph {
    /// Builds the graph from each node's dependencies.
    pub fn new(deps: BTreeMap<Address, BTreeSet<Address>>) -> Result<Self, GraphError> {
        for (from, tos) in &deps {
            for to in tos {
                if to == from {
                    return Err(GraphError::SelfEdge(from.clone()));
                }
                if !deps.contains_key(to) {
                    return Err(GraphError::Dangling {
                        from: from.clone(),
                        to: to.clone(),
                    });
                }
            }
        }
        if let Some(cycle) = find_cycle(&deps) {
            return Err(GraphError::Cycle(cycle));
        }
        let order = topological_order(&deps);
        Ok(Graph { deps, order })
    }

    /// The direct dependencies of `addr` (empty for an unknown address).
    pub fn dependencies(&self, addr: &Address) -> impl Iterator<Item = &Address> {
        self.deps.get(addr).into_iter().flatten()
    }

    /// Whether `from` directly depends on `to`.
    pub fn has_edge(&self, from: &Address, to: &Address) -> bool {
        self.deps.get(from).is_some_and(|d| d.contains(to))
    }

    /// Whether `from` depends on `to` directly or through other resources.
    pub fn depends_transitively(&self, from: &Address, to: &Address) -> bool {
        let mut stack = vec![from];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            for d in self.dependencies(n) {
                if d == to {
                    return true;
                }
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        false
    }

    /// Every edge `(from, to)`: `from` depends on `to`. Sorted.
    pub fn edges(&self) -> impl Iterator<Item = (&Address, &Address)> {
        self.deps
            .iter()
            .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
    }

    /// All nodes, dependencies before dependents; ties broken by address, so
    /// the order is deterministic.
    pub fn order(&self) -> &[Address] {
        &self.order
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// The closure of `roots` under "depends on": the roots and everything
    /// they need, directly or not.
    pub fn closure<'a>(
        &'a self,
        roots: impl IntoIterator<Item = &'a Address>,
    ) -> BTreeSet<Address> {
        let mut out: BTreeSet<Address> = BTreeSet::new();
        let mut stack: Vec<&Address> = roots.into_iter().collect();
        while let Some(n) = stack.pop() {
            if out.insert(n.clone()) {
                stack.extend(self.dependencies(n));
            }
        }
        out
    }
}

/// Iterative three-colour DFS; returns one cycle as a closed path.
fn find_cycle(deps: &BTreeMap<Address, BTreeSet<Address>>) -> Option<Vec<Address>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&Address, Colour> = BTreeMap::new();
    let empty = BTreeSet::new();
    for start in deps.keys() {
        if colour.contains_key(start) {
            continue;
        }
        // Stack of (node, iterator over its deps); `path` mirrors the grey nodes.
        let mut stack: Vec<(&Address, std::collections::btree_set::Iter<'_, Address>)> = Vec::new();
        colour.insert(start, Colour::Grey);
        stack.push((start, deps.get(start).unwrap_or(&empty).iter()));
        while let Some((node, iter)) = stack.last_mut() {
            match iter.next() {
                Some(next) => match colour.get(next) {
                    Some(Colour::Grey) => {
                        let pos = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<Address> =
                            stack[pos..].iter().map(|(n, _)| (*n).clone()).collect();
                        cycle.push(next.clone());
                        return Some(cycle);
                    }
                    Some(Colour::Black) => {}
                    None => {
                        colour.insert(next, Colour::Grey);
                        stack.push((next, deps.get(next).unwrap_or(&empty).iter()));
                    }
                },
                None => {
                    colour.insert(node, Colour::Black);
                    stack.pop();
                }
            }
        }
    }
    None
}

/// Kahn's algorithm with an ordered ready set. Assumes no cycle.
fn topological_order(deps: &BTreeMap<Address, BTreeSet<Address>>) -> Vec<Address> {
    let mut remaining: BTreeMap<&Address, usize> = deps.iter().map(|(a, d)| (a, d.len())).collect();
    let mut dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for (from, tos) in deps {
        for to in tos {
            dependents.entry(to).or_default().push(from);
        }
    }
    let mut ready: BTreeSet<&Address> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(a, _)| *a)
        .collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(next) = ready.pop_first() {
        order.push(next.clone());
        for d in dependents.get(next).into_iter().flatten() {
            if let Some(n) = remaining.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn graph(edges: &[(&str, &[&str])]) -> Result<Graph, GraphError> {
        Graph::new(
            edges
                .iter()
                .map(|(f, ts)| (a(f), ts.iter().map(|t| a(t)).collect()))
                .collect(),
        )
    }

    #[test]
    fn orders_dependencies_first() {
        let g = graph(&[
            ("m.c", &["m.b"]),
            ("m.b", &["m.a"]),
            ("m.a", &[]),
            ("m.d", &[]),
        ])
        .unwrap();
        let order: Vec<String> = g.order().iter().map(|x| x.to_string()).collect();
        assert_eq!(order, ["m.a", "m.b", "m.c", "m.d"]);
        assert!(g.depends_transitively(&a("m.c"), &a("m.a")));
        assert!(!g.depends_transitively(&a("m.a"), &a("m.c")));
        assert_eq!(g.closure([&a("m.c")]).len(), 3);
    }

    #[test]
    fn finds_cycles_dangling_and_self_edges() {
        let err = graph(&[("m.a", &["m.b"]), ("m.b", &["m.c"]), ("m.c", &["m.a"])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dependency cycle: m.a -> m.b -> m.c -> m.a"
        );
        assert!(matches!(
            graph(&[("m.a", &["m.z"])]),
            Err(GraphError::Dangling { .. })
        ));
        assert!(matches!(
            graph(&[("m.a", &["m.a"])]),
            Err(GraphError::SelfEdge(_))
        ));
    }
}
