use super::Finding;
use crate::catalog;
use crate::model::Estate;

pub(super) fn check(estate: &Estate, required: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    let env = &estate.environment.name;
    for r in estate.resources().values() {
        if !catalog::lookup(&r.arm_type).is_ok_and(|rt| rt.taggable) {
            continue;
        }
        for tag in required {
            match r.tags.get(tag) {
                Some(v) if !placeholder(v) => {}
                Some(_) => out.push(Finding::new("tags.required", Some(&r.address), format!("tag `{tag}` is empty or a placeholder"), format!("give `{tag}` a value in the estate's [tags] or the resource's tags"))),
                None => out.push(Finding::new("tags.required", Some(&r.address), format!("tag `{tag}` is missing"), format!("add `{tag}` to the estate's [tags] (applied to every taggable resource) or to the resource"))),
            }
        }
        if let Some(v) = r.tags.get("environment")
            && v != env
        {
            out.push(Finding::new(
                "tags.environment",
                Some(&r.address),
                format!("tag environment = `{v}` in environment `{env}`"),
                "set `environment = \"${env.name}\"` in the estate's [tags]",
            ));
        }
    }
    out
}

/// A tag value that carries nothing: empty, or a placeholder someone typed
/// to get past the rule.
fn placeholder(v: &str) -> bool {
    let t = v.trim().to_ascii_lowercase();
    t.is_empty()
        || t.chars().all(|c| !c.is_ascii_alphanumeric())
        || matches!(
            t.as_str(),
            "n/a"
                | "na"
                | "none"
                | "tbd"
                | "todo"
                | "unknown"
                | "null"
                | "x"
                | "xxx"
                | "placeholder"
                | "changeme"
        )
}
