//! What the fuzz targets (`fuzz/fuzz_targets/*.rs`, which include this file)
//! and their corpus replay (`tests/fuzz_corpus.rs`) feed statectl, so both
//! check exactly the same thing.
//!
//! Invariant checked by every function here: statectl answers arbitrary
//! input with a value or a named error; it never panics.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// A fixed key (test only): envelopes in the corpus are sealed under it.
const FUZZ_KEY: &str = "statectl-local-key-file v1\n1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

/// The mirror path every fuzzed envelope claims to be at.
pub const ENVELOPE_PATH: &str = "v1/objects/fuzz";

/// The fixed key, loaded from a file written once per process.
pub fn fuzz_keys() -> &'static statectl::keys::LocalKeyFile {
    static KEYS: OnceLock<statectl::keys::LocalKeyFile> = OnceLock::new();
    KEYS.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("statectl-fuzz-{}.key", std::process::id()));
        std::fs::write(&path, FUZZ_KEY).unwrap();
        statectl::keys::LocalKeyFile::load(&path).unwrap()
    })
}

/// Opens `data` as a mirror envelope; a payload that opens was sealed
/// under the fuzz key for [`ENVELOPE_PATH`].
pub fn open_envelope(data: &[u8]) -> bool {
    statectl::mirror::envelope::open(fuzz_keys(), ENVELOPE_PATH, data).is_ok()
}

/// Reads `data` as a `state push` file; one that reads must write back
/// (as `state pull` would) and read again.
pub fn read_state_file(data: &[u8]) -> bool {
    use statectl::store::statefile;
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok((g, resources)) = statefile::from_json(text) else {
        return false;
    };
    let map = resources
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
    let again = statefile::to_json(&g, &map, false).to_string();
    if let Err(e) = statefile::from_json(&again) {
        panic!("a state file statectl wrote does not read back: {e}");
    }
    true
}

const ENV_DEV: &str = "[environment]\nname = \"dev\"\nsubscription_id = \"00000000-0000-4000-8000-000000000001\"\nregion = \"eastus\"\n";
const ESTATE: &str = "[estate]\nname = \"fuzz\"\n\n[objectives]\nrto = \"4h\"\nrpo = \"1h\"\n\n[vars]\nproduct = \"fuzz\"\n\n[tags]\nowner = \"team\"\n";

/// A project with one environment and one estate `fuzz`, made once per
/// process; each input replaces its one module file.
fn project() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("statectl-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("environments")).unwrap();
        std::fs::create_dir_all(dir.join("specs/fuzz")).unwrap();
        std::fs::write(dir.join("environments/dev.toml"), ENV_DEV).unwrap();
        std::fs::write(dir.join("specs/fuzz/estate.toml"), ESTATE).unwrap();
        dir
    })
}

/// Loads `data` as the module `specs/fuzz/main.toml` of a small project;
/// every error must name the file.
pub fn load_module(data: &[u8]) -> bool {
    let dir = project();
    std::fs::write(dir.join("specs/fuzz/main.toml"), data).unwrap();
    match statectl::spec::Loader::new(dir).load("fuzz", "dev") {
        Ok(_) => true,
        Err(errs) => {
            let text = errs.render();
            assert!(!text.is_empty(), "an empty error for {data:?}");
            false
        }
    }
}
