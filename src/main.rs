//! The `statectl` binary: everything lives in the library; this only hands
//! the process arguments to [`statectl::cli::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    statectl::cli::run(std::env::args_os())
}
