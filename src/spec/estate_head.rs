//! The schema of `specs/<estate>/estate.toml` apart from its `[tags]`: the
//! estate's name, objectives, variables, per-environment overrides and
//! cost items.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::discovery::known_list;
use super::error::{SpecError, SpecErrorKind as K};
use super::source::SourceFile;
use super::toml_access::{
    SValue, as_array, as_str, as_table, check_keys, de_int, de_int_as, float, interval, join,
    lookup, opt, req, type_err,
};
use super::vars::{Vars, read_vars};
use crate::model::{CostItem, Objectives, Value};

const ESTATE_KEYS: &[&str] = &[
    "estate",
    "objectives",
    "vars",
    "tags",
    "environments",
    "cost_items",
];
const ESTATE_TABLE_KEYS: &[&str] = &["name", "description", "seeds"];
const OBJECTIVE_KEYS: &[&str] = &["rto", "rpo", "monthly_budget_usd", "required_tags"];
const ENV_OVERRIDE_KEYS: &[&str] = &["region", "dr_region", "vars"];
const COST_ITEM_KEYS: &[&str] = &["name", "usd", "source"];
/// Tags required when an estate does not list its own (seed 001's policy).
const DEFAULT_REQUIRED_TAGS: &[&str] = &["cost-center", "environment", "owner"];

/// What `estate.toml` says about the estate in one environment.
///
/// Invariant: `vars_complete` is false when a variable (estate-wide or for
/// this environment) was left out because of an error already reported.
#[derive(Debug)]
pub(super) struct EstateHead {
    /// Recovery objectives, budget and required tags.
    pub objectives: Objectives,
    /// The estate's `[vars]`: defaults for every environment.
    pub vars: BTreeMap<String, Value>,
    /// `[environments.<env>.vars]` for the environment being loaded.
    pub env_vars: BTreeMap<String, Value>,
    /// The estate's region in this environment, overriding the environment's.
    pub region: Option<String>,
    /// The estate's DR region in this environment.
    pub dr_region: Option<String>,
    /// Fixed monthly costs outside the resources.
    pub cost_items: Vec<CostItem>,
    /// Whether every variable was read.
    pub vars_complete: bool,
}

/// Per-environment overrides for the environment being loaded.
#[derive(Default)]
struct EnvOverride {
    region: Option<String>,
    dr_region: Option<String>,
    vars: Vars,
}

/// Reads `estate.toml` of `estate` for environment `env`; `env_names` are
/// all environments. `None` when the objectives could not be read.
pub(super) fn read_estate_head(
    file: &SourceFile,
    doc: &DeTable<'_>,
    estate: &str,
    env: &str,
    env_names: &[String],
    errs: &mut Vec<SpecError>,
) -> Option<EstateHead> {
    check_keys(file, doc, "", ESTATE_KEYS, errs);
    check_estate_table(file, doc, estate, errs);
    let objectives = read_objectives(file, doc, errs);
    let vars = match lookup(doc, "vars") {
        Some(v) => match opt(as_table(file, v, "vars"), errs) {
            Some(t) => read_vars(file, t, "vars", errs),
            None => Vars::default(),
        },
        None => Vars {
            complete: true,
            ..Vars::default()
        },
    };
    let over = read_overrides(file, doc, env, env_names, errs);
    let cost_items = read_cost_items(file, doc, errs);
    Some(EstateHead {
        objectives: objectives?,
        vars: vars.values,
        env_vars: over.vars.values,
        region: over.region,
        dr_region: over.dr_region,
        cost_items,
        vars_complete: vars.complete && over.vars.complete,
    })
}

/// `[estate]` must exist and its `name` match the folder.
fn check_estate_table(
    file: &SourceFile,
    doc: &DeTable<'_>,
    estate: &str,
    errs: &mut Vec<SpecError>,
) {
    let Some(v) = opt(req(file, doc, &(0..0), "", "estate"), errs) else {
        return;
    };
    let Some(t) = opt(as_table(file, v, "estate"), errs) else {
        return;
    };
    check_keys(file, t, "estate", ESTATE_TABLE_KEYS, errs);
    if let Some(n) = opt(req(file, t, &v.span(), "estate", "name"), errs)
        && let Some(s) = opt(as_str(file, n, "estate.name"), errs)
        && s != estate
    {
        errs.push(
            SpecError::at(
                K::InvalidValue,
                file,
                &n.span(),
                "estate.name",
                format!("estate name `{s}` does not match its folder `specs/{estate}`"),
            )
            .help(format!("write `name = \"{estate}\"`")),
        );
    }
}

