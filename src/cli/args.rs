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

    /// The state directory (holds state.redb); default `<project>/.statectl`.
    #[arg(long, global = true, env = "STATECTL_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

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

    /// Create, list and show releases: immutable versions of an estate's desired state.
    #[command(subcommand)]
    Release(ReleaseCommand),

    /// Show the observed generations of a stack: release, outcome, actor, time.
    #[command(after_help = "Example:\n  statectl history --estate chatwoot --env prod")]
    History(HistoryArgs),

    /// Inspect, export and import observed state.
    #[command(subcommand)]
    State(StateCommand),

    /// Show the append-only audit log: who, what, when, where, why, how.
    #[command(
        after_help = "Examples:\n  statectl audit\n  statectl audit --estate chatwoot --env prod --json"
    )]
    Audit(AuditArgs),

    /// Maintain the state store file.
    #[command(subcommand)]
    Store(StoreCommand),

    /// Remove a stack lock left behind by a process that is gone (audited).
    #[command(
        after_help = "A lock held by a running process cannot be forced: stop that process first.\n\nExample:\n  statectl force-unlock --estate chatwoot --env prod --reason \"runner died\""
    )]
    ForceUnlock(ForceUnlockArgs),

    /// Developer tools for tests and benchmarks.
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

/// `statectl release ...`
#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Snapshot the estate's desired state, in every environment, as VERSION.
    #[command(
        after_help = "Creating an existing version with the same content does nothing; with different content it is refused.\n\nExample:\n  statectl release create v1.2.0 --estate chatwoot"
    )]
    Create {
        /// A semantic version, e.g. v1.2.0.
        version: String,
        /// The estate.
        #[arg(long)]
        estate: String,
    },
    /// List the releases of an estate.
    #[command(after_help = "Example:\n  statectl release list --estate chatwoot")]
    List {
        /// The estate.
        #[arg(long)]
        estate: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one release: its content digest, environments and resources.
    #[command(after_help = "Example:\n  statectl release show v1.2.0 --estate chatwoot --env prod")]
    Show {
        /// The version.
        version: String,
        /// The estate.
        #[arg(long)]
        estate: String,
        /// List this environment's resources.
        #[arg(long)]
        env: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `statectl history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: Stack,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `statectl state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the resource addresses in a generation (default the latest).
    #[command(after_help = "Example:\n  statectl state list --estate chatwoot --env prod")]
    List {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// The generation (default the latest).
        #[arg(long)]
        generation: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one observed resource.
    #[command(
        after_help = "Sensitive attributes print as (sensitive) unless --show-sensitive is given.\n\nExample:\n  statectl state show data.redis --estate chatwoot --env prod"
    )]
    Show {
        /// The resource address, e.g. data.redis.
        address: String,
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// The generation (default the latest).
        #[arg(long)]
        generation: Option<u64>,
        /// Print secret values in clear.
        #[arg(long)]
        show_sensitive: bool,
    },
    /// Print a generation as JSON (a backup, like `terraform state pull`).
    #[command(
        after_help = "Example:\n  statectl state pull --estate chatwoot --env prod > backup.json"
    )]
    Pull {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// The generation (default the latest).
        #[arg(long)]
        generation: Option<u64>,
        /// Print secret values in clear.
        #[arg(long)]
        show_sensitive: bool,
    },
    /// Import a state file written by `state pull` (audited).
    #[command(
        after_help = "Refused if the stack already has this or a newer generation, unless --force.\n\nExample:\n  statectl state push backup.json --estate chatwoot --env prod"
    )]
    Push {
        /// The JSON file.
        file: PathBuf,
        /// The stack (must match the file).
        #[command(flatten)]
        stack: Stack,
        /// Push even over newer state (becomes the next generation).
        #[arg(long)]
        force: bool,
        /// Seconds to wait for the stack lock.
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        lock_timeout: u64,
    },
}

/// `statectl audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this estate.
    #[arg(long)]
    pub estate: Option<String>,
    /// Only this environment (with --estate).
    #[arg(long, requires = "estate")]
    pub env: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `statectl store ...`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Verify everything: engine checksums, every record, every object against its digest, every tree.
    #[command(
        after_help = "Exit status 0 when sound, 1 when damaged.\n\nExample:\n  statectl store check"
    )]
    Check,
    /// Reclaim free space in the database file.
    #[command(after_help = "Example:\n  statectl store compact")]
    Compact,
}

/// `statectl force-unlock`
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: Stack,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

/// Hidden developer commands.
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Commit COUNT one-resource generations, printing `acked N` after each
    /// durable commit (the crash test kills this).
    CommitLoop {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// How many generations.
        #[arg(long, default_value_t = 1000)]
        count: u64,
    },
    /// Take a stack's lock, print `locked`, and hold it for SECONDS (the
    /// lock tests kill this).
    HoldLock {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// How long to hold it.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
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
