//! Pass 2 over the module files: each enabled resource becomes a
//! [`Resource`], with `${...}` interpolated, every reference and
//! `depends_on` checked against the declarations, and the edges recorded
//! with their positions so a dependency cycle found later can be shown in
//! the file.

use std::collections::{BTreeMap, BTreeSet};

use toml::de::{DeTable, DeValue};

use super::declare::{Decl, ModuleDoc};
use super::error::{SpecError, SpecErrorKind as K, SpecErrors};
use super::interpolate::{self, Part};
use super::scope::{Scope, plain_string, read_tags};
use super::source::SourceFile;
use super::toml_access::{
    SValue, Span, as_array, as_bool, as_str, as_table, join, lookup, opt, req, to_value,
};
use crate::model::{Address, GraphError, Lifecycle, Reference, Resource, Segment, Value};

/// For each dependency edge (from, to), the file index and span of the
/// first reference or `depends_on` entry that made it.
pub(super) type Edges = BTreeMap<(Address, Address), (usize, Span)>;

/// Everything pass 2 reads while resolving the whole estate.
pub(super) struct Inputs<'a> {
    /// The module files, indexed by `ModuleDoc`'s first field.
    pub files: &'a [SourceFile],
    /// Their parsed tables.
    pub docs: &'a [ModuleDoc<'a>],
    /// Environment and variables.
    pub scope: &'a Scope<'a>,
    /// Every declaration from pass 1.
    pub decls: &'a BTreeMap<Address, Decl>,
    /// The estate's default tags, applied to every taggable resource.
    pub default_tags: &'a BTreeMap<String, String>,
}

/// Resolves every enabled resource, refusing two declarations of one Azure
/// resource (same type, placement and case-insensitive name).
pub(super) fn resolve_all(
    inp: &Inputs<'_>,
    edges: &mut Edges,
    errs: &mut Vec<SpecError>,
) -> BTreeMap<Address, Resource> {
    let mut resources = BTreeMap::new();
    let mut identities: BTreeMap<(String, String, String), Address> = BTreeMap::new();
    for (i, module, doc) in inp.docs {
        let Some(file) = inp.files.get(*i) else {
            continue;
        };
        for (key, value) in doc.get_ref().iter() {
            let Ok(address) = Address::new(module, key.get_ref()) else {
                continue;
            };
            let Some(decl) = inp.decls.get(&address).filter(|d| d.enabled) else {
                continue;
            };
            let ctx = ResolveCtx {
                file,
                file_idx: *i,
                scope: inp.scope,
                decls: inp.decls,
                this: &address,
            };
            let Some(r) = resolve_resource(&ctx, value, decl, inp.default_tags, edges, errs) else {
                continue;
            };
            if let Some(e) = claim_identity(&mut identities, file, decl, &r) {
                errs.push(e);
            }
            resources.insert(address, r);
        }
    }
    resources
}

/// Records which address declares the Azure resource `r` is, or the error
/// when another one already does.
fn claim_identity(
    identities: &mut BTreeMap<(String, String, String), Address>,
    file: &SourceFile,
    decl: &Decl,
    r: &Resource,
) -> Option<SpecError> {
    let rt = decl.rtype?;
    let placement = rt
        .placement_properties()
        .filter_map(|p| r.properties.get(p).map(|v| v.to_string()))
        .collect::<Vec<_>>()
        .join("/");
    let ident = (
        rt.arm_type.to_string(),
        placement,
        r.name.to_ascii_lowercase(),
    );
    let address = &r.address;
    match identities.get(&ident) {
        Some(other) => Some(
            SpecError::at(K::Duplicate, file, &decl.key_span, address.to_string(),
                format!("`{address}` declares the same {} `{}` as `{other}`", rt.arm_type, r.name))
            .help("two declarations would fight over one Azure resource: remove one, or give it another name"),
        ),
        None => {
            identities.insert(ident, address.clone());
            None
        }
    }
}