/// `[environments.<env>]`: every table is checked, only `env`'s is kept.
fn read_overrides(
    file: &SourceFile,
    doc: &DeTable<'_>,
    env: &str,
    env_names: &[String],
    errs: &mut Vec<SpecError>,
) -> EnvOverride {
    let mut out = EnvOverride {
        vars: Vars {
            complete: true,
            ..Vars::default()
        },
        ..EnvOverride::default()
    };
    let Some(v) = lookup(doc, "environments") else {
        return out;
    };
    let Some(t) = opt(as_table(file, v, "environments"), errs) else {
        return out;
    };
    for (k, ev) in t.iter() {
        let prefix = format!("environments.{}", k.get_ref());
        if !env_names.iter().any(|n| n == k.get_ref().as_ref()) {
            errs.push(
                SpecError::at(
                    K::UnknownKey,
                    file,
                    &k.span(),
                    prefix.clone(),
                    format!("`{}` is not an environment", k.get_ref()),
                )
                .help(known_list("environments", env_names)),
            );
            continue;
        }
        let Some(et) = opt(as_table(file, ev, &prefix), errs) else {
            continue;
        };
        check_keys(file, et, &prefix, ENV_OVERRIDE_KEYS, errs);
        if k.get_ref() != env {
            continue;
        }
        let text = |key: &str, errs: &mut Vec<SpecError>| {
            let r = lookup(et, key)?;
            opt(as_str(file, r, &join(&prefix, key)), errs).map(str::to_string)
        };
        if lookup(et, "region").is_some() {
            out.region = text("region", errs);
        }
        if lookup(et, "dr_region").is_some() {
            out.dr_region = text("dr_region", errs);
        }
        if let Some(vv) = lookup(et, "vars") {
            match opt(as_table(file, vv, &join(&prefix, "vars")), errs) {
                Some(vt) => out.vars = read_vars(file, vt, &join(&prefix, "vars"), errs),
                None => out.vars.complete = false,
            }
        }
    }
    out
}

fn read_cost_items(
    file: &SourceFile,
    doc: &DeTable<'_>,
    errs: &mut Vec<SpecError>,
) -> Vec<CostItem> {
    let mut cost_items = Vec::new();
    let Some(v) = lookup(doc, "cost_items") else {
        return cost_items;
    };
    let Some(items) = opt(as_array(file, v, "cost_items"), errs) else {
        return cost_items;
    };
    for (i, item) in items.iter().enumerate() {
        cost_items.extend(read_cost_item(
            file,
            item,
            &format!("cost_items[{i}]"),
            errs,
        ));
    }
    cost_items
}

fn read_cost_item(
    file: &SourceFile,
    item: &SValue<'_>,
    prefix: &str,
    errs: &mut Vec<SpecError>,
) -> Option<CostItem> {
    let t = opt(as_table(file, item, prefix), errs)?;
    check_keys(file, t, prefix, COST_ITEM_KEYS, errs);
    let sp = item.span();
    let name = opt(
        req(file, t, &sp, prefix, "name").and_then(|v| as_str(file, v, &join(prefix, "name"))),
        errs,
    );
    let source = opt(
        req(file, t, &sp, prefix, "source").and_then(|v| as_str(file, v, &join(prefix, "source"))),
        errs,
    );
    let usd = opt(
        req(file, t, &sp, prefix, "usd")
            .and_then(|v| dollars_to_cents(file, v, &join(prefix, "usd"))),
        errs,
    );
    Some(CostItem {
        name: name?.to_string(),
        usd_cents: usd?,
        source: source?.to_string(),
    })
}

/// Dollars (integer or float) as whole cents.
fn dollars_to_cents(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<u64, SpecError> {
    let dollars = match v.get_ref() {
        DeValue::Integer(_) => de_int(file, v, key)? as f64,
        DeValue::Float(f) => float(file, v, key, f.as_str())?,
        _ => return Err(type_err(file, v, key, "a number of US dollars")),
    };
    if !(0.0..1e12).contains(&dollars) {
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &v.span(),
            key,
            "a cost must be between 0 and 10^12 dollars",
        ));
    }
    // In range, so the cast neither saturates nor loses whole cents.
    Ok((dollars * 100.0).round() as u64)
}

