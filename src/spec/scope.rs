//! What `${env.*}` and `${var.*}` read while one estate is loaded for one
//! environment, and the strings that may use only those (names, tags,
//! `enabled`).

use std::collections::BTreeMap;

use toml::de::DeTable;

use super::error::{SpecError, SpecErrorKind as K};
use super::interpolate::{self, Part};
use super::source::SourceFile;
use super::toml_access::{SValue, as_str, as_table, join, lookup, opt};
use crate::model::{Environment, Value};

/// The fields `${env.*}` can read.
const ENV_FIELDS: &[&str] = &["name", "region", "dr_region", "subscription_id"];

/// The environment and the merged variables an estate is resolved against.
///
/// Invariant: `vars` already has the most specific value of each variable
/// (estate defaults, then the environment file, then the estate's values for
/// this environment).
pub(super) struct Scope<'a> {
    /// The environment, with the estate's region overrides applied.
    pub env: &'a Environment,
    /// Every variable visible in this environment.
    pub vars: &'a BTreeMap<String, Value>,
}

impl Scope<'_> {
    /// `${env.<field>}`.
    pub(super) fn env_field(&self, field: &str) -> Result<String, String> {
        match field {
            "name" => Ok(self.env.name.clone()),
            "region" => Ok(self.env.region.clone()),
            "subscription_id" => Ok(self.env.subscription_id.clone()),
            "dr_region" => self
                .env
                .dr_region
                .clone()
                .ok_or_else(|| format!("environment `{}` has no dr_region", self.env.name)),
            other => Err(format!(
                "`${{env.{other}}}` is not an environment field; known: {}",
                ENV_FIELDS.join(", ")
            )),
        }
    }

    /// `${var.<name>}`, or a message suggesting the nearest variable.
    pub(super) fn var(&self, name: &str) -> Result<&Value, String> {
        self.vars.get(name).ok_or_else(|| {
            let hint =
                crate::util::closest(name, self.vars.keys().map(String::as_str), str::to_string)
                    .map(|s| format!("; did you mean `${{var.{s}}}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "; declare it under [vars] in estate.toml or environments/{}.toml",
                            self.env.name
                        )
                    });
            format!(
                "undefined variable `{name}` in environment `{}`{hint}",
                self.env.name
            )
        })
    }

    /// `${var.<name>}` as part of a longer string: scalars only.
    pub(super) fn var_text(&self, name: &str) -> Result<String, String> {
        scalar_text(self.var(name)?).ok_or_else(|| {
            format!("`${{var.{name}}}` is a list or table and cannot be part of a string")
        })
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string with only `${env.*}`/`${var.*}` allowed; `what` names the place
/// in the message about a resource reference. A string that is exactly one
/// `${var.*}` keeps the variable's type.
pub(super) fn plain_string(
    file: &SourceFile,
    v: &SValue<'_>,
    key: &str,
    scope: &Scope<'_>,
    what: &str,
) -> Result<Value, SpecError> {
    let s = as_str(file, v, key)?;
    let err = |m: String| SpecError::at(K::Interpolation, file, &v.span(), key, m);
    let parts = interpolate::parse(s).map_err(err)?;
    if let [single] = parts.as_slice() {
        match single {
            Part::Var(n) => return scope.var(n).cloned().map_err(err),
            Part::Env(f) => return scope.env_field(f).map(Value::String).map_err(err),
            _ => {}
        }
    }
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Lit(l) => out.push_str(&l),
            Part::Env(f) => out.push_str(&scope.env_field(&f).map_err(err)?),
            Part::Var(n) => out.push_str(&scope.var_text(&n).map_err(err)?),
            Part::Ref(r) => {
                return Err(
                    err(format!("{what} cannot reference other resources (`{r}`)"))
                        .help("use `${env.*}` and `${var.*}` only here"),
                );
            }
        }
    }
    Ok(Value::String(out))
}