/// One resource being resolved, and what it is resolved against.
struct ResolveCtx<'a> {
    file: &'a SourceFile,
    file_idx: usize,
    scope: &'a Scope<'a>,
    decls: &'a BTreeMap<Address, Decl>,
    this: &'a Address,
}

impl ResolveCtx<'_> {
    /// The declaration `target` names, if it is another enabled resource.
    fn check_target(
        &self,
        target: &Address,
        span: &Span,
        key: &str,
        via: &str,
    ) -> Result<&Decl, SpecError> {
        if target == self.this {
            return Err(SpecError::at(
                K::Cycle,
                self.file,
                span,
                key,
                format!("`{}` {via} itself", self.this),
            )
            .help("remove the self-reference"));
        }
        let Some(d) = self.decls.get(target) else {
            return Err(SpecError::at(
                K::DanglingReference,
                self.file,
                span,
                key,
                format!("`{}` {via} `{target}`, which is not declared", self.this),
            )
            .help(self.undeclared_hint(target)));
        };
        if !d.enabled {
            return Err(SpecError::at(
                K::DanglingReference,
                self.file,
                span,
                key,
                format!(
                    "`{}` {via} `{target}`, which is disabled in environment `{}`",
                    self.this, self.scope.env.name
                ),
            )
            .help(
                "enable the target here too, or disable this resource in the same environments",
            ));
        }
        Ok(d)
    }

    /// The nearest declared address, or where to declare the missing one.
    fn undeclared_hint(&self, target: &Address) -> String {
        let names: Vec<String> = self.decls.keys().map(|a| a.to_string()).collect();
        crate::util::closest(
            &target.to_string(),
            names.iter().map(String::as_str),
            str::to_string,
        )
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| {
            let dir = self
                .file
                .path()
                .parent()
                .map_or_else(String::new, |p| format!("{}/", p.display()));
            format!(
                "declare `[{}]` in {dir}{}.toml, or fix the address",
                target.name(),
                target.module()
            )
        })
    }

    /// Checks `${module.resource.attr}` and records the edge.
    fn check_ref(
        &self,
        r: &Reference,
        span: &Span,
        key: &str,
        edges: &mut Edges,
    ) -> Result<(), SpecError> {
        let d = self.check_target(&r.address, span, key, "references")?;
        let ok = r.attr == "id"
            || r.attr == "name"
            || d.property_keys.contains(&r.attr)
            || d.rtype.is_some_and(|rt| rt.is_computed(&r.attr));
        if !ok {
            let ty = d.rtype.map_or("resource", |rt| rt.arm_type);
            return Err(SpecError::at(
                K::UnknownAttribute,
                self.file,
                span,
                key,
                format!("`{}` ({ty}) has no attribute `{}`", r.address, r.attr),
            )
            .help(format!(
                "known attributes: {}",
                known_attributes(d).join(", ")
            )));
        }
        edges
            .entry((self.this.clone(), r.address.clone()))
            .or_insert((self.file_idx, span.clone()));
        Ok(())
    }

    /// Converts a property value, interpolating and checking references.
    fn value(&self, v: &SValue<'_>, key: &str, edges: &mut Edges) -> Result<Value, SpecError> {
        to_value(
            self.file,
            v,
            key,
            &mut |s: &str, v: &SValue<'_>, key: &str| self.interpolate(s, &v.span(), key, edges),
        )
    }

    /// A property string: one whole `${...}` keeps its type (a list variable
    /// stays a list, a reference stays a reference); otherwise the parts are
    /// joined, references kept as segments of a template.
    fn interpolate(
        &self,
        s: &str,
        span: &Span,
        key: &str,
        edges: &mut Edges,
    ) -> Result<Value, SpecError> {
        let err = |m: String| SpecError::at(K::Interpolation, self.file, span, key, m);
        let parts = interpolate::parse(s).map_err(err)?;
        if let [single] = parts.as_slice() {
            return match single {
                Part::Var(n) => self.scope.var(n).cloned().map_err(err),
                Part::Env(f) => self.scope.env_field(f).map(Value::String).map_err(err),
                Part::Ref(r) => {
                    self.check_ref(r, span, key, edges)?;
                    Ok(Value::Ref(r.clone()))
                }
                Part::Lit(l) => Ok(Value::String(l.clone())),
            };
        }
        let mut segs: Vec<Segment> = Vec::new();
        for p in parts {
            match p {
                Part::Lit(l) => push_lit(&mut segs, &l),
                Part::Env(f) => push_lit(&mut segs, &self.scope.env_field(&f).map_err(err)?),
                Part::Var(n) => push_lit(&mut segs, &self.scope.var_text(&n).map_err(err)?),
                Part::Ref(r) => {
                    self.check_ref(&r, span, key, edges)?;
                    segs.push(Segment::Ref(r));
                }
            }
        }
        Ok(match segs.as_slice() {
            [Segment::Lit(l)] => Value::String(l.clone()),
            _ => Value::Template(segs),
        })
    }
}

