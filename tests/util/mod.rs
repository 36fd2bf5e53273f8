//! Shared helpers for integration tests: temporary projects and a runner for
//! the real `statectl` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod azurite;
pub mod scale;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary project folder, removed on drop.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty project.
    pub fn empty() -> Self {
        Project {
            dir: tempfile::tempdir().expect("create temp dir"),
        }
    }

    /// A small valid project: one environment `dev`, one estate `shop` with
    /// a resource group and a virtual network in module `net`.
    pub fn minimal() -> Self {
        let p = Project::empty();
        p.write("environments/dev.toml", ENV_DEV);
        p.write("specs/shop/estate.toml", ESTATE_SHOP);
        p.write("specs/shop/net.toml", NET_SHOP);
        p
    }

    /// A copy of the repository's specs/, environments/ and policy/ (the
    /// baseline), to change freely.
    pub fn copy_of_repo() -> Self {
        let p = Project::empty();
        for dir in ["specs", "environments", "policy"] {
            copy_dir(&repo_root().join(dir), &p.path().join(dir));
        }
        p
    }

    /// A copy of this whole project, state directory included: a second
    /// machine that has seen the same history and the same simulated cloud.
    pub fn clone_machine(&self) -> Self {
        let p = Project::empty();
        copy_dir(self.path(), p.path());
        p
    }

    /// Reads a file of the project.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).expect("read")
    }

    /// The project root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file under the project, creating folders.
    pub fn write(&self, rel: &str, text: &str) {
        self.write_bytes(rel, text.as_bytes());
    }

    /// Writes raw bytes under the project, creating folders.
    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }

    /// Runs `statectl -C <project> args...` (state in `<project>/.statectl`).
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["-C", self.dir.path().to_str().expect("utf-8 temp path")];
        all.extend_from_slice(args);
        statectl(&all)
    }

    /// Like `run`, with extra environment variables (e.g. `STATECTL_NOW`).
    pub fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut all = vec!["-C", self.dir.path().to_str().expect("utf-8 temp path")];
        all.extend_from_slice(args);
        statectl_with(env, &all)
    }

    /// The state directory `run` uses.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".statectl")
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The outcome of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real binary with these arguments.
pub fn statectl(args: &[&str]) -> Run {
    statectl_with(&[], args)
}

/// Sunday 2026-11-29 02:30 US Eastern: inside prod's maintenance window.
pub const IN_WINDOW: &str = "2026-11-29T07:30:00Z";

/// Runs the real binary with extra environment variables.
pub fn statectl_with(env: &[(&str, &str)], args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_statectl"))
        .args(args)
        .env_remove("STATECTL_PROJECT")
        .env_remove("STATECTL_STATE_DIR")
        .env_remove("STATECTL_NOW")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run statectl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The repository root (where the shipped specs live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub const ENV_DEV: &str = r#"[environment]
name = "dev"
subscription_id = "00000000-0000-4000-8000-000000000001"
region = "eastus"
"#;

pub const ESTATE_SHOP: &str = r#"[estate]
name = "shop"

[objectives]
rto = "4h"
rpo = "1h"

[vars]
product = "shop"

[tags]
environment = "${env.name}"
owner = "team"
cost-center = "cc-1"
"#;

pub const NET_SHOP: &str = r#"[rg]
type = "Microsoft.Resources/resourceGroups"
name = "${var.product}-${env.name}-rg"
properties.location = "${env.region}"

[vnet]
type = "Microsoft.Network/virtualNetworks"
name = "${var.product}-vnet"
properties.resource_group = "${net.rg.name}"
"#;
