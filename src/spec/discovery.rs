//! Finding and reading spec files: the estates under `specs/`, the
//! environments under `environments/`, the module files of one estate.
//!
//! Every list is sorted, so the order files are loaded in (and errors are
//! reported in) never depends on the file system. Paths in messages are
//! relative to the project root.

use std::path::{Path, PathBuf};
use std::str::Utf8Error;

use super::error::{SpecError, SpecErrorKind as K};
use super::source::SourceFile;

/// The file in an estate folder that describes the estate, not a module.
pub(super) const ESTATE_FILE: &str = "estate.toml";
/// Policy exceptions live beside the modules and are read by `verify`.
pub(super) const EXCEPTIONS_FILE: &str = "exceptions.toml";

/// `p` relative to `root` when it is under it, for messages.
pub(super) fn rel(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root)
        .map_or_else(|_| p.to_path_buf(), Path::to_path_buf)
}

/// The estates: folders under `specs/` that hold an `estate.toml`, sorted.
pub(super) fn estate_names(root: &Path) -> Result<Vec<String>, SpecError> {
    let dir = root.join("specs");
    let mut out: Vec<String> = read_dir(&dir, &rel(root, &dir))?
        .into_iter()
        .filter(|p| p.join(ESTATE_FILE).is_file())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    out.sort();
    Ok(out)
}

/// The environments: `environments/*.toml`, by file stem, sorted.
pub(super) fn environment_names(root: &Path) -> Result<Vec<String>, SpecError> {
    let dir = root.join("environments");
    let mut out: Vec<String> = read_dir(&dir, &rel(root, &dir))?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| p.file_stem().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    out.sort();
    Ok(out)
}

/// The module files of the estate in `dir`: every `.toml` file but
/// `estate.toml` and `exceptions.toml`, sorted.
pub(super) fn module_paths(root: &Path, dir: &Path) -> Result<Vec<PathBuf>, SpecError> {
    let mut out: Vec<PathBuf> = read_dir(dir, &rel(root, dir))?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n != ESTATE_FILE && n != EXCEPTIONS_FILE
        })
        .collect();
    out.sort();
    Ok(out)
}

/// "known estates: a, b", or that there are none.
pub(super) fn known_list(what: &str, names: &[String]) -> String {
    if names.is_empty() {
        format!("there are no {what} in this project")
    } else {
        format!("known {what}: {}", names.join(", "))
    }
}

/// Reads one file as UTF-8 text, named relative to `root`.
pub(super) fn read_source(root: &Path, path: &Path) -> Result<SourceFile, SpecError> {
    let rel = rel(root, path);
    let bytes = std::fs::read(path)
        .map_err(|e| SpecError::whole(K::Io, &rel, format!("cannot read file: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(rel, text)),
        Err(e) => {
            let err = e.utf8_error();
            Err(not_utf8(rel, e.as_bytes(), err))
        }
    }
}

/// One error at the first bad byte, as `line:col` in the text before it:
/// that is where an editor shows the problem, and a byte offset is not.
fn not_utf8(rel: PathBuf, bytes: &[u8], err: Utf8Error) -> SpecError {
    let at = err.valid_up_to();
    let byte = bytes.get(at).copied().unwrap_or(0);
    // The lossy text agrees with the file up to `at`, so positions before
    // and at the bad byte are the file's own.
    let file = SourceFile::new(rel, String::from_utf8_lossy(bytes).into_owned());
    SpecError::at(
        K::Syntax,
        &file,
        &(at..at + 1),
        "",
        format!("file is not UTF-8 (invalid byte 0x{byte:02x})"),
    )
    .help("save the file as UTF-8 text; write non-ASCII characters as UTF-8 or as TOML escapes such as \"\\u00e9\"")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, bytes) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        dir
    }

    #[test]
    fn lists_are_sorted_and_filtered() {
        let d = project(&[
            ("specs/zeta/estate.toml", b""),
            ("specs/alpha/estate.toml", b""),
            ("specs/alpha/net.toml", b""),
            ("specs/alpha/data.toml", b""),
            ("specs/alpha/exceptions.toml", b""),
            ("specs/alpha/notes.md", b""),
            ("specs/no_estate/net.toml", b""),
            ("environments/prod.toml", b""),
            ("environments/dev.toml", b""),
            ("environments/README.md", b""),
        ]);
        let root = d.path();
        assert_eq!(estate_names(root).unwrap(), ["alpha", "zeta"]);
        assert_eq!(environment_names(root).unwrap(), ["dev", "prod"]);
        let modules: Vec<PathBuf> = module_paths(root, &root.join("specs/alpha"))
            .unwrap()
            .iter()
            .map(|p| rel(root, p))
            .collect();
        assert_eq!(
            modules,
            [
                PathBuf::from("specs/alpha/data.toml"),
                PathBuf::from("specs/alpha/net.toml")
            ]
        );
    }

    #[test]
    fn a_missing_folder_says_where_to_run() {
        let d = project(&[]);
        let e = estate_names(d.path()).unwrap_err();
        assert_eq!(e.detail().kind, K::Io);
        assert_eq!(e.detail().file, PathBuf::from("specs"));
        assert!(
            e.detail()
                .help
                .as_deref()
                .unwrap_or("")
                .contains("--project")
        );
    }

    #[test]
    fn non_utf8_is_one_error_at_line_and_column() {
        let d = project(&[("specs/a/m.toml", b"[rg]\nname = \"a\xffb\"\n")]);
        let e = read_source(d.path(), &d.path().join("specs/a/m.toml")).unwrap_err();
        assert_eq!(e.detail().kind, K::Syntax);
        assert_eq!(e.detail().file, PathBuf::from("specs/a/m.toml"));
        assert_eq!((e.detail().line, e.detail().col), (2, 10));
        assert_eq!(e.detail().message, "file is not UTF-8 (invalid byte 0xff)");
        assert!(
            e.render().contains("2 | name = \"a\u{fffd}b\""),
            "{}",
            e.render()
        );
    }

    #[test]
    fn known_list_handles_none() {
        assert_eq!(
            known_list("estates", &[]),
            "there are no estates in this project"
        );
        assert_eq!(
            known_list("estates", &["a".into(), "b".into()]),
            "known estates: a, b"
        );
    }
}