/// Appends text, merging with a literal segment before it.
fn push_lit(segs: &mut Vec<Segment>, text: &str) {
    match segs.last_mut() {
        Some(Segment::Lit(l)) => l.push_str(text),
        _ => segs.push(Segment::Lit(text.to_string())),
    }
}

/// What `${<address>.<attr>}` may name on `d`, for the error message.
fn known_attributes(d: &Decl) -> Vec<String> {
    let mut known: Vec<String> = vec!["id".into(), "name".into()];
    if let Some(rt) = d.rtype {
        known.extend(
            rt.computed
                .iter()
                .filter(|c| **c != "id")
                .map(|c| c.to_string()),
        );
    }
    known.extend(d.property_keys.iter().cloned());
    known
}

/// One resource; `None` when it had an error (reported in `errs`).
fn resolve_resource(
    ctx: &ResolveCtx<'_>,
    value: &SValue<'_>,
    decl: &Decl,
    default_tags: &BTreeMap<String, String>,
    edges: &mut Edges,
    errs: &mut Vec<SpecError>,
) -> Option<Resource> {
    let file = ctx.file;
    let a = ctx.this.name();
    let DeValue::Table(t) = value.get_ref() else {
        return None;
    };
    let before = errs.len();
    let name = resource_name(ctx, t, decl, errs);
    let mut properties = BTreeMap::new();
    if let Some(pv) = lookup(t, "properties")
        && let Some(pt) = opt(as_table(file, pv, &join(a, "properties")), errs)
    {
        for (k, v) in pt.iter() {
            let key = format!("{a}.properties.{}", k.get_ref());
            if let Some(val) = opt(ctx.value(v, &key, edges), errs) {
                properties.insert(k.get_ref().to_string(), val);
            }
        }
    }
    let tags = resource_tags(ctx, t, decl, default_tags, errs);
    check_placement(ctx, t, decl, errs);
    let depends_on = read_depends_on(ctx, t, edges, errs);
    let prevent_destroy = lookup(t, "prevent_destroy")
        .and_then(|v| opt(as_bool(file, v, &join(a, "prevent_destroy")), errs))
        .unwrap_or(false);
    if let Some(dv) = lookup(t, "description") {
        opt(as_str(file, dv, &join(a, "description")), errs);
    }
    if errs.len() > before || decl.rtype.is_none() {
        return None;
    }
    Some(Resource {
        address: ctx.this.clone(),
        arm_type: decl.rtype?.arm_type.to_string(),
        name: name?,
        properties,
        tags,
        depends_on,
        lifecycle: Lifecycle { prevent_destroy },
    })
}

