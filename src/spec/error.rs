use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use super::source::SourceFile;

/// The class of a spec error; tests match on it, messages explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorKind {
    /// A file or folder could not be read.
    Io,
    /// The file is not valid TOML.
    Syntax,
    /// A key the schema does not have.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type or shape.
    InvalidValue,
    /// A resource type the catalog does not know.
    UnknownType,
    /// A reference or `depends_on` to a resource that is not declared.
    DanglingReference,
    /// A reference to an attribute the target does not have.
    UnknownAttribute,
    /// Resources, or variables, that depend on each other in a circle.
    Cycle,
    /// Two declarations of the same resource.
    Duplicate,
    /// A malformed `${...}` or an unknown variable.
    Interpolation,
}

/// One problem in a spec, with the file, line and column it is at, the key at
/// fault, and what to do about it. Boxed, so results carrying it stay small.
///
/// Invariant: `line` and `col` are 1-based and point into `file`
/// (`line == 0` only for errors about a whole file or folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(Box<Detail>);

/// The fields of a [`SpecError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The class of problem.
    pub kind: SpecErrorKind,
    /// The file, as a path relative to the project root when possible.
    pub file: PathBuf,
    /// Line, from 1 (0 when the error is about the whole file).
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
    /// The dotted key at fault, e.g. `vnet.properties.address_space`.
    pub key: String,
    /// What is wrong, one line, lowercase.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The source line, for the caret display.
    pub source_line: String,
    /// Width of the caret under the fault.
    pub caret_len: usize,
}

impl SpecError {
    /// An error at `span` of `file`.
    pub fn at(
        kind: SpecErrorKind,
        file: &SourceFile,
        span: &Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let pos = file.position(span.start);
        SpecError(Box::new(Detail {
            kind,
            file: file.path().to_path_buf(),
            line: pos.line,
            col: pos.col,
            key: key.into(),
            message: message.into(),
            help: None,
            source_line: file.line_text(pos.line).to_string(),
            caret_len: file.caret_len(span),
        }))
    }

    /// An error about a whole file or folder (no position).
    pub fn whole(
        kind: SpecErrorKind,
        file: impl Into<PathBuf>,
        message: impl Into<String>,
    ) -> Self {
        SpecError(Box::new(Detail {
            kind,
            file: file.into(),
            line: 0,
            col: 0,
            key: String::new(),
            message: message.into(),
            help: None,
            source_line: String::new(),
            caret_len: 0,
        }))
    }

    /// The fields.
    pub fn detail(&self) -> &Detail {
        &self.0
    }

    /// Adds the hint on how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// The multi-line rendering with the source line and a caret, in the
    /// style of rustc: what the CLI prints.
    pub fn render(&self) -> String {
        let d = &self.0;
        let mut out = format!("error: {}\n", d.message);
        if d.line == 0 {
            out.push_str(&format!("  --> {}\n", d.file.display()));
        } else {
            let gutter = d.line.to_string().len();
            let pad = " ".repeat(gutter);
            out.push_str(&format!(
                "{pad}--> {}:{}:{}\n",
                d.file.display(),
                d.line,
                d.col
            ));
            out.push_str(&format!("{pad} |\n"));
            out.push_str(&format!("{} | {}\n", d.line, d.source_line));
            out.push_str(&format!(
                "{pad} | {}{}\n",
                " ".repeat(d.col.saturating_sub(1)),
                "^".repeat(d.caret_len.max(1))
            ));
        }
        if !d.key.is_empty() {
            out.push_str(&format!("  = key: {}\n", d.key));
        }
        if let Some(h) = &d.help {
            out.push_str(&format!("  = help: {h}\n"));
        }
        out
    }
}

/// One line: `file:line:col: message (key `k`)`.
impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        if d.line == 0 {
            write!(f, "{}: {}", d.file.display(), d.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                d.file.display(),
                d.line,
                d.col,
                d.message
            )?;
        }
        if !d.key.is_empty() {
            write!(f, " (key `{}`)", d.key)?;
        }
        if let Some(h) = &d.help {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// Every problem found while loading one estate, in file and line order.
///
/// Invariant: never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors(Vec<SpecError>);

impl SpecErrors {
    /// Wraps a non-empty list, sorted by file and position.
    pub fn new(mut errors: Vec<SpecError>) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        errors.sort_by(|a, b| (&a.0.file, a.0.line, a.0.col).cmp(&(&b.0.file, b.0.line, b.0.col)));
        errors.dedup();
        Some(SpecErrors(errors))
    }

    /// The errors.
    pub fn errors(&self) -> &[SpecError] {
        &self.0
    }

    /// Renders every error with its caret display.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(SpecError::render)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        SpecErrors(vec![e])
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} errors in specs", many.len())?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SpecErrors {}
