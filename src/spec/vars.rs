//! `[vars]` tables: literal values that `${var.NAME}` reads.
//!
//! Variables take no interpolation. A variable that names itself, or
//! variables that name each other in a circle, are reported once as a cycle;
//! every other `${` inside a variable is reported on its own.

use std::collections::{BTreeMap, BTreeSet};

use toml::de::{DeTable, DeValue};

use super::error::{SpecError, SpecErrorKind as K};
use super::interpolate::{self, Part};
use super::source::SourceFile;
use super::toml_access::{SValue, join, to_value};
use crate::model::Value;

/// The variables of one `[vars]` table.
///
/// Invariant: `complete` is false exactly when a variable was left out of
/// `values` because of an error already reported; uses of it elsewhere
/// would then only repeat that error as "undefined variable".
#[derive(Debug, Default)]
pub(super) struct Vars {
    /// The variables that were read.
    pub values: BTreeMap<String, Value>,
    /// Whether every variable in the table was read.
    pub complete: bool,
}

/// Reads a `[vars]` table whose keys are named `prefix.<name>` in messages.
pub(super) fn read_vars(
    file: &SourceFile,
    t: &DeTable<'_>,
    prefix: &str,
    errs: &mut Vec<SpecError>,
) -> Vars {
    let cycles = var_cycles(t);
    let mut in_cycle = BTreeSet::new();
    for cycle in &cycles {
        errs.push(cycle_error(file, t, prefix, cycle));
        in_cycle.extend(cycle.iter().map(String::as_str));
    }
    let mut out = Vars {
        values: BTreeMap::new(),
        complete: cycles.is_empty(),
    };
    for (k, v) in t.iter() {
        if in_cycle.contains(k.get_ref().as_ref()) {
            continue;
        }
        match literal(file, v, &join(prefix, k.get_ref())) {
            Ok(val) => {
                out.values.insert(k.get_ref().to_string(), val);
            }
            Err(e) => {
                errs.push(e);
                out.complete = false;
            }
        }
    }
    out
}

/// A variable's value: any TOML value, strings taken literally.
fn literal(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<Value, SpecError> {
    to_value(file, v, key, &mut |s: &str, v: &SValue<'_>, key: &str| {
        let parts = interpolate::parse(s)
            .map_err(|m| SpecError::at(K::Interpolation, file, &v.span(), key, m))?;
        let mut text = String::new();
        for p in parts {
            match p {
                Part::Lit(l) => text.push_str(&l),
                _ => {
                    return Err(SpecError::at(
                        K::Interpolation,
                        file,
                        &v.span(),
                        key,
                        format!("variables are literal values; `{key}` contains `${{`"),
                    )
                    .help(
                        "interpolate where the variable is used, or write `$${` for a literal `${`",
                    ));
                }
            }
        }
        Ok(Value::String(text))
    })
}

/// Every cycle among the variables of `t`, each as the path from its first
/// variable (in table order) back to it, e.g. `[a, b, a]`; a variable in
/// more than one cycle is reported in the first only.
fn var_cycles(t: &DeTable<'_>) -> Vec<Vec<String>> {
    let uses: BTreeMap<String, BTreeSet<String>> = t
        .iter()
        .map(|(k, v)| {
            let mut names = BTreeSet::new();
            var_uses(v.get_ref(), &mut names);
            names.retain(|n| lookup_key(t, n));
            (k.get_ref().to_string(), names)
        })
        .collect();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut cycles = Vec::new();
    for (k, _) in t.iter() {
        let start = k.get_ref().to_string();
        if reported.contains(&start) {
            continue;
        }
        let mut path = vec![start.clone()];
        let mut seen = BTreeSet::new();
        if find_path_back(&uses, &start, &start, &reported, &mut path, &mut seen) {
            reported.extend(path.iter().cloned());
            cycles.push(path);
        }
    }
    cycles
}

fn lookup_key(t: &DeTable<'_>, name: &str) -> bool {
    t.iter().any(|(k, _)| k.get_ref() == name)
}

