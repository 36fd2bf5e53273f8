//! Crash test: a child process commits generations and is killed with
//! SIGKILL at random moments. After each kill the store must open, pass the
//! full integrity check, and hold exactly the generations that were
//! acknowledged (plus, at most, the one whose commit finished just before
//! the kill, before its acknowledgement was printed), each with exactly the
//! content it was committed with.
//!
//! Two workloads: one-resource generations (100 trials by default; set
//! STATECTL_CRASH_TRIALS for more), and 300-row generations that make the
//! store fold its rows into a checkpoint every fourth commit, moving rows
//! between `deltas` and `folded_deltas` (a quarter as many trials).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use statectl::model::{Stack, Value};
use statectl::store::{Store, StoreOptions};

/// What generation `n` must hold when each wrote `rows` rows: for each slot
/// j in 0..50, the newest k <= n with k % 50 == j wrote property n = k; and
/// generation n itself wrote `b.r0` .. `b.r<rows-2>` (see `debug
/// commit-loop`).
fn expected(n: u64, rows: u64) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for k in 1..=n {
        m.insert(format!("m.r{}", k % 50), k as i64);
    }
    if n > 0 {
        for j in 0..rows.saturating_sub(1) {
            m.insert(format!("b.r{j}"), n as i64);
        }
    }
    m
}

fn trials(divisor: u64) -> u64 {
    std::env::var("STATECTL_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(100)
        .div_ceil(divisor)
}

#[test]
fn sigkill_during_commits_loses_nothing_acknowledged() {
    run_trials(trials(1), 1, 5..65);
}

#[test]
fn sigkill_during_folds_loses_nothing_acknowledged() {
    run_trials(trials(4), 300, 20..300);
}

/// Kills `debug commit-loop --rows ROWS` after a delay drawn from
/// `delay_ms`, `trials` times, checking the store after each kill.
fn run_trials(trials: u64, rows: u64, delay_ms: std::ops::Range<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let stack = Stack::new("crash", "dev").unwrap();
    let mut acked_total = 0u64;
    // A small deterministic generator for kill delays (no extra dependency).
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut kills_after_commits = 0;
    // Checkpoints reached (at least one per 1,024 rows folded).
    let mut folds = 0;
    for trial in 0..trials {
        let mut child = Command::new(env!("CARGO_BIN_EXE_statectl"))
            .args([
                "--state-dir",
                state.to_str().unwrap(),
                "debug",
                "commit-loop",
                "--estate",
                "crash",
                "--env",
                "dev",
                "--count",
                "1000000",
                "--rows",
                &rows.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let acked = Arc::new(Mutex::new(0u64));
        let acked2 = acked.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line
                    .strip_prefix("acked ")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    *acked2.lock().unwrap() = n;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(
            delay_ms.start + next() % (delay_ms.end - delay_ms.start),
        ));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        let acked_now = *acked.lock().unwrap();
        if acked_now > acked_total {
            kills_after_commits += 1;
        }
        acked_total = acked_total.max(acked_now);

        let mut store = Store::open(&state, StoreOptions::default())
            .unwrap_or_else(|e| panic!("trial {trial}: store does not open after kill: {e}"));
        let report = store.check().unwrap();
        assert!(
            report.problems.is_empty(),
            "trial {trial}: integrity problems: {:?}",
            report.problems
        );
        let gens = store.generations(&stack).unwrap();
        let latest = gens.last().map_or(0, |g| g.number);
        folds = gens.last().map_or(0, |g| g.base.seq / 1024).max(folds);
        assert!(
            latest >= acked_total && latest <= acked_total + 1,
            "trial {trial}: acked {acked_total}, store holds {latest}"
        );
        // No gaps.
        for (i, g) in gens.iter().enumerate() {
            assert_eq!(g.number, i as u64 + 1, "trial {trial}: gap in generations");
        }
        // Contents: the latest, and one older generation chosen at random.
        let mut check = vec![latest];
        if latest > 1 {
            check.push(1 + next() % (latest - 1));
        }
        for n in check.into_iter().filter(|n| *n > 0) {
            let g = &gens[n as usize - 1];
            let got: BTreeMap<String, i64> = store
                .observed(g)
                .unwrap()
                .into_iter()
                .map(|(a, r)| {
                    (
                        a.to_string(),
                        match r.properties["n"] {
                            Value::Int(i) => i,
                            _ => -1,
                        },
                    )
                })
                .collect();
            assert_eq!(
                got,
                expected(n, rows),
                "trial {trial}: generation {n} content"
            );
        }
        // The next trial continues from here: the acknowledged count now
        // includes a possibly unacknowledged last commit.
        acked_total = latest;
    }
    assert!(
        kills_after_commits >= trials / 4,
        "only {kills_after_commits} of {trials} kills landed after commits had started: the test is not exercising crashes"
    );
    if rows > 1 {
        assert!(
            folds >= 3,
            "the stack reached only {folds} checkpoints: the test is not exercising folds"
        );
    }
    eprintln!(
        "{trials} SIGKILL trials (rows per generation: {rows}), {kills_after_commits} during commit streams, {acked_total} generations committed"
    );
}
