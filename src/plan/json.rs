//! Plans as JSON: the shape of `terraform show -json` (so existing plan
//! tooling such as conftest/OPA policies and terraform-compliance can read
//! it), and statectl's own saved-plan file for `plan --out` / `apply FILE`.

use serde_json::{Value as J, json};

use super::action::{ActionKind, Plan};
use crate::model::Value;

/// The `terraform show -json` shaped document of a plan.
pub fn terraform_json(plan: &Plan) -> J {
    let changes: Vec<J> = plan
        .actions
        .iter()
        .map(|a| {
            let actions: Vec<&str> = match a.kind {
                ActionKind::Create => vec!["create"],
                ActionKind::Update => vec!["update"],
                ActionKind::Replace => vec!["delete", "create"],
                ActionKind::Delete => vec!["delete"],
            };
            let unknown: serde_json::Map<String, J> = a.after_unknown.iter().map(|k| (k.clone(), J::Bool(true))).collect();
            json!({
                "address": a.address.to_string(),
                "module_address": format!("module.{}", a.address.module()),
                "mode": "managed",
                "type": a.arm_type,
                "name": a.address.name(),
                "provider_name": "statectl",
                "change": {
                    "actions": actions,
                    "before": a.before.as_ref().map_or(J::Null, Value::to_json),
                    "after": a.after.as_ref().map_or(J::Null, |v| after_json(v, &a.after_unknown)),
                    "after_unknown": unknown,
                    "before_sensitive": false,
                    "after_sensitive": false,
                    "replace_paths": a.changes.iter().filter(|c| c.forces_replacement).map(|c| vec![c.path.clone()]).collect::<Vec<_>>(),
                },
                "action_reason": a.reason,
                "statectl_blocked": a.blocked,
            })
        })
        .collect();
    let counts = plan.counts();
    json!({
        "format_version": "1.2",
        "terraform_version": format!("statectl {}", env!("CARGO_PKG_VERSION")),
        "resource_changes": changes,
        "statectl": {
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
