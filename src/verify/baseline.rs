//! The estate and its environment held against the organisation's
//! [`Floor`]: a declaration looser than the baseline is a finding of the
//! guarantee it weakens (an RPO of 30 days is a `recovery.rpo` finding,
//! however well the resources meet it), and so is a resource the estate's
//! seed requires that is not there.

use super::Finding;
use crate::model::{Environment, Estate, Expect, Floor, MaintenanceWindow, Objectives, Value};

/// The objectives the resources are judged against: the stricter of what
/// the estate declares and what the baseline demands.
pub(super) fn effective(o: &Objectives, floor: &Floor) -> Objectives {
    let mut out = o.clone();
    if let Some(rto) = floor.rto {
        out.rto = out.rto.min(rto);
    }
    if let Some(rpo) = floor.rpo {
        out.rpo = out.rpo.min(rpo);
    }
    if let Some(b) = floor.monthly_budget_usd {
        out.monthly_budget_usd = Some(out.monthly_budget_usd.map_or(b, |m| m.min(b)));
    }
    for t in &floor.required_tags {
        if !out.required_tags.contains(t) {
            out.required_tags.push(t.clone());
        }
    }
    out
}

/// Every way the estate's declarations fall below `floor`.
pub(super) fn check(estate: &Estate, floor: &Floor, wanted: &dyn Fn(&str) -> bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let src = &floor.origin;
    if wanted("recovery") || wanted("cost") || wanted("tags") {
        objectives(&estate.objectives, floor, "the baseline", src, &mut out);
    }
    if wanted("prod") {
        environment(&estate.environment, floor, "the baseline", src, &mut out);
    }
    if wanted("prod") && !floor.allowed_regions.is_empty() {
        regions(estate, floor, &mut out);
    }
    if wanted("naming") && floor.naming.is_some() {
        naming(estate, &mut out);
    }
    for req in &floor.requires {
        if wanted(req.rule.split('.').next().unwrap_or_default()) {
            requirement(estate, req, &mut out);
        }
    }
    out
}

/// The ratchet: every way the estate's declarations are looser than those
/// of `previous`, the release that last succeeded in this environment
/// (`version`). Unlike the baseline's, these findings may be excepted (a
/// deliberate, approved loosening); each names the release it weakens.
pub(super) fn ratchet(
    estate: &Estate,
    version: &str,
    previous: &Estate,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<Finding> {
    let env = &previous.environment;
    let was = Floor {
        origin: format!("release {version}, the last that succeeded in {}", env.name),
        rto: Some(previous.objectives.rto),
        rpo: Some(previous.objectives.rpo),
        monthly_budget_usd: previous.objectives.monthly_budget_usd,
        required_tags: previous.objectives.required_tags.clone(),
        region: Some(env.region.clone()),
        dr_region: env.dr_region.clone(),
        zone_redundant: env.zone_redundant,
        private_endpoints_only: env.private_endpoints_only,
        destroy_protection: env.destroy_protection,
        backup_before_apply: env.backup_before_apply,
        state_retention_days: Some(env.state_retention_days),
        promote_from: env.promote_from.clone(),
        maintenance_window: env.maintenance_window.clone(),
        ..Floor::default()
    };
    let who = format!("release {version}");
    let mut out = Vec::new();
    if wanted("recovery") || wanted("cost") || wanted("tags") {
        objectives(&estate.objectives, &was, &who, &was.origin, &mut out);
    }
    if wanted("prod") {
        environment(&estate.environment, &was, &who, &was.origin, &mut out);
    }
    for f in &mut out {
        f.baseline = false;
    }
    out
}

fn objectives(o: &Objectives, floor: &Floor, who: &str, src: &str, out: &mut Vec<Finding>) {
    if let Some(rto) = floor.rto
        && o.rto > rto
    {
        out.push(Finding::below_baseline(
            "recovery.rto",
            format!(
                "the estate declares an RTO of {}, looser than {who}'s {rto}",
                o.rto
            ),
            format!(
                "set `rto = \"{rto}\"` (or stricter) in the estate's [objectives]; {who}: {src}"
            ),
        ));
    }
    if let Some(rpo) = floor.rpo
        && o.rpo > rpo
    {
        out.push(Finding::below_baseline(
            "recovery.rpo",
            format!(
                "the estate declares an RPO of {}, looser than {who}'s {rpo}",
                o.rpo
            ),
            format!(
                "set `rpo = \"{rpo}\"` (or stricter) in the estate's [objectives]; {who}: {src}"
            ),
        ));
    }
    if let Some(b) = floor.monthly_budget_usd {
        match o.monthly_budget_usd {
            Some(m) if m <= b => {}
            Some(m) => out.push(Finding::below_baseline(
                "cost.budget",
                format!("the estate declares a budget of ${m}, over {who}'s ${b}"),
                format!("set `monthly_budget_usd = {b}` (or less) in the estate's [objectives]"),
            )),
            None => out.push(Finding::below_baseline(
                "cost.budget",
                format!("the estate declares no budget; {who}'s is ${b}"),
                format!("set `monthly_budget_usd = {b}` in the estate's [objectives]"),
            )),
        }
    }
    let missing: Vec<&str> = floor
        .required_tags
        .iter()
        .filter(|t| !o.required_tags.contains(t))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        out.push(Finding::below_baseline(
            "tags.required",
            format!(
                "the estate's required_tags leave out {}, which {who} requires",
                missing.join(", ")
            ),
            format!(
                "add {} to `required_tags` in the estate's [objectives]",
                missing.join(", ")
            ),
        ));
    }
}

