//! The acceptance World: one operator's view of one stack.
//!
//! Static checks run the library's `verify` on an estate loaded from the
//! specs (the same function `statectl verify` runs). Everything that changes
//! state (applies, rollbacks, drills, drift) drives the real `statectl`
//! binary on a throw-away copy of the project, on the simulator, with time
//! fixed by `STATECTL_NOW` and moved forward as the simulated cloud says.

use std::fmt;
use std::path::PathBuf;

use statectl::model::{
    Address, Estate, Floor, Generation, PolicyException, RestoreReport, Stack, UtcTime,
};
use statectl::spec::Loader;
use statectl::store::{Store, StoreOptions};
use statectl::verify::{self, Evidence, Report, Verdict, inject};

use crate::util::{self, Project};

/// Sunday 2026-11-29 02:30 US Eastern: inside prod's maintenance window.
pub const START: &str = util::IN_WINDOW;

/// A copy of the project to change freely (Debug prints its path).
pub struct WorkingCopy(pub Project);

impl fmt::Debug for WorkingCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkingCopy({})", self.0.path().display())
    }
}

/// What the last command printed and returned.
#[derive(Debug, Clone, Default)]
pub struct Ran {
    /// The command line, for messages.
    pub args: String,
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`statectl {}` exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// A restore drill's measurements, on the simulated clock, as the library
/// recorded them.
#[derive(Debug, Clone)]
pub struct Drill {
    /// What was lost.
    pub lost: Vec<Address>,
    /// Each restore: its backup point, data lost, time taken.
    pub restores: Vec<RestoreReport>,
}

impl Drill {
    /// The longest any restore took: the RTO achieved.
    pub fn elapsed_secs(&self) -> u64 {
        self.restores
            .iter()
            .map(|r| r.elapsed_secs)
            .max()
            .unwrap_or(0)
    }

    /// The most data any restore lost: the RPO achieved.
    pub fn data_loss_secs(&self) -> u64 {
        self.restores
            .iter()
            .map(|r| r.data_loss_secs)
            .max()
            .unwrap_or(0)
    }
}

/// The state of one scenario.
#[derive(Debug, Default, cucumber::World)]
pub struct Ops {
    /// The estate in play.
    pub estate_name: String,
    /// The environment in play.
    pub env: String,
    /// The estate as loaded (and possibly broken by a fault).
    pub estate: Option<Estate>,
    /// Its policy exceptions.
    pub exceptions: Vec<PolicyException>,
    /// The organisation's floor for it (`policy/baseline.toml`).
    pub floor: Floor,
    /// The date exceptions are judged on (`YYYY-MM-DD`); the date of
    /// [`START`] unless a scenario sets it (never the system clock, so a
    /// scenario means the same on any day it runs).
    pub today: Option<String>,
    /// The fault injected: its rule and where it is.
    pub broken: Option<(&'static str, Option<Address>)>,
    /// A working copy of the project, for scenarios that change state.
    pub copy: Option<WorkingCopy>,
    /// `STATECTL_NOW` for the next command.
    pub now: Option<UtcTime>,
    /// The release running (as last applied).
    pub version: String,
    /// The last command run.
    pub last: Option<Ran>,
    /// Generations of the stack before the last command.
    pub generations_before: Option<u64>,
    /// The last drill.
    pub drill: Option<Drill>,
    /// A plan with an action moved before what it needs, and that action.
    pub reordered: Option<(statectl::plan::Plan, Address)>,
}

impl Ops {
    /// Where specs and environments are read from.
    pub fn root(&self) -> PathBuf {
        match &self.copy {
            Some(c) => c.0.path().to_path_buf(),
            None => util::repo_root(),
        }
    }

    /// The date exceptions are judged on: the scenario's, else the date of
    /// [`START`].
    pub fn today(&self) -> String {
        self.today.clone().unwrap_or_else(|| {
            statectl::policy::today(START.parse().expect("START is a valid time"))
        })
    }

    /// Loads `estate` in `env` from the specs.
    pub fn load(&mut self, estate: &str, env: &str) {
        let loader = Loader::new(self.root());
        let e = loader
            .load(estate, env)
            .unwrap_or_else(|e| panic!("cannot load {estate}/{env}: {e}"));
        self.exceptions = loader
            .load_exceptions(estate)
            .unwrap_or_else(|e| panic!("cannot load the exceptions of {estate}: {e}"));
        self.floor = loader
            .load_baseline(&statectl::verify::rule_ids())
            .unwrap_or_else(|e| panic!("cannot load the baseline: {e}"))
            .map(|b| b.floor(estate, env))
            .unwrap_or_default();
        self.estate_name = estate.to_string();
        self.env = env.to_string();
        self.estate = Some(e);
    }

