//! The schema of `specs/<estate>/exceptions.toml`: waivers of one policy
//! rule for a scope, each with a justification, an approver and an expiry.
//!
//! Whether an exception is still active is decided by `verify` against the
//! clock; here each one is only checked to be complete and well formed.

use toml::de::DeTable;

use super::error::{SpecError, SpecErrorKind as K};
use super::source::SourceFile;
use super::toml_access::{
    SValue, Span, as_array, as_str, as_table, check_keys, interval, join, lookup, opt, req,
};
use crate::model::{Address, Condition, ExceptionScope, PolicyException, check_identifier};

const EXCEPTIONS_KEYS: &[&str] = &["exception"];
const EXCEPTION_KEYS: &[&str] = &[
    "rule",
    "scope",
    "justification",
    "approver",
    "expires",
    "issue",
    "up_to",
    "mitigated_by",
];

/// Rules whose exceptions may cover a module or the whole estate (`*`):
/// those whose findings are about the estate as a whole (an RTO estimate, a
/// drill cadence, a budget) and the apply gate's, where decommissioning a
/// module is one approved change. Every other exception names a resource,
/// so that widening it cannot hide an unrelated regression.
const WIDE_SCOPE_RULES: &[&str] = &[
    "recovery.rto",
    "recovery.drill",
    "cost.budget",
    "prod.destroy-protection",
    "prod.maintenance-window",
    "prod.promotion-gate",
];

/// Every well-formed `[[exception]]`; the others are reported in `errs`.
pub(super) fn read_exceptions(
    file: &SourceFile,
    doc: &DeTable<'_>,
    errs: &mut Vec<SpecError>,
) -> Vec<PolicyException> {
    check_keys(file, doc, "", EXCEPTIONS_KEYS, errs);
    let Some(v) = lookup(doc, "exception") else {
        return Vec::new();
    };
    let Some(items) = opt(as_array(file, v, "exception"), errs) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_exception(file, item, &format!("exception[{i}]"), errs))
        .collect()
}

fn read_exception(
    file: &SourceFile,
    item: &SValue<'_>,
    p: &str,
    errs: &mut Vec<SpecError>,
) -> Option<PolicyException> {
    let t = opt(as_table(file, item, p), errs)?;
    check_keys(file, t, p, EXCEPTION_KEYS, errs);
    let sp = item.span();
    let text = |k: &str, errs: &mut Vec<SpecError>| required_text(file, t, &sp, p, k, errs);
    let rule = text("rule", errs);
    let scope = text("scope", errs).and_then(|(s, span)| {
        let scope = parse_scope(file, p, &s, &span, errs)?;
        let wide = !matches!(scope, ExceptionScope::Resource(_));
        if let Some((r, _)) = &rule
            && wide
            && !WIDE_SCOPE_RULES.contains(&r.as_str())
        {
            errs.push(
                SpecError::at(K::InvalidValue, file, &span, join(p, "scope"), format!("an exception to `{r}` must name the resource it covers, not `{s}`"))
                    .help("write the resource's address, e.g. `data.redis`; one exception per resource keeps a later regression elsewhere a finding"),
            );
            return None;
        }
        Some(scope)
    });
    let justification = text("justification", errs);
    let approver = text("approver", errs);
    let expires = text("expires", errs).and_then(|(s, span)| parse_expiry(file, p, s, &span, errs));
    let issue = lookup(t, "issue")
        .and_then(|v| opt(as_str(file, v, &join(p, "issue")), errs))
        .map(str::to_string);
    let up_to = lookup(t, "up_to").and_then(|v| opt(interval(file, v, &join(p, "up_to")), errs));
    // The RTO finding is about the whole estate, so its exception's scope
    // cannot be narrower than `*`: the bound is what keeps it concrete.
    if rule.as_ref().is_some_and(|(r, _)| r == "recovery.rto") && lookup(t, "up_to").is_none() {
        errs.push(
            SpecError::at(K::MissingKey, file, &(sp.start..sp.start + 1), join(p, "up_to"), "an exception for `recovery.rto` must say how long a restore it accepts")
                .help("add `up_to = \"2h\"` (the longest RTO estimate it covers); a longer one fails again"),
        );
    }
    let mitigated_by = lookup(t, "mitigated_by")
        .map(|v| read_mitigations(file, v, &join(p, "mitigated_by"), errs))
        .unwrap_or_default();
    let pos = file.position(sp.start);
    Some(PolicyException {
        rule: rule?.0,
        scope: scope?,
        justification: justification?.0,
        approver: approver?.0,
        expires: expires?,
        issue,
        origin: format!("{}:{}", file.path().display(), pos.line),
        up_to,
        mitigated_by,
    })
}

