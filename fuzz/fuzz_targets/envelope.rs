//! Fuzzes mirror envelopes: arbitrary bytes opened as a sealed blob give a
//! payload or a named error, never a panic or an unbounded allocation.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run envelope`; the corpus
//! under `fuzz/corpus/envelope` is replayed by `cargo test --test fuzz_corpus`.

#![no_main]

#[path = "../../tests/util/fuzz_inputs.rs"]
mod fuzz_inputs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fuzz_inputs::open_envelope(data);
});
