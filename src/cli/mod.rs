//! The command line: parses arguments, calls the library, prints results and
//! maps errors to exit codes.
//!
//! This is the only module that prints. Handlers return [`CliError`]; `run`
//! renders it (with its cause chain) on stderr and turns it into the exit
//! status: 0 success, 1 a failure the user can fix in their input or
//! environment, 2 a usage error (clap's own code).

mod apply_cmds;
mod args;
mod commands;
mod context;
mod mirror_cmds;
mod render;
mod store_cmds;
mod verify_cmd;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};

use crate::ops::OpsError;
use crate::spec::{SpecError, SpecErrors};
use crate::store::StoreError;

/// Everything a command can fail with, and the exit code each maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Invalid specs (rendered with their source lines by `run`).
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    /// Some checks failed; the handler printed them.
    #[error("{0}")]
    Failed(String),
    /// Writing output failed (e.g. a closed pipe).
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
    /// The state store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `STATECTL_NOW` does not parse.
    #[error(transparent)]
    Clock(#[from] crate::clock::NowError),
    /// An argument is well-formed for clap but not valid here.
    #[error("{0}")]
    Input(String),
    /// A workflow stopped.
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// The simulator failed or refused.
    #[error(transparent)]
    Sim(#[from] crate::provider::sim::SimError),
    /// `--detailed-exitcode` found changes (exit 2, not an error).
    #[error("")]
    Changes,
}

impl From<SpecError> for CliError {
    fn from(e: SpecError) -> Self {
        CliError::Spec(e.into())
    }
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Changes => 2,
            _ => 1,
        }
    }

    /// The spec errors inside, to render with their source lines.
    fn specs(&self) -> Option<&SpecErrors> {
        match self {
            CliError::Spec(s) => Some(s),
            CliError::Ops(o) => o.spec_errors(),
            _ => None,
        }
    }
}

/// Panics inside contained storage-engine calls become errors and print
/// nothing here; any other panic is a bug in statectl and says so in one line.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if crate::store::guard::in_engine() {
            return;
        }
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("error: bug in statectl: {msg}{location}; please report it");
    }));
}

/// Runs statectl with these arguments (the first is the program name).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    install_panic_hook();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command_line = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = context::Context::new(&cli, command_line, crate::settings::Settings::from_env())
        .and_then(|ctx| commands::dispatch(&cli, &ctx, &mut out));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`statectl ... | head`) is not an error.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            let mut err = std::io::stderr().lock();
            match &e {
                CliError::Changes => {}
                e if e.specs().is_some() => {
                    if let Some(specs) = e.specs() {
                        let _ = writeln!(err, "{}", specs.render());
                    }
                }
                other => {
                    let _ = writeln!(err, "error: {other}");
                    let mut source = std::error::Error::source(other);
                    while let Some(s) = source {
                        let _ = writeln!(err, "  caused by: {s}");
                        source = s.source();
                    }
                }
            }
            ExitCode::from(e.exit_code())
        }
    }
}
