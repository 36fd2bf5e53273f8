//! Fuzzes `state push` files: arbitrary bytes read as a state file give a
//! file or a named error, never a panic; a file that reads writes back and
//! reads again.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run state_file`; the corpus
//! under `fuzz/corpus/state_file` is replayed by `cargo test --test fuzz_corpus`.

#![no_main]

#[path = "../../tests/util/fuzz_inputs.rs"]
mod fuzz_inputs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fuzz_inputs::read_state_file(data);
});
