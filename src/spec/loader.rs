use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{SpecError, SpecErrorKind as K, SpecErrors};
use super::interpolate::{self, Part};
use super::source::SourceFile;
use crate::catalog::{self, ResourceType};
use crate::model::{
    Address, CostItem, Environment, Estate, ExceptionScope, GraphError, Interval, Lifecycle,
    MaintenanceWindow, Objectives, PolicyException, Reference, Resource, Segment, Value, Weekday,
    check_identifier, parse_clock,
};

type Span = Range<usize>;
type SValue<'i> = Spanned<DeValue<'i>>;

/// File names in an estate folder that are not modules.
const ESTATE_FILE: &str = "estate.toml";
/// Policy exceptions live beside the modules and are read by `verify`.
const EXCEPTIONS_FILE: &str = "exceptions.toml";

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
const EXCEPTIONS_KEYS: &[&str] = &["exception"];
const EXCEPTION_KEYS: &[&str] = &[
    "rule",
    "scope",
    "justification",
    "approver",
    "expires",
    "issue",
];
const ENV_FILE_KEYS: &[&str] = &["environment", "maintenance_window", "vars"];
const ENV_KEYS: &[&str] = &[
    "name",
    "subscription_id",
    "region",
    "dr_region",
    "zone_redundant",
    "private_endpoints_only",
    "destroy_protection",
    "promote_from",
    "backup_before_apply",
    "state_retention_days",
];
const WINDOW_KEYS: &[&str] = &["days", "start", "end", "timezone"];
/// The fields `${env.*}` can read.
const ENV_FIELDS: &[&str] = &["name", "region", "dr_region", "subscription_id"];
/// Tags required when an estate does not list its own (seed 001's policy).
const DEFAULT_REQUIRED_TAGS: &[&str] = &["cost-center", "environment", "owner"];

/// Loads estates from a project folder holding `specs/` and `environments/`.
///
/// Invariant: it never panics on input and never returns a partially built
/// estate: `load` gives either a complete, valid [`Estate`] or every error it
/// found, each with file, line, column and key.
#[derive(Debug, Clone)]
pub struct Loader {
    root: PathBuf,
}

