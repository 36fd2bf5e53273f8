use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::interpolate::escape;
use crate::model::{Estate, Segment, Value, format_clock};

/// The spec files that describe one resolved estate and its environment,
/// ready to write under a project root.
///
/// Invariant: loading the written files with [`super::Loader`] for the same
/// environment gives back an estate equal to the one rendered (the property
/// test `spec_round_trip` checks this on random estates). Default tags and
/// variables are not reconstructed: each resource carries its merged tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstateDoc {
    /// `(path relative to the project root, file contents)`, sorted by path.
    pub files: Vec<(PathBuf, String)>,
}

impl EstateDoc {
    /// Renders `estate` as spec files.
    pub fn render(estate: &Estate) -> Self {
        let mut files = Vec::new();
        let env = &estate.environment;
        files.push((
            PathBuf::from("environments").join(format!("{}.toml", env.name)),
            render_environment(estate),
        ));
        let dir = PathBuf::from("specs").join(&estate.name);
        files.push((dir.join("estate.toml"), render_head(estate)));
        let mut modules: BTreeMap<&str, toml::Table> = BTreeMap::new();
        for r in estate.resources().values() {
            let mut t = toml::Table::new();
            t.insert("type".into(), toml::Value::String(r.arm_type.clone()));
            t.insert("name".into(), toml::Value::String(escape(&r.name)));
            if r.lifecycle.prevent_destroy {
                t.insert("prevent_destroy".into(), toml::Value::Boolean(true));
            }
            if !r.depends_on.is_empty() {
                t.insert(
                    "depends_on".into(),
                    toml::Value::Array(
                        r.depends_on
                            .iter()
                            .map(|a| toml::Value::String(a.to_string()))
                            .collect(),
                    ),
                );
            }
            if !r.properties.is_empty() {
                let props = r
                    .properties
                    .iter()
                    .map(|(k, v)| (k.clone(), to_toml(v)))
                    .collect();
                t.insert("properties".into(), toml::Value::Table(props));
            }
            if !r.tags.is_empty() {
                let tags = r
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), toml::Value::String(escape(v))))
                    .collect();
                t.insert("tags".into(), toml::Value::Table(tags));
            }
            modules
                .entry(r.address.module())
                .or_default()
                .insert(r.address.name().to_string(), toml::Value::Table(t));
        }
        for (module, table) in modules {
            files.push((
                dir.join(format!("{module}.toml")),
                toml::to_string(&table).unwrap_or_default(),
            ));
        }
        files.sort();
        EstateDoc { files }
    }

    /// Writes every file under `root`, creating folders as needed.
    pub fn write(&self, root: &Path) -> io::Result<()> {
        for (rel, text) in &self.files {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        Ok(())
    }
}

/// Renders `estate` and writes it under `root`.
pub fn write_project(root: &Path, estate: &Estate) -> io::Result<()> {
    EstateDoc::render(estate).write(root)
}

fn to_toml(v: &Value) -> toml::Value {
    match v {
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Int(i) => toml::Value::Integer(*i),
        Value::Float(f) => toml::Value::Float(*f),
        Value::String(s) => toml::Value::String(escape(s)),
        Value::List(l) => toml::Value::Array(l.iter().map(to_toml).collect()),
        Value::Map(m) => {
            toml::Value::Table(m.iter().map(|(k, v)| (k.clone(), to_toml(v))).collect())
        }
        Value::Ref(r) => toml::Value::String(r.to_string()),
        Value::Template(segs) => toml::Value::String(
            segs.iter()
                .map(|s| match s {
                    Segment::Lit(l) => escape(l),
                    Segment::Ref(r) => r.to_string(),
                })
                .collect(),
        ),
    }
}

fn render_environment(estate: &Estate) -> String {
    let env = &estate.environment;
    let mut e = toml::Table::new();
    e.insert("name".into(), env.name.clone().into());
    e.insert("subscription_id".into(), env.subscription_id.clone().into());
    e.insert("region".into(), env.region.clone().into());
    if let Some(dr) = &env.dr_region {
        e.insert("dr_region".into(), dr.clone().into());
    }
    e.insert("zone_redundant".into(), env.zone_redundant.into());
    e.insert(
        "private_endpoints_only".into(),
        env.private_endpoints_only.into(),
    );
    e.insert("destroy_protection".into(), env.destroy_protection.into());
    if let Some(p) = &env.promote_from {
        e.insert("promote_from".into(), p.clone().into());
    }
    e.insert("backup_before_apply".into(), env.backup_before_apply.into());
    e.insert(
        "state_retention_days".into(),
        i64::from(env.state_retention_days).into(),
    );
    let mut doc = toml::Table::new();
    doc.insert("environment".into(), toml::Value::Table(e));
    if let Some(w) = &env.maintenance_window {
        let mut t = toml::Table::new();
        t.insert(
            "days".into(),
            toml::Value::Array(w.days.iter().map(|d| d.to_string().into()).collect()),
        );
        t.insert("start".into(), format_clock(w.start).into());
        t.insert("end".into(), format_clock(w.end).into());
        t.insert("timezone".into(), w.timezone.clone().into());
        doc.insert("maintenance_window".into(), toml::Value::Table(t));
    }
    if !env.vars.is_empty() {
        doc.insert(
            "vars".into(),
            toml::Value::Table(
                env.vars
                    .iter()
                    .map(|(k, v)| (k.clone(), to_toml(v)))
                    .collect(),
            ),
        );
    }
    toml::to_string(&doc).unwrap_or_default()
}

fn render_head(estate: &Estate) -> String {
    let mut doc = toml::Table::new();
    let mut head = toml::Table::new();
    head.insert("name".into(), estate.name.clone().into());
    doc.insert("estate".into(), toml::Value::Table(head));
    let o = &estate.objectives;
    let mut obj = toml::Table::new();
    obj.insert("rto".into(), o.rto.to_string().into());
    obj.insert("rpo".into(), o.rpo.to_string().into());
    if let Some(b) = o.monthly_budget_usd {
        obj.insert(
            "monthly_budget_usd".into(),
            i64::try_from(b).unwrap_or(i64::MAX).into(),
        );
    }
    obj.insert(
        "required_tags".into(),
        toml::Value::Array(o.required_tags.iter().map(|t| t.clone().into()).collect()),
    );
    doc.insert("objectives".into(), toml::Value::Table(obj));
    if !estate.cost_items.is_empty() {
        let items = estate
            .cost_items
            .iter()
            .map(|c| {
                let mut t = toml::Table::new();
                t.insert("name".into(), c.name.clone().into());
                t.insert("usd".into(), (c.usd_cents as f64 / 100.0).into());
                t.insert("source".into(), c.source.clone().into());
                toml::Value::Table(t)
            })
            .collect();
        doc.insert("cost_items".into(), toml::Value::Array(items));
    }
    toml::to_string(&doc).unwrap_or_default()
}
