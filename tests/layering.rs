//! The layering `src/lib.rs` states, enforced: every `crate::<module>` a
//! module's (non-test) code names must be in its row of the table between
//! `layers:begin` and `layers:end`; only `src/settings.rs` reads the
//! process environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The table: module -> modules it may use.
fn rules() -> BTreeMap<String, BTreeSet<String>> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let begin = lib
        .find("<!-- layers:begin -->")
        .expect("layers:begin in lib.rs");
    let end = lib
        .find("<!-- layers:end -->")
        .expect("layers:end in lib.rs");
    let mut out = BTreeMap::new();
    for line in lib[begin..end].lines() {
        let cells: Vec<&str> = line
            .trim_start_matches("//!")
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 3 || !cells[1].starts_with('`') {
            continue;
        }
        let module = cells[1].trim_matches('`').to_string();
        let uses = cells[2].split_whitespace().map(str::to_string).collect();
        out.insert(module, uses);
    }
    assert!(out.len() > 10, "the layers table did not parse: {out:?}");
    out
}

/// The top-level module a source file belongs to.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The file's code outside tests and comments.
fn code(text: &str) -> String {
    let cut = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..cut]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
            out.push(p);
        }
    }
}

/// Every `crate::<name>` in `code`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + 7..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = tail;
    }
    out
}

fn violations(rules: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut bad = Vec::new();
    for f in all {
        let Some(m) = module_of(&f) else { continue };
        if m == "lib" || m == "main" {
            continue;
        }
        let allowed = rules.get(&m).unwrap_or_else(|| {
            panic!(
                "module `{m}` ({}) has no row in the layers table of src/lib.rs",
                f.display()
            )
        });
        let text = std::fs::read_to_string(&f).unwrap();
        for u in uses(&code(&text)) {
            if u != m && !allowed.contains(&u) {
                bad.push(format!(
                    "{} uses crate::{u}, which `{m}` may not use",
                    f.display()
                ));
            }
        }
    }
    bad
}

#[test]
fn every_import_follows_the_layers_lib_rs_states() {
    let bad = violations(&rules());
    assert!(bad.is_empty(), "layering broken:\n  {}", bad.join("\n  "));
}

#[test]
fn the_check_catches_a_library_module_that_uses_the_cli() {
    // A rule set where `ops` may not use `store`: the real code breaks it,
    // and the check names the file and the import.
    let mut narrowed = rules();
    narrowed.get_mut("ops").unwrap().remove("store");
    let bad = violations(&narrowed);
    assert!(
        bad.iter()
            .any(|b| b.contains("uses crate::store, which `ops` may not use")),
        "{bad:?}"
    );
    assert!(
        !rules().values().any(|u| u.contains("cli")),
        "no module may use the cli"
    );
}

#[test]
fn only_settings_reads_the_environment() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let readers: Vec<String> = all
        .iter()
        .filter(|f| !f.ends_with("settings.rs"))
        .filter(|f| {
            let c = code(&std::fs::read_to_string(f).unwrap());
            c.contains("env::var") || c.contains("env::vars")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        readers.is_empty(),
        "the environment is read outside src/settings.rs: {readers:?}"
    );
}