fn environment(env: &Environment, floor: &Floor, who: &str, src: &str, out: &mut Vec<Finding>) {
    let name = &env.name;
    let mut flag = |on: bool, want: bool, rule: &'static str, key: &str, what: &str| {
        if want && !on {
            out.push(Finding::below_baseline(
                rule,
                format!("environment `{name}` does not {what}"),
                format!(
                    "set `{key} = true` in environments/{name}.toml ({who} requires it: {src})"
                ),
            ));
        }
    };
    flag(
        env.destroy_protection,
        floor.destroy_protection,
        "prod.destroy-protection",
        "destroy_protection",
        "forbid destroying resources",
    );
    flag(
        env.private_endpoints_only,
        floor.private_endpoints_only,
        "prod.private-only",
        "private_endpoints_only",
        "require private endpoints only",
    );
    flag(
        env.backup_before_apply,
        floor.backup_before_apply,
        "prod.backup-before-apply",
        "backup_before_apply",
        "back its state up before every apply",
    );
    flag(
        env.zone_redundant,
        floor.zone_redundant,
        "prod.zone-redundancy",
        "zone_redundant",
        "require zone redundancy",
    );
    if let Some(want) = &floor.region
        && &env.region != want
    {
        out.push(Finding::below_baseline(
            "prod.regions",
            format!(
                "environment `{name}` deploys to `{}`; {who}'s primary region is `{want}`",
                env.region
            ),
            format!("set `region = \"{want}\"` ({who}: {src})"),
        ));
    }
    if let Some(want) = &floor.dr_region
        && env.dr_region.as_ref() != Some(want)
    {
        let has = env
            .dr_region
            .as_deref()
            .map_or("no DR region".to_string(), |r| format!("DR region `{r}`"));
        out.push(Finding::below_baseline(
            "prod.regions",
            format!("environment `{name}` has {has}; {who}'s DR region is `{want}`"),
            format!("set `dr_region = \"{want}\"` ({who}: {src})"),
        ));
    }
    if let Some(days) = floor.state_retention_days
        && env.state_retention_days < days
    {
        out.push(Finding::below_baseline(
            "prod.state-retention",
            format!(
                "environment `{name}` keeps pruned state {} days, under {who}'s {days}",
                env.state_retention_days
            ),
            format!("set `state_retention_days = {days}` (or more; {who}: {src})"),
        ));
    }
    if let Some(want) = &floor.promote_from
        && env.promote_from.as_ref() != Some(want)
    {
        out.push(Finding::below_baseline(
            "prod.promotion-gate",
            format!("environment `{name}` does not require a release to succeed in `{want}` first"),
            format!("set `promote_from = \"{want}\"` ({who}: {src})"),
        ));
    }
    if let Some(w) = &floor.maintenance_window {
        match &env.maintenance_window {
            None => out.push(Finding::below_baseline(
                "prod.maintenance-window",
                format!(
                    "environment `{name}` declares no maintenance window; {who}'s is {}",
                    show(w)
                ),
                format!("add {who}'s [maintenance_window] to the environment file ({src})"),
            )),
            Some(e) if !within(e, w) => out.push(Finding::below_baseline(
                "prod.maintenance-window",
                format!(
                    "environment `{name}`'s window ({}) is wider than {who}'s ({})",
                    show(e),
                    show(w)
                ),
                format!("narrow the window to within {who}'s days, hours and time zone ({src})"),
            )),
            Some(_) => {}
        }
    }
}

