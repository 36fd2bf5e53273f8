//! What a project describes: its estates, each with its resource count in
//! every environment (`statectl estates`).

use std::fmt;

use super::{OpsError, Project};
use crate::model::Table;
use crate::spec::Loader;

/// The project's estates in name order, each with its environments in name
/// order and the resources it declares there.
///
/// Invariant: built only from specs that load in every environment (one
/// that does not is the caller's error, never a row with a zero count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstateList {
    /// (estate, [(environment, resources)]).
    pub estates: Vec<(String, Vec<(String, usize)>)>,
}

impl Project {
    /// Loads every estate in every environment and counts its resources.
    pub fn estates(&self) -> Result<EstateList, OpsError> {
        let loader = Loader::new(&self.root);
        let envs = loader.environment_names()?;
        let mut estates = Vec::new();
        for estate in loader.estate_names()? {
            let mut counts = Vec::new();
            for env in &envs {
                let e = loader.load(&estate, env)?;
                counts.push((env.clone(), e.resources().len()));
            }
            estates.push((estate, counts));
        }
        Ok(EstateList { estates })
    }
}

impl EstateList {
    /// `[{"estate": .., "environments": [{"name": .., "resources": n}]}]`.
    pub fn to_json(&self) -> serde_json::Value {
        let v: Vec<serde_json::Value> = self
            .estates
            .iter()
            .map(|(name, counts)| {
                let envs: Vec<serde_json::Value> = counts
                    .iter()
                    .map(|(e, n)| serde_json::json!({"name": e, "resources": n}))
                    .collect();
                serde_json::json!({"estate": name, "environments": envs})
            })
            .collect();
        serde_json::Value::Array(v)
    }
}

impl fmt::Display for EstateList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.estates.iter().map(|(name, counts)| {
            let envs: Vec<&str> = counts.iter().map(|(e, _)| e.as_str()).collect();
            let n: Vec<String> = counts.iter().map(|(e, n)| format!("{e}={n}")).collect();
            vec![name.clone(), envs.join(", "), n.join(" ")]
        });
        let t = Table::new(&["ESTATE", "ENVIRONMENTS", "RESOURCES"], rows);
        write!(f, "{t}")
    }
}
