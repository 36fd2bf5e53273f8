//! The [`Loader`]: the order of the stages that turn a project folder into
//! an [`Estate`], and when loading stops early.
//!
//! Each stage lives in its own module: finding and reading files
//! (`discovery`), the environment file (`environment`), `estate.toml`
//! (`estate_head`), variables (`vars`), pass 1 declarations (`declare`) and
//! pass 2 resolution (`resolve`).

use std::path::{Path, PathBuf};

use super::declare::{ModuleDoc, declare_all};
use super::discovery::{self, ESTATE_FILE, EXCEPTIONS_FILE, known_list};

/// Where the organisation's baseline lives, relative to the project root.
pub const BASELINE_FILE: &str = "policy/baseline.toml";
use super::environment::read_environment;
use super::error::{SpecError, SpecErrorKind as K, SpecErrors};
use super::estate_head::read_estate_head;
use super::exceptions::read_exceptions;
use super::resolve::{Edges, Inputs, graph_error, resolve_all};
use super::scope::{Scope, read_tags};
use super::source::SourceFile;
use super::toml_access::parse;
use crate::model::{Environment, Estate, PolicyException, check_identifier};

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
        discovery::estate_names(&self.root)
    }

    /// The environments: `environments/*.toml`, by file stem, sorted.
    pub fn environment_names(&self) -> Result<Vec<String>, SpecError> {
        discovery::environment_names(&self.root)
    }

    /// Loads one environment file.
    pub fn load_environment(&self, name: &str) -> Result<Environment, SpecErrors> {
        let known = self.environment_names()?;
        if !known.iter().any(|k| k == name) {
            let dir = discovery::rel(&self.root, &self.root.join("environments"));
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
    ///
    /// Loading stops before the resources when a variable or a module file
    /// could not be read: every use of the variable, or every reference
    /// into the module, would otherwise repeat that one error as
    /// "undefined variable" or "not declared".
    pub fn load(&self, estate: &str, env: &str) -> Result<Estate, SpecErrors> {
        let dir = self.root.join("specs").join(estate);
        if !dir.join(ESTATE_FILE).is_file() {
            let known = self.estate_names()?;
            return Err(SpecError::whole(
                K::Io,
                discovery::rel(&self.root, &dir.join(ESTATE_FILE)),
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
        let Some(head) = head.filter(|h| h.vars_complete) else {
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

        let before = errs.len();
        let files = self.read_modules(&dir, &mut errs)?;
        let docs = parse_modules(&files, &mut errs);
        if errs.len() > before {
            return Err(SpecErrors::new(errs).unwrap_or_else(|| bug(&estate_file)));
        }
        let decls = declare_all(&files, &docs, &scope, &mut errs);
        let mut edges = Edges::new();
        let inputs = Inputs {
            files: &files,
            docs: &docs,
            scope: &scope,
            decls: &decls,
            default_tags: &default_tags,
        };
        let resources = resolve_all(&inputs, &mut edges, &mut errs);
        if let Some(e) = SpecErrors::new(errs) {
            return Err(e);
        }
        Estate::new(
            estate.to_string(),
            environment,
            head.objectives,
            head.cost_items,
            resources,
        )
        .map_err(|e| graph_error(e, &files, &decls, &edges))
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

    /// The organisation's baseline (`policy/baseline.toml`; `None` when the
    /// project has none, and then only the estates' own declarations and
    /// the built-in minimums are checked). `rules` are the rule ids a
    /// requirement may name (the verify registry's).
    pub fn load_baseline(
        &self,
        rules: &[&'static str],
    ) -> Result<Option<crate::model::Baseline>, SpecErrors> {
        let path = self.root.join(BASELINE_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let file = self.read(&path)?;
        let doc = parse(&file)?;
        let mut errs = Vec::new();
        let out = super::baseline::read_baseline(&file, doc.get_ref(), rules, &mut errs);
        match SpecErrors::new(errs) {
            Some(e) => Err(e),
            None => Ok(Some(out)),
        }
    }

    /// Every module file of the estate in `dir` that could be read; the
    /// others are reported in `errs`.
    fn read_modules(
        &self,
        dir: &Path,
        errs: &mut Vec<SpecError>,
    ) -> Result<Vec<SourceFile>, SpecError> {
        let mut files = Vec::new();
        for p in discovery::module_paths(&self.root, dir)? {
            match self.read(&p) {
                Ok(f) => files.push(f),
                Err(e) => errs.push(e),
            }
        }
        Ok(files)
    }

    fn read(&self, path: &Path) -> Result<SourceFile, SpecError> {
        discovery::read_source(&self.root, path)
    }
}

/// Parses each module file whose stem is a module name; the others are
/// reported in `errs`.
fn parse_modules<'f>(files: &'f [SourceFile], errs: &mut Vec<SpecError>) -> Vec<ModuleDoc<'f>> {
    let mut docs = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let module = f
            .path()
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        if check_identifier(&module).is_err() {
            errs.push(
                SpecError::whole(
                    K::InvalidValue,
                    f.path(),
                    format!("module file name `{module}` is not an identifier"),
                )
                .help(
                    "rename the file to lowercase letters, digits and `_`, e.g. `app_gateway.toml`",
                ),
            );
            continue;
        }
        match parse(f) {
            Ok(d) => docs.push((i, module, d)),
            Err(e) => errs.push(e),
        }
    }
    docs
}

fn bug(file: &SourceFile) -> SpecErrors {
    SpecError::whole(
        K::InvalidValue,
        file.path(),
        "bug in statectl: loading failed without an error",
    )
    .into()
}
