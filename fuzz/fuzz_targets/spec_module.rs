//! Fuzzes the spec loader: arbitrary bytes as a module file of a small
//! project load or give errors that name the file, never a panic.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run spec_module`; the
//! corpus under `fuzz/corpus/spec_module` is replayed by
//! `cargo test --test fuzz_corpus`.

#![no_main]

#[path = "../../tests/util/fuzz_inputs.rs"]
mod fuzz_inputs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = fuzz_inputs::load_module(data);
});