impl Loader {
    /// A loader for the project at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Loader { root: root.into() }
    }

    /// The project folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The estates: folders under `specs/` that hold an `estate.toml`, sorted.
    pub fn estate_names(&self) -> Result<Vec<String>, SpecError> {
        let dir = self.root.join("specs");
        let mut out: Vec<String> = read_dir(&dir, &self.rel(&dir))?
            .into_iter()
            .filter(|p| p.join(ESTATE_FILE).is_file())
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The environments: `environments/*.toml`, by file stem, sorted.
    pub fn environment_names(&self) -> Result<Vec<String>, SpecError> {
        let dir = self.root.join("environments");
        let mut out: Vec<String> = read_dir(&dir, &self.rel(&dir))?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter_map(|p| p.file_stem().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Loads one environment file.
    pub fn load_environment(&self, name: &str) -> Result<Environment, SpecErrors> {
        let known = self.environment_names()?;
        if !known.iter().any(|k| k == name) {
            let dir = self.rel(&self.root.join("environments"));
            return Err(
                SpecError::whole(K::Io, dir, format!("no environment `{name}`"))
                    .help(known_list("environments", &known))
                    .into(),
            );
        }
        let file = self.read(&self.root.join("environments").join(format!("{name}.toml")))?;
        let doc = parse(&file)?;
        let mut errs = Vec::new();
        let env = read_environment(&file, doc.get_ref(), name, &known, &mut errs);
        match (env, SpecErrors::new(errs)) {
            (Some(env), None) => Ok(env),
            (_, Some(e)) => Err(e),
            (None, None) => Err(SpecError::whole(
                K::InvalidValue,
                file.path(),
                "bug in statectl: environment not read and no error",
            )
            .into()),
        }
    }

    /// Loads the desired state of `estate` in environment `env`.
    pub fn load(&self, estate: &str, env: &str) -> Result<Estate, SpecErrors> {
        let dir = self.root.join("specs").join(estate);
        if !dir.join(ESTATE_FILE).is_file() {
            let known = self.estate_names()?;
            return Err(SpecError::whole(
                K::Io,
                self.rel(&dir.join(ESTATE_FILE)),
                format!("no estate `{estate}`"),
            )
            .help(known_list("estates", &known))
            .into());
        }
        let mut environment = self.load_environment(env)?;
        let env_names = self.environment_names()?;

        let estate_file = self.read(&dir.join(ESTATE_FILE))?;
        let estate_doc = parse(&estate_file)?;
        let mut errs = Vec::new();
        let head = read_estate_head(
            &estate_file,
            estate_doc.get_ref(),
            estate,
            env,
            &env_names,
            &mut errs,
        );
        let Some(head) = head else {
            return Err(SpecErrors::new(errs).unwrap_or_else(|| bug(&estate_file)));
        };
        if let Some(r) = head.region {
            environment.region = r;
        }
        if let Some(r) = head.dr_region {
            environment.dr_region = Some(r);
        }
        // Estate defaults, then environment-wide values, then this estate's
        // values for this environment: the most specific wins.
        let mut vars = head.vars;
        vars.extend(environment.vars.clone());
        vars.extend(head.env_vars);
        let scope = Scope {
            env: &environment,
            vars: &vars,
        };
        let default_tags = read_tags(
            &estate_file,
            estate_doc.get_ref(),
            "tags",
            &scope,
            &mut errs,
        );

        // Modules: every other .toml file in the folder.
        let mut module_paths: Vec<PathBuf> = read_dir(&dir, &self.rel(&dir))?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                n != ESTATE_FILE && n != EXCEPTIONS_FILE
            })
            .collect();
        module_paths.sort();
        let mut files = Vec::new();
        for p in &module_paths {
            match self.read(p) {
                Ok(f) => files.push(f),
                Err(e) => errs.push(e),
            }
        }
        let mut docs: Vec<(usize, String, Spanned<DeTable<'_>>)> = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let module = f
                .path()
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            if check_identifier(&module).is_err() {
                errs.push(
                    SpecError::whole(K::InvalidValue, f.path(), format!("module file name `{module}` is not an identifier"))
                        .help("rename the file to lowercase letters, digits and `_`, e.g. `app_gateway.toml`"),
                );
                continue;
            }
            match parse(f) {
                Ok(d) => docs.push((i, module, d)),
                Err(e) => errs.push(e),
            }
        }

        // Pass 1: declare every resource, so references can be checked in any order.
        let mut decls: BTreeMap<Address, Decl> = BTreeMap::new();
        for (i, module, doc) in &docs {
            let file = &files[*i];
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
                if let Some(d) = declare(file, *i, &address, key_span, value, &scope, &mut errs) {
                    decls.insert(address, d);
                }
            }
        }

        // Pass 2: resolve each enabled resource.
        let mut resources = BTreeMap::new();
        let mut edge_spans: BTreeMap<(Address, Address), (usize, Span)> = BTreeMap::new();
        let mut identities: BTreeMap<(String, String, String), Address> = BTreeMap::new();
        for (i, module, doc) in &docs {
            let file = &files[*i];
            for (key, value) in doc.get_ref().iter() {
                let Ok(address) = Address::new(module, key.get_ref()) else {
                    continue;
                };
                let Some(decl) = decls.get(&address) else {
                    continue;
                };
                if !decl.enabled {
                    continue;
                }
                let ctx = ResolveCtx {
                    file,
                    file_idx: *i,
                    scope: &scope,
                    decls: &decls,
                    this: &address,
                };
                let Some(r) =
                    resolve_resource(&ctx, value, decl, &default_tags, &mut edge_spans, &mut errs)
                else {
                    continue;
                };
                if let Some(rt) = decl.rtype {
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
                    if let Some(other) = identities.get(&ident) {
                        errs.push(
                            SpecError::at(K::Duplicate, file, &decl.key_span, address.to_string(),
                                format!("`{address}` declares the same {} `{}` as `{other}`", rt.arm_type, r.name))
                            .help("two declarations would fight over one Azure resource: remove one, or give it another name"),
                        );
                    } else {
                        identities.insert(ident, address.clone());
                    }
                }
                resources.insert(address, r);
            }
        }

        let cost_items = head.cost_items;
        if let Some(e) = SpecErrors::new(errs) {
            return Err(e);
        }
        Estate::new(
            estate.to_string(),
            environment,
            head.objectives,
            cost_items,
            resources,
        )
        .map_err(|e| graph_error(e, &files, &decls, &edge_spans))
    }

    /// The policy exceptions of an estate (`specs/<estate>/exceptions.toml`;
    /// none when the file does not exist).
    pub fn load_exceptions(&self, estate: &str) -> Result<Vec<PolicyException>, SpecErrors> {
        let path = self.root.join("specs").join(estate).join(EXCEPTIONS_FILE);
        if !path.is_file() {
            return Ok(Vec::new());
        }
        let file = self.read(&path)?;
        let doc = parse(&file)?;
        let mut errs = Vec::new();
        let out = read_exceptions(&file, doc.get_ref(), &mut errs);
        match SpecErrors::new(errs) {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn rel(&self, p: &Path) -> PathBuf {
        p.strip_prefix(&self.root)
            .map_or_else(|_| p.to_path_buf(), Path::to_path_buf)
    }

    fn read(&self, path: &Path) -> Result<SourceFile, SpecError> {
        let rel = self.rel(path);
        let bytes = std::fs::read(path)
            .map_err(|e| SpecError::whole(K::Io, &rel, format!("cannot read file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            SpecError::whole(
                K::Syntax,
                &rel,
                format!(
                    "file is not UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        Ok(SourceFile::new(rel, text))
    }
}

fn bug(file: &SourceFile) -> SpecErrors {
    SpecError::whole(
        K::InvalidValue,
        file.path(),
        "bug in statectl: loading failed without an error",
    )
    .into()
}

fn known_list(what: &str, names: &[String]) -> String {
    if names.is_empty() {
        format!("there are no {what} in this project")
    } else {
        format!("known {what}: {}", names.join(", "))
    }
}

fn read_dir(dir: &Path, rel: &Path) -> Result<Vec<PathBuf>, SpecError> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        SpecError::whole(K::Io, rel, format!("cannot read folder: {e}"))
            .help("run statectl from the project root, or pass --project DIR")
    })?;
    let mut out = Vec::new();
    for entry in rd {
        let entry =
            entry.map_err(|e| SpecError::whole(K::Io, rel, format!("cannot read folder: {e}")))?;
        out.push(entry.path());
    }
    Ok(out)
}

fn parse(file: &SourceFile) -> Result<Spanned<DeTable<'_>>, SpecError> {
    DeTable::parse(file.text()).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        let kind = if msg.contains("duplicate key") { K::Duplicate } else { K::Syntax };
        let first = msg.lines().next().unwrap_or("invalid TOML").to_string();
        let key = file.text().get(span.clone()).unwrap_or("").lines().next().unwrap_or("").to_string();
        SpecError::at(kind, file, &span, key, format!("invalid TOML: {first}"))
            .help(if kind == K::Duplicate {
                "each resource and key may be declared once per file: remove or rename the second one"
            } else {
                "fix the TOML syntax at the caret (see https://toml.io)"
            })
    })
}

