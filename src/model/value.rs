use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::address::Address;

/// A property value of a resource, after `${env.*}` and `${var.*}` interpolation.
///
/// Invariant: the only unresolved parts left are references to other resources
/// ([`Value::Ref`] for a whole-string reference, which keeps the referenced
/// attribute's type, and [`Value::Template`] for a string with references
/// embedded in literal text). Every reference is a dependency edge of the
/// resource that holds it. Maps are ordered, so equal values encode to equal
/// bytes, which the content-addressed store relies on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// Literal text.
    String(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A table with ordered keys.
    Map(BTreeMap<String, Value>),
    /// The whole value is one resource attribute, e.g. `"${networking.vnet.id}"`.
    Ref(Reference),
    /// Text with references embedded, e.g. `"${security.kv.vault_uri}secrets/x"`.
    Template(Vec<Segment>),
}

/// A reference to one attribute of another resource: `${module.name.attr}`.
///
/// Invariant (upheld by the spec loader): the address exists in the same
/// estate and environment, and `attr` is one the target can have (`id`,
/// `name`, a catalog-computed attribute or a top-level property).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reference {
    /// The resource referred to.
    pub address: Address,
    /// The attribute of that resource.
    pub attr: String,
}

/// One piece of a [`Value::Template`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Segment {
    /// Literal text (never contains an unescaped `${`).
    Lit(String),
    /// An embedded reference.
    Ref(Reference),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}.{}}}", self.address, self.attr)
    }
}

impl Value {
    /// Calls `f` on every reference in this value, depth first.
    pub fn for_each_ref<'a>(&'a self, f: &mut impl FnMut(&'a Reference)) {
        match self {
            Value::Ref(r) => f(r),
            Value::Template(segs) => {
                for s in segs {
                    if let Segment::Ref(r) = s {
                        f(r);
                    }
                }
            }
            Value::List(items) => items.iter().for_each(|v| v.for_each_ref(f)),
            Value::Map(m) => m.values().for_each(|v| v.for_each_ref(f)),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::String(_) => {}
        }
    }

    /// Whether any reference remains in this value.
    pub fn has_refs(&self) -> bool {
        let mut any = false;
        self.for_each_ref(&mut |_| any = true);
        any
    }

    /// The literal text, when this is a plain string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The list, when this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The table, when this is one.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value at a dotted path of map keys (`"backup.retention_days"`).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut cur = self;
        for key in path.split('.') {
            cur = cur.as_map()?.get(key)?;
        }
        Some(cur)
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) | Value::Template(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "table",
            Value::Ref(_) => "reference",
        }
    }

    /// Replaces every reference with the value `lookup` gives for it.
    /// Returns the first reference `lookup` cannot answer (its value is not
    /// known yet). Templates become strings; a non-scalar value inside a
    /// template is an error reported as that reference.
    pub fn resolve(
        &self,
        lookup: &dyn Fn(&Reference) -> Option<Value>,
    ) -> Result<Value, Reference> {
        Ok(match self {
            Value::Ref(r) => lookup(r).ok_or_else(|| r.clone())?,
            Value::Template(segs) => {
                let mut out = String::new();
                for s in segs {
                    match s {
                        Segment::Lit(l) => out.push_str(l),
                        Segment::Ref(r) => match lookup(r) {
                            Some(Value::String(t)) => out.push_str(&t),
                            Some(Value::Int(i)) => out.push_str(&i.to_string()),
                            Some(Value::Float(f)) => out.push_str(&f.to_string()),
                            Some(Value::Bool(b)) => out.push_str(&b.to_string()),
                            _ => return Err(r.clone()),
                        },
                    }
                }
                Value::String(out)
            }
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|v| v.resolve(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.resolve(lookup)?)))
                    .collect::<Result<_, Reference>>()?,
            ),
            other => other.clone(),
        })
    }

    /// The value as JSON; references render as their `${...}` text, which is
    /// how plans show values not known until apply.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Ref(r) => J::String(r.to_string()),
            Value::Template(_) => J::String(self.to_string()),
        }
    }

    /// A value from JSON; `None` where JSON holds a null (no property value
    /// is null) or a number no value can hold.
    pub fn from_json(j: &serde_json::Value) -> Option<Value> {
        use serde_json::Value as J;
        Some(match j {
            J::Null => return None,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .or_else(|| n.as_f64().map(Value::Float))?,
            J::String(s) => Value::String(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect::<Option<_>>()?),
            J::Object(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), Value::from_json(v)?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

/// Renders the value in spec syntax: strings quoted, references as `${...}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Ref(r) => write!(f, "\"{r}\""),
            Value::Template(segs) => {
                f.write_str("\"")?;
                for s in segs {
                    match s {
                        Segment::Lit(l) => write!(f, "{}", l.escape_debug())?,
                        Segment::Ref(r) => write!(f, "{r}")?,
                    }
                }
                f.write_str("\"")
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, " {k} = {v}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: &str, attr: &str) -> Reference {
        Reference {
            address: a.parse().unwrap(),
            attr: attr.into(),
        }
    }

    #[test]
    fn collects_refs_everywhere() {
        let v = Value::Map(BTreeMap::from([
            ("a".into(), Value::Ref(r("m.x", "id"))),
            (
                "b".into(),
                Value::List(vec![Value::Template(vec![
                    Segment::Lit("p/".into()),
                    Segment::Ref(r("m.y", "name")),
                ])]),
            ),
            ("c".into(), Value::Int(3)),
        ]));
        let mut seen = vec![];
        v.for_each_ref(&mut |x| seen.push(x.address.to_string()));
        assert_eq!(seen, ["m.x", "m.y"]);
        assert!(v.has_refs());
        assert!(!Value::Int(1).has_refs());
    }

    #[test]
    fn resolves_refs_and_templates() {
        let v = Value::List(vec![
            Value::Ref(r("m.x", "id")),
            Value::Template(vec![
                Segment::Lit("https://".into()),
                Segment::Ref(r("m.y", "name")),
                Segment::Lit("/".into()),
            ]),
        ]);
        let lookup = |re: &Reference| match re.address.name() {
            "x" => Some(Value::String("/sub/x".into())),
            "y" => Some(Value::String("host".into())),
            _ => None,
        };
        assert_eq!(
            v.resolve(&lookup),
            Ok(Value::List(vec![
                Value::String("/sub/x".into()),
                Value::String("https://host/".into())
            ]))
        );
        let missing = Value::Ref(r("m.z", "id"));
        assert_eq!(missing.resolve(&lookup), Err(r("m.z", "id")));
    }

    #[test]
    fn path_lookup() {
        let v = Value::Map(BTreeMap::from([(
            "backup".into(),
            Value::Map(BTreeMap::from([("retention_days".into(), Value::Int(35))])),
        )]));
        assert_eq!(v.get_path("backup.retention_days"), Some(&Value::Int(35)));
        assert_eq!(v.get_path("backup.nope"), None);
    }
}
