//! The schema of `policy/baseline.toml`: the organisation's floor under the
//! estates (seed 004 for production, each seed's own figures), in layers:
//!
//! ```toml
//! [all]                                # every estate, every environment
//! [environments.prod]                  # every estate in prod
//! [estates.chatwoot]                   # one estate, every environment
//! [estates.chatwoot.environments.prod] # one estate in one environment
//! [[estates.chatwoot.require]]         # a resource its seed requires
//! ```
//!
//! Every figure is checked here (a typo in a key is an error, not a rule
//! silently switched off), so `statectl validate` reports it at file:line.

use toml::de::DeTable;

use super::environment::read_window;
use super::error::{SpecError, SpecErrorKind as K};
use super::source::SourceFile;
use super::toml_access::{
    SValue, as_array, as_bool, as_str, as_table, check_keys, de_int_as, interval, join, lookup,
    opt, req,
};
use crate::model::{Address, Baseline, Expect, Floor, Requirement};

const FILE_KEYS: &[&str] = &["all", "environments", "estates"];
const FLOOR_KEYS: &[&str] = &[
    "rto",
    "rpo",
    "monthly_budget_usd",
    "required_tags",
    "region",
    "dr_region",
    "zone_redundant",
    "private_endpoints_only",
    "destroy_protection",
    "backup_before_apply",
    "high_availability",
    "state_retention_days",
    "promote_from",
    "maintenance_window",
    "key_vault_soft_delete_days",
    "log_retention_days",
    "log_archive_days",
    "backup_retention_days",
    "secret_rotation_days",
    "rotation_notice_days",
    "allowed_regions",
    "naming",
    "manual_rotation_vaults",
    "drill_every",
];

/// The naming forms `naming` may take.
pub(crate) const NAMING_FORMS: &[&str] = &["{product}-{environment}-{service}-{region}"];
const REQUIRE_KEYS: &[&str] = &["rule", "resource", "type", "properties", "seed"];

/// The whole baseline; every problem in the file is pushed to `errs`.
pub(super) fn read_baseline(
    file: &SourceFile,
    doc: &DeTable<'_>,
    rules: &[&'static str],
    errs: &mut Vec<SpecError>,
) -> Baseline {
    check_keys(file, doc, "", FILE_KEYS, errs);
    let mut b = Baseline::default();
    if let Some(v) = lookup(doc, "all") {
        b.all = read_layer(file, v, "all", &[], errs);
    }
    for (env, v) in sub_tables(file, doc, "environments", errs) {
        let p = join("environments", &env);
        b.environments
            .insert(env, read_layer(file, v, &p, &[], errs));
    }
    for (estate, v) in sub_tables(file, doc, "estates", errs) {
        let p = join("estates", &estate);
        let Some(t) = opt(as_table(file, v, &p), errs) else {
            continue;
        };
        let mut f = read_layer(file, v, &p, &["environments", "require"], errs);
        if let Some(items) = lookup(t, "require") {
            f.requires = read_requires(file, items, &join(&p, "require"), rules, errs);
        }
        for (env, ev) in sub_tables(file, t, "environments", errs) {
            let ep = join(&join(&p, "environments"), &env);
            let mut ef = read_layer(file, ev, &ep, &["require"], errs);
            if let Some(items) = ev.get_ref().as_table().and_then(|et| lookup(et, "require")) {
                ef.requires = read_requires(file, items, &join(&ep, "require"), rules, errs);
            }
            b.estate_environments.insert((estate.clone(), env), ef);
        }
        b.estates.insert(estate, f);
    }
    b
}

/// The named sub-tables of `key` in `t`.
fn sub_tables<'a, 'i>(
    file: &SourceFile,
    t: &'a DeTable<'i>,
    key: &str,
    errs: &mut Vec<SpecError>,
) -> Vec<(String, &'a SValue<'i>)> {
    let Some(v) = lookup(t, key) else {
        return Vec::new();
    };
    let Some(inner) = opt(as_table(file, v, key), errs) else {
        return Vec::new();
    };
    inner
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), v))
        .collect()
}

