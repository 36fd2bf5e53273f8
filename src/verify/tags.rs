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
                Some(v) if !v.trim().is_empty() => {}
                Some(_) => out.push(Finding::new("tags.required", Some(&r.address), format!("tag `{tag}` is empty"), format!("give `{tag}` a value in the estate's [tags] or the resource's tags"))),
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
