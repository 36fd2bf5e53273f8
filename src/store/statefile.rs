//! The JSON form of one generation: what `statectl state pull` prints and
//! `statectl state push` reads, the equivalent of `terraform state pull`.
//!
//! ```json
//! { "format_version": 1,
//!   "stack": { "estate": "chatwoot", "env": "prod" },
//!   "generation": { "number": 3, "kind": "apply", "release": "1.1.0", ... },
//!   "resources": [ { "address": "data.redis", "type": "...", "name": "...", "id": "...",
//!                    "properties": {...}, "attributes": {...},
//!                    "sensitive": { "primary_access_key": "(sensitive)" },
//!                    "tags": {...}, "dependencies": [...], "prevent_destroy": false } ] }
//! ```
//!
//! Sensitive values are printed as `"(sensitive)"` unless asked for; a
//! pushed `"(sensitive)"` imports the attribute as unknown (the next refresh
//! reads it again), so pull -> push -> pull is byte-identical.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as J, json};

use crate::model::{
    Address, Digest, Generation, GenerationKind, ObservedResource, Outcome, Secret, Stack, UtcTime,
    Value,
};

/// The state file format version.
pub const STATE_FORMAT_VERSION: u64 = 1;
/// What a redacted secret prints as.
pub const REDACTED: &str = "(sensitive)";

/// Why a state file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StateFileError {
    /// Where in the document (a JSON path like `resources[3].address`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> StateFileError {
    StateFileError {
        path: path.into(),
        message: message.into(),
    }
}

/// Renders a generation and its resources. Secrets must be either sealed
/// (printed redacted) or plain (printed only when `show_sensitive`).
pub fn to_json(
    g: &Generation,
    resources: &BTreeMap<Address, ObservedResource>,
    show_sensitive: bool,
) -> J {
    let resources: Vec<J> = resources
        .values()
        .map(|r| {
            let sensitive: Map<String, J> = r
                .sensitive
                .iter()
                .map(|(k, s)| {
                    let v = match s {
                        Secret::Plain(p) if show_sensitive => J::String(p.clone()),
                        _ => J::String(REDACTED.into()),
                    };
                    (k.clone(), v)
                })
                .collect();
            json!({
                "address": r.address.to_string(),
                "type": r.arm_type,
                "name": r.name,
                "id": r.id,
                "properties": map_json(&r.properties),
                "attributes": map_json(&r.attributes),
                "sensitive": sensitive,
                "tags": r.tags,
                "dependencies": r.dependencies.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "prevent_destroy": r.prevent_destroy,
            })
        })
        .collect();
    json!({
        "format_version": STATE_FORMAT_VERSION,
        "stack": { "estate": g.stack.estate, "env": g.stack.env },
        "generation": {
            "number": g.number,
            "kind": g.kind.to_string(),
            "release": g.release,
            "plan_hash": g.plan_hash.map(|d| d.to_hex()),
            "actor": g.actor,
            "reason": g.reason,
            "started_at": g.started_at.to_string(),
            "ended_at": g.ended_at.to_string(),
            "outcome": g.outcome.to_string(),
            "summary": g.summary,
            "restores": g.restores.iter().map(|r| json!({
                "address": r.address.to_string(),
                "restore_point": r.restore_point.to_string(),
                "data_loss_seconds": r.data_loss_secs,
                "elapsed_seconds": r.elapsed_secs,
            })).collect::<Vec<_>>(),
        },
        "resources": resources,
    })
}

