//! Pass 1 over the module files: every resource is declared (address, type,
//! whether it is enabled here, its property names) before any is resolved,
//! so references may point forwards, backwards and across files.

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{SpecError, SpecErrorKind as K};
use super::scope::{Scope, plain_string};
use super::source::SourceFile;
use super::toml_access::{
    SValue, Span, as_str, as_table, check_keys, join, lookup, opt, req, type_err,
};
use crate::catalog::{self, ResourceType};
use crate::model::{Address, Value};

const RESOURCE_KEYS: &[&str] = &[
    "type",
    "name",
    "description",
    "enabled",
    "properties",
    "tags",
    "depends_on",
    "prevent_destroy",
];

/// A parsed module file: its index in the loaded files, its module name
/// (the file stem) and its table of resources.
pub(super) type ModuleDoc<'i> = (usize, String, Spanned<DeTable<'i>>);

/// What pass 2 needs to know about a resource before resolving it.
///
/// Invariant: `file_idx` indexes the files the declaration was read from and
/// `key_span` is the resource's table key in that file.
#[derive(Debug)]
pub(super) struct Decl {
    /// The file it is declared in.
    pub file_idx: usize,
    /// Its `[name]` key, where errors about the whole resource point.
    pub key_span: Span,
    /// The catalog type, `None` when the type was missing or unknown (an
    /// error was reported).
    pub rtype: Option<&'static ResourceType>,
    /// Whether it exists in the environment being loaded.
    pub enabled: bool,
    /// Its top-level property names: attributes others may reference.
    pub property_keys: BTreeSet<String>,
}

/// Declares every resource of every module.
pub(super) fn declare_all(
    files: &[SourceFile],
    docs: &[ModuleDoc<'_>],
    scope: &Scope<'_>,
    errs: &mut Vec<SpecError>,
) -> BTreeMap<Address, Decl> {
    let mut decls = BTreeMap::new();
    for (i, module, doc) in docs {
        let Some(file) = files.get(*i) else { continue };
        for (key, value) in doc.get_ref().iter() {
            let key_span = key.span();
            let Ok(address) = Address::new(module, key.get_ref()) else {
                errs.push(
                    SpecError::at(
                        K::InvalidValue,
                        file,
                        &key_span,
                        key.get_ref().as_ref(),
                        format!("resource name `{}` is not an identifier", key.get_ref()),
                    )
                    .help("use lowercase letters, digits and `_`, starting with a letter"),
                );
                continue;
            };
            if let Some(d) = declare(file, *i, &address, key_span, value, scope, errs) {
                decls.insert(address, d);
            }
        }
    }
    decls
}

fn declare(
    file: &SourceFile,
    file_idx: usize,
    address: &Address,
    key_span: Span,
    value: &SValue<'_>,
    scope: &Scope<'_>,
    errs: &mut Vec<SpecError>,
) -> Option<Decl> {
    let a = address.name();
    let t = opt(as_table(file, value, a), errs)?;
    check_keys(file, t, a, RESOURCE_KEYS, errs);
    let rtype = opt(req(file, t, &key_span, a, "type"), errs)
        .and_then(|tv| resource_type(file, tv, a, errs));
    let enabled = lookup(t, "enabled").is_none_or(|v| enabled_flag(file, v, a, scope, errs));
    let property_keys = lookup(t, "properties")
        .and_then(|p| match p.get_ref() {
            DeValue::Table(pt) => Some(pt.iter().map(|(k, _)| k.get_ref().to_string()).collect()),
            _ => None,
        })
        .unwrap_or_default();
    Some(Decl {
        file_idx,
        key_span,
        rtype,
        enabled,
        property_keys,
    })
}

/// The catalog type named by `type`, which must be spelled canonically so
/// one ARM type has one spelling in every store and plan.
fn resource_type(
    file: &SourceFile,
    tv: &SValue<'_>,
    a: &str,
    errs: &mut Vec<SpecError>,
) -> Option<&'static ResourceType> {
    let ty = opt(as_str(file, tv, &join(a, "type")), errs)?;
    let err = match catalog::lookup(ty) {
        Ok(rt) if rt.arm_type == ty => return Some(rt),
        Ok(rt) => SpecError::at(
            K::UnknownType,
            file,
            &tv.span(),
            join(a, "type"),
            format!("resource type `{ty}` is not spelled canonically"),
        )
        .help(format!("write `{}`", rt.arm_type)),
        Err(e) => {
            let help = match e.suggestion {
                Some(s) => format!("did you mean `{s}`? (`statectl types` lists every known type)"),
                None => "`statectl types` lists every known type".to_string(),
            };
            SpecError::at(
                K::UnknownType,
                file,
                &tv.span(),
                join(a, "type"),
                format!("unknown resource type `{ty}`"),
            )
            .help(help)
        }
    };
    errs.push(err);
    None
}

