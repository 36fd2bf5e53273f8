//! Corrupting bytes of the database file gives a clear error, never a
//! panic: the binary is run on damaged copies of a real store and must exit
//! 0 (the bytes were in free space) or 1 with an `error:` message, never
//! with a panic (101) or a signal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::process::Command;

fn run(state: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_statectl"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flipped_bytes_in_the_database_file_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let root = util::repo_root();
    let root = root.to_str().unwrap();
    // A real store: a release of every estate and some generations.
    for estate in ["chatwoot", "chaufher"] {
        let out = Command::new(env!("CARGO_BIN_EXE_statectl"))
            .args([
                "-C",
                root,
                "--state-dir",
                good.to_str().unwrap(),
                "release",
                "create",
                "v1.0.0",
                "--estate",
                estate,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, err) = run(
        &good,
        &[
            "debug",
            "commit-loop",
            "--estate",
            "e",
            "--env",
            "dev",
            "--count",
            "20",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(good.join("state.redb")).unwrap();

    let mut seed: u64 = 0xDEADBEEFCAFEF00D;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut errors = 0;
    let trials = 40;
    for trial in 0..trials {
        let bad = dir.path().join(format!("bad{trial}"));
        std::fs::create_dir_all(&bad).unwrap();
        let mut b = bytes.clone();
        // Flip 16 bytes anywhere, or zero a whole 4 KiB page.
        if trial % 4 == 3 {
            let page = (next() as usize % (b.len() / 4096)) * 4096;
            b[page..page + 4096].fill(0);
        } else {
            for _ in 0..16 {
                let i = next() as usize % b.len();
                b[i] ^= 0xff;
            }
        }
        std::fs::write(bad.join("state.redb"), &b).unwrap();
        for args in [
            vec!["store", "check"],
            vec!["history", "--estate", "e", "--env", "dev"],
            vec!["state", "pull", "--estate", "e", "--env", "dev"],
            vec!["release", "list", "--estate", "chatwoot"],
        ] {
            let (code, stderr) = run(&bad, &args);
            assert!(
                code == 0 || code == 1,
                "trial {trial} `{}` exited {code} (panic or signal):\n{stderr}",
                args.join(" ")
            );
            if code == 1 {
                errors += 1;
                assert!(
                    stderr.starts_with("error:"),
                    "trial {trial}: unclear error:\n{stderr}"
                );
                assert!(!stderr.contains("panicked"), "trial {trial}: {stderr}");
            }
        }
    }
    assert!(
        errors >= trials / 2,
        "only {errors} commands noticed the damage"
    );
}

/// Issue 15, finding 1: a store that lost a row answers every command with
/// an error that names `store check`, never with a partial state (before:
/// `state list` printed what was left, `plan` proposed to re-create what
/// was lost, and `apply` committed it).
#[test]
fn a_store_missing_a_row_is_an_error_for_every_command_that_relies_on_it() {
    let p = util::Project::copy_of_repo();
    let stack = ["--estate", "chatwoot", "--env", "dev"];
    let r = p.run(
        &[
            &["apply", "--version", "v1.0.0", "--auto-approve"][..],
            &stack,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let history = || p.run(&[&["history", "--json"][..], &stack].concat()).stdout;
    let before = history();
    // Remove one of the 64 rows of generation 1, behind statectl's back.
    {
        let db = redb::Database::open(p.state_dir().join("state.redb")).unwrap();
        let w = db.begin_write().unwrap();
        {
            let rows: redb::TableDefinition<(&str, u64), &[u8]> =
                redb::TableDefinition::new("deltas");
            let mut t = w.open_table(rows).unwrap();
            assert!(t.remove(("chatwoot/dev", 10)).unwrap().is_some());
        }
        w.commit().unwrap();
    }
    for args in [
        vec!["state", "list"],
        vec!["state", "pull"],
        vec!["plan", "--version", "v1.0.0"],
        vec!["apply", "--version", "v1.0.0", "--auto-approve"],
        vec!["drift", "--fix", "--auto-approve"],
        vec!["refresh"],
    ] {
        let r = p.run(&[&args[..], &stack].concat());
        assert_eq!(r.code, 1, "{args:?}: exit {}\n{}", r.code, r.stdout);
        assert!(
            r.stderr
                .contains("is damaged: delta row chatwoot/dev@10 is missing")
                && r.stderr.contains("statectl store check"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(history(), before, "{args:?} recorded a generation");
    }
}
