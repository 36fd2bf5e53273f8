//! The schema of `environments/<env>.toml`: the `[environment]` table, the
//! optional `[maintenance_window]` and the environment's `[vars]`.
//!
//! Everything prod relies on later (the window's days, hours and time zone)
//! is checked here, so `statectl validate` finds it rather than an apply.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use toml::de::DeTable;

use super::discovery::known_list;
use super::error::{SpecError, SpecErrorKind as K};
use super::source::SourceFile;
use super::toml_access::{
    SValue, Span, as_array, as_bool, as_str, as_table, check_keys, de_int_as, join, lookup, opt,
    req,
};
use super::vars::read_vars;
use crate::model::{Environment, MaintenanceWindow, Weekday, parse_clock};

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
const P: &str = "environment";

/// Reads the environment file of `name`; `known` are all environment names,
/// for `promote_from`. `None` when an error was pushed to `errs`.
pub(super) fn read_environment(
    file: &SourceFile,
    doc: &DeTable<'_>,
    name: &str,
    known: &[String],
    errs: &mut Vec<SpecError>,
) -> Option<Environment> {
    check_keys(file, doc, "", ENV_FILE_KEYS, errs);
    let env_v = opt(req(file, doc, &(0..0), "", P), errs)?;
    let t = opt(as_table(file, env_v, P), errs)?;
    check_keys(file, t, P, ENV_KEYS, errs);
    let sp = env_v.span();
    let env_name = required_str(file, t, &sp, "name", errs);
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
    let subscription_id = required_str(file, t, &sp, "subscription_id", errs);
    let region = required_str(file, t, &sp, "region", errs);
    let dr_region = optional_str(file, t, "dr_region", errs);
    let promote_from = read_promote_from(file, t, name, known, errs);
    let state_retention_days = read_retention(file, t, errs)?;
    let maintenance_window = match lookup(doc, "maintenance_window") {
        Some(v) => Some(opt(read_window(file, v), errs)?),
        None => None,
    };
    let vars = match lookup(doc, "vars") {
        Some(v) => read_vars(file, opt(as_table(file, v, "vars"), errs)?, "vars", errs).values,
        None => BTreeMap::new(),
    };
    Some(Environment {
        name: env_name?,
        subscription_id: subscription_id?,
        region: region?,
        dr_region,
        zone_redundant: flag(file, t, "zone_redundant", errs),
        private_endpoints_only: flag(file, t, "private_endpoints_only", errs),
        destroy_protection: flag(file, t, "destroy_protection", errs),
        promote_from,
        backup_before_apply: flag(file, t, "backup_before_apply", errs),
        state_retention_days,
        maintenance_window,
        vars,
    })
}

fn required_str(
    file: &SourceFile,
    t: &DeTable<'_>,
    sp: &Span,
    k: &str,
    errs: &mut Vec<SpecError>,
) -> Option<String> {
    let v = opt(req(file, t, sp, P, k), errs)?;
    opt(as_str(file, v, &join(P, k)), errs).map(str::to_string)
}

fn optional_str(
    file: &SourceFile,
    t: &DeTable<'_>,
    k: &str,
    errs: &mut Vec<SpecError>,
) -> Option<String> {
    let v = lookup(t, k)?;
    opt(as_str(file, v, &join(P, k)), errs).map(str::to_string)
}

/// An optional boolean that defaults to off.
fn flag(file: &SourceFile, t: &DeTable<'_>, k: &str, errs: &mut Vec<SpecError>) -> bool {
    lookup(t, k)
        .and_then(|v| opt(as_bool(file, v, &join(P, k)), errs))
        .unwrap_or(false)
}

fn read_promote_from(
    file: &SourceFile,
    t: &DeTable<'_>,
    name: &str,
    known: &[String],
    errs: &mut Vec<SpecError>,
) -> Option<String> {
    let promote_from = optional_str(file, t, "promote_from", errs);
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
    promote_from
}