// ---------------------------------------------------------------------------
// Small typed readers over spanned TOML.

fn lookup<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a SValue<'i>> {
    t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn check_keys(
    file: &SourceFile,
    t: &DeTable<'_>,
    prefix: &str,
    allowed: &[&str],
    errs: &mut Vec<SpecError>,
) {
    for (k, _) in t.iter() {
        if allowed.contains(&k.get_ref().as_ref()) {
            continue;
        }
        let path = join(prefix, k.get_ref());
        let where_ = if prefix.is_empty() {
            "here".to_string()
        } else {
            format!("in `{prefix}`")
        };
        let help = match crate::util::closest(k.get_ref(), allowed.iter().copied(), str::to_string)
        {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("allowed keys: {}", allowed.join(", ")),
        };
        errs.push(
            SpecError::at(
                K::UnknownKey,
                file,
                &k.span(),
                path,
                format!("unknown key `{}` {where_}", k.get_ref()),
            )
            .help(help),
        );
    }
}

fn type_err(file: &SourceFile, v: &SValue<'_>, key: &str, want: &str) -> SpecError {
    SpecError::at(
        K::InvalidValue,
        file,
        &v.span(),
        key,
        format!("`{key}` must be {want}, not {}", de_kind(v.get_ref())),
    )
}

fn de_kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn req<'a, 'i>(
    file: &SourceFile,
    t: &'a DeTable<'i>,
    t_span: &Span,
    prefix: &str,
    key: &str,
) -> Result<&'a SValue<'i>, SpecError> {
    lookup(t, key).ok_or_else(|| {
        SpecError::at(
            K::MissingKey,
            file,
            &(t_span.start..t_span.start + 1),
            join(prefix, key),
            format!(
                "missing key `{key}` in `{}`",
                if prefix.is_empty() { "file" } else { prefix }
            ),
        )
        .help(format!("add `{key} = ...`"))
    })
}

fn as_str<'a>(file: &SourceFile, v: &'a SValue<'_>, key: &str) -> Result<&'a str, SpecError> {
    match v.get_ref() {
        DeValue::String(s) => Ok(s),
        _ => Err(type_err(file, v, key, "a string")),
    }
}

fn as_bool(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<bool, SpecError> {
    match v.get_ref() {
        DeValue::Boolean(b) => Ok(*b),
        _ => Err(type_err(file, v, key, "a boolean (true or false)")),
    }
}

fn de_int(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<i64, SpecError> {
    match v.get_ref() {
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            i64::from_str_radix(&digits, i.radix()).map_err(|_| {
                SpecError::at(
                    K::InvalidValue,
                    file,
                    &v.span(),
                    key,
                    format!("integer `{i}` does not fit in 64 bits"),
                )
            })
        }
        _ => Err(type_err(file, v, key, "an integer")),
    }
}

fn as_table<'a, 'i>(
    file: &SourceFile,
    v: &'a SValue<'i>,
    key: &str,
) -> Result<&'a DeTable<'i>, SpecError> {
    match v.get_ref() {
        DeValue::Table(t) => Ok(t),
        _ => Err(type_err(file, v, key, "a table")),
    }
}

fn as_array<'a, 'i>(
    file: &SourceFile,
    v: &'a SValue<'i>,
    key: &str,
) -> Result<&'a [SValue<'i>], SpecError> {
    match v.get_ref() {
        DeValue::Array(a) => Ok(a),
        _ => Err(type_err(file, v, key, "an array")),
    }
}