fn read_layer(
    file: &SourceFile,
    v: &SValue<'_>,
    p: &str,
    extra: &[&str],
    errs: &mut Vec<SpecError>,
) -> Floor {
    let Some(t) = opt(as_table(file, v, p), errs) else {
        return Floor::default();
    };
    let allowed: Vec<&str> = FLOOR_KEYS.iter().chain(extra).copied().collect();
    check_keys(file, t, p, &allowed, errs);
    let key = |k: &str| join(p, k);
    let text = |k: &str, errs: &mut Vec<SpecError>| {
        lookup(t, k).and_then(|v| opt(as_str(file, v, &key(k)), errs).map(str::to_string))
    };
    let days = |k: &str, errs: &mut Vec<SpecError>| {
        lookup(t, k).and_then(|v| {
            opt(
                de_int_as::<u32>(file, v, &key(k), "a number of days from 0 to 4294967295"),
                errs,
            )
        })
    };
    let flag = |k: &str, errs: &mut Vec<SpecError>| {
        lookup(t, k)
            .and_then(|v| opt(as_bool(file, v, &key(k)), errs))
            .unwrap_or(false)
    };
    let span = |k: &str, errs: &mut Vec<SpecError>| {
        lookup(t, k).and_then(|v| opt(interval(file, v, &key(k)), errs))
    };
    let texts = |k: &str, errs: &mut Vec<SpecError>| -> Vec<String> {
        lookup(t, k)
            .and_then(|v| opt(as_array(file, v, &key(k)), errs))
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| opt(as_str(file, i, &key(k)), errs))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let required_tags = texts("required_tags", errs);
    let allowed_regions = texts("allowed_regions", errs);
    Floor {
        origin: file.path().display().to_string(),
        rto: span("rto", errs),
        rpo: span("rpo", errs),
        monthly_budget_usd: lookup(t, "monthly_budget_usd").and_then(|v| {
            opt(
                de_int_as::<u64>(
                    file,
                    v,
                    &key("monthly_budget_usd"),
                    "a budget in whole dollars, 0 or more",
                ),
                errs,
            )
        }),
        required_tags,
        region: text("region", errs),
        dr_region: text("dr_region", errs),
        zone_redundant: flag("zone_redundant", errs),
        private_endpoints_only: flag("private_endpoints_only", errs),
        destroy_protection: flag("destroy_protection", errs),
        backup_before_apply: flag("backup_before_apply", errs),
        high_availability: flag("high_availability", errs),
        state_retention_days: days("state_retention_days", errs),
        promote_from: text("promote_from", errs),
        maintenance_window: lookup(t, "maintenance_window")
            .and_then(|v| opt(read_window(file, v), errs)),
        key_vault_soft_delete_days: days("key_vault_soft_delete_days", errs),
        log_retention_days: days("log_retention_days", errs),
        log_archive_days: days("log_archive_days", errs),
        backup_retention_days: days("backup_retention_days", errs),
        secret_rotation_days: days("secret_rotation_days", errs),
        rotation_notice_days: days("rotation_notice_days", errs),
        allowed_regions,
        naming: lookup(t, "naming").and_then(|v| {
            let n = opt(as_str(file, v, &key("naming")), errs)?;
            if NAMING_FORMS.contains(&n) {
                Some(n.to_string())
            } else {
                errs.push(
                    SpecError::at(
                        K::InvalidValue,
                        file,
                        &v.span(),
                        key("naming"),
                        format!("`{n}` is not a naming form statectl checks"),
                    )
                    .help(format!("write one of: {}", NAMING_FORMS.join(", "))),
                );
                None
            }
        }),
        manual_rotation_vaults: texts("manual_rotation_vaults", errs)
            .iter()
            .filter_map(|a| {
                a.parse::<Address>()
                    .map_err(|e| {
                        errs.push(SpecError::at(
                            K::InvalidValue,
                            file,
                            &lookup(t, "manual_rotation_vaults")
                                .map(|v| v.span())
                                .unwrap_or_default(),
                            key("manual_rotation_vaults"),
                            e.to_string(),
                        ))
                    })
                    .ok()
            })
            .collect(),
        drill_every: span("drill_every", errs),
        requires: Vec::new(),
    }
}

