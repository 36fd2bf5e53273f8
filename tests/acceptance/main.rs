//! The Gherkin acceptance suite: every guarantee the seeds state, as
//! executable features (features/*.feature), run by cucumber against the
//! whole estate.
//!
//! `cargo test --test acceptance` runs every feature and fails on any failed
//! or skipped step (a step without a definition is skipped, and counts as
//! a failure here). Settings, by environment variable (cargo's test
//! arguments are not ours to parse):
//!
//! - `STATECTL_FEATURES=DIR`: run the features in DIR instead of features/
//!   (your own features, written with this step library);
//! - `STATECTL_JUNIT=FILE`: also write a JUnit XML report to FILE;
//! - `STATECTL_SCENARIO=TEXT`: run only scenarios whose name contains TEXT.
//!
//! Before the suite runs as usual, it runs once more in a child process
//! whose system clock reads 2027-07-02 (libfaketime, Debian package
//! `faketime`; `.ci/run` installs it): a scenario must mean the same on any
//! day it runs (exceptions that expire 2027-06-30 included), so nothing may
//! take "today" from the system clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../util/mod.rs"]
mod util;

mod steps;
mod world;

use std::path::{Path, PathBuf};

use cucumber::{World as _, WriterExt as _, writer};

use world::Ops;

/// Set in the child that runs the suite with the system clock moved.
const CLOCK_VAR: &str = "STATECTL_ACCEPTANCE_SYSTEM_CLOCK";
/// The day the child's system clock reads: after exceptions the specs
/// hold expire (2027-06-30).
const LATER: &str = "2027-07-02 12:00:00";

/// libfaketime, where Debian installs it.
fn libfaketime() -> Option<PathBuf> {
    ["x86_64-linux-gnu", "aarch64-linux-gnu", ""]
        .iter()
        .map(|arch| {
            Path::new("/usr/lib")
                .join(arch)
                .join("faketime/libfaketime.so.1")
        })
        .find(|p| p.is_file())
}

/// libfaketime, installed from Debian's packages when it is missing and
/// this process may (as the mirror tests install Azurite from npm).
fn install_libfaketime() -> Option<PathBuf> {
    if let Some(p) = libfaketime() {
        return Some(p);
    }
    println!("acceptance: libfaketime is missing; installing Debian's `faketime`");
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !apt(&["install", "-y", "-qq", "faketime"]) {
        apt(&["update", "-qq"]);
        apt(&["install", "-y", "-qq", "faketime"]);
    }
    libfaketime()
}

/// Runs this suite in a child whose system clock reads [`LATER`] (the
/// statectl processes it starts inherit the clock); exits 1 if it fails.
fn run_with_system_clock_later() {
    let lib = install_libfaketime().unwrap_or_else(|| {
        panic!("libfaketime is not installed and could not be: run `sudo apt-get install faketime` (Debian), as .ci/run does; the suite proves it does not depend on today's date by running with the system clock at {LATER}")
    });
    println!(
        "acceptance: every scenario with the system clock at {LATER} (libfaketime), then as usual"
    );
    let exe = std::env::current_exe().expect("the test binary's path");
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("LD_PRELOAD", lib)
        .env("FAKETIME", format!("@{LATER}"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env(CLOCK_VAR, LATER)
        .status()
        .expect("start the suite under libfaketime");
    if !status.success() {
        eprintln!(
            "error: the acceptance suite fails with the system clock at {LATER}: a scenario depends on today's date"
        );
        std::process::exit(1);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::var_os(CLOCK_VAR).is_none() {
        run_with_system_clock_later();
    }
    let features = std::env::var_os("STATECTL_FEATURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::repo_root().join("features"));
    if !features.exists() {
        eprintln!(
            "error: no features at {} (set STATECTL_FEATURES to a folder of .feature files)",
            features.display()
        );
        std::process::exit(2);
    }
    let only = std::env::var("STATECTL_SCENARIO").unwrap_or_default();
    let filter = move |_: &cucumber::gherkin::Feature,
                       _: Option<&cucumber::gherkin::Rule>,
                       s: &cucumber::gherkin::Scenario| {
        only.is_empty() || s.name.contains(&only)
    };
    // Scenarios that drive the binary are mostly waiting on it; a few run
    // at once without oversubscribing a small CI machine.
    let parallel = 4;
    match std::env::var_os("STATECTL_JUNIT") {
        Some(path) => {
            let file = std::fs::File::create(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot create the JUnit report {}: {e}",
                    PathBuf::from(&path).display()
                )
            });
            Ops::cucumber()
                .max_concurrent_scenarios(parallel)
                .with_writer(
                    writer::Basic::stdout()
                        .summarized()
                        .tee::<Ops, _>(writer::JUnit::for_tee(file, 0))
                        .normalized(),
                )
                .fail_on_skipped()
                .with_default_cli()
                .filter_run_and_exit(features, filter)
                .await;
        }
        None => {
            Ops::cucumber()
                .max_concurrent_scenarios(parallel)
                .fail_on_skipped()
                .with_default_cli()
                .filter_run_and_exit(features, filter)
                .await;
        }
    }
}