fn read_objectives(
    file: &SourceFile,
    doc: &DeTable<'_>,
    errs: &mut Vec<SpecError>,
) -> Option<Objectives> {
    let p = "objectives";
    let v = opt(req(file, doc, &(0..0), "", p), errs)?;
    let t = opt(as_table(file, v, p), errs)?;
    check_keys(file, t, p, OBJECTIVE_KEYS, errs);
    let sp = v.span();
    let rto = opt(
        req(file, t, &sp, p, "rto").and_then(|v| interval(file, v, "objectives.rto")),
        errs,
    );
    let rpo = opt(
        req(file, t, &sp, p, "rpo").and_then(|v| interval(file, v, "objectives.rpo")),
        errs,
    );
    let monthly_budget_usd = match lookup(t, "monthly_budget_usd") {
        Some(v) => Some(read_budget(file, v, errs)?),
        None => None,
    };
    let required_tags = read_required_tags(file, t, errs)?;
    Some(Objectives {
        rto: rto?,
        rpo: rpo?,
        monthly_budget_usd,
        required_tags,
    })
}

fn read_budget(file: &SourceFile, v: &SValue<'_>, errs: &mut Vec<SpecError>) -> Option<u64> {
    let key = "objectives.monthly_budget_usd";
    opt(de_int_as(file, v, key, "a budget cannot be negative"), errs)
}

/// The tags every taggable resource must carry, sorted and without repeats.
fn read_required_tags(
    file: &SourceFile,
    t: &DeTable<'_>,
    errs: &mut Vec<SpecError>,
) -> Option<Vec<String>> {
    let mut required_tags: Vec<String> = match lookup(t, "required_tags") {
        Some(v) => {
            let arr = opt(as_array(file, v, "objectives.required_tags"), errs)?;
            arr.iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    opt(
                        as_str(file, x, &format!("objectives.required_tags[{i}]")),
                        errs,
                    )
                    .map(str::to_string)
                })
                .collect()
        }
        None => DEFAULT_REQUIRED_TAGS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    required_tags.sort();
    required_tags.dedup();
    Some(required_tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::toml_access::parse;

    const HEAD: &str = "[estate]\nname = \"shop\"\n\n[objectives]\nrto = \"4h\"\nrpo = \"1h\"\n";

    fn read(text: &str) -> (Option<EstateHead>, Vec<SpecError>) {
        let f = SourceFile::new("specs/shop/estate.toml", text.to_string());
        let d = parse(&f).unwrap();
        let mut errs = Vec::new();
        let envs = ["dev".to_string(), "prod".to_string()];
        let head = read_estate_head(&f, d.get_ref(), "shop", "prod", &envs, &mut errs);
        (head, errs)
    }

    #[test]
    fn defaults_and_overrides_for_the_loaded_environment() {
        let text = format!(
            "{HEAD}\n[vars]\nsku = \"S1\"\n\n[environments.prod]\nregion = \"westus\"\nvars.sku = \"P1\"\n\n[environments.dev]\nregion = \"eastus2\"\n\n[[cost_items]]\nname = \"support\"\nusd = 29.99\nsource = \"invoice\"\n"
        );
        let (head, errs) = read(&text);
        assert!(errs.is_empty(), "{errs:?}");
        let head = head.unwrap();
        assert_eq!(head.region.as_deref(), Some("westus"));
        assert_eq!(head.vars["sku"], Value::String("S1".into()));
        assert_eq!(head.env_vars["sku"], Value::String("P1".into()));
        assert!(head.vars_complete);
        assert_eq!(head.cost_items[0].usd_cents, 2999);
        assert_eq!(
            head.objectives.required_tags,
            ["cost-center", "environment", "owner"]
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str)] = &[
            ("name = \"other\"", "estate.name"),
            ("rto = \"4h\"", "objectives.rto"),
            ("[environments.qa]\nregion = \"x\"", "environments.qa"),
            ("[environments.prod]\nzone = 1", "environments.prod.zone"),
            (
                "[environments.prod]\nregion = 1",
                "environments.prod.region",
            ),
            (
                "[[cost_items]]\nname = \"x\"\nusd = -1\nsource = \"y\"",
                "cost_items[0].usd",
            ),
            (
                "[[cost_items]]\nname = \"x\"\nusd = \"ten\"\nsource = \"y\"",
                "cost_items[0].usd",
            ),
        ];
        for (extra, key) in cases {
            let text = match *extra {
                "name = \"other\"" => HEAD.replace("name = \"shop\"", extra),
                "rto = \"4h\"" => HEAD.replace(extra, "rto = \"soon\""),
                _ => format!("{HEAD}\n{extra}\n"),
            };
            let (_, errs) = read(&text);
            assert_eq!(errs.len(), 1, "{text}\n{errs:?}");
            assert_eq!(errs[0].detail().key, *key, "{text}");
        }
    }

    #[test]
    fn a_broken_variable_marks_the_head_incomplete() {
        let (head, errs) = read(&format!(
            "{HEAD}\n[environments.prod]\nvars.a = \"${{var.a}}\"\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(!head.unwrap().vars_complete);
    }
}