/// Days of state history to keep; 7 when not given.
fn read_retention(file: &SourceFile, t: &DeTable<'_>, errs: &mut Vec<SpecError>) -> Option<u32> {
    let Some(v) = lookup(t, "state_retention_days") else {
        return Some(7);
    };
    opt(
        de_int_as(
            file,
            v,
            "environment.state_retention_days",
            "retention must be between 0 and 4294967295 days",
        ),
        errs,
    )
}

const W: &str = "maintenance_window";

/// The `[maintenance_window]` table; its first error only, since later
/// fields are checked against earlier ones.
pub(super) fn read_window(
    file: &SourceFile,
    v: &SValue<'_>,
) -> Result<MaintenanceWindow, SpecError> {
    let t = as_table(file, v, W)?;
    let mut errs = Vec::new();
    check_keys(file, t, W, WINDOW_KEYS, &mut errs);
    if let Some(e) = errs.into_iter().next() {
        return Err(e);
    }
    let sp = v.span();
    let days = read_days(file, t, &sp)?;
    let start = read_clock(file, t, &sp, "start")?;
    let end = read_clock(file, t, &sp, "end")?;
    if start >= end {
        let v = req(file, t, &sp, W, "end")?;
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &v.span(),
            "maintenance_window.end",
            "the window must end after it starts on the same day",
        ));
    }
    let timezone = read_timezone(file, t, &sp)?;
    Ok(MaintenanceWindow {
        days,
        start,
        end,
        timezone,
    })
}

fn read_days(file: &SourceFile, t: &DeTable<'_>, sp: &Span) -> Result<Vec<Weekday>, SpecError> {
    let days_v = req(file, t, sp, W, "days")?;
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
    Ok(days)
}

/// A 24-hour `HH:MM` as minutes after midnight.
fn read_clock(file: &SourceFile, t: &DeTable<'_>, sp: &Span, k: &str) -> Result<u16, SpecError> {
    let v = req(file, t, sp, W, k)?;
    let s = as_str(file, v, &join(W, k))?;
    parse_clock(s).ok_or_else(|| {
        SpecError::at(
            K::InvalidValue,
            file,
            &v.span(),
            join(W, k),
            format!("`{s}` is not a time of day"),
        )
        .help("write 24-hour `HH:MM`, e.g. \"02:00\"")
    })
}

/// A zone the bundled IANA database knows: the production gate resolves it
/// on every apply, so a name it cannot find must fail here, not in prod.
fn read_timezone(file: &SourceFile, t: &DeTable<'_>, sp: &Span) -> Result<String, SpecError> {
    let key = "maintenance_window.timezone";
    let tz_v = req(file, t, sp, W, "timezone")?;
    let timezone = as_str(file, tz_v, key)?.to_string();
    if !timezone.contains('/') {
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &tz_v.span(),
            key,
            format!("`{timezone}` is not an IANA time zone name"),
        )
        .help("write e.g. \"America/New_York\" (US Eastern, with daylight saving)"));
    }
    if TimeZone::get(&timezone).is_err() {
        let help = match closest_zone(&timezone) {
            Some(z) => {
                format!("did you mean \"{z}\"? (IANA time zone names, e.g. \"America/New_York\")")
            }
            None => "write an IANA time zone name, e.g. \"America/New_York\" or \"Europe/Berlin\""
                .to_string(),
        };
        return Err(SpecError::at(
            K::InvalidValue,
            file,
            &tz_v.span(),
            key,
            format!("unknown time zone `{timezone}`"),
        )
        .help(help));
    }
    Ok(timezone)
}

