//! Text tables: what every listing command prints.

use std::fmt;

/// Rows of text cells under a header, shown with aligned columns two spaces
/// apart and no trailing blanks. Widths count characters, not bytes, so a
/// non-ASCII name does not shift the columns after it; a row shorter than
/// the header leaves its last columns empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with this header and these rows.
    pub fn new<R>(header: &[&str], rows: R) -> Self
    where
        R: IntoIterator<Item = Vec<String>>,
    {
        Table {
            header: header.iter().map(|h| (*h).to_string()).collect(),
            rows: rows.into_iter().collect(),
        }
    }

    /// How many rows (the header not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| {
            let s: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
                .collect();
            writeln!(f, "{}", s.join("  ").trim_end())
        };
        line(f, &self.header)?;
        for r in &self.rows {
            line(f, r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn columns_align_to_the_widest_cell_without_trailing_blanks() {
        let t = Table::new(
            &["A", "LONG", "C"],
            [row(&["xyz", "1", ""]), row(&["é", "22", "c"])],
        );
        assert_eq!(t.to_string(), "A    LONG  C\nxyz  1\né    22    c\n");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn an_empty_table_prints_its_header() {
        let t = Table::new(&["GEN", "KIND"], Vec::new());
        assert!(t.is_empty());
        assert_eq!(t.to_string(), "GEN  KIND\n");
    }
}
