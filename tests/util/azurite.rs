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
    data: tempfile::TempDir,
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
        let (child, port) = spawn(&data, 0);
        Azurite { child, port, data }
    }

    /// Stops the emulator hard, its data kept for [`Azurite::restart`].
    /// Azurite saves its metadata every 5 s and takes minutes to shut down
    /// gracefully, so: cut its clients off first (see [`Relay`]), give it 7 s
    /// to save what it acknowledged, then kill it.
    pub fn stop(&mut self) {
        std::thread::sleep(Duration::from_secs(7));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        let (child, port) = spawn(&self.data, self.port);
        assert_eq!(port, self.port, "Azurite came back on another port");
        self.child = child;
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

/// Starts `azurite-blob` on `port` (0: any free one) over `data`; returns
/// the child and the port it listens on.
fn spawn(data: &tempfile::TempDir, port: u16) -> (Child, u16) {
    let port_arg = port.to_string();
    let mut child = Command::new(bin())
        .args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port_arg,
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
    (child, port)
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay in front of a port that can be cut, as a network outage
/// would: every open connection is reset and new ones are refused until it
/// is mended.
pub struct Relay {
    /// The port clients connect to.
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    /// Cut once this many bytes went upstream (u64::MAX: never).
    budget: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    /// Relays a loopback port to `upstream`.
    pub fn to(upstream: u16) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> =
            std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        let (up2, open2, budget2) = (up.clone(), open.clone(), budget.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                };
                // Upstream bytes draw on the budget; when it runs out, the
                // relay cuts everything, mid-request.
                let pipe =
                    |mut from: std::net::TcpStream, mut to: std::net::TcpStream, metered: bool| {
                        let (budget, up, open) = (budget2.clone(), up2.clone(), open2.clone());
                        std::thread::spawn(move || {
                            use std::io::{Read as _, Write as _};
                            let mut buf = [0u8; 16 * 1024];
                            loop {
                                let n = match from.read(&mut buf) {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => n,
                                };
                                if metered {
                                    let left = budget.load(Ordering::SeqCst);
                                    if left != u64::MAX {
                                        if (n as u64) >= left {
                                            cut_all(&up, &open);
                                            break;
                                        }
                                        budget.fetch_sub(n as u64, Ordering::SeqCst);
                                    }
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    };
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    if let Ok(mut list) = open2.lock() {
                        list.extend([c2, s2]);
                    }
                    let (c3, s3) = (client.try_clone(), server.try_clone());
                    pipe(client, server, true);
                    if let (Ok(c3), Ok(s3)) = (c3, s3) {
                        pipe(s3, c3, false);
                    }
                }
            }
        });
        Relay {
            port,
            up,
            open,
            budget,
        }
    }

    /// Resets every connection and refuses new ones.
    pub fn cut(&self) {
        cut_all(&self.up, &self.open);
    }

    /// Cuts once `bytes` more have gone upstream: an outage in the middle
    /// of whatever is being sent then.
    pub fn cut_after(&self, bytes: u64) {
        self.budget
            .store(bytes, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets connections through again, with no budget.
    pub fn mend(&self) {
        self.budget
            .store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The account endpoint through the relay.
    pub fn account_url(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }
}

fn cut_all(up: &std::sync::atomic::AtomicBool, open: &std::sync::Mutex<Vec<std::net::TcpStream>>) {
    up.store(false, std::sync::atomic::Ordering::SeqCst);
    if let Ok(mut list) = open.lock() {
        for s in list.drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
