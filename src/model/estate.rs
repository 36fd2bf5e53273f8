use std::collections::BTreeMap;

use super::address::Address;
use super::environment::Environment;
use super::graph::{Graph, GraphError};
use super::objectives::{CostItem, Objectives};
use super::resource::Resource;

/// The resolved desired state of one estate in one environment: every
/// resource, and the dependency graph over them.
///
/// Invariant: the graph's nodes are exactly the resources' addresses and its
/// edges exactly what each resource's references and `depends_on` imply; it
/// is acyclic. [`Estate::new`] is the only constructor and establishes both,
/// and the fields that could break it are private.
#[derive(Clone, Debug, PartialEq)]
pub struct Estate {
    /// The estate name (its folder under `specs/`), e.g. `chatwoot`.
    pub name: String,
    /// The environment this estate was resolved for.
    pub environment: Environment,
    /// The estate's promises.
    pub objectives: Objectives,
    /// Monthly costs that are not resources.
    pub cost_items: Vec<CostItem>,
    resources: BTreeMap<Address, Resource>,
    graph: Graph,
}

impl Estate {
    /// The dependency graph in Graphviz DOT, one cluster per module (an
    /// edge A -> B: A depends on B).
    pub fn to_dot(&self) -> String {
        let mut s = format!("digraph \"{}\" {{\n", self.stack());
        s.push_str(
            "  rankdir = \"RL\";\n  node [shape = \"box\", fontname = \"Helvetica\", fontsize = 10];\n",
        );
        let mut current: Option<&str> = None;
        for (addr, r) in self.resources() {
            if current != Some(addr.module()) {
                if current.is_some() {
                    s.push_str("  }\n");
                }
                s.push_str(&format!(
                    "  subgraph \"cluster_{0}\" {{\n    label = \"module.{0}\";\n",
                    addr.module()
                ));
                current = Some(addr.module());
            }
            s.push_str(&format!(
                "    \"{addr}\" [label = \"{addr}\\n{}\"];\n",
                r.arm_type
            ));
        }
        if current.is_some() {
            s.push_str("  }\n");
        }
        for (from, to) in self.graph().edges() {
            s.push_str(&format!("  \"{from}\" -> \"{to}\";\n"));
        }
        s.push_str("}\n");
        s
    }

    /// Builds an estate, deriving and checking its dependency graph.
    pub fn new(
        name: String,
        environment: Environment,
        objectives: Objectives,
        cost_items: Vec<CostItem>,
        resources: BTreeMap<Address, Resource>,
    ) -> Result<Self, GraphError> {
        let deps = resources
            .iter()
            .map(|(a, r)| (a.clone(), r.dependencies()))
            .collect();
        let graph = Graph::new(deps)?;
        Ok(Estate {
            name,
            environment,
            objectives,
            cost_items,
            resources,
            graph,
        })
    }

    /// A copy of this estate with `edit` applied to its resources, its graph
    /// derived again: what-if analysis (the faults the acceptance suite and
    /// the property tests inject) without breaking the graph invariant.
    pub fn with_resources(
        &self,
        edit: impl FnOnce(&mut BTreeMap<Address, Resource>),
    ) -> Result<Estate, GraphError> {
        let mut resources = self.resources.clone();
        edit(&mut resources);
        Estate::new(
            self.name.clone(),
            self.environment.clone(),
            self.objectives.clone(),
            self.cost_items.clone(),
            resources,
        )
    }

    /// The resources, by address.
    pub fn resources(&self) -> &BTreeMap<Address, Resource> {
        &self.resources
    }

    /// One resource.
    pub fn resource(&self, addr: &Address) -> Option<&Resource> {
        self.resources.get(addr)
    }

    /// The dependency graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Resources of one ARM type, in address order.
    pub fn of_type<'a>(&'a self, arm_type: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources
            .values()
            .filter(move |r| r.arm_type.eq_ignore_ascii_case(arm_type))
    }

    /// The stack name `<estate>/<env>` used in messages and store keys.
    pub fn stack(&self) -> String {
        format!("{}/{}", self.name, self.environment.name)
    }
}
