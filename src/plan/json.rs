//! Plans as JSON: the shape of `terraform show -json` (so existing plan
//! tooling such as conftest/OPA policies and terraform-compliance can read
//! it), and statectl's own saved-plan file for `plan --out` / `apply FILE`.

use serde_json::{Value as J, json};

use super::action::{Action, ActionKind, Plan};
use crate::catalog;
use crate::model::Value;

/// The Terraform version the document's shape follows: policy tools (for
/// example terraform-compliance) accept only Terraform versions they know.
/// statectl's own version is in the `statectl` block.
pub const TERRAFORM_FORMAT_OF: &str = "1.9.0";

/// Terraform's action list for an action kind.
fn actions(kind: ActionKind) -> Vec<&'static str> {
    match kind {
        ActionKind::Create => vec!["create"],
        ActionKind::Update => vec!["update"],
        ActionKind::Replace => vec!["delete", "create"],
        ActionKind::Delete => vec!["delete"],
    }
}

/// A resource's values as a type has them: no `tags` on a type ARM does
/// not let carry tags (policy tools take the key's presence to mean the
/// type supports it).
fn values(arm_type: &str, v: Option<&Value>, unknown: &[String]) -> J {
    let mut j = v.map_or(J::Null, |v| after_json(v, unknown));
    let taggable = catalog::lookup(arm_type).is_ok_and(|t| t.taggable);
    if let J::Object(m) = &mut j {
        if !taggable {
            m.remove("tags");
        }
        // Secrets are flagged in `*_sensitive`, never printed.
        for (k, v) in m.iter_mut() {
            if catalog::is_secret(arm_type, k) && !v.is_null() {
                *v = J::String(catalog::REDACTED.into());
            }
        }
    }
    j
}

/// `before_sensitive`/`after_sensitive`: the secret properties of a
/// resource's values, as Terraform flags them.
fn sensitive_flags(arm_type: &str, v: Option<&Value>) -> J {
    let flags: serde_json::Map<String, J> = match v {
        Some(Value::Map(m)) => m
            .keys()
            .filter(|k| catalog::is_secret(arm_type, k))
            .map(|k| (k.clone(), J::Bool(true)))
            .collect(),
        _ => serde_json::Map::new(),
    };
    J::Object(flags)
}

/// One resource as `planned_values` and `prior_state` list them.
fn resource_values(a: &Action, v: J) -> J {
    json!({
        "address": a.address.to_string(),
        "mode": "managed",
        "type": a.arm_type,
        "name": a.address.name(),
        "provider_name": "statectl",
        "schema_version": 0,
        "values": v,
    })
}

/// The `terraform show -json` shaped document of a plan (format 1.2):
/// `resource_changes`, `planned_values` (every resource the plan leaves),
/// `prior_state` (what it changes, as recorded), `configuration` (the
/// resources and their dependencies) and statectl's own block.
pub fn terraform_json(plan: &Plan) -> J {
    // Each action's values, made once for the three places that show them.
    let befores: Vec<J> = plan
        .actions
        .iter()
        .map(|a| values(&a.arm_type, a.before.as_ref(), &[]))
        .collect();
    let afters: Vec<J> = plan
        .actions
        .iter()
        .map(|a| values(&a.arm_type, a.after.as_ref(), &a.after_unknown))
        .collect();
    let changes: Vec<J> = plan
        .actions
        .iter()
        .zip(befores.iter().zip(&afters))
        .map(|(a, (before, after))| {
            let unknown: serde_json::Map<String, J> = a.after_unknown.iter().map(|k| (k.clone(), J::Bool(true))).collect();
            json!({
                "address": a.address.to_string(),
                "module_address": format!("module.{}", a.address.module()),
                "mode": "managed",
                "type": a.arm_type,
                "name": a.address.name(),
                "provider_name": "statectl",
                "change": {
                    "actions": actions(a.kind),
                    "before": before,
                    "after": after,
                    "after_unknown": unknown,
                    "before_sensitive": sensitive_flags(&a.arm_type, a.before.as_ref()),
                    "after_sensitive": sensitive_flags(&a.arm_type, a.after.as_ref()),
                    "replace_paths": a.changes.iter().filter(|c| c.forces_replacement).map(|c| vec![c.path.clone()]).collect::<Vec<_>>(),
                },
                "action_reason": a.reason,
                "statectl_blocked": a.blocked,
            })
        })
        .collect();
    let planned: Vec<J> = plan
        .actions
        .iter()
        .zip(&afters)
        .filter(|(a, _)| a.kind != ActionKind::Delete)
        .map(|(a, v)| resource_values(a, v.clone()))
        .collect();
    let prior: Vec<J> = plan
        .actions
        .iter()
        .zip(&befores)
        .filter(|(a, _)| a.before.is_some())
        .map(|(a, v)| resource_values(a, v.clone()))
        .collect();
    let config: Vec<J> = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::Delete)
        .map(|a| {
            let depends: Vec<String> = a
                .needs
                .iter()
                .filter_map(|i| plan.actions.get(*i))
                .map(|d| d.address.to_string())
                .collect();
            json!({
                "address": a.address.to_string(),
                "mode": "managed",
                "type": a.arm_type,
                "name": a.address.name(),
                "provider_config_key": "statectl",
                "expressions": {},
                "schema_version": 0,
                "depends_on": depends,
            })
        })
        .collect();
    let counts = plan.counts();
    json!({
        "format_version": "1.2",
        "terraform_version": TERRAFORM_FORMAT_OF,
        "planned_values": {"root_module": {"resources": planned}},
        "prior_state": {
            "format_version": "1.0",
            "terraform_version": TERRAFORM_FORMAT_OF,
            "values": {"root_module": {"resources": prior}},
        },
        "configuration": {
            "provider_config": {"statectl": {"name": "statectl", "full_name": "statectl"}},
            "root_module": {"resources": config},
        },
        "resource_changes": changes,
        "statectl": {
            "version": env!("CARGO_PKG_VERSION"),
            "stack": plan.stack.key(),
            "release": plan.release.as_deref().map(|r| format!("v{r}")),
            "base_generation": plan.base_generation,
            "plan_hash": plan.hash.to_hex(),
            "unchanged": plan.unchanged,
            "counts": counts,
        },
    })
}

