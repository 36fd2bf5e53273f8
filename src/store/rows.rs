//! Where delta rows live: the rows no checkpoint has folded yet in `deltas`,
//! the folded ones in `folded_deltas` (schema 4).
//!
//! Every commit appends to `deltas`, and redb rewrites the whole path from
//! the table's root to the leaf it appends to. Left to hold every row a stack
//! ever had, `deltas` is 4 levels deep at 100,000 rows (its rows carry the
//! observed resources), and that path is what one-resource commits to a large
//! stack paid for. A fold therefore moves the rows it folds out of the way:
//! `deltas` holds at most the [`CHECKPOINT_EVERY`](super::CHECKPOINT_EVERY)
//! or so rows since each stack's checkpoint, whatever the stacks' sizes.
//! Folded rows are still read (by old generations, and through
//! `observed_at`, which points at the row holding a resource), so they are
//! kept, never deleted.
//!
//! Moving costs writing the rows a second time, so rows that are certain to
//! be folded are written to `folded_deltas` in the first place: those of a
//! generation that already holds enough rows since its checkpoint that its
//! end will fold them (a generation written in one transaction, an import,
//! the later rows of a large apply).

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::error::StoreError;
use super::schema;

type Key = (&'static str, u64);

/// A row as stored: its sequence number, its bytes, and the table holding
/// it (for error messages).
pub(crate) type RawRow = (u64, Vec<u8>, &'static str);

/// The tables' names, for messages.
pub(crate) const OPEN: &str = "deltas";
pub(crate) const FOLDED: &str = "folded_deltas";

/// The delta rows of every stack, across the two tables that hold them.
///
/// Invariant: a row is in exactly one of the two tables; a stack's rows up
/// to its latest checkpoint are in `folded_deltas`; the rows after it are in
/// `deltas`, except those of a generation in progress that its end will
/// fold, which may be in either. `store check` verifies all three.
pub(crate) struct Rows<T> {
    open: T,
    folded: T,
}

/// The rows inside a read transaction.
pub(crate) type ReadRows = Rows<redb::ReadOnlyTable<Key, &'static [u8]>>;
/// The rows inside a write transaction.
pub(crate) type WriteRows<'t> = Rows<redb::Table<'t, Key, &'static [u8]>>;

impl ReadRows {
    pub(crate) fn read(r: &ReadTransaction) -> Result<Self, StoreError> {
        Ok(Rows {
            open: r.open_table(schema::DELTAS)?,
            folded: r.open_table(schema::FOLDED_DELTAS)?,
        })
    }
}

impl<'t> WriteRows<'t> {
    pub(crate) fn write(w: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Rows {
            open: w.open_table(schema::DELTAS)?,
            folded: w.open_table(schema::FOLDED_DELTAS)?,
        })
    }

    /// Appends a row; `folded` when the same transaction folds it (a
    /// generation written whole, an import), which spares moving it.
    pub(crate) fn insert(
        &mut self,
        stack: &str,
        seq: u64,
        bytes: &[u8],
        folded: bool,
    ) -> Result<(), StoreError> {
        let t = if folded {
            &mut self.folded
        } else {
            &mut self.open
        };
        t.insert((stack, seq), bytes)?;
        Ok(())
    }

    /// Moves `stack`'s unfolded rows up to `upto` (a new checkpoint's
    /// sequence number) into `folded_deltas`. Returns how many moved.
    pub(crate) fn settle(&mut self, stack: &str, upto: u64) -> Result<usize, StoreError> {
        let mut moved = Vec::new();
        for row in self
            .open
            .extract_from_if((stack, 0)..=(stack, upto), |_, _| true)?
        {
            let (k, v) = row?;
            moved.push((k.value().1, v.value().to_vec()));
        }
        for (seq, bytes) in &moved {
            self.folded.insert((stack, *seq), bytes.as_slice())?;
        }
        Ok(moved.len())
    }
}

impl<T: ReadableTable<Key, &'static [u8]>> Rows<T> {
    /// The bytes of row `seq` of `stack`, and the table holding it.
    pub(crate) fn get(
        &self,
        stack: &str,
        seq: u64,
    ) -> Result<Option<(Vec<u8>, &'static str)>, StoreError> {
        if let Some(g) = self.open.get((stack, seq))? {
            return Ok(Some((g.value().to_vec(), OPEN)));
        }
        Ok(self
            .folded
            .get((stack, seq))?
            .map(|g| (g.value().to_vec(), FOLDED)))
    }

    /// The rows of `stack` in `(after, upto]`, in order of `seq`: sequence
    /// number, bytes, and the table holding the row (for error messages).
    pub(crate) fn range(
        &self,
        stack: &str,
        after: u64,
        upto: u64,
    ) -> Result<Vec<RawRow>, StoreError> {
        let mut out = Vec::new();
        if upto <= after {
            return Ok(out);
        }
        // Folded rows precede unfolded ones, except in a generation that
        // writes its rows straight to `folded_deltas`: sort only when the
        // two interleave.
        for (name, t) in [(FOLDED, &self.folded), (OPEN, &self.open)] {
            for row in t.range((stack, after + 1)..=(stack, upto))? {
                let (k, v) = row?;
                out.push((k.value().1, v.value().to_vec(), name));
            }
        }
        if !out.is_sorted_by_key(|(seq, ..)| *seq) {
            out.sort_by_key(|(seq, ..)| *seq);
        }
        Ok(out)
    }

    /// Both tables, for `store check`.
    pub(crate) fn tables(&self) -> [(&'static str, &T); 2] {
        [(OPEN, &self.open), (FOLDED, &self.folded)]
    }
}