/// Every resource placed in a region the baseline allows (seed 001
/// "Compliance / Deny / Allowed regions"); `global` is not a region.
fn regions(estate: &Estate, floor: &Floor, out: &mut Vec<Finding>) {
    for r in estate.resources().values() {
        let Some(loc) = r.property("location").and_then(Value::as_str) else {
            continue;
        };
        if loc != "global" && !floor.allowed_regions.iter().any(|a| a == loc) {
            out.push(Finding::new(
                "prod.regions",
                Some(&r.address),
                format!(
                    "`{}` is placed in `{loc}`, not a region the baseline allows ({})",
                    r.name,
                    floor.allowed_regions.join(", ")
                ),
                format!(
                    "place it in one of {} ({})",
                    floor.allowed_regions.join(", "),
                    floor.origin
                ),
            ));
        }
    }
}

/// Types whose names Azure restricts (no hyphens, global uniqueness, short)
/// or that the seed names itself, so the convention cannot apply.
const NAMING_EXEMPT: &[&str] = &[
    "Microsoft.Storage/storageAccounts",
    "Microsoft.ContainerRegistry/registries",
    "Microsoft.KeyVault/vaults",
    "Microsoft.Web/sites/slots",
];

/// Regional resources named `{product}-{environment}-{service}-{region}`
/// (seed 001), with the estate as the product and the resource's own
/// location as the region.
fn naming(estate: &Estate, out: &mut Vec<Finding>) {
    let env = &estate.environment.name;
    for r in estate.resources().values() {
        let Some(loc) = r.property("location").and_then(Value::as_str) else {
            continue;
        };
        if loc == "global" || NAMING_EXEMPT.contains(&r.arm_type.as_str()) {
            continue;
        }
        let prefix = format!("{}-{env}-", estate.name);
        let suffix = format!("-{loc}");
        let service = r
            .name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(&suffix));
        if service.is_none_or(str::is_empty) {
            out.push(Finding::new(
                "naming.convention",
                Some(&r.address),
                format!("`{}` does not follow `{}-{env}-<service>-{loc}`", r.name, estate.name),
                format!("name it `{prefix}<service>{suffix}` (seed 001: \"{{product}}-{{environment}}-{{service}}-{{region}}\")"),
            ));
        }
    }
}

fn show(w: &MaintenanceWindow) -> String {
    let days: Vec<String> = w.days.iter().map(ToString::to_string).collect();
    format!(
        "{} {}-{} {}",
        days.join(","),
        crate::model::format_clock(w.start),
        crate::model::format_clock(w.end),
        w.timezone
    )
}