/// `["<module>.<resource>.<property path>", ...]`.
fn read_mitigations(
    file: &SourceFile,
    v: &SValue<'_>,
    key: &str,
    errs: &mut Vec<SpecError>,
) -> Vec<(Address, String, Option<Condition>)> {
    let Some(items) = opt(as_array(file, v, key), errs) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let k = format!("{key}[{i}]");
        let Some(s) = opt(as_str(file, item, &k), errs) else {
            continue;
        };
        let (target, cond) = match s.split_once(">=") {
            Some((t, n)) => (
                t.trim(),
                n.trim()
                    .parse::<i64>()
                    .ok()
                    .map(Condition::AtLeast)
                    .ok_or(()),
            ),
            None => match s.split_once('=') {
                Some((t, v)) => (t.trim(), Ok(Condition::Equals(v.trim().to_string()))),
                None => (s.trim(), Err(())),
            },
        };
        let cond = match (s.contains('='), cond) {
            (false, _) => None,
            (true, Ok(c)) => Some(c),
            (true, Err(())) => {
                errs.push(
                    SpecError::at(
                        K::InvalidValue,
                        file,
                        &item.span(),
                        k,
                        format!("`{s}`: a minimum must be a whole number"),
                    )
                    .help("write e.g. \"data.uploads.soft_delete_retention_days >= 30\""),
                );
                continue;
            }
        };
        let mut parts = target.splitn(3, '.');
        let parsed = match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(r), Some(path)) if !path.is_empty() => format!("{m}.{r}")
                .parse::<Address>()
                .ok()
                .map(|a| (a, path.to_string(), cond)),
            _ => None,
        };
        match parsed {
            Some(m) => out.push(m),
            None => errs.push(
                SpecError::at(K::InvalidValue, file, &item.span(), k, format!("`{s}` is not a resource property"))
                    .help("write `<module>.<resource>.<property>`, optionally `= value` or `>= number`, e.g. \"data.uploads.soft_delete_retention_days >= 30\""),
            ),
        }
    }
    out
}

/// A required, non-blank string and where it is.
fn required_text(
    file: &SourceFile,
    t: &DeTable<'_>,
    sp: &Span,
    p: &str,
    k: &str,
    errs: &mut Vec<SpecError>,
) -> Option<(String, Span)> {
    let v = opt(req(file, t, sp, p, k), errs)?;
    let s = opt(as_str(file, v, &join(p, k)), errs)?;
    if s.trim().is_empty() {
        errs.push(
            SpecError::at(
                K::InvalidValue,
                file,
                &v.span(),
                join(p, k),
                format!("`{k}` must not be empty"),
            )
            .help("every exception states its rule, scope, justification, approver and expiry"),
        );
        return None;
    }
    Some((s.to_string(), v.span()))
}

/// `*`, `module.<module>` or `<module>.<resource>`.
fn parse_scope(
    file: &SourceFile,
    p: &str,
    s: &str,
    span: &Span,
    errs: &mut Vec<SpecError>,
) -> Option<ExceptionScope> {
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
                span,
                join(p, "scope"),
                format!("`{s}` is not a scope"),
            )
            .help("write `*`, `module.<module>` or `<module>.<resource>`"),
        );
    }
    parsed
}

/// The expiry as written, if it is a real calendar date `YYYY-MM-DD`.
fn parse_expiry(
    file: &SourceFile,
    p: &str,
    s: String,
    span: &Span,
    errs: &mut Vec<SpecError>,
) -> Option<String> {
    if is_iso_date(&s) {
        return Some(s);
    }
    errs.push(
        SpecError::at(
            K::InvalidValue,
            file,
            span,
            join(p, "expires"),
            format!("`{s}` is not a date"),
        )
        .help("write `YYYY-MM-DD`; an exception without an expiry is not an exception"),
    );
    None
}

