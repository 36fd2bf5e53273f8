//! Raw command-line arguments, as clap fills them. No I/O happens here; the
//! command handlers resolve these into what they need.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// statectl: versioned desired and observed state for Azure estates.
#[derive(Debug, Parser)]
#[command(
    name = "statectl",
    version,
    about = "A declarative, versioned state store for Azure estates, with plan, apply, rollback and verification",
    long_about = None,
    after_help = "Examples:\n  statectl validate                                  # every estate in every environment\n  statectl estates                                   # what this project describes\n  statectl graph --estate chatwoot --env prod | dot -Tsvg > graph.svg"
)]
pub struct Cli {
    /// The project folder holding specs/ and environments/.
    #[arg(
        short = 'C',
        long,
        global = true,
        env = "STATECTL_PROJECT",
        default_value = ".",
        value_name = "DIR"
    )]
    pub project: PathBuf,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every statectl command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the specs: syntax, keys, types, references, cycles, for every estate and environment.
    #[command(
        after_help = "Exit status: 0 all valid, 1 some spec is invalid (errors on stderr), 2 usage error.\n\nExamples:\n  statectl validate\n  statectl validate --estate chatwoot --env prod"
    )]
    Validate(Selection),

    /// Print the dependency graph of one estate in one environment as Graphviz DOT.
    #[command(
        after_help = "An edge A -> B means A depends on B: B is created first and deleted last.\n\nExample:\n  statectl graph --estate chatwoot --env prod | dot -Tsvg > chatwoot-prod.svg"
    )]
    Graph(Stack),

    /// List the estates with their environments and resource counts.
    #[command(after_help = "Example:\n  statectl estates --json")]
    Estates(JsonFlag),

    /// List the resource types statectl knows, with their catalog facts.
    #[command(after_help = "Example:\n  statectl types | grep Network")]
    Types(JsonFlag),
}

/// Which estates and environments to act on (all by default).
#[derive(Debug, Args)]
pub struct Selection {
    /// Only this estate (a folder under specs/).
    #[arg(long, value_name = "ESTATE")]
    pub estate: Option<String>,
    /// Only this environment (a file under environments/).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
}

/// One stack: an estate in an environment.
#[derive(Debug, Args)]
pub struct Stack {
    /// The estate (a folder under specs/).
    #[arg(long, value_name = "ESTATE")]
    pub estate: String,
    /// The environment (a file under environments/).
    #[arg(long, value_name = "ENV")]
    pub env: String,
}

/// Output format switch.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