fn opt<T>(r: Result<T, SpecError>, errs: &mut Vec<SpecError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

fn interval(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<Interval, SpecError> {
    let s = as_str(file, v, key)?;
    s.parse::<Interval>()
        .map_err(|e| SpecError::at(K::InvalidValue, file, &v.span(), key, e.to_string()))
}

// ---------------------------------------------------------------------------
// Literal values (vars): no interpolation.

fn literal(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<Value, SpecError> {
    Ok(match v.get_ref() {
        DeValue::String(s) => {
            let parts = interpolate::parse(s)
                .map_err(|m| SpecError::at(K::Interpolation, file, &v.span(), key, m))?;
            let mut text = String::new();
            for p in parts {
                match p {
                    Part::Lit(l) => text.push_str(&l),
                    _ => {
                        return Err(SpecError::at(K::Interpolation, file, &v.span(), key, format!("variables are literal values; `{key}` contains `${{`"))
                            .help("interpolate where the variable is used, or write `$${` for a literal `${`"));
                    }
                }
            }
            Value::String(text)
        }
        DeValue::Integer(_) => Value::Int(de_int(file, v, key)?),
        DeValue::Float(f) => Value::Float(float(file, v, key, f.as_str())?),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => return Err(datetime_err(file, v, key)),
        DeValue::Array(a) => Value::List(
            a.iter()
                .enumerate()
                .map(|(i, x)| literal(file, x, &format!("{key}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => Value::Map(
            t.iter()
                .map(|(k, x)| {
                    Ok((
                        k.get_ref().to_string(),
                        literal(file, x, &join(key, k.get_ref()))?,
                    ))
                })
                .collect::<Result<_, SpecError>>()?,
        ),
    })
}

fn float(file: &SourceFile, v: &SValue<'_>, key: &str, text: &str) -> Result<f64, SpecError> {
    text.replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| {
            SpecError::at(
                K::InvalidValue,
                file,
                &v.span(),
                key,
                format!("`{text}` is not a finite number"),
            )
        })
}

fn datetime_err(file: &SourceFile, v: &SValue<'_>, key: &str) -> SpecError {
    SpecError::at(
        K::InvalidValue,
        file,
        &v.span(),
        key,
        "TOML date-times are not supported in specs",
    )
    .help("write dates as quoted strings, e.g. \"2026-12-31\"")
}

// ---------------------------------------------------------------------------
// Environments.

fn read_environment(
    file: &SourceFile,
    doc: &DeTable<'_>,
    name: &str,
    known: &[String],
    errs: &mut Vec<SpecError>,
) -> Option<Environment> {
    check_keys(file, doc, "", ENV_FILE_KEYS, errs);
    let whole = 0..0;
    let env_v = opt(req(file, doc, &whole, "", "environment"), errs)?;
    let t = opt(as_table(file, env_v, "environment"), errs)?;
    let sp = env_v.span();
    check_keys(file, t, "environment", ENV_KEYS, errs);
    let p = "environment";
    let s = |k: &str, errs: &mut Vec<SpecError>| -> Option<String> {
        let v = opt(req(file, t, &sp, p, k), errs)?;
        opt(as_str(file, v, &join(p, k)), errs).map(str::to_string)
    };
    let os = |k: &str, errs: &mut Vec<SpecError>| -> Option<String> {
        let v = lookup(t, k)?;
        opt(as_str(file, v, &join(p, k)), errs).map(str::to_string)
    };
    let ob = |k: &str, errs: &mut Vec<SpecError>| -> bool {
        lookup(t, k)
            .and_then(|v| opt(as_bool(file, v, &join(p, k)), errs))
            .unwrap_or(false)
    };
    let env_name = s("name", errs);
    if let (Some(n), Some(v)) = (&env_name, lookup(t, "name"))
        && n != name
    {
        errs.push(
            SpecError::at(
                K::InvalidValue,
                file,
                &v.span(),
                "environment.name",
                format!("environment name `{n}` does not match the file name `{name}.toml`"),
            )
            .help(format!("write `name = \"{name}\"`")),
        );
    }
    let subscription_id = s("subscription_id", errs);
    let region = s("region", errs);
    let dr_region = os("dr_region", errs);
    let promote_from = os("promote_from", errs);
    if let (Some(pf), Some(v)) = (&promote_from, lookup(t, "promote_from"))
        && (!known.contains(pf) || pf == name)
    {
        errs.push(
            SpecError::at(
                K::InvalidValue,
                file,
                &v.span(),
                "environment.promote_from",
                format!("`promote_from` names `{pf}`, which is not another environment"),
            )
            .help(known_list("environments", known)),
        );
    }
    let state_retention_days = match lookup(t, "state_retention_days") {
        Some(v) => {
            let n = opt(de_int(file, v, "environment.state_retention_days"), errs)?;
            match u32::try_from(n) {
                Ok(n) => n,
                Err(_) => {
                    errs.push(SpecError::at(
                        K::InvalidValue,
                        file,
                        &v.span(),
                        "environment.state_retention_days",
                        "retention must be between 0 and 4294967295 days",
                    ));
                    return None;
                }
            }
        }
        None => 7,
    };
    let maintenance_window = match lookup(doc, "maintenance_window") {
        Some(v) => Some(opt(read_window(file, v), errs)?),
        None => None,
    };
    let vars = match lookup(doc, "vars") {
        Some(v) => {
            let t = opt(as_table(file, v, "vars"), errs)?;
            read_vars(file, t, "vars", errs)
        }
        None => BTreeMap::new(),
    };
    Some(Environment {
        name: env_name?,
        subscription_id: subscription_id?,
        region: region?,
        dr_region,
        zone_redundant: ob("zone_redundant", errs),
        private_endpoints_only: ob("private_endpoints_only", errs),
        destroy_protection: ob("destroy_protection", errs),
        promote_from,
        backup_before_apply: ob("backup_before_apply", errs),
        state_retention_days,
        maintenance_window,
        vars,
    })
}

fn read_window(file: &SourceFile, v: &SValue<'_>) -> Result<MaintenanceWindow, SpecError> {
    let p = "maintenance_window";
    let t = as_table(file, v, p)?;
    let mut errs = Vec::new();
    check_keys(file, t, p, WINDOW_KEYS, &mut errs);
    if let Some(e) = errs.into_iter().next() {
        return Err(e);
    }
    let sp = v.span();
    let days_v = req(file, t, &sp, p, "days")?;
    let mut days = Vec::new();
    for (i, d) in as_array(file, days_v, "maintenance_window.days")?
        .iter()
        .enumerate()
    {
        let key = format!("maintenance_window.days[{i}]");
        let s = as_str(file, d, &key)?;
        days.push(Weekday::parse(s).ok_or_else(|| {
            SpecError::at(
                K::InvalidValue,
                file,
                &d.span(),
                key,
                format!("`{s}` is not a day of the week"),
            )
            .help("write e.g. \"sunday\"")
        })?);
    }
    if days.is_empty() {
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &days_v.span(),
            "maintenance_window.days",
            "a maintenance window needs at least one day",
        ));
    }
    let clock = |k: &str| -> Result<u16, SpecError> {
        let v = req(file, t, &sp, p, k)?;
        let s = as_str(file, v, &join(p, k))?;
        parse_clock(s).ok_or_else(|| {
            SpecError::at(
                K::InvalidValue,
                file,
                &v.span(),
                join(p, k),
                format!("`{s}` is not a time of day"),
            )
            .help("write 24-hour `HH:MM`, e.g. \"02:00\"")
        })
    };
    let start = clock("start")?;
    let end = clock("end")?;
    if start >= end {
        let v = req(file, t, &sp, p, "end")?;
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &v.span(),
            "maintenance_window.end",
            "the window must end after it starts on the same day",
        ));
    }
    let tz_v = req(file, t, &sp, p, "timezone")?;
    let timezone = as_str(file, tz_v, "maintenance_window.timezone")?.to_string();
    if !timezone.contains('/') {
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &tz_v.span(),
            "maintenance_window.timezone",
            format!("`{timezone}` is not an IANA time zone name"),
        )
        .help("write e.g. \"America/New_York\" (US Eastern, with daylight saving)"));
    }
    Ok(MaintenanceWindow {
        days,
        start,
        end,
        timezone,
    })
}