fn closest_zone(name: &str) -> Option<String> {
    let names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .collect();
    crate::util::closest(name, names.iter().map(String::as_str), str::to_string).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::toml_access::parse;

    const HEAD: &str =
        "[environment]\nname = \"prod\"\nsubscription_id = \"s\"\nregion = \"eastus\"\n";

    fn read(text: &str) -> Result<Environment, Vec<SpecError>> {
        let f = SourceFile::new("environments/prod.toml", text.to_string());
        let d = parse(&f).map_err(|e| vec![e])?;
        let mut errs = Vec::new();
        let known = ["dev".to_string(), "prod".to_string()];
        let env = read_environment(&f, d.get_ref(), "prod", &known, &mut errs);
        match env {
            Some(env) if errs.is_empty() => Ok(env),
            _ => Err(errs),
        }
    }

    fn window(tz: &str) -> String {
        format!(
            "{HEAD}[maintenance_window]\ndays = [\"sunday\"]\nstart = \"02:00\"\nend = \"06:00\"\ntimezone = \"{tz}\"\n"
        )
    }

    fn one_error(text: &str) -> SpecError {
        let errs = read(text).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.into_iter().next().unwrap()
    }

    #[test]
    fn a_valid_file_with_defaults() {
        let env = read(&window("America/New_York")).unwrap();
        assert_eq!(env.name, "prod");
        assert_eq!(env.state_retention_days, 7);
        assert!(!env.destroy_protection);
        let w = env.maintenance_window.unwrap();
        assert_eq!((w.start, w.end), (120, 360));
        assert_eq!(w.timezone, "America/New_York");
    }

    #[test]
    fn an_unknown_time_zone_is_refused_with_a_suggestion() {
        let e = one_error(&window("America/Nwe_York"));
        let d = e.detail();
        assert_eq!((d.line, d.col), (9, 12));
        assert_eq!(d.key, "maintenance_window.timezone");
        assert_eq!(d.message, "unknown time zone `America/Nwe_York`");
        assert!(
            d.help
                .as_deref()
                .unwrap_or("")
                .contains("\"America/New_York\""),
            "{e}"
        );
        let e = one_error(&window("Nowhere/Atlantis_Qzx"));
        assert!(
            e.detail().help.as_deref().unwrap_or("").contains("IANA"),
            "{e}"
        );
        let e = one_error(&window("EST"));
        assert_eq!(e.detail().message, "`EST` is not an IANA time zone name");
    }

    #[test]
    fn schema_errors_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("name = \"prod\"", "name = \"qa\"", "environment.name"),
            (
                "region = \"eastus\"\n",
                "region = 1\n",
                "environment.region",
            ),
            ("region = \"eastus\"\n", "", "environment.region"),
            (
                "[environment]\n",
                "[environment]\npromote_from = \"prod\"\n",
                "environment.promote_from",
            ),
            (
                "[environment]\n",
                "[environment]\nstate_retention_days = -1\n",
                "environment.state_retention_days",
            ),
            (
                "[environment]\n",
                "[environment]\nzone_redundant = \"yes\"\n",
                "environment.zone_redundant",
            ),
            (
                "[environment]\n",
                "[environment]\nzone_redundnat = true\n",
                "environment.zone_redundnat",
            ),
        ];
        for (from, to, key) in cases {
            let text = HEAD.replace(from, to);
            let e = one_error(&text);
            assert_eq!(e.detail().key, *key, "{text}\n{e}");
            assert!(e.detail().line > 0, "{e}");
        }
    }

    #[test]
    fn window_errors_name_the_key() {
        let w = window("America/New_York");
        let cases: &[(&str, &str, &str)] = &[
            (
                "[\"sunday\"]",
                "[\"someday\"]",
                "maintenance_window.days[0]",
            ),
            ("[\"sunday\"]", "[]", "maintenance_window.days"),
            ("\"02:00\"", "\"2am\"", "maintenance_window.start"),
            ("\"06:00\"", "\"01:00\"", "maintenance_window.end"),
            ("end =", "ends =", "maintenance_window.ends"),
        ];
        for (from, to, key) in cases {
            let e = one_error(&w.replace(from, to));
            assert_eq!(e.detail().key, *key, "{e}");
        }
    }
}
