//! Small helpers shared by several modules.

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `target` by edit distance (after `normalize`),
/// if it is within a third of the target's length (at least 2 edits).
pub fn closest<'a, I, F>(target: &str, candidates: I, normalize: F) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
    F: Fn(&str) -> String,
{
    let limit = (target.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(target, &normalize(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Why [`create_atomically`] failed: initializing the file, or putting it
/// in place.
#[derive(Debug)]
pub enum CreateError<E> {
    /// `init` failed.
    Init(E),
    /// A file operation failed.
    Io(&'static str, std::path::PathBuf, std::io::Error),
}

/// Creates the file `path` by having `init` build it completely under a
/// temporary name beside it, then linking it into place (never over an
/// existing file: if another process created `path` meanwhile, theirs
/// stays). A process killed midway leaves no half-written file at `path`
/// (which every later open would refuse), only a temporary one that a
/// later call removes once it is a minute old.
pub fn create_atomically<E>(
    path: &std::path::Path,
    init: impl FnOnce(&std::path::Path) -> Result<(), E>,
) -> Result<(), CreateError<E>> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let prefix = format!(
        "{}.creating.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60));
            if stale && e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    init(&tmp).map_err(CreateError::Init)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| CreateError::Io("cannot sync the new file", tmp.clone(), e))?;
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        // A file system without hard links: a rename, unless the file
        // appeared meanwhile.
        Err(_) if !path.exists() => std::fs::rename(&tmp, path).map_err(|e| {
            CreateError::Io("cannot put the new file in place", path.to_path_buf(), e)
        })?,
        Err(_) => {}
    }
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_created_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        // A killed create: its temporary file is old, and nothing is at `path`.
        let left = dir.path().join("f.db.creating.1");
        std::fs::write(&left, b"half").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        std::fs::File::options()
            .write(true)
            .open(&left)
            .unwrap()
            .set_modified(old)
            .unwrap();
        // A failing init leaves nothing at `path`.
        let r = create_atomically(&path, |_| Err::<(), _>("no"));
        assert!(matches!(r, Err(CreateError::Init("no"))));
        assert!(!path.exists());
        assert!(!left.exists(), "the stale temporary file is removed");
        create_atomically(&path, |tmp| std::fs::write(tmp, b"whole")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        // Never over an existing file.
        create_atomically(&path, |tmp| std::fs::write(tmp, b"other")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.db")]);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(
            closest(
                "prevent_destory",
                ["prevent_destroy", "type"],
                str::to_string
            ),
            Some("prevent_destroy")
        );
        assert_eq!(closest("zzz", ["prevent_destroy"], str::to_string), None);
    }
}
