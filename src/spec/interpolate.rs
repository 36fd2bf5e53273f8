//! The `${...}` syntax inside spec strings.
//!
//! `${env.<field>}` reads the environment, `${var.<name>}` a variable,
//! `${<module>.<resource>.<attribute>}` another resource (a dependency), and
//! `$$` writes a literal `$` (so `$${` writes a literal `${`). A `$` followed
//! by anything else is literal too.

use crate::model::{Address, Reference, check_identifier};

/// One piece of a parsed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// `${env.<field>}`.
    Env(String),
    /// `${var.<name>}`.
    Var(String),
    /// `${<module>.<resource>.<attribute>}`.
    Ref(Reference),
}

/// Splits `s` into literal text and `${...}` expressions. The error is a
/// message naming the bad expression.
pub fn parse(s: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$$") {
            lit.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in {s:?}: close it with `}}`, or write `$${{` for a literal `${{`"))?;
            let expr = &tail[..end];
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(parse_expr(expr)?);
            rest = &tail[end + 1..];
        } else {
            lit.push('$');
            rest = &after[1..];
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() || parts.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

fn parse_expr(expr: &str) -> Result<Part, String> {
    let shape = || {
        format!(
            "`${{{expr}}}` is not an expression: write `${{env.<field>}}`, `${{var.<name>}}` or `${{<module>.<resource>.<attribute>}}`"
        )
    };
    let segs: Vec<&str> = expr.split('.').collect();
    match segs.as_slice() {
        ["env", field] if is_key(field) => Ok(Part::Env(field.to_string())),
        ["var", name] if is_key(name) => Ok(Part::Var(name.to_string())),
        ["env" | "var", ..] => Err(shape()),
        [module, name, attr] => {
            let address =
                Address::new(module, name).map_err(|e| format!("in `${{{expr}}}`: {e}"))?;
            check_identifier(attr).map_err(|e| format!("in `${{{expr}}}`: {e}"))?;
            Ok(Part::Ref(Reference {
                address,
                attr: attr.to_string(),
            }))
        }
        _ => Err(shape()),
    }
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Escapes literal text so [`parse`] reads it back unchanged, even when a
/// reference follows it.
pub fn escape(s: &str) -> String {
    s.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_form() {
        let parts = parse("${var.product}-${env.name}-${networking.vnet.id}/x$${y}$z$$").unwrap();
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[0], Part::Var("product".into()));
        assert_eq!(parts[2], Part::Env("name".into()));
        assert!(
            matches!(&parts[4], Part::Ref(r) if r.address.to_string() == "networking.vnet" && r.attr == "id")
        );
        assert_eq!(parts[5], Part::Lit("/x${y}$z$".into()));
        // A literal `$` right before a reference survives escaping.
        let parts = parse("a$$${m.x.id}").unwrap();
        assert_eq!(parts[0], Part::Lit("a$".into()));
        assert_eq!(parse("").unwrap(), vec![Part::Lit(String::new())]);
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "${",
            "${}",
            "${a}",
            "${a.b}",
            "${env.a.b}",
            "${A.b.c}",
            "${a.b.c.d}",
            "x ${var.} y",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn escape_round_trips(s in ".*") {
            let parts = parse(&escape(&s)).unwrap();
            prop_assert_eq!(parts, vec![Part::Lit(s)]);
        }
    }
}
