//! Azurite, the Azure Blob Storage emulator, as a test peer: installed from
//! the repository's package-lock.json if missing, started on a free
//! loopback port with a temporary data folder, stopped on drop.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::repo_root;

/// The emulator's well-known account and key (public, documented by Microsoft).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service.
pub struct Azurite {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    _data: tempfile::TempDir,
}

fn bin() -> PathBuf {
    repo_root().join("node_modules/.bin/azurite-blob")
}

/// Installs Azurite (pinned in package-lock.json) unless it is there; one
/// installer at a time across test processes.
fn ensure_installed() {
    if bin().exists() {
        return;
    }
    let lock_path = repo_root().join("target/.azurite-install.lock");
    let _ = std::fs::create_dir_all(repo_root().join("target"));
    let lock = std::fs::File::create(&lock_path).expect("create the install lock file");
    lock.lock().expect("take the install lock");
    if !bin().exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "installing Azurite with `npm ci` failed ({s}); the mirror tests need it: run `npm ci` in {} (Node.js 18+)",
                repo_root().display()
            ),
            Err(e) => panic!(
                "the mirror tests need Azurite, installed with npm, and npm cannot run ({e}): install Node.js 18+ and npm, then run `npm ci` in {}",
                repo_root().display()
            ),
        }
    }
    let _ = lock.unlock();
    assert!(bin().exists(), "npm ci did not install {}", bin().display());
}

impl Azurite {
    /// Starts a fresh emulator; panics (failing the test, never skipping
    /// it) if it cannot.
    pub fn start() -> Azurite {
        ensure_installed();
        let data = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(bin())
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                data.path().to_str().expect("utf-8 path"),
                "--skipApiVersionCheck",
                "--loose",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin().display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listens on http://127.0.0.1:").nth(1)
                    && let Ok(p) = rest.trim().parse::<u16>()
                {
                    let _ = tx.send(p);
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!("Azurite did not report its port within 60 s");
            }
        };
        Azurite {
            child,
            port,
            _data: data,
        }
    }

    /// The account endpoint (no trailing slash).
    pub fn account_url(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// An account SAS valid for a day.
    pub fn sas(&self) -> String {
        statectl::mirror::azure::account_sas(ACCOUNT, KEY, "2099-01-01T00:00:00Z")
            .expect("sign the SAS")
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