/// `name`: required, non-empty, `${env.*}`/`${var.*}` only.
fn resource_name(
    ctx: &ResolveCtx<'_>,
    t: &DeTable<'_>,
    decl: &Decl,
    errs: &mut Vec<SpecError>,
) -> Option<String> {
    let (file, a) = (ctx.file, ctx.this.name());
    let nv = opt(req(file, t, &decl.key_span, a, "name"), errs)?;
    match opt(
        plain_string(file, nv, &join(a, "name"), ctx.scope, "resource names"),
        errs,
    )? {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => {
            errs.push(SpecError::at(
                K::InvalidValue,
                file,
                &nv.span(),
                join(a, "name"),
                "a resource name must be a non-empty string",
            ));
            None
        }
    }
}

/// The estate's default tags under the resource's own, for taggable types;
/// an error for tags on a type that cannot carry them.
fn resource_tags(
    ctx: &ResolveCtx<'_>,
    t: &DeTable<'_>,
    decl: &Decl,
    default_tags: &BTreeMap<String, String>,
    errs: &mut Vec<SpecError>,
) -> BTreeMap<String, String> {
    let own_tags = read_tags(ctx.file, t, "tags", ctx.scope, errs);
    let Some(rt) = decl.rtype else {
        return BTreeMap::new();
    };
    if rt.taggable {
        let mut tags = default_tags.clone();
        tags.extend(own_tags);
        return tags;
    }
    if let Some(tv) = lookup(t, "tags") {
        errs.push(
            SpecError::at(
                K::InvalidValue,
                ctx.file,
                &tv.span(),
                join(ctx.this.name(), "tags"),
                format!("{} resources cannot carry tags", rt.arm_type),
            )
            .help(
                "remove the `tags` table; estate default tags are applied only to taggable types",
            ),
        );
    }
    BTreeMap::new()
}

/// The properties that are part of the type's ARM id must be present.
fn check_placement(ctx: &ResolveCtx<'_>, t: &DeTable<'_>, decl: &Decl, errs: &mut Vec<SpecError>) {
    let Some(rt) = decl.rtype else { return };
    let a = ctx.this.name();
    let prop_span = lookup(t, "properties").map_or(decl.key_span.clone(), |p| p.span());
    for p in rt.placement_properties() {
        if decl.property_keys.contains(p) {
            continue;
        }
        let hint = match p {
            "resource_group" => {
                "add `resource_group = \"${<module>.<rg>.name}\"` to its properties"
            }
            "parent" => {
                "add `parent = \"${<module>.<parent>.id}\"` naming the resource it belongs to"
            }
            _ => "add `scope = \"${<module>.<resource>.id}\"` naming the resource it applies to",
        };
        errs.push(
            SpecError::at(
                K::MissingKey,
                ctx.file,
                &prop_span,
                format!("{a}.properties.{p}"),
                format!(
                    "{} resources need property `{p}` (it is part of their ARM id)",
                    rt.arm_type
                ),
            )
            .help(hint),
        );
    }
}

/// `depends_on = ["<module>.<resource>", ...]`, each checked and recorded.
fn read_depends_on(
    ctx: &ResolveCtx<'_>,
    t: &DeTable<'_>,
    edges: &mut Edges,
    errs: &mut Vec<SpecError>,
) -> BTreeSet<Address> {
    let (file, a) = (ctx.file, ctx.this.name());
    let mut depends_on = BTreeSet::new();
    let Some(dv) = lookup(t, "depends_on") else {
        return depends_on;
    };
    let Some(items) = opt(as_array(file, dv, &join(a, "depends_on")), errs) else {
        return depends_on;
    };
    for (i, item) in items.iter().enumerate() {
        let key = format!("{a}.depends_on[{i}]");
        let Some(s) = opt(as_str(file, item, &key), errs) else {
            continue;
        };
        let target = match s.parse::<Address>() {
            Ok(target) => target,
            Err(e) => {
                errs.push(SpecError::at(
                    K::InvalidValue,
                    file,
                    &item.span(),
                    key,
                    e.to_string(),
                ));
                continue;
            }
        };
        match ctx.check_target(&target, &item.span(), &key, "depends on") {
            Ok(_) => {
                edges
                    .entry((ctx.this.clone(), target.clone()))
                    .or_insert((ctx.file_idx, item.span()));
                depends_on.insert(target);
            }
            Err(e) => errs.push(e),
        }
    }
    depends_on
}