/// Unknown values are `null` in Terraform's `after`, flagged in `after_unknown`.
fn after_json(v: &Value, unknown: &[String]) -> J {
    match v.to_json() {
        J::Object(mut m) => {
            for k in unknown {
                m.insert(k.clone(), J::Null);
            }
            J::Object(m)
        }
        other => other,
    }
}

/// The saved-plan file: the whole plan, checked by its hash when read.
pub fn to_saved(plan: &Plan) -> String {
    let doc = json!({ "statectl_plan": 1, "plan": plan });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Reads a saved plan, refusing one whose content no longer matches its hash.
pub fn from_saved(text: &str) -> Result<Plan, String> {
    let doc: J = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a saved plan (JSON error at line {} column {})",
            e.line(),
            e.column()
        )
    })?;
    if doc.get("statectl_plan").and_then(J::as_u64) != Some(1) {
        return Err("not a statectl saved plan (missing `statectl_plan: 1`); write one with `statectl plan --out FILE`".into());
    }
    let plan: Plan = serde_json::from_value(doc.get("plan").cloned().unwrap_or(J::Null))
        .map_err(|e| format!("malformed saved plan: {e}"))?;
    if plan.compute_hash() != plan.hash {
        return Err(
            "the saved plan was edited after it was made (its hash does not match); make a new one"
                .into(),
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::PlanOptions;
    use crate::plan::testkit::{estate, plan_of, resource, rg};

    /// A create of a resource group (taggable) and a role assignment
    /// (ARM gives it no tags), both declared with an owner tag.
    fn doc() -> J {
        let role = resource(
            "core.role",
            "Microsoft.Authorization/roleAssignments",
            &[("principal_id", Value::String("p".into()))],
        );
        terraform_json(&create_all(&estate([rg(), role])))
    }

    /// The plan that creates every resource of `e`.
    fn create_all(e: &crate::model::Estate) -> Plan {
        let none = BTreeMap::new();
        plan_of(Some(e), &none, &BTreeMap::new(), &PlanOptions::default()).unwrap()
    }

    #[test]
    fn the_document_has_what_terraform_show_json_has() {
        let d = doc();
        for key in [
            "format_version",
            "terraform_version",
            "planned_values",
            "prior_state",
            "configuration",
            "resource_changes",
        ] {
            assert!(d.get(key).is_some(), "missing {key}");
        }
        assert_eq!(d["format_version"], "1.2");
        assert_eq!(d["terraform_version"], TERRAFORM_FORMAT_OF);
        assert_eq!(d["statectl"]["version"], env!("CARGO_PKG_VERSION"));
        let planned = d["planned_values"]["root_module"]["resources"]
            .as_array()
            .unwrap();
        let addresses: Vec<&str> = planned
            .iter()
            .map(|r| r["address"].as_str().unwrap())
            .collect();
        assert_eq!(addresses.len(), 2);
        assert!(addresses.contains(&"core.rg") && addresses.contains(&"core.role"));
        // Nothing existed before: the prior state is empty.
        assert_eq!(
            d["prior_state"]["values"]["root_module"]["resources"],
            json!([])
        );
    }

    #[test]
    fn a_literal_password_is_flagged_and_never_printed() {
        let pg = resource(
            "core.pg",
            "Microsoft.DBforPostgreSQL/flexibleServers",
            &[("administrator_password", Value::String("hunter2".into()))],
        );
        let plan = create_all(&estate([rg(), pg]));
        let d = terraform_json(&plan);
        assert!(!d.to_string().contains("hunter2"), "{d}");
        let text = crate::plan::render::render(&plan, false);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("administrator_password = (sensitive)"),
            "{text}"
        );
        let change = d["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == "core.pg")
            .unwrap();
        assert_eq!(
            change["change"]["after"]["administrator_password"],
            "(sensitive)"
        );
        assert_eq!(
            change["change"]["after_sensitive"]["administrator_password"],
            true
        );
    }

    #[test]
    fn tags_are_absent_on_a_type_that_cannot_carry_them() {
        let d = doc();
        let change = |addr: &str| {
            d["resource_changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["address"] == addr)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            change("core.rg")["change"]["after"]["tags"]["owner"],
            "test"
        );
        assert!(change("core.role")["change"]["after"].get("tags").is_none());
        let planned = &d["planned_values"]["root_module"]["resources"];
        let role = planned
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == "core.role")
            .unwrap();
        assert!(role["values"].get("tags").is_none());
        assert_eq!(role["values"]["principal_id"], "p");
    }
}