/// Exactly ten characters, so `2027-6-30` or a date with a time is refused
/// even where the date parser would accept it.
fn is_iso_date(s: &str) -> bool {
    s.parse::<jiff::civil::Date>().is_ok() && s.len() == 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::toml_access::parse;

    const ONE: &str = "[[exception]]\nrule = \"private-endpoints\"\nscope = \"data.redis\"\njustification = \"vendor limit\"\napprover = \"ana\"\nexpires = \"2027-06-30\"\n";

    fn read(text: &str) -> (Vec<PolicyException>, Vec<SpecError>) {
        let f = SourceFile::new("specs/shop/exceptions.toml", text.to_string());
        let d = parse(&f).unwrap();
        let mut errs = Vec::new();
        let out = read_exceptions(&f, d.get_ref(), &mut errs);
        (out, errs)
    }

    #[test]
    fn a_complete_exception_keeps_its_origin() {
        let (out, errs) = read(&format!("\n{ONE}issue = \"#12\"\n"));
        assert!(errs.is_empty(), "{errs:?}");
        let e = &out[0];
        assert_eq!(e.expires, "2027-06-30");
        assert_eq!(e.origin, "specs/shop/exceptions.toml:2");
        assert_eq!(e.issue.as_deref(), Some("#12"));
        assert!(matches!(&e.scope, ExceptionScope::Resource(a) if a.to_string() == "data.redis"));
    }

    #[test]
    fn scopes() {
        // A resource-level rule names its resource; an estate-wide one may be wide.
        let wide = ONE.replace("private-endpoints", "prod.destroy-protection");
        for (base, text, ok) in [
            (wide.as_str(), "*", true),
            (wide.as_str(), "module.data", true),
            (ONE, "*", false),
            (ONE, "module.data", false),
            (ONE, "module.Data", false),
            (ONE, "data", false),
            (ONE, "data.redis.x", false),
        ] {
            let (out, errs) = read(&base.replace("data.redis", text));
            assert_eq!(out.len() == 1, ok, "{text}: {errs:?}");
            if !ok {
                assert_eq!(errs[0].detail().key, "exception[0].scope");
            }
        }
        let (_, errs) = read(&ONE.replace("data.redis", "*"));
        assert!(
            errs[0]
                .detail()
                .message
                .contains("must name the resource it covers"),
            "{errs:?}"
        );
    }

    #[test]
    fn mitigations_take_a_path_and_an_optional_condition() {
        let with = |m: &str| read(&format!("{ONE}mitigated_by = [\"{m}\"]\n"));
        let (out, errs) = with("data.redis.rdb_backup_enabled = true");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            out[0].mitigated_by[0].2,
            Some(Condition::Equals("true".into()))
        );
        let (out, _) = with("data.uploads.soft_delete_retention_days >= 30");
        assert_eq!(out[0].mitigated_by[0].2, Some(Condition::AtLeast(30)));
        for bad in ["data.uploads.days >= thirty", "uploads", "data.uploads"] {
            let (_, errs) = with(bad);
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(
                errs[0].detail().key,
                "exception[0].mitigated_by[0]",
                "{bad}"
            );
        }
    }

    #[test]
    fn expiry_must_be_a_real_date() {
        for bad in ["2027-02-30", "2027-6-30", "2027-06-30T00:00", "never", ""] {
            let (out, errs) = read(&ONE.replace("2027-06-30", bad));
            assert!(out.is_empty(), "{bad}");
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].detail().key, "exception[0].expires", "{bad}");
            assert_eq!(errs[0].detail().line, 6, "{bad}");
        }
    }

    #[test]
    fn every_field_is_required() {
        for field in ["rule", "scope", "justification", "approver", "expires"] {
            let text: String = ONE
                .lines()
                .filter(|l| !l.starts_with(field))
                .map(|l| format!("{l}\n"))
                .collect();
            let (out, errs) = read(&text);
            assert!(out.is_empty(), "{field}");
            assert_eq!(errs.len(), 1, "{field}: {errs:?}");
            assert_eq!(errs[0].detail().key, format!("exception[0].{field}"));
        }
    }
}
