//! `[vars]` tables: literal values that `${var.NAME}` reads.
//!
//! Variables take no interpolation: a `${` inside one is an error.

use std::collections::BTreeMap;

use toml::de::DeTable;

use super::error::{SpecError, SpecErrorKind as K};
use super::interpolate::{self, Part};
use super::source::SourceFile;
use super::toml_access::{SValue, join, opt, to_value};
use crate::model::Value;

/// Reads a `[vars]` table whose keys are named `prefix.<name>` in messages;
/// a variable with an error is reported and left out.
pub(super) fn read_vars(
    file: &SourceFile,
    t: &DeTable<'_>,
    prefix: &str,
    errs: &mut Vec<SpecError>,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, v) in t.iter() {
        let key = join(prefix, k.get_ref());
        if let Some(val) = opt(literal(file, v, &key), errs) {
            out.insert(k.get_ref().to_string(), val);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::toml_access::parse;

    fn read(text: &str) -> (BTreeMap<String, Value>, Vec<SpecError>) {
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
        assert_eq!(v["a"], Value::String("x${y}".into()));
        assert_eq!(v["b"], Value::Int(3));
        assert_eq!(
            v["c"],
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
        assert_eq!(v.keys().collect::<Vec<_>>(), ["ok"]);
    }
}