    /// The estate in play.
    pub fn estate(&self) -> &Estate {
        self.estate.as_ref().expect(
            "no estate: start with `Given the \"<estate>\" estate in the \"<env>\" environment`",
        )
    }

    /// Injects a fault into the estate in play.
    pub fn break_estate(&mut self, what: &str) {
        let f = inject::fault(what).unwrap_or_else(|| {
            panic!(
                "no fault reads `{what}`; the faults are:\n{}",
                inject::all()
                    .map(|f| format!("  {}", f.what))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        let broken =
            inject::inject(self.estate(), &self.floor, f.id).unwrap_or_else(|e| panic!("{e}"));
        self.estate = Some(broken.estate);
        self.broken = Some((f.rule, broken.address));
    }

    /// Runs every check, with the exceptions and the drills the working
    /// copy's store recorded: the restores `statectl verify` reads, as the
    /// library measured them (one definition of a drill's RTO and RPO).
    pub fn report(&self) -> Report {
        let drills = match self.store() {
            Some(store) => store
                .restores(&self.stack())
                .unwrap_or_else(|e| panic!("cannot read the drills: {e}")),
            None => Vec::new(),
        };
        verify::verify(
            self.estate(),
            &self.exceptions,
            &self.today(),
            &Evidence {
                drills: &drills,
                baseline: Some(&self.floor),
                drill_age: None,
                previous: None,
            },
        )
    }

    /// Findings of `rule` that stand (not excepted), as text.
    pub fn standing(&self, report: &Report, rule: &str) -> Vec<String> {
        assert!(
            verify::rule(rule).is_some(),
            "no rule `{rule}`; the rules are: {}",
            verify::RULES
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
                .join(", ")
        );
        report
            .findings
            .iter()
            .filter(|(f, o)| f.rule == rule && !matches!(o, Verdict::Excepted { .. }))
            .map(|(f, o)| {
                format!(
                    "{} {}: {} ({o:?})",
                    f.rule,
                    f.address.as_ref().map_or("-".into(), ToString::to_string),
                    f.message
                )
            })
            .collect()
    }

    /// Asserts that none of `rules` has a standing finding.
    pub fn assert_pass(&self, rules: &[&str]) {
        let report = self.report();
        let standing: Vec<String> = rules
            .iter()
            .flat_map(|r| self.standing(&report, r))
            .collect();
        assert!(
            standing.is_empty(),
            "{}/{}: {} finding(s):\n  {}",
            self.estate_name,
            self.env,
            standing.len(),
            standing.join("\n  ")
        );
    }

    /// The working copy (made on first use from the repository).
    pub fn copy(&mut self) -> &Project {
        &self
            .copy
            .get_or_insert_with(|| WorkingCopy(Project::copy_of_repo()))
            .0
    }

    /// Runs the binary in the working copy at the scenario's time.
    pub fn run(&mut self, args: &[&str]) -> Ran {
        let now = self
            .now
            .get_or_insert_with(|| START.parse().expect("START is a valid time"))
            .to_string();
        self.generations_before = self.generation_count();
        let p = self.copy();
        let r = p.run_with(&[("STATECTL_NOW", now.as_str())], args);
        let ran = Ran {
            args: args.join(" "),
            code: r.code,
            stdout: r.stdout,
            stderr: r.stderr,
        };
        self.last = Some(ran.clone());
        ran
    }

    /// Runs and requires success.
    pub fn run_ok(&mut self, args: &[&str]) -> Ran {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{r}");
        r
    }

    /// The store of the working copy (opened for one read).
    pub fn store(&self) -> Option<Store> {
        let c = self.copy.as_ref()?;
        Store::open_existing(&c.0.state_dir(), StoreOptions::default()).ok()
    }

    /// The stack in play.
    pub fn stack(&self) -> Stack {
        Stack::new(&self.estate_name, &self.env).expect("valid stack name")
    }

    /// The latest generation of the stack in play.
    pub fn latest(&self) -> Option<Generation> {
        self.store()?.latest_generation(&self.stack()).ok()?
    }

    /// How many generations the stack has.
    pub fn generation_count(&self) -> Option<u64> {
        self.latest().map(|g| g.number)
    }

    /// Applies `version` to `env` (within the maintenance window, as a
    /// change would be), requires success, and moves time to its end.
    pub fn apply(&mut self, env: &str, version: &str, extra: &[&str]) -> Ran {
        let estate = self.estate_name.clone();
        let mut args = vec![
            "apply",
            "--estate",
            &estate,
            "--env",
            env,
            "--version",
            version,
            "--auto-approve",
        ];
        args.extend_from_slice(extra);
        let r = self.run_ok(&args);
        self.env = env.to_string();
        self.version = version.to_string();
        if let Some(g) = self.latest() {
            self.now = Some(g.ended_at);
        }
        r
    }

    /// The environments a release passes through to reach `env`, in order
    /// (its `promote_from` chain).
    pub fn promotion_chain(&self, env: &str) -> Vec<String> {
        let loader = Loader::new(self.root());
        let mut chain = vec![env.to_string()];
        let mut cur = env.to_string();
        while let Some(up) = loader
            .load_environment(&cur)
            .unwrap_or_else(|e| panic!("{e}"))
            .promote_from
        {
            assert!(!chain.contains(&up), "promotion cycle through {up}");
            chain.push(up.clone());
            cur = up;
        }
        chain.reverse();
        chain
    }

    /// Promotes `version` through every environment up to `env`.
    pub fn promote(&mut self, version: &str, env: &str) {
        self.promote_with(version, env, &[]);
    }

    /// Promotes `version` to `env` with extra apply arguments at every
    /// gated step (e.g. `--skip-gate --reason ...`).
    pub fn promote_with(&mut self, version: &str, env: &str, extra: &[&str]) {
        for e in self.promotion_chain(env) {
            self.apply(&e, version, extra);
        }
        self.load_from_copy(env);
    }

    /// Tries to promote `version` to `env` without overrides; returns the
    /// first refused apply, if one is.
    pub fn try_promote(&mut self, version: &str, env: &str) -> Option<Ran> {
        let estate = self.estate_name.clone();
        for e in self.promotion_chain(env) {
            self.env = e.clone();
            let r = self.run(&[
                "apply",
                "--estate",
                &estate,
                "--env",
                &e,
                "--version",
                version,
                "--auto-approve",
            ]);
            if r.code != 0 {
                return Some(r);
            }
        }
        None
    }

    /// Loads the estate in play from the working copy.
    pub fn load_from_copy(&mut self, env: &str) {
        let estate = self.estate_name.clone();
        self.load(&estate, env);
    }

    /// Loses `lost` at `after` past the current time and restores them with
    /// an emergency `--replace` apply of the running release.
    /// With `must_succeed` false the restore may fail (the scenario then
    /// checks how), and no drill is recorded.
    pub fn drill(&mut self, lost: Vec<Address>, after_secs: i64, must_succeed: bool) {
        assert!(!lost.is_empty(), "nothing to lose");
        let lost_at = UtcTime(self.now.expect("apply a release first").0 + after_secs * 1000);
        self.now = Some(lost_at);
        let env = self.env.clone();
        for a in &lost {
            let key = a.to_string();
            self.run_ok(&["sim", "delete", &key, "--env", &env]);
        }
        let estate = self.estate_name.clone();
        let version = self.version.clone();
        let mut args: Vec<String> = [
            "apply",
            "--estate",
            &estate,
            "--env",
            &env,
            "--version",
            &version,
            "--auto-approve",
            "--allow-data-loss",
            "--emergency",
            "--reason",
            "restore drill",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        for a in &lost {
            args.extend([
                "--target".into(),
                a.to_string(),
                "--replace".into(),
                a.to_string(),
            ]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        if !must_succeed {
            self.run(&refs);
            return;
        }
        self.run_ok(&refs);
        let g = self.latest().expect("the restore made a generation");
        self.now = Some(g.ended_at);
        let restored: Vec<&Address> = g.restores.iter().map(|r| &r.address).collect();
        for a in &lost {
            assert!(
                restored.contains(&a),
                "{a} was not restored from a backup; restores: {restored:?}"
            );
        }
        self.drill = Some(Drill {
            lost,
            restores: g.restores.clone(),
        });
    }
}
