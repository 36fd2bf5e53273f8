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

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../util/mod.rs"]
mod util;

mod steps;
mod world;

use std::path::PathBuf;

use cucumber::{World as _, WriterExt as _, writer};

use world::Ops;

#[tokio::main(flavor = "current_thread")]
async fn main() {
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