/// The `key` table of tags in `t` (the estate's defaults or a resource's).
pub(super) fn read_tags(
    file: &SourceFile,
    t: &DeTable<'_>,
    key: &str,
    scope: &Scope<'_>,
    errs: &mut Vec<SpecError>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(v) = lookup(t, key) else { return out };
    let Some(tt) = opt(as_table(file, v, key), errs) else {
        return out;
    };
    for (k, tv) in tt.iter() {
        let tkey = join(key, k.get_ref());
        if !is_tag_name(k.get_ref()) {
            errs.push(
                SpecError::at(
                    K::InvalidValue,
                    file,
                    &k.span(),
                    tkey.clone(),
                    format!("`{}` is not a valid Azure tag name", k.get_ref()),
                )
                .help("tag names are 1-512 characters without < > % & \\ ? /"),
            );
            continue;
        }
        match plain_string(file, tv, &tkey, scope, "tags") {
            Ok(Value::String(s)) => {
                out.insert(k.get_ref().to_string(), s);
            }
            Ok(other) => errs.push(SpecError::at(
                K::InvalidValue,
                file,
                &tv.span(),
                tkey,
                format!(
                    "tag values must be strings, and this one is {}",
                    other.kind()
                ),
            )),
            Err(e) => errs.push(e),
        }
    }
    out
}

/// Azure's rule for tag names.
fn is_tag_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| "<>%&\\?/".contains(c)) && name.len() <= 512
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::toml_access::parse;

    fn env() -> Environment {
        Environment::plain("dev", "sub", "eastus")
    }

    fn vars() -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("product".to_string(), Value::String("shop".into())),
            ("n".to_string(), Value::Int(3)),
            ("on".to_string(), Value::Bool(true)),
            ("zones".to_string(), Value::List(vec![Value::Int(1)])),
        ])
    }

    fn eval(text: &str) -> Result<Value, SpecError> {
        let f = SourceFile::new("specs/shop/net.toml", format!("v = {text}\n"));
        let d = parse(&f).unwrap();
        let (env, vars) = (env(), vars());
        let scope = Scope {
            env: &env,
            vars: &vars,
        };
        let v = lookup(d.get_ref(), "v").unwrap();
        plain_string(&f, v, "rg.name", &scope, "resource names")
    }

    #[test]
    fn interpolates_env_and_vars() {
        let s = |v: &str| Value::String(v.into());
        assert_eq!(
            eval("\"${var.product}-${env.name}-${var.n}\"").unwrap(),
            s("shop-dev-3")
        );
        assert_eq!(eval("\"${env.region}\"").unwrap(), s("eastus"));
        // One whole `${var.*}` keeps the variable's type.
        assert_eq!(eval("\"${var.on}\"").unwrap(), Value::Bool(true));
        assert_eq!(eval("\"a$${b}\"").unwrap(), s("a${b}"));
    }

    #[test]
    fn interpolation_errors_say_what_to_do() {
        let cases = [
            ("\"${var.prodct}\"", "did you mean `${var.product}`?"),
            ("\"${var.zzzzzzzz}\"", "declare it under [vars]"),
            ("\"${env.dr_region}\"", "environment `dev` has no dr_region"),
            ("\"${env.zone}\"", "is not an environment field"),
            ("\"x-${var.zones}\"", "is a list or table"),
            (
                "\"${net.rg.id}\"",
                "resource names cannot reference other resources",
            ),
            ("\"${var.product\"", "unterminated"),
        ];
        for (text, want) in cases {
            let e = eval(text).unwrap_err();
            assert_eq!(e.detail().kind, K::Interpolation, "{text}");
            assert_eq!((e.detail().line, e.detail().col), (1, 5), "{text}");
            assert_eq!(e.detail().key, "rg.name");
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn tag_names_follow_azure() {
        assert!(is_tag_name("cost-center"));
        assert!(!is_tag_name(""));
        assert!(!is_tag_name("a/b"));
        assert!(!is_tag_name(&"x".repeat(513)));
    }
}