fn read_vars(
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

// ---------------------------------------------------------------------------
// estate.toml

struct EstateHead {
    objectives: Objectives,
    vars: BTreeMap<String, Value>,
    env_vars: BTreeMap<String, Value>,
    region: Option<String>,
    dr_region: Option<String>,
    cost_items: Vec<CostItem>,
}

fn read_estate_head(
    file: &SourceFile,
    doc: &DeTable<'_>,
    estate: &str,
    env: &str,
    env_names: &[String],
    errs: &mut Vec<SpecError>,
) -> Option<EstateHead> {
    check_keys(file, doc, "", ESTATE_KEYS, errs);
    let whole = 0..0;
    if let Some(v) = opt(req(file, doc, &whole, "", "estate"), errs)
        && let Some(t) = opt(as_table(file, v, "estate"), errs)
    {
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
    let objectives = read_objectives(file, doc, errs);
    let vars = match lookup(doc, "vars") {
        Some(v) => opt(as_table(file, v, "vars"), errs)
            .map(|t| read_vars(file, t, "vars", errs))
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let (mut region, mut dr_region, mut env_vars) = (None, None, BTreeMap::new());
    if let Some(v) = lookup(doc, "environments")
        && let Some(t) = opt(as_table(file, v, "environments"), errs)
    {
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
            if let Some(r) = lookup(et, "region") {
                region = opt(as_str(file, r, &join(&prefix, "region")), errs).map(str::to_string);
            }
            if let Some(r) = lookup(et, "dr_region") {
                dr_region =
                    opt(as_str(file, r, &join(&prefix, "dr_region")), errs).map(str::to_string);
            }
            if let Some(vv) = lookup(et, "vars")
                && let Some(vt) = opt(as_table(file, vv, &join(&prefix, "vars")), errs)
            {
                env_vars = read_vars(file, vt, &join(&prefix, "vars"), errs);
            }
        }
    }
    let mut cost_items = Vec::new();
    if let Some(v) = lookup(doc, "cost_items")
        && let Some(items) = opt(as_array(file, v, "cost_items"), errs)
    {
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("cost_items[{i}]");
            let Some(t) = opt(as_table(file, item, &prefix), errs) else {
                continue;
            };
            check_keys(file, t, &prefix, COST_ITEM_KEYS, errs);
            let sp = item.span();
            let name = opt(
                req(file, t, &sp, &prefix, "name")
                    .and_then(|v| as_str(file, v, &join(&prefix, "name"))),
                errs,
            );
            let source = opt(
                req(file, t, &sp, &prefix, "source")
                    .and_then(|v| as_str(file, v, &join(&prefix, "source"))),
                errs,
            );
            let usd = opt(
                req(file, t, &sp, &prefix, "usd")
                    .and_then(|v| dollars_to_cents(file, v, &join(&prefix, "usd"))),
                errs,
            );
            if let (Some(name), Some(source), Some(usd_cents)) = (name, source, usd) {
                cost_items.push(CostItem {
                    name: name.to_string(),
                    usd_cents,
                    source: source.to_string(),
                });
            }
        }
    }
    Some(EstateHead {
        objectives: objectives?,
        vars,
        env_vars,
        region,
        dr_region,
        cost_items,
    })
}

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
    Ok((dollars * 100.0).round() as u64)
}

