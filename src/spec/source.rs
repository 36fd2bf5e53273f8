use std::ops::Range;
use std::path::{Path, PathBuf};

/// The text of one spec file and where its lines start, so byte offsets from
/// the TOML parser become `line:col` positions.
///
/// Invariant: `line_starts[0] == 0` and each later entry is the offset just
/// after a `\n` in `text`.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

/// A position in a source file, 1-based, column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line number, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub col: usize,
}

impl SourceFile {
    /// Wraps a file's text; `path` is how messages name it.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The path used in messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The position of a byte offset (clamped to the text).
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        Position { line, col }
    }

    /// The text of line `line` (1-based), without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// How many characters of `span` fall on its first line (at least 1), for
    /// the caret under an error.
    pub fn caret_len(&self, span: &Range<usize>) -> usize {
        let pos = self.position(span.start);
        let line = self.line_text(pos.line);
        let rest = line.chars().count().saturating_sub(pos.col - 1);
        let len = self
            .text
            .get(span.clone())
            .map_or(1, |s| s.lines().next().map_or(1, |l| l.chars().count()));
        len.min(rest).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let f = SourceFile::new("x.toml", "a = 1\nbé = 2\n".into());
        assert_eq!(f.position(0), Position { line: 1, col: 1 });
        assert_eq!(f.position(6), Position { line: 2, col: 1 });
        // 'é' is two bytes but one column.
        assert_eq!(f.position(9), Position { line: 2, col: 3 });
        assert_eq!(f.line_text(2), "bé = 2");
        assert_eq!(f.position(1000), Position { line: 3, col: 1 });
        assert_eq!(f.caret_len(&(0..1)), 1);
    }
}