fn map_json(m: &BTreeMap<String, Value>) -> J {
    J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Parses a state file into a generation template (roots are filled in by
/// the store) and its resources.
pub fn from_json(text: &str) -> Result<(Generation, Vec<ObservedResource>), StateFileError> {
    let doc: J = serde_json::from_str(text).map_err(|e| {
        err(
            format!("line {} column {}", e.line(), e.column()),
            format!("not JSON: {e}"),
        )
    })?;
    let version = doc
        .get("format_version")
        .and_then(J::as_u64)
        .ok_or_else(|| err("format_version", "missing or not a number"))?;
    if version != STATE_FORMAT_VERSION {
        return Err(err(
            "format_version",
            format!("is {version}; this statectl reads version {STATE_FORMAT_VERSION}"),
        ));
    }
    let estate = str_at(&doc, &["stack", "estate"])?;
    let env = str_at(&doc, &["stack", "env"])?;
    let stack = Stack::new(&estate, &env).map_err(|e| err("stack", e.to_string()))?;
    let g = doc
        .get("generation")
        .ok_or_else(|| err("generation", "missing"))?;
    let number = g
        .get("number")
        .and_then(J::as_u64)
        .filter(|n| *n > 0)
        .ok_or_else(|| err("generation.number", "must be a positive integer"))?;
    let kind = match str_at(g, &["kind"])?.as_str() {
        "apply" => GenerationKind::Apply,
        "rollback" => GenerationKind::Rollback,
        "emergency" => GenerationKind::Emergency,
        "refresh" => GenerationKind::Refresh,
        "import" => GenerationKind::Import,
        other => return Err(err("generation.kind", format!("unknown kind `{other}`"))),
    };
    let outcome = match str_at(g, &["outcome"])?.as_str() {
        "in-progress" => Outcome::InProgress,
        "succeeded" => Outcome::Succeeded,
        "partial" => Outcome::Partial,
        "failed" => Outcome::Failed,
        other => {
            return Err(err(
                "generation.outcome",
                format!("unknown outcome `{other}`"),
            ));
        }
    };
    let time = |k: &str| -> Result<UtcTime, StateFileError> {
        let s = str_at(g, &[k])?;
        let t: jiff::Timestamp = s.parse().map_err(|_| {
            err(
                format!("generation.{k}"),
                format!("`{s}` is not an RFC 3339 time"),
            )
        })?;
        Ok(UtcTime::from_timestamp(t))
    };
    let opt_str = |k: &str| -> Result<Option<String>, StateFileError> {
        match g.get(k) {
            None | Some(J::Null) => Ok(None),
            Some(J::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(format!("generation.{k}"), "must be a string or null")),
        }
    };
    let plan_hash = match opt_str("plan_hash")? {
        Some(h) => Some(
            h.parse::<Digest>()
                .map_err(|e| err("generation.plan_hash", e.to_string()))?,
        ),
        None => None,
    };
    let summary = match g.get("summary") {
        Some(J::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(format!("generation.summary[{i}]"), "must be a string"))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
        Some(_) => return Err(err("generation.summary", "must be an array")),
    };
    let mut restores = Vec::new();
    if let Some(list) = g.get("restores").and_then(J::as_array) {
        for (i, r) in list.iter().enumerate() {
            let p = format!("generation.restores[{i}]");
            let address = str_at(r, &["address"])?
                .parse::<Address>()
                .map_err(|e| err(format!("{p}.address"), e.to_string()))?;
            let point = str_at(r, &["restore_point"])?;
            let t: jiff::Timestamp = point.parse().map_err(|_| {
                err(
                    format!("{p}.restore_point"),
                    format!("`{point}` is not an RFC 3339 time"),
                )
            })?;
            let num = |k: &str| {
                r.get(k)
                    .and_then(J::as_u64)
                    .ok_or_else(|| err(format!("{p}.{k}"), "must be a non-negative integer"))
            };
            restores.push(crate::model::RestoreReport {
                address,
                restore_point: UtcTime::from_timestamp(t),
                data_loss_secs: num("data_loss_seconds")?,
                elapsed_secs: num("elapsed_seconds")?,
            });
        }
    }
    let zero = Digest([0; 32]);
    let template = Generation {
        stack,
        number,
        kind,
        release: opt_str("release")?,
        plan_hash,
        actor: str_at(g, &["actor"])?,
        reason: opt_str("reason")?,
        started_at: time("started_at")?,
        ended_at: time("ended_at")?,
        outcome,
        summary,
        base: crate::model::Checkpoint {
            seq: 0,
            root: zero,
            applied: zero,
            count: 0,
        },
        last_seq: 0,
        resource_count: 0,
        restores,
    };
    let list = doc
        .get("resources")
        .and_then(J::as_array)
        .ok_or_else(|| err("resources", "missing or not an array"))?;
    let mut resources = Vec::with_capacity(list.len());
    let mut seen = BTreeSet::new();
    for (i, r) in list.iter().enumerate() {
        let p = format!("resources[{i}]");
        let address: Address = str_at(r, &["address"])
            .map_err(|e| err(format!("{p}.address"), e.message))?
            .parse()
            .map_err(|e: crate::model::AddressError| err(format!("{p}.address"), e.to_string()))?;
        if !seen.insert(address.clone()) {
            return Err(err(
                format!("{p}.address"),
                format!("`{address}` appears twice"),
            ));
        }
        let s = |k: &str| str_at(r, &[k]).map_err(|e| err(format!("{p}.{k}"), e.message));
        let sensitive = match r.get("sensitive") {
            Some(J::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    J::String(x) if x == REDACTED => Ok((k.clone(), Secret::Unknown)),
                    J::String(x) => Ok((k.clone(), Secret::Plain(x.clone()))),
                    _ => Err(err(format!("{p}.sensitive.{k}"), "must be a string")),
                })
                .collect::<Result<_, _>>()?,
            None => BTreeMap::new(),
            Some(_) => return Err(err(format!("{p}.sensitive"), "must be an object")),
        };
        let tags = match r.get("tags") {
            Some(J::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_string()))
                        .ok_or_else(|| err(format!("{p}.tags.{k}"), "must be a string"))
                })
                .collect::<Result<_, _>>()?,
            None => BTreeMap::new(),
            Some(_) => return Err(err(format!("{p}.tags"), "must be an object")),
        };
        let dependencies = match r.get("dependencies") {
            Some(J::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(j, d)| {
                    d.as_str()
                        .ok_or_else(|| err(format!("{p}.dependencies[{j}]"), "must be a string"))?
                        .parse::<Address>()
                        .map_err(|e| err(format!("{p}.dependencies[{j}]"), e.to_string()))
                })
                .collect::<Result<_, _>>()?,
            None => BTreeSet::new(),
            Some(_) => return Err(err(format!("{p}.dependencies"), "must be an array")),
        };
        resources.push(ObservedResource {
            address,
            arm_type: s("type")?,
            name: s("name")?,
            id: s("id")?,
            properties: json_map(r.get("properties"), &format!("{p}.properties"))?,
            attributes: json_map(r.get("attributes"), &format!("{p}.attributes"))?,
            sensitive,
            tags,
            dependencies,
            prevent_destroy: r
                .get("prevent_destroy")
                .and_then(J::as_bool)
                .unwrap_or(false),
        });
    }
    Ok((template, resources))
}