/// Depth-first search from the last node of `path` for an edge back to
/// `start`, skipping variables already reported; on success `path` ends
/// with `start`.
fn find_path_back(
    uses: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    at: &str,
    reported: &BTreeSet<String>,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> bool {
    let Some(next) = uses.get(at) else {
        return false;
    };
    if next.contains(start) {
        path.push(start.to_string());
        return true;
    }
    for n in next {
        if reported.contains(n) || !seen.insert(n.clone()) {
            continue;
        }
        path.push(n.clone());
        if find_path_back(uses, start, n, reported, path, seen) {
            return true;
        }
        path.pop();
    }
    false
}

/// The `${var.*}` names used anywhere inside `v`.
fn var_uses(v: &DeValue<'_>, out: &mut BTreeSet<String>) {
    match v {
        DeValue::String(s) => {
            // A malformed `${` is reported by `literal`, not here.
            for p in interpolate::parse(s).unwrap_or_default() {
                if let Part::Var(n) = p {
                    out.insert(n);
                }
            }
        }
        DeValue::Array(a) => a.iter().for_each(|x| var_uses(x.get_ref(), out)),
        DeValue::Table(t) => t.iter().for_each(|(_, x)| var_uses(x.get_ref(), out)),
        _ => {}
    }
}

fn cycle_error(file: &SourceFile, t: &DeTable<'_>, prefix: &str, cycle: &[String]) -> SpecError {
    let first = cycle.first().map_or("", String::as_str);
    let span = t
        .iter()
        .find(|(k, _)| k.get_ref() == first)
        .map_or(0..0, |(_, v)| v.span());
    let message = if cycle.len() <= 2 {
        format!("variable `{first}` uses itself")
    } else {
        format!(
            "variables use each other in a cycle: {}",
            cycle.join(" -> ")
        )
    };
    SpecError::at(K::Cycle, file, &span, join(prefix, first), message).help(format!(
        "variables are literal values and cannot use variables: write the value itself, e.g. `{first} = \"...\"`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::toml_access::parse;

    fn read(text: &str) -> (Vars, Vec<SpecError>) {
        let f = SourceFile::new("specs/x/estate.toml", text.to_string());
        let d = parse(&f).unwrap();
        let mut errs = Vec::new();
        let vars = read_vars(&f, d.get_ref(), "vars", &mut errs);
        (vars, errs)
    }

    #[test]
    fn literal_values_of_every_kind() {
        let (v, errs) = read("a = \"x$${y}\"\nb = 3\nc = [\"p\", 1.5]\nd = { e = false }\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert!(v.complete);
        assert_eq!(v.values["a"], Value::String("x${y}".into()));
        assert_eq!(v.values["b"], Value::Int(3));
        assert_eq!(
            v.values["c"],
            Value::List(vec![Value::String("p".into()), Value::Float(1.5)])
        );
    }

    #[test]
    fn interpolation_in_a_variable_is_refused() {
        let (v, errs) = read("a = \"${env.name}\"\nb = \"${var.zzz}\"\nok = 1\n");
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].detail().key, "vars.a");
        assert!(
            errs[0]
                .detail()
                .message
                .contains("variables are literal values")
        );
        assert!(!v.complete);
        assert_eq!(v.values.keys().collect::<Vec<_>>(), ["ok"]);
    }

    #[test]
    fn a_variable_that_uses_itself_is_one_error() {
        let (v, errs) = read("x = 1\nproduct = \"${var.product}-x\"\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        let d = errs[0].detail();
        assert_eq!(d.kind, K::Cycle);
        assert_eq!((d.line, d.col, d.key.as_str()), (2, 11, "vars.product"));
        assert_eq!(d.message, "variable `product` uses itself");
        assert!(!v.complete);
    }

    #[test]
    fn a_cycle_is_named_once() {
        let (_, errs) = read(
            "a = \"${var.b}\"\nb = [\"${var.c}\"]\nc = { k = \"${var.a}\" }\nd = \"${var.a}\"\n",
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(
            errs[0].detail().message,
            "variables use each other in a cycle: a -> b -> c -> a"
        );
        assert_eq!(errs[0].detail().line, 1);
        // `d` only uses the cycle: it gets the ordinary error.
        assert_eq!(errs[1].detail().key, "vars.d");
        assert!(errs[1].detail().message.contains("literal values"));
    }
}
