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

#[cfg(test)]
mod tests {
    use super::*;

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