fn str_at(v: &J, path: &[&str]) -> Result<String, StateFileError> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k).ok_or_else(|| err(path.join("."), "missing"))?;
    }
    cur.as_str()
        .map(str::to_string)
        .ok_or_else(|| err(path.join("."), "must be a string"))
}

fn json_map(v: Option<&J>, path: &str) -> Result<BTreeMap<String, Value>, StateFileError> {
    match v {
        None => Ok(BTreeMap::new()),
        Some(J::Object(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), from_json_value(v, &format!("{path}.{k}"))?)))
            .collect(),
        Some(_) => Err(err(path, "must be an object")),
    }
}

fn from_json_value(v: &J, path: &str) -> Result<Value, StateFileError> {
    Ok(match v {
        J::Null => return Err(err(path, "null is not a property value")),
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().ok_or_else(|| err(path, "number out of range"))?),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::List(
            a.iter()
                .enumerate()
                .map(|(i, x)| from_json_value(x, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        J::Object(m) => Value::Map(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), from_json_value(x, &format!("{path}.{k}"))?)))
                .collect::<Result<_, _>>()?,
        ),
    })
}
/// An observed resource as text, one `key = value` line each (secrets
/// redacted unless unsealed), under a header naming its generation.
pub fn to_text(r: &ObservedResource, g: &Generation) -> String {
    use std::fmt::Write as _;
    let show = |v: &crate::model::Value| match v {
        crate::model::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut s = format!("# {} (generation {} of {})\n", r.address, g.number, g.stack);
    let _ = writeln!(
        s,
        "type = {}\nname = {}\nid   = {}",
        r.arm_type, r.name, r.id
    );
    if r.prevent_destroy {
        s.push_str("prevent_destroy = true\n");
    }
    for (k, v) in &r.properties {
        let _ = writeln!(s, "properties.{k} = {}", show(v));
    }
    for (k, v) in &r.attributes {
        let _ = writeln!(s, "attributes.{k} = {}", show(v));
    }
    for (k, secret) in &r.sensitive {
        let text = match secret {
            crate::model::Secret::Plain(p) => p.as_str(),
            _ => REDACTED,
        };
        let _ = writeln!(s, "sensitive.{k} = {text}");
    }
    for (k, v) in &r.tags {
        let _ = writeln!(s, "tags.{k} = {v}");
    }
    if !r.dependencies.is_empty() {
        let d: Vec<String> = r.dependencies.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "dependencies = [{}]", d.join(", "));
    }
    s
}