fn read_objectives(
    file: &SourceFile,
    doc: &DeTable<'_>,
    errs: &mut Vec<SpecError>,
) -> Option<Objectives> {
    let whole = 0..0;
    let v = opt(req(file, doc, &whole, "", "objectives"), errs)?;
    let t = opt(as_table(file, v, "objectives"), errs)?;
    let p = "objectives";
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
        Some(v) => {
            let n = opt(de_int(file, v, "objectives.monthly_budget_usd"), errs)?;
            match u64::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    errs.push(SpecError::at(
                        K::InvalidValue,
                        file,
                        &v.span(),
                        "objectives.monthly_budget_usd",
                        "a budget cannot be negative",
                    ));
                    return None;
                }
            }
        }
        None => None,
    };
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
    Some(Objectives {
        rto: rto?,
        rpo: rpo?,
        monthly_budget_usd,
        required_tags,
    })
}

// ---------------------------------------------------------------------------
// exceptions.toml

fn is_iso_date(s: &str) -> bool {
    s.parse::<jiff::civil::Date>().is_ok() && s.len() == 10
}

fn read_exceptions(
    file: &SourceFile,
    doc: &DeTable<'_>,
    errs: &mut Vec<SpecError>,
) -> Vec<PolicyException> {
    check_keys(file, doc, "", EXCEPTIONS_KEYS, errs);
    let mut out = Vec::new();
    let Some(v) = lookup(doc, "exception") else {
        return out;
    };
    let Some(items) = opt(as_array(file, v, "exception"), errs) else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let p = format!("exception[{i}]");
        let Some(t) = opt(as_table(file, item, &p), errs) else {
            continue;
        };
        check_keys(file, t, &p, EXCEPTION_KEYS, errs);
        let sp = item.span();
        let text = |k: &str, errs: &mut Vec<SpecError>| -> Option<(String, Span)> {
            let v = opt(req(file, t, &sp, &p, k), errs)?;
            let s = opt(as_str(file, v, &join(&p, k)), errs)?;
            if s.trim().is_empty() {
                errs.push(SpecError::at(K::InvalidValue, file, &v.span(), join(&p, k), format!("`{k}` must not be empty")).help("every exception states its rule, scope, justification, approver and expiry"));
                return None;
            }
            Some((s.to_string(), v.span()))
        };
        let rule = text("rule", errs);
        let scope = text("scope", errs).and_then(|(s, span)| {
            let parsed = if s == "*" {
                Some(ExceptionScope::All)
            } else if let Some(m) = s.strip_prefix("module.") {
                check_identifier(m)
                    .ok()
                    .map(|_| ExceptionScope::Module(m.to_string()))
            } else {
                s.parse::<Address>().ok().map(ExceptionScope::Resource)
            };
            if parsed.is_none() {
                errs.push(
                    SpecError::at(
                        K::InvalidValue,
                        file,
                        &span,
                        join(&p, "scope"),
                        format!("`{s}` is not a scope"),
                    )
                    .help("write `*`, `module.<module>` or `<module>.<resource>`"),
                );
            }
            parsed
        });
        let justification = text("justification", errs);
        let approver = text("approver", errs);
        let expires = text("expires", errs).and_then(|(s, span)| {
            if is_iso_date(&s) {
                Some(s)
            } else {
                errs.push(
                    SpecError::at(
                        K::InvalidValue,
                        file,
                        &span,
                        join(&p, "expires"),
                        format!("`{s}` is not a date"),
                    )
                    .help("write `YYYY-MM-DD`; an exception without an expiry is not an exception"),
                );
                None
            }
        });
        let issue = lookup(t, "issue")
            .and_then(|v| opt(as_str(file, v, &join(&p, "issue")), errs))
            .map(str::to_string);
        let pos = file.position(sp.start);
        if let (
            Some((rule, _)),
            Some(scope),
            Some((justification, _)),
            Some((approver, _)),
            Some(expires),
        ) = (rule, scope, justification, approver, expires)
        {
            out.push(PolicyException {
                rule,
                scope,
                justification,
                approver,
                expires,
                issue,
                origin: format!("{}:{}", file.path().display(), pos.line),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Interpolation scope.

struct Scope<'a> {
    env: &'a Environment,
    vars: &'a BTreeMap<String, Value>,
}

impl Scope<'_> {
    fn env_field(&self, field: &str) -> Result<String, String> {
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

    fn var(&self, name: &str) -> Result<&Value, String> {
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
}

/// A string with only `${env.*}`/`${var.*}` allowed (names, tags, `enabled`).
fn plain_string(
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
            Part::Var(n) => {
                out.push_str(&scalar_text(scope.var(&n).map_err(err)?).ok_or_else(|| {
                    err(format!(
                        "`${{var.{n}}}` is a list or table and cannot be part of a string"
                    ))
                })?)
            }
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

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn read_tags(
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
        if k.get_ref().is_empty()
            || k.get_ref().chars().any(|c| "<>%&\\?/".contains(c))
            || k.get_ref().len() > 512
        {
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

// ---------------------------------------------------------------------------
// Resources.

struct Decl {
    file_idx: usize,
    key_span: Span,
    rtype: Option<&'static ResourceType>,
    enabled: bool,
    property_keys: BTreeSet<String>,
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
    let rtype = match opt(req(file, t, &key_span, a, "type"), errs) {
        Some(tv) => match opt(as_str(file, tv, &join(a, "type")), errs) {
            Some(ty) => match catalog::lookup(ty) {
                Ok(rt) if rt.arm_type == ty => Some(rt),
                Ok(rt) => {
                    errs.push(
                        SpecError::at(
                            K::UnknownType,
                            file,
                            &tv.span(),
                            join(a, "type"),
                            format!("resource type `{ty}` is not spelled canonically"),
                        )
                        .help(format!("write `{}`", rt.arm_type)),
                    );
                    None
                }
                Err(e) => {
                    let help = match e.suggestion {
                        Some(s) => {
                            format!("did you mean `{s}`? (`statectl types` lists every known type)")
                        }
                        None => "`statectl types` lists every known type".to_string(),
                    };
                    errs.push(
                        SpecError::at(
                            K::UnknownType,
                            file,
                            &tv.span(),
                            join(a, "type"),
                            format!("unknown resource type `{ty}`"),
                        )
                        .help(help),
                    );
                    None
                }
            },
            None => None,
        },
        None => None,
    };
    let enabled = match lookup(t, "enabled") {
        None => true,
        Some(v) => match v.get_ref() {
            DeValue::Boolean(b) => *b,
            DeValue::String(_) => {
                match plain_string(file, v, &join(a, "enabled"), scope, "`enabled`") {
                    Ok(Value::Bool(b)) => b,
                    Ok(other) => {
                        errs.push(SpecError::at(
                            K::InvalidValue,
                            file,
                            &v.span(),
                            join(a, "enabled"),
                            format!("`enabled` must evaluate to a boolean, not {}", other.kind()),
                        ));
                        true
                    }
                    Err(e) => {
                        errs.push(e);
                        true
                    }
                }
            }
            _ => {
                errs.push(type_err(
                    file,
                    v,
                    &join(a, "enabled"),
                    "a boolean or a \"${var.*}\" boolean",
                ));
                true
            }
        },
    };
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

struct ResolveCtx<'a> {
    file: &'a SourceFile,
    file_idx: usize,
    scope: &'a Scope<'a>,
    decls: &'a BTreeMap<Address, Decl>,
    this: &'a Address,
}

impl ResolveCtx<'_> {
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
            let hint = crate::util::closest(
                &target.to_string(),
                self.decls
                    .keys()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
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
            });
            return Err(SpecError::at(
                K::DanglingReference,
                self.file,
                span,
                key,
                format!("`{}` {via} `{target}`, which is not declared", self.this),
            )
            .help(hint));
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

    fn check_ref(
        &self,
        r: &Reference,
        span: &Span,
        key: &str,
        edges: &mut BTreeMap<(Address, Address), (usize, Span)>,
    ) -> Result<(), SpecError> {
        let d = self.check_target(&r.address, span, key, "references")?;
        let ok = r.attr == "id"
            || r.attr == "name"
            || d.property_keys.contains(&r.attr)
            || d.rtype.is_some_and(|rt| rt.is_computed(&r.attr));
        if !ok {
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
            let ty = d.rtype.map_or("resource", |rt| rt.arm_type);
            return Err(SpecError::at(
                K::UnknownAttribute,
                self.file,
                span,
                key,
                format!("`{}` ({ty}) has no attribute `{}`", r.address, r.attr),
            )
            .help(format!("known attributes: {}", known.join(", "))));
        }
        edges
            .entry((self.this.clone(), r.address.clone()))
            .or_insert((self.file_idx, span.clone()));
        Ok(())
    }

    /// Converts a property value, interpolating and checking references.
    fn value(
        &self,
        v: &SValue<'_>,
        key: &str,
        edges: &mut BTreeMap<(Address, Address), (usize, Span)>,
    ) -> Result<Value, SpecError> {
        let file = self.file;
        Ok(match v.get_ref() {
            DeValue::String(s) => {
                let err = |m: String| SpecError::at(K::Interpolation, file, &v.span(), key, m);
                let parts = interpolate::parse(s).map_err(err)?;
                if let [single] = parts.as_slice() {
                    match single {
                        Part::Var(n) => return self.scope.var(n).cloned().map_err(err),
                        Part::Env(f) => {
                            return self.scope.env_field(f).map(Value::String).map_err(err);
                        }
                        Part::Ref(r) => {
                            self.check_ref(r, &v.span(), key, edges)?;
                            return Ok(Value::Ref(r.clone()));
                        }
                        Part::Lit(l) => return Ok(Value::String(l.clone())),
                    }
                }
                let mut segs: Vec<Segment> = Vec::new();
                let push_lit = |segs: &mut Vec<Segment>, text: &str| match segs.last_mut() {
                    Some(Segment::Lit(l)) => l.push_str(text),
                    _ => segs.push(Segment::Lit(text.to_string())),
                };
                for p in parts {
                    match p {
                        Part::Lit(l) => push_lit(&mut segs, &l),
                        Part::Env(f) => {
                            push_lit(&mut segs, &self.scope.env_field(&f).map_err(err)?)
                        }
                        Part::Var(n) => {
                            let val = self.scope.var(&n).map_err(err)?;
                            let text = scalar_text(val).ok_or_else(|| err(format!("`${{var.{n}}}` is a list or table and cannot be part of a string")))?;
                            push_lit(&mut segs, &text);
                        }
                        Part::Ref(r) => {
                            self.check_ref(&r, &v.span(), key, edges)?;
                            segs.push(Segment::Ref(r));
                        }
                    }
                }
                match segs.as_slice() {
                    [Segment::Lit(l)] => Value::String(l.clone()),
                    _ => Value::Template(segs),
                }
            }
            DeValue::Integer(_) => Value::Int(de_int(file, v, key)?),
            DeValue::Float(f) => Value::Float(float(file, v, key, f.as_str())?),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(_) => return Err(datetime_err(file, v, key)),
            DeValue::Array(a) => Value::List(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.value(x, &format!("{key}[{i}]"), edges))
                    .collect::<Result<_, _>>()?,
            ),
            DeValue::Table(t) => Value::Map(
                t.iter()
                    .map(|(k, x)| {
                        Ok((
                            k.get_ref().to_string(),
                            self.value(x, &join(key, k.get_ref()), edges)?,
                        ))
                    })
                    .collect::<Result<_, SpecError>>()?,
            ),
        })
    }
}

fn resolve_resource(
    ctx: &ResolveCtx<'_>,
    value: &SValue<'_>,
    decl: &Decl,
    default_tags: &BTreeMap<String, String>,
    edges: &mut BTreeMap<(Address, Address), (usize, Span)>,
    errs: &mut Vec<SpecError>,
) -> Option<Resource> {
    let file = ctx.file;
    let a = ctx.this.name();
    let t = match value.get_ref() {
        DeValue::Table(t) => t,
        _ => return None,
    };
    let before = errs.len();
    let name = match opt(req(file, t, &decl.key_span, a, "name"), errs) {
        Some(nv) => match opt(
            plain_string(file, nv, &join(a, "name"), ctx.scope, "resource names"),
            errs,
        ) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(_) => {
                errs.push(SpecError::at(
                    K::InvalidValue,
                    file,
                    &nv.span(),
                    join(a, "name"),
                    "a resource name must be a non-empty string",
                ));
                None
            }
            None => None,
        },
        None => None,
    };
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
    let own_tags = read_tags(file, t, "tags", ctx.scope, errs);
    let mut tags = BTreeMap::new();
    if let Some(rt) = decl.rtype {
        if rt.taggable {
            tags = default_tags.clone();
            tags.extend(own_tags);
        } else if let Some(tv) = lookup(t, "tags") {
            errs.push(SpecError::at(K::InvalidValue, file, &tv.span(), join(a, "tags"), format!("{} resources cannot carry tags", rt.arm_type)).help("remove the `tags` table; estate default tags are applied only to taggable types"));
        }
        let prop_span = lookup(t, "properties").map_or(decl.key_span.clone(), |p| p.span());
        for p in rt.placement_properties() {
            if !decl.property_keys.contains(p) {
                let hint = match p {
                    "resource_group" => {
                        "add `resource_group = \"${<module>.<rg>.name}\"` to its properties"
                    }
                    "parent" => {
                        "add `parent = \"${<module>.<parent>.id}\"` naming the resource it belongs to"
                    }
                    _ => {
                        "add `scope = \"${<module>.<resource>.id}\"` naming the resource it applies to"
                    }
                };
                errs.push(
                    SpecError::at(
                        K::MissingKey,
                        file,
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
    }
    let mut depends_on = BTreeSet::new();
    if let Some(dv) = lookup(t, "depends_on")
        && let Some(items) = opt(as_array(file, dv, &join(a, "depends_on")), errs)
    {
        for (i, item) in items.iter().enumerate() {
            let key = format!("{a}.depends_on[{i}]");
            let Some(s) = opt(as_str(file, item, &key), errs) else {
                continue;
            };
            match s.parse::<Address>() {
                Ok(target) => match ctx.check_target(&target, &item.span(), &key, "depends on") {
                    Ok(_) => {
                        edges
                            .entry((ctx.this.clone(), target.clone()))
                            .or_insert((ctx.file_idx, item.span()));
                        depends_on.insert(target);
                    }
                    Err(e) => errs.push(e),
                },
                Err(e) => errs.push(SpecError::at(
                    K::InvalidValue,
                    file,
                    &item.span(),
                    key,
                    e.to_string(),
                )),
            }
        }
    }
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

fn graph_error(
    e: GraphError,
    files: &[SourceFile],
    decls: &BTreeMap<Address, Decl>,
    edges: &BTreeMap<(Address, Address), (usize, Span)>,
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
    let (from, to, message, help) = match &e {
        GraphError::Cycle(path) => (
            path.first(),
            path.get(1),
            e.to_string(),
            "break the cycle: remove one of these references or `depends_on` entries",
        ),
        GraphError::Dangling { from, to } => (
            Some(from),
            Some(to),
            e.to_string(),
            "declare the missing resource or fix the address",
        ),
        GraphError::SelfEdge(a) => (Some(a), Some(a), e.to_string(), "remove the self-reference"),
    };
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
