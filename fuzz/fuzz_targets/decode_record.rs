//! Fuzzes the store codec and the state-file reader: every stored record
//! type is decoded from arbitrary bytes. Invariant checked: decoding returns
//! (Ok or a named error) and never panics or allocates without bound.
//!
//! Build and run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode_record`.
//! The corpus under `fuzz/corpus/decode_record` is replayed by
//! `cargo test --test fuzz_corpus`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = statectl::store::decode_any(data);
});
