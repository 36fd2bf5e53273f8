//! The resolution step: turns raw arguments into what handlers need (project,
//! state directory, clock, actor). This is the only place the environment
//! (`STATECTL_*`, `USER`, CI variables) is read.

use std::path::PathBuf;
use std::sync::Arc;

use super::CliError;
use super::args::Cli;
use crate::clock::{self, Clock};
use crate::model::Stack;
use crate::spec::Loader;
use crate::store::{Actor, Store, StoreOptions};

/// Everything a handler needs besides its own arguments.
pub struct Context {
    /// The project folder.
    pub project: PathBuf,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The command line, for audit records.
    pub command_line: String,
}

impl Context {
    /// Resolves the global options.
    pub fn new(cli: &Cli, command_line: String) -> Result<Self, CliError> {
        let state_dir = cli
            .state_dir
            .clone()
            .unwrap_or_else(|| cli.project.join(".statectl"));
        Ok(Context {
            project: cli.project.clone(),
            state_dir,
            clock: clock::from_env()?,
            command_line,
        })
    }

    /// The spec loader for the project.
    pub fn loader(&self) -> Loader {
        Loader::new(&self.project)
    }

    fn options(&self) -> StoreOptions {
        StoreOptions {
            clock: self.clock.clone(),
            key_file: std::env::var_os("STATECTL_KEY_FILE").map(PathBuf::from),
        }
    }

    /// Opens (creating if needed) the state store.
    pub fn store(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.state_dir, self.options())?)
    }

    /// Opens the state store, which must exist.
    pub fn existing_store(&self) -> Result<Store, CliError> {
        Ok(Store::open_existing(&self.state_dir, self.options())?)
    }

    /// Who is running this command.
    pub fn actor(&self) -> Actor {
        Actor::from_env(&self.command_line)
    }

    /// Validates a stack name pair.
    pub fn stack(&self, estate: &str, env: &str) -> Result<Stack, CliError> {
        Stack::new(estate, env).map_err(|e| CliError::Input(e.to_string()))
    }
}
