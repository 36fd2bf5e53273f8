//! The floor under every store commit: what redb itself writes for a
//! transaction that inserts one row into 0, 1 or 3 tables, in the mode the
//! store opens it (multi-writer, which makes every commit two-phase with
//! quick repair), on database files of growing size.
//!
//! Run: `cargo bench --bench redb_floor`. A counting storage backend sees
//! every write redb makes; the largest single write of a commit is the
//! allocator state that quick repair saves, which grows with the file
//! (every region's free-page bitmaps, rounded up to a power-of-two page
//! run). This is why a one-resource commit to a 100,000-resource store
//! (a 272 MiB file) cannot be brought under 64 KiB by the store's layout
//! alone: see docs/BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use redb::backends::FileBackend;
use redb::{BackendError, ConcurrencyMode, Database, StorageBackend, TableDefinition};

/// A file backend that records the size of every write.
#[derive(Debug)]
struct Counting {
    inner: FileBackend,
    writes: Arc<Mutex<Vec<usize>>>,
}

impl StorageBackend for Counting {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.writes.lock().unwrap().push(data.len());
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }
    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(s, e)
    }
    fn try_lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }
    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(s, e)
    }
    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(s, e)
    }
    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(s, e)
    }
    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(s, e)
    }
}

// Shaped like the store's deltas, generations and audit tables.
const ROWS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("deltas");
const GENS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("generations");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");

/// Median bytes and the largest single write of a commit touching `tables`
/// tables, on a database holding `n` rows and `n` objects.
fn measure(n: u64, tables: usize) -> (u64, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("floor.redb");
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let writes = Arc::new(Mutex::new(Vec::new()));
    let backend = Counting {
        inner: FileBackend::new(file).unwrap(),
        writes: writes.clone(),
    };
    let mut b = Database::builder();
    b.set_concurrency_mode(ConcurrencyMode::MultiWriter);
    b.set_cache_size(64 << 20);
    let db = b.create_with_backend(backend).unwrap();
    let row = vec![7u8; 600];
    let object = vec![9u8; 1500];
    {
        let mut w = db.begin_write().unwrap();
        w.set_quick_repair(true);
        {
            let mut t = w.open_table(ROWS).unwrap();
            for i in 0..n {
                t.insert(("bench/dev", i), row.as_slice()).unwrap();
            }
            let mut o = w.open_table(OBJECTS).unwrap();
            for i in 0..n {
                let k = i.wrapping_mul(2_654_435_761).to_le_bytes().repeat(4);
                o.insert(k.as_slice(), object.as_slice()).unwrap();
            }
            w.open_table(GENS)
                .unwrap()
                .insert(("bench/dev", 0), row.as_slice())
                .unwrap();
            w.open_table(AUDIT)
                .unwrap()
                .insert(0, row.as_slice())
                .unwrap();
        }
        w.commit().unwrap();
    }
    let file_bytes = std::fs::metadata(&path).unwrap().len();
    let mut totals = Vec::new();
    let mut largest = Vec::new();
    for c in 1..=40u64 {
        writes.lock().unwrap().clear();
        let mut w = db.begin_write().unwrap();
        w.set_quick_repair(true);
        if tables >= 1 {
            w.open_table(ROWS)
                .unwrap()
                .insert(("bench/dev", n + c), row.as_slice())
                .unwrap();
        }
        if tables >= 2 {
            w.open_table(GENS)
                .unwrap()
                .insert(("bench/dev", c), row.as_slice())
                .unwrap();
        }
        if tables >= 3 {
            w.open_table(AUDIT)
                .unwrap()
                .insert(c, row.as_slice())
                .unwrap();
        }
        w.commit().unwrap();
        let all = writes.lock().unwrap();
        totals.push(all.iter().sum::<usize>());
        largest.push(all.iter().copied().max().unwrap_or(0));
    }
    totals.sort_unstable();
    largest.sort_unstable();
    (
        file_bytes,
        totals[totals.len() / 2],
        largest[largest.len() / 2],
    )
}

fn main() {
    println!(
        "redb commit floor (multi-writer mode, quick repair on, 4 KiB pages), median of 40 commits:"
    );
    for n in [12_500u64, 25_000, 50_000, 100_000] {
        for tables in [0usize, 1, 3] {
            let (file, total, largest) = measure(n, tables);
            println!(
                "  file {:>4} MiB, one row into {tables} table(s): {:>6.1} KiB written, largest single write {:>3} KiB",
                file >> 20,
                total as f64 / 1024.0,
                largest >> 10
            );
        }
    }
}
