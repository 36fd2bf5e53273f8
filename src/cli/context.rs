//! The resolution step: turns raw arguments and the process settings into
//! what handlers need (the project, its workflows, the terminal).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::CliError;
use super::args::Cli;
use super::render::Term;
use crate::clock::Clock;
use crate::model::Stack;
use crate::ops::{Cloud, Ops, Project};
use crate::provider::sim::Sim;
use crate::settings::Settings;
use crate::spec::Loader;

/// Everything a handler needs besides its own arguments.
pub struct Context {
    /// The project and its settings.
    pub project: Project,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl Context {
    /// Resolves the global options against the process settings.
    pub fn new(cli: &Cli, command_line: String, settings: Settings) -> Result<Self, CliError> {
        let state_dir = cli
            .state_dir
            .clone()
            .unwrap_or_else(|| cli.project.join(".statectl"));
        let project = Project {
            root: cli.project.clone(),
            state_dir,
            command_line,
            settings,
        };
        Ok(Context {
            clock: project.clock()?,
            project,
        })
    }

    /// The project folder.
    pub fn root(&self) -> &PathBuf {
        &self.project.root
    }

    /// The spec loader for the project.
    pub fn loader(&self) -> Loader {
        Loader::new(&self.project.root)
    }

    /// The store, which must exist (for commands that only read it).
    pub fn existing_store(&self) -> Result<crate::store::Store, CliError> {
        Ok(crate::store::Store::open_existing(
            &self.project.state_dir,
            self.project.store_options(self.clock.clone()),
        )?)
    }

    /// The workflows over the store (created if needed).
    pub fn ops(&self) -> Result<Ops, CliError> {
        Ok(Ops::open(self.project.clone())?)
    }

    /// The workflows over the store, which must exist.
    pub fn existing_ops(&self) -> Result<Ops, CliError> {
        Ok(Ops::open_existing(self.project.clone())?)
    }

    /// The workflows with the embedded simulator attached.
    pub fn sim_ops(&self, existing: bool) -> Result<Ops<Cloud<Sim>>, CliError> {
        let ops = if existing {
            self.existing_ops()?
        } else {
            self.ops()?
        };
        Ok(ops.with_sim()?)
    }

    /// The terminal side of a workflow, writing to `out`.
    pub fn term<'a>(&self, out: &'a mut dyn Write, no_color: bool, auto_approve: bool) -> Term<'a> {
        let settings = &self.project.settings;
        Term {
            out,
            color: !no_color && !settings.no_color && std::io::stdout().is_terminal(),
            auto_approve,
            bars: std::io::stderr().is_terminal() && !settings.ci,
        }
    }

    /// Validates a stack name pair.
    pub fn stack(&self, estate: &str, env: &str) -> Result<Stack, CliError> {
        Stack::new(estate, env).map_err(|e| CliError::Input(e.to_string()))
    }
}
