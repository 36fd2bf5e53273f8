//! Replays the fuzz corpus of `fuzz/fuzz_targets/decode_record.rs` as a
//! normal test, so every input the fuzzer ever kept is checked on every run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

#[test]
fn decode_record_corpus_never_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode_record");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let _ = statectl::store::decode_any(&data);
        n += 1;
    }
    assert!(
        n >= 11,
        "corpus has only {n} inputs; it is seeded from tests/fixtures/codec"
    );
}