/// Whether `inner` opens only when `outer` is open: same time zone, a
/// subset of its days, inside its hours.
fn within(inner: &MaintenanceWindow, outer: &MaintenanceWindow) -> bool {
    inner.timezone == outer.timezone
        && inner.days.iter().all(|d| outer.days.contains(d))
        && inner.start >= outer.start
        && inner.end <= outer.end
}

fn requirement(estate: &Estate, req: &crate::model::Requirement, out: &mut Vec<Finding>) {
    let fix = format!(
        "declare `{}` as the baseline asks ({})",
        req.resource, req.origin
    );
    let Some(r) = estate.resource(&req.resource) else {
        out.push(Finding::new(
            req.rule,
            Some(&req.resource),
            format!(
                "`{}` ({}) is missing; {}",
                req.resource, req.arm_type, req.seed
            ),
            fix,
        ));
        return;
    };
    if r.arm_type != req.arm_type {
        out.push(Finding::new(
            req.rule,
            Some(&req.resource),
            format!(
                "`{}` is a {}, not the {} the baseline requires; {}",
                req.resource, r.arm_type, req.arm_type, req.seed
            ),
            fix,
        ));
        return;
    }
    for (path, want) in &req.properties {
        let have = property_at(r, path);
        let ok = match want {
            Expect::Equals(s) => {
                let want = s.replace("{env}", &estate.environment.name);
                have.is_some_and(|v| text(v).as_deref() == Some(want.as_str()))
            }
            Expect::AtLeast(n) => have.and_then(Value::as_int).is_some_and(|v| v >= *n),
            Expect::AtMost(n) => have.and_then(Value::as_int).is_some_and(|v| v <= *n),
            Expect::References(a, attr) => {
                let mut hit = false;
                if let Some(v) = have {
                    v.for_each_ref(&mut |x| {
                        hit |= &x.address == a && attr.as_ref().is_none_or(|t| *t == x.attr);
                    });
                }
                hit
            }
        };
        if !ok {
            out.push(Finding::new(
                req.rule,
                Some(&req.resource),
                format!("`{path}` of `{}` is not {want}; {}", req.resource, req.seed),
                fix.clone(),
            ));
        }
    }
}

/// A property by dotted path, where a segment may index a list
/// (`criteria[0].metric_name`).
fn property_at<'a>(r: &'a crate::model::Resource, path: &str) -> Option<&'a Value> {
    let mut segs = path.split('.');
    let first = segs.next()?;
    let (name, idx) = split_index(first);
    let mut cur = r.properties.get(name)?;
    if let Some(i) = idx {
        cur = cur.as_list()?.get(i)?;
    }
    for seg in segs {
        let (name, idx) = split_index(seg);
        cur = cur.as_map()?.get(name)?;
        if let Some(i) = idx {
            cur = cur.as_list()?.get(i)?;
        }
    }
    Some(cur)
}

fn split_index(seg: &str) -> (&str, Option<usize>) {
    match seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
        Some((name, i)) => (name, i.parse().ok()),
        None => (seg, None),
    }
}

/// The text of a scalar, as the baseline writes it.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Weekday;

    fn window(days: &[Weekday], start: u16, end: u16, tz: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            days: days.to_vec(),
            start,
            end,
            timezone: tz.into(),
        }
    }

    #[test]
    fn a_window_is_within_only_on_its_days_hours_and_zone() {
        let base = window(&[Weekday::Sunday], 120, 360, "America/New_York");
        assert!(within(&base, &base));
        assert!(within(
            &window(&[Weekday::Sunday], 180, 300, "America/New_York"),
            &base
        ));
        assert!(!within(
            &window(
                &[Weekday::Sunday, Weekday::Monday],
                120,
                360,
                "America/New_York"
            ),
            &base
        ));
        assert!(!within(
            &window(&[Weekday::Sunday], 60, 360, "America/New_York"),
            &base
        ));
        assert!(!within(
            &window(&[Weekday::Sunday], 120, 420, "America/New_York"),
            &base
        ));
        assert!(!within(&window(&[Weekday::Sunday], 120, 360, "UTC"), &base));
    }
}