/// A graph error from building the estate, placed at the reference or
/// `depends_on` entry that closes it.
pub(super) fn graph_error(
    e: GraphError,
    files: &[SourceFile],
    decls: &BTreeMap<Address, Decl>,
    edges: &Edges,
) -> SpecErrors {
    let locate = |from: &Address, to: Option<&Address>| -> Option<(&SourceFile, Span)> {
        if let Some(to) = to
            && let Some((fi, sp)) = edges.get(&(from.clone(), to.clone()))
        {
            return files.get(*fi).map(|f| (f, sp.clone()));
        }
        let d = decls.get(from)?;
        files.get(d.file_idx).map(|f| (f, d.key_span.clone()))
    };
    let (from, to, help) = match &e {
        GraphError::Cycle(path) => (
            path.first(),
            path.get(1),
            "break the cycle: remove one of these references or `depends_on` entries",
        ),
        GraphError::Dangling { from, to } => (
            Some(from),
            Some(to),
            "declare the missing resource or fix the address",
        ),
        GraphError::SelfEdge(a) => (Some(a), Some(a), "remove the self-reference"),
    };
    let message = e.to_string();
    let err = match from.and_then(|f| locate(f, to)) {
        Some((file, span)) => SpecError::at(
            K::Cycle,
            file,
            &span,
            from.map(|a| a.to_string()).unwrap_or_default(),
            message,
        )
        .help(help),
        None => SpecError::whole(K::Cycle, "specs", message).help(help),
    };
    err.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Environment;
    use crate::spec::declare::declare_all;
    use crate::spec::toml_access::parse;

    const RG: &str = "[rg]\ntype = \"Microsoft.Resources/resourceGroups\"\nname = \"rg-${env.name}\"\nproperties.location = \"eastus\"\n\n";

    struct Out {
        resources: BTreeMap<Address, Resource>,
        edges: Edges,
        errs: Vec<SpecError>,
    }

    fn resolve(text: &str) -> Out {
        let env = Environment::plain("dev", "s", "eastus");
        let vars = BTreeMap::new();
        let scope = Scope {
            env: &env,
            vars: &vars,
        };
        let files = vec![SourceFile::new(
            "specs/shop/net.toml",
            format!("{RG}{text}"),
        )];
        let docs = vec![(0, "net".to_string(), parse(&files[0]).unwrap())];
        let mut errs = Vec::new();
        let decls = declare_all(&files, &docs, &scope, &mut errs);
        let tags = BTreeMap::from([("owner".to_string(), "team".to_string())]);
        let inp = Inputs {
            files: &files,
            docs: &docs,
            scope: &scope,
            decls: &decls,
            default_tags: &tags,
        };
        let mut edges = Edges::new();
        let resources = resolve_all(&inp, &mut edges, &mut errs);
        Out {
            resources,
            edges,
            errs,
        }
    }

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn vnet(resource_group: &str) -> String {
        format!(
            "[vnet]\ntype = \"Microsoft.Network/virtualNetworks\"\nname = \"v\"\nproperties.resource_group = \"{resource_group}\"\n"
        )
    }

    #[test]
    fn references_become_refs_and_templates_with_edges() {
        let text = format!(
            "{}properties.note = \"in ${{net.rg.location}}!\"\n",
            vnet("${net.rg.name}")
        );
        let out = resolve(&text);
        assert!(out.errs.is_empty(), "{:?}", out.errs);
        let v = &out.resources[&addr("net.vnet")];
        assert!(matches!(&v.properties["resource_group"], Value::Ref(r) if r.attr == "name"));
        assert!(matches!(&v.properties["note"], Value::Template(s) if s.len() == 3));
        assert_eq!(v.tags["owner"], "team");
        assert_eq!(out.resources[&addr("net.rg")].name, "rg-dev");
        let (fi, span) = &out.edges[&(addr("net.vnet"), addr("net.rg"))];
        assert_eq!(*fi, 0);
        // Properties are resolved in key order, so `note` (line 10) makes
        // the edge a cycle message would point at.
        let f = SourceFile::new("x", format!("{RG}{text}"));
        assert_eq!(f.position(span.start).line, 10);
    }

    #[test]
    fn reference_errors() {
        let cases = [
            (vnet("${net.rgg.name}"), "`net.vnet` references `net.rgg`, which is not declared", "did you mean `net.rg`?"),
            (vnet("${other.thing.id}"), "which is not declared", "declare `[thing]` in specs/shop/other.toml"),
            (vnet("${net.rg.fqdn}"), "has no attribute `fqdn`", "known attributes: id, name, location"),
            (vnet("${net.vnet.id}"), "`net.vnet` references itself", "remove the self-reference"),
            (format!("{}depends_on = [\"nope\"]\n", vnet("${net.rg.name}")), "", ""),
            ("[x]\ntype = \"Microsoft.Network/networkSecurityGroups\"\nname = \"x\"\nproperties.resource_group = \"${net.off.name}\"\n\n[off]\ntype = \"Microsoft.Resources/resourceGroups\"\nname = \"o\"\nenabled = false\n".to_string(), "`net.x` references `net.off`, which is disabled in environment `dev`", "enable the target"),
        ];
        for (text, want, help) in cases {
            let out = resolve(&text);
            assert_eq!(out.errs.len(), 1, "{text}: {:?}", out.errs);
            let e = &out.errs[0];
            assert!(e.detail().line > 0);
            assert!(e.to_string().contains(want), "{text}: {e}");
            assert!(
                e.detail().help.as_deref().unwrap_or("").contains(help),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn two_declarations_of_one_azure_resource() {
        let out = resolve(&format!(
            "{}\n{}",
            vnet("${net.rg.name}"),
            vnet("${net.rg.name}")
                .replace("[vnet]", "[vnet2]")
                .replace("\"v\"", "\"V\"")
        ));
        assert_eq!(out.errs.len(), 1, "{:?}", out.errs);
        assert_eq!(out.errs[0].detail().kind, K::Duplicate);
        assert_eq!(out.errs[0].detail().key, "net.vnet2");
    }

    #[test]
    fn untaggable_and_misplaced_resources() {
        let text = "[sub]\ntype = \"Microsoft.Network/virtualNetworks/subnets\"\nname = \"s\"\ntags.x = \"y\"\n";
        let out = resolve(text);
        let keys: Vec<&str> = out.errs.iter().map(|e| e.detail().key.as_str()).collect();
        assert_eq!(
            keys,
            ["sub.tags", "sub.properties.parent"],
            "{:?}",
            out.errs
        );
        assert!(!out.resources.contains_key(&addr("net.sub")));
    }

    #[test]
    fn a_cycle_is_placed_at_its_first_edge() {
        let files = vec![SourceFile::new(
            "specs/shop/net.toml",
            format!("{RG}{}", vnet("${net.rg.name}")),
        )];
        let mut edges = Edges::new();
        edges.insert((addr("net.vnet"), addr("net.rg")), (0, 90..104));
        let e = graph_error(
            GraphError::Cycle(vec![addr("net.vnet"), addr("net.rg"), addr("net.vnet")]),
            &files,
            &BTreeMap::new(),
            &edges,
        );
        let d = e.errors()[0].detail();
        assert_eq!(d.kind, K::Cycle);
        assert_eq!(d.key, "net.vnet");
        assert!(d.line > 0);
        assert!(d.help.as_deref().unwrap_or("").contains("break the cycle"));
    }
}
