//! Typed reads over spanned TOML.
//!
//! Every accessor that can fail returns a [`SpecError`] at the value's span
//! with the dotted key, so the schema readers above it never build positions
//! themselves. [`to_value`] is the one place a TOML value becomes a
//! [`Value`]; callers differ only in what they do with strings.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{SpecError, SpecErrorKind as K};
use super::source::SourceFile;
use crate::model::{Interval, Value};

/// A byte range in a [`SourceFile`]'s text.
pub(super) type Span = Range<usize>;
/// A TOML value with the span it was read from.
pub(super) type SValue<'i> = Spanned<DeValue<'i>>;

/// Parses a whole file; a syntax error becomes one [`SpecError`] at the
/// parser's span.
pub(super) fn parse(file: &SourceFile) -> Result<Spanned<DeTable<'_>>, SpecError> {
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

/// The value under `key`, if present.
pub(super) fn lookup<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a SValue<'i>> {
    t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

/// `prefix.key`, or `key` at the top level.
pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Reports every key of `t` not in `allowed`, suggesting the nearest one.
pub(super) fn check_keys(
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

/// "`key` must be `want`, not a table".
pub(super) fn type_err(file: &SourceFile, v: &SValue<'_>, key: &str, want: &str) -> SpecError {
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

/// The value under `key` in table `t` (at `t_span`), or a missing-key error
/// pointing at the table.
pub(super) fn req<'a, 'i>(
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

/// A string value.
pub(super) fn as_str<'a>(
    file: &SourceFile,
    v: &'a SValue<'_>,
    key: &str,
) -> Result<&'a str, SpecError> {
    match v.get_ref() {
        DeValue::String(s) => Ok(s),
        _ => Err(type_err(file, v, key, "a string")),
    }
}

/// A boolean value.
pub(super) fn as_bool(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<bool, SpecError> {
    match v.get_ref() {
        DeValue::Boolean(b) => Ok(*b),
        _ => Err(type_err(file, v, key, "a boolean (true or false)")),
    }
}

/// An integer that fits in 64 bits (TOML allows any length of digits).
pub(super) fn de_int(file: &SourceFile, v: &SValue<'_>, key: &str) -> Result<i64, SpecError> {
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

/// A table value.
pub(super) fn as_table<'a, 'i>(
    file: &SourceFile,
    v: &'a SValue<'i>,
    key: &str,
) -> Result<&'a DeTable<'i>, SpecError> {
    match v.get_ref() {
        DeValue::Table(t) => Ok(t),
        _ => Err(type_err(file, v, key, "a table")),
    }
}

/// An array value.
pub(super) fn as_array<'a, 'i>(
    file: &SourceFile,
    v: &'a SValue<'i>,
    key: &str,
) -> Result<&'a [SValue<'i>], SpecError> {
    match v.get_ref() {
        DeValue::Array(a) => Ok(a),
        _ => Err(type_err(file, v, key, "an array")),
    }
}

/// Keeps reading after an error: records it and yields `None`, so one run
/// reports every problem in a file rather than the first.
/// An integer that must fit `T` (a count of days, dollars); `message` says
/// what range is allowed when it does not.
pub(super) fn de_int_as<T: TryFrom<i64>>(
    file: &SourceFile,
    v: &SValue<'_>,
    key: &str,
    message: &str,
) -> Result<T, SpecError> {
    let n = de_int(file, v, key)?;
    T::try_from(n).map_err(|_| SpecError::at(K::InvalidValue, file, &v.span(), key, message))
}

pub(super) fn opt<T>(r: Result<T, SpecError>, errs: &mut Vec<SpecError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

/// A duration string such as `"4h"`.
pub(super) fn interval(
    file: &SourceFile,
    v: &SValue<'_>,
    key: &str,
) -> Result<Interval, SpecError> {
    let s = as_str(file, v, key)?;
    s.parse::<Interval>()
        .map_err(|e| SpecError::at(K::InvalidValue, file, &v.span(), key, e.to_string()))
}

/// The float written as `text`, refused when not finite (`inf`, `nan`),
/// because values are compared and hashed and NaN equals nothing.
pub(super) fn float(
    file: &SourceFile,
    v: &SValue<'_>,
    key: &str,
    text: &str,
) -> Result<f64, SpecError> {
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

/// Converts a TOML value to a [`Value`], nested arrays and tables included.
/// Strings go to `string(text, value, key)`: variables take them literally,
/// properties interpolate them, and that is the only difference.
pub(super) fn to_value<F>(
    file: &SourceFile,
    v: &SValue<'_>,
    key: &str,
    string: &mut F,
) -> Result<Value, SpecError>
where
    F: FnMut(&str, &SValue<'_>, &str) -> Result<Value, SpecError>,
{
    Ok(match v.get_ref() {
        DeValue::String(s) => string(s, v, key)?,
        DeValue::Integer(_) => Value::Int(de_int(file, v, key)?),
        DeValue::Float(f) => Value::Float(float(file, v, key, f.as_str())?),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => return Err(datetime_err(file, v, key)),
        DeValue::Array(a) => Value::List(
            a.iter()
                .enumerate()
                .map(|(i, x)| to_value(file, x, &format!("{key}[{i}]"), string))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => Value::Map(
            t.iter()
                .map(|(k, x)| {
                    let val = to_value(file, x, &join(key, k.get_ref()), string)?;
                    Ok((k.get_ref().to_string(), val))
                })
                .collect::<Result<_, SpecError>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> SourceFile {
        SourceFile::new("specs/x/m.toml", text.to_string())
    }

    fn top<'a>(t: &'a Spanned<DeTable<'a>>, key: &str) -> &'a SValue<'a> {
        lookup(t.get_ref(), key).expect("key present")
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let f = doc("a = 1\n[t]\nb = \"x\"\n");
        let d = parse(&f).unwrap();
        let t = as_table(&f, top(&d, "t"), "t").unwrap();
        let b = lookup(t, "b").unwrap();
        let e = as_bool(&f, b, "t.b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "specs/x/m.toml:3:5: `t.b` must be a boolean (true or false), not a string (key `t.b`)"
        );
        let e = as_table(&f, top(&d, "a"), "a").unwrap_err();
        assert_eq!((e.detail().line, e.detail().col), (1, 5));
        assert_eq!(e.detail().key, "a");
        assert_eq!(e.detail().kind, K::InvalidValue);
    }

    #[test]
    fn missing_key_points_at_the_table() {
        let f = doc("x = 1\n[t]\nb = 1\n");
        let d = parse(&f).unwrap();
        let tv = top(&d, "t");
        let t = as_table(&f, tv, "t").unwrap();
        let e = req(&f, t, &tv.span(), "t", "c").unwrap_err();
        assert_eq!(e.detail().kind, K::MissingKey);
        assert_eq!(e.detail().key, "t.c");
        assert_eq!(e.detail().message, "missing key `c` in `t`");
        assert_eq!(e.detail().help.as_deref(), Some("add `c = ...`"));
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let f = doc("colour = 1\nzzz = 2\nname = 3\n");
        let d = parse(&f).unwrap();
        let mut errs = Vec::new();
        check_keys(&f, d.get_ref(), "", &["color", "name"], &mut errs);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].detail().key, "colour");
        assert_eq!(
            errs[0].detail().help.as_deref(),
            Some("did you mean `color`?")
        );
        assert_eq!(errs[1].detail().line, 2);
        assert_eq!(
            errs[1].detail().help.as_deref(),
            Some("allowed keys: color, name")
        );
    }

    #[test]
    fn integers_and_floats_are_range_checked() {
        let f = doc("big = 99999999999999999999\nhex = 0xff\ninf = inf\nok = 1_000.5\n");
        let d = parse(&f).unwrap();
        let e = de_int(&f, top(&d, "big"), "big").unwrap_err();
        assert!(
            e.detail().message.contains("does not fit in 64 bits"),
            "{e}"
        );
        assert_eq!(de_int(&f, top(&d, "hex"), "hex").unwrap(), 255);
        let mut keep = |s: &str, _: &SValue<'_>, _: &str| Ok(Value::String(s.into()));
        let e = to_value(&f, top(&d, "inf"), "inf", &mut keep).unwrap_err();
        assert!(e.detail().message.contains("not a finite number"), "{e}");
        let v = to_value(&f, top(&d, "ok"), "ok", &mut keep).unwrap();
        assert_eq!(v, Value::Float(1000.5));
    }

    #[test]
    fn one_converter_handles_nesting_and_delegates_strings() {
        let f = doc("v = { a = [1, \"s\"], b = true }\nd = 2026-01-01\n");
        let d = parse(&f).unwrap();
        let mut seen = Vec::new();
        let mut up = |s: &str, _: &SValue<'_>, key: &str| {
            seen.push(key.to_string());
            Ok(Value::String(s.to_uppercase()))
        };
        let v = to_value(&f, top(&d, "v"), "v", &mut up).unwrap();
        let Value::Map(m) = v else {
            panic!("not a map")
        };
        assert_eq!(
            m["a"],
            Value::List(vec![Value::Int(1), Value::String("S".into())])
        );
        assert_eq!(m["b"], Value::Bool(true));
        let e = to_value(&f, top(&d, "d"), "d", &mut up).unwrap_err();
        assert_eq!(e.detail().line, 2);
        assert!(e.detail().message.contains("date-times are not supported"));
        assert_eq!(seen, vec!["v.a[1]".to_string()]);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let f = doc("a = 1\n[b\n");
        let e = parse(&f).unwrap_err();
        assert_eq!(e.detail().kind, K::Syntax);
        assert_eq!(e.detail().line, 2);
        let f = doc("a = 1\na = 2\n");
        assert_eq!(parse(&f).unwrap_err().detail().kind, K::Duplicate);
    }
}