fn read_requires(
    file: &SourceFile,
    v: &SValue<'_>,
    p: &str,
    rules: &[&'static str],
    errs: &mut Vec<SpecError>,
) -> Vec<Requirement> {
    let Some(items) = opt(as_array(file, v, p), errs) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_require(file, item, &format!("{p}[{i}]"), rules, errs))
        .collect()
}

fn read_require(
    file: &SourceFile,
    item: &SValue<'_>,
    p: &str,
    rules: &[&'static str],
    errs: &mut Vec<SpecError>,
) -> Option<Requirement> {
    let t = opt(as_table(file, item, p), errs)?;
    check_keys(file, t, p, REQUIRE_KEYS, errs);
    let sp = item.span();
    let text = |k: &str, errs: &mut Vec<SpecError>| {
        let v = opt(req(file, t, &sp, p, k), errs)?;
        opt(as_str(file, v, &join(p, k)), errs).map(|s| (s.to_string(), v.span()))
    };
    let rule = text("rule", errs).and_then(|(r, span)| {
        let found = rules.iter().find(|id| **id == r).copied();
        if found.is_none() {
            let help = match crate::util::closest(&r, rules.iter().copied(), str::to_string) {
                Some(s) => {
                    format!("did you mean `{s}`? (`statectl verify --help` lists the rules)")
                }
                None => "`statectl verify --help` lists the rules".to_string(),
            };
            errs.push(
                SpecError::at(
                    K::InvalidValue,
                    file,
                    &span,
                    join(p, "rule"),
                    format!("`{r}` is not a verify rule"),
                )
                .help(help),
            );
        }
        found
    });
    let resource = text("resource", errs)
        .and_then(|(r, span)| address(file, &r, &span, &join(p, "resource"), errs));
    let arm_type = text("type", errs);
    let seed = text("seed", errs);
    let mut properties = std::collections::BTreeMap::new();
    if let Some(pv) = lookup(t, "properties") {
        let pp = join(p, "properties");
        for (k, v) in opt(as_table(file, pv, &pp), errs)?.iter() {
            let kp = join(&pp, k.get_ref());
            let want = match v.get_ref() {
                toml::de::DeValue::Boolean(b) => Expect::Equals(b.to_string()),
                toml::de::DeValue::Integer(i) => Expect::Equals(i.as_str().replace('_', "")),
                _ => {
                    let s = opt(as_str(file, v, &kp), errs)?;
                    let bound = |prefix: &str| {
                        s.strip_prefix(prefix)
                            .and_then(|n| n.trim().parse::<i64>().ok())
                    };
                    if let Some(n) = bound(">=") {
                        properties.insert(k.get_ref().to_string(), Expect::AtLeast(n));
                        continue;
                    }
                    if let Some(n) = bound("<=") {
                        properties.insert(k.get_ref().to_string(), Expect::AtMost(n));
                        continue;
                    }
                    match s.strip_prefix('@') {
                        Some(a) => {
                            let mut parts = a.splitn(3, '.');
                            let (m, n, attr) = (
                                parts.next().unwrap_or_default(),
                                parts.next().unwrap_or_default(),
                                parts.next(),
                            );
                            Expect::References(
                                address(file, &format!("{m}.{n}"), &v.span(), &kp, errs)?,
                                attr.map(str::to_string),
                            )
                        }
                        None => Expect::Equals(s.to_string()),
                    }
                }
            };
            properties.insert(k.get_ref().to_string(), want);
        }
    }
    let pos = file.position(sp.start);
    Some(Requirement {
        rule: rule?,
        resource: resource?,
        arm_type: arm_type?.0,
        properties,
        seed: seed?.0,
        origin: format!("{}:{}", file.path().display(), pos.line),
    })
}

fn address(
    file: &SourceFile,
    s: &str,
    span: &std::ops::Range<usize>,
    key: &str,
    errs: &mut Vec<SpecError>,
) -> Option<Address> {
    s.parse::<Address>()
        .map_err(|e| {
            errs.push(
                SpecError::at(K::InvalidValue, file, span, key, e.to_string())
                    .help("write a resource address such as `security.acr`"),
            )
        })
        .ok()
}