/// `enabled`: a boolean, or a string that evaluates to one. After an error
/// the resource counts as enabled, so references to it are still checked.
fn enabled_flag(
    file: &SourceFile,
    v: &SValue<'_>,
    a: &str,
    scope: &Scope<'_>,
    errs: &mut Vec<SpecError>,
) -> bool {
    let key = join(a, "enabled");
    let err = match v.get_ref() {
        DeValue::Boolean(b) => return *b,
        DeValue::String(_) => match plain_string(file, v, &key, scope, "`enabled`") {
            Ok(Value::Bool(b)) => return b,
            Ok(other) => SpecError::at(
                K::InvalidValue,
                file,
                &v.span(),
                key,
                format!("`enabled` must evaluate to a boolean, not {}", other.kind()),
            ),
            Err(e) => e,
        },
        _ => type_err(file, v, &key, "a boolean or a \"${var.*}\" boolean"),
    };
    errs.push(err);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Environment;
    use crate::spec::toml_access::parse;

    fn declare_text(text: &str) -> (BTreeMap<Address, Decl>, Vec<SpecError>) {
        let env = Environment::plain("dev", "s", "eastus");
        let vars = BTreeMap::from([("off".to_string(), Value::Bool(false))]);
        let scope = Scope {
            env: &env,
            vars: &vars,
        };
        let files = vec![SourceFile::new("specs/shop/net.toml", text.to_string())];
        let doc = parse(&files[0]).unwrap();
        let docs = vec![(0, "net".to_string(), doc)];
        let mut errs = Vec::new();
        let decls = declare_all(&files, &docs, &scope, &mut errs);
        (decls, errs)
    }

    #[test]
    fn declares_type_enabled_and_property_names() {
        let (decls, errs) = declare_text(
            "[rg]\ntype = \"Microsoft.Resources/resourceGroups\"\nproperties.location = \"x\"\n\n[old]\ntype = \"Microsoft.Resources/resourceGroups\"\nenabled = \"${var.off}\"\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let rg = &decls[&"net.rg".parse::<Address>().unwrap()];
        assert!(rg.enabled);
        assert_eq!(rg.property_keys.iter().collect::<Vec<_>>(), ["location"]);
        assert!(rg.rtype.is_some());
        assert!(!decls[&"net.old".parse::<Address>().unwrap()].enabled);
    }

    #[test]
    fn declaration_errors() {
        let cases = [
            (
                "[Bad]\ntype = \"Microsoft.Resources/resourceGroups\"\n",
                "Bad",
                "not an identifier",
            ),
            ("[rg]\nname = \"x\"\n", "rg.type", "missing key `type`"),
            (
                "[rg]\ntype = \"microsoft.resources/resourcegroups\"\n",
                "rg.type",
                "not spelled canonically",
            ),
            (
                "[rg]\ntype = \"Microsoft.Resources/resourceGroup\"\n",
                "rg.type",
                "did you mean",
            ),
            (
                "[rg]\ntype = \"Microsoft.Resources/resourceGroups\"\nenabled = 1\n",
                "rg.enabled",
                "must be a boolean or",
            ),
            (
                "[rg]\ntype = \"Microsoft.Resources/resourceGroups\"\nenabled = \"x\"\n",
                "rg.enabled",
                "must evaluate to a boolean",
            ),
        ];
        for (text, key, want) in cases {
            let (_, errs) = declare_text(text);
            assert_eq!(errs.len(), 1, "{text}: {errs:?}");
            assert_eq!(errs[0].detail().key, key, "{text}");
            assert!(errs[0].to_string().contains(want), "{text}: {}", errs[0]);
        }
    }
}
