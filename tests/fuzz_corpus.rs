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

#[path = "util/fuzz_inputs.rs"]
mod fuzz_inputs;

/// Every input kept under `fuzz/corpus/<target>` (none when the folder
/// does not exist: the envelope seeds are sealed by the test itself).
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

/// Each input, then each input cut short at a few places and with a few
/// bytes flipped: what a fuzzer tries first, replayed on every run.
fn with_mutations(inputs: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for x in inputs {
        let n = x.len();
        for cut in [n / 3, n / 2, n.saturating_sub(1)] {
            out.push(x[..cut].to_vec());
        }
        for at in [0, n / 7, n / 3, n / 2, n.saturating_sub(2)] {
            let mut y = x.clone();
            if let Some(b) = y.get_mut(at) {
                *b ^= 0x5a;
            }
            out.push(y);
        }
        out.push(x);
    }
    out
}

#[test]
fn state_file_corpus_reads_back_and_never_panics() {
    let inputs = corpus("state_file");
    // The seed is a real `state pull` file: it reads (what a fuzzer keeps
    // beside it need not).
    let seed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/state_file/chatwoot-dev.json");
    assert!(fuzz_inputs::read_state_file(&std::fs::read(seed).unwrap()));
    for x in with_mutations(inputs) {
        let _ = fuzz_inputs::read_state_file(&x);
    }
}

#[test]
fn spec_module_corpus_loads_or_names_its_errors() {
    let inputs = corpus("spec_module");
    assert!(inputs.len() >= 3);
    for x in with_mutations(inputs) {
        let _ = fuzz_inputs::load_module(&x);
    }
}

#[test]
fn envelopes_open_only_as_sealed_and_never_panic() {
    let keys = fuzz_inputs::fuzz_keys();
    let path = fuzz_inputs::ENVELOPE_PATH;
    let mut seeds = corpus("envelope");
    for payload in [&b""[..], b"x", &[7u8; 4096]] {
        let sealed = statectl::mirror::envelope::seal(keys, path, payload).unwrap();
        assert!(
            fuzz_inputs::open_envelope(&sealed),
            "a sealed blob does not open"
        );
        seeds.push(sealed);
    }
    for x in with_mutations(seeds) {
        let _ = fuzz_inputs::open_envelope(&x);
    }
    // Any flipped byte of a sealed blob is refused, never opened altered.
    let sealed = statectl::mirror::envelope::seal(keys, path, b"payload").unwrap();
    for i in 0..sealed.len() {
        let mut y = sealed.clone();
        y[i] ^= 1;
        assert!(
            !fuzz_inputs::open_envelope(&y),
            "byte {i} flipped still opens"
        );
    }
}
