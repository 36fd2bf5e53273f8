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

    /// Show what applying a release would change, without changing anything.
    #[command(
        after_help = "Exit status: 0 success (with --detailed-exitcode: 0 no changes, 2 changes), 1 error or blocked actions.\n\nA plan only reads this store. With a mirror configured it warns (on stderr) when another machine applied since this store last saw the mirror; `statectl apply` takes those generations in before it plans.\n\nExamples:\n  statectl plan --estate chatwoot --env prod --version v1.2.0\n  statectl plan --estate chatwoot --env prod --version v1.2.0 --json > tfplan.json\n  statectl plan --estate chatwoot --env prod --version v1.2.0 --out plan.json"
    )]
    Plan(PlanArgs),

    /// Plan and apply a release (or a saved plan) to a stack.
    #[command(
        after_help = "The release is created from the working tree if it does not exist yet. Without --auto-approve the plan is shown and confirmed interactively. In gated environments (promote_from) the release must have succeeded upstream and pass `statectl verify` here. With a mirror configured, the apply first takes in the stack's newer generations from the mirror when another machine applied since (--no-pull skips that), then holds the stack's lease in the mirror (another machine's apply is refused, naming it), refuses if the mirror is still ahead of this store (run `statectl mirror restore`), and pushes the new generation when it commits.\n\nExamples:\n  statectl apply --estate chatwoot --env dev --version v1.0.0 --auto-approve\n  statectl apply --estate chatwoot --env prod --target module.data --replace data.postgres --allow-data-loss --reason INC-42\n  statectl apply --plan plan.json --auto-approve\n  statectl apply --estate chatwoot --env dev --resume --auto-approve"
    )]
    Apply(ApplyArgs),

    /// Roll a stack back to an earlier release that was applied successfully.
    #[command(
        after_help = "Rollback never deletes a resource that holds data: resources added since are kept and reported, unless --allow-data-loss. It is a normal generation in history and audit, marked as a rollback with its reason (required in prod). With a mirror configured, it first takes in the stack's generations another machine pushed since, so the target is chosen from the latest state (--list only warns).\n\nExamples:\n  statectl rollback --estate chatwoot --env staging --list\n  statectl rollback --estate chatwoot --env staging --auto-approve\n  statectl rollback --estate chatwoot --env prod --to v1.1.0 --reason INC-42 --emergency"
    )]
    Rollback(RollbackArgs),

    /// Compare what the cloud holds with what statectl recorded: changes, deletions and unmanaged resources.
    #[command(
        after_help = "Exit status: 0 no drift, 2 drift, 1 error. With --fix, plans and applies what brings the cloud back to the last applied release (the normal apply path, same safety rules). With a mirror, --fix first takes in generations another machine pushed; without --fix, a stale record is a warning.\n\nExamples:\n  statectl drift --estate chatwoot --env prod\n  statectl drift --estate chatwoot --env prod --json\n  statectl drift --estate chatwoot --env dev --fix --auto-approve"
    )]
    Drift(DriftArgs),

    /// Record what the cloud holds now as a new generation (kind refresh).
    #[command(
        after_help = "Observed state only changes when you ask: drift never records anything. With a mirror, a refresh first takes in generations another machine pushed, holds the stack's lease and pushes its generation, as an apply does.\n\nExample:\n  statectl refresh --estate chatwoot --env dev"
    )]
    Refresh(RefreshArgs),

    /// Delete every resource of a stack (refused in prod without an exception).
    #[command(
        after_help = "With a mirror, first takes in generations another machine pushed, so what is destroyed is the latest state.\n\nExample:\n  statectl destroy --estate chatwoot --env dev --allow-data-loss --auto-approve"
    )]
    Destroy(DestroyArgs),

    /// Inspect and disturb the simulated Azure control plane (the embedded default provider).
    #[command(subcommand)]
    Sim(SimCommand),

    /// Check the documented guarantees (tags, private access, ordering, RTO/RPO, cost, security, identities, alerts, production rules) against the baseline in policy/baseline.toml.
    #[command(
        after_help = "Every stack is judged against the organisation's baseline in policy/baseline.toml: a declaration looser than it (an RPO, a window, a switch of the environment, a required role assignment removed) is a finding no estate exception covers. Findings covered by an unexpired exception in specs/<estate>/exceptions.toml are excepted; an expired exception no longer applies. With --observed, the same rules judge what the provider reports now (a portal change that breaks a guarantee fails here; drift --fix puts it back). Exit status: 0 all pass, 1 findings.\n\nExamples:\n  statectl verify\n  statectl verify --estate chatwoot --env prod --rule private.endpoint\n  statectl verify --json > verify.json\n  statectl verify --junit verify-junit.xml\n  statectl verify --estate chatwoot --env prod --observed"
    )]
    Verify(VerifyArgs),

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

    /// The encrypted remote copy of the state: push, status, restore, check.
    #[command(subcommand)]
    Mirror(MirrorCommand),

    /// The key that seals the mirror: create it, rotate it.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Remove a stack lock left behind by a process that is gone (audited).
    #[command(
        after_help = "A lock held by a running process cannot be forced: stop that process first.\n\nExample:\n  statectl force-unlock --estate chatwoot --env prod --reason \"runner died\""
    )]
    ForceUnlock(ForceUnlockArgs),

    /// Developer tools for tests and benchmarks.
    #[command(subcommand, hide = true)]
    Debug(DebugCommand),
}

/// What to plan.
#[derive(Debug, Args)]
pub struct PlanSelection {
    /// The estate.
    #[arg(long)]
    pub estate: Option<String>,
    /// The environment.
    #[arg(long)]
    pub env: Option<String>,
    /// The release, e.g. v1.2.0 (read from the working tree if not stored yet).
    #[arg(long)]
    pub version: Option<String>,
    /// Only these resources (`data.postgres`) or modules (`module.data`), and what they need.
    #[arg(long = "target", value_name = "ADDR|module.M")]
    pub targets: Vec<String>,
    /// Replace these even if unchanged (emergency restore).
    #[arg(long = "replace", value_name = "ADDR|module.M")]
    pub replace: Vec<String>,
    /// Allow deleting or replacing resources that hold data or have prevent_destroy.
    #[arg(long)]
    pub allow_data_loss: bool,
}

/// `statectl plan`
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What to plan.
    #[command(flatten)]
    pub sel: PlanSelection,
    /// Print the plan as JSON on one line, in the shape of `terraform show -json` (for terraform-compliance, conftest).
    #[arg(long)]
    pub json: bool,
    /// Save the plan to FILE, for `statectl apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// No ANSI colors (also NO_COLOR).
    #[arg(long)]
    pub no_color: bool,
}

/// `statectl apply`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// What to apply.
    #[command(flatten)]
    pub sel: PlanSelection,
    /// Apply this saved plan instead (refused if observed state moved since).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["version", "targets", "replace"])]
    pub plan: Option<PathBuf>,
    /// Confirmation, lock wait, colors.
    #[command(flatten)]
    pub confirm: Confirm,
    /// Most operations in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub parallelism: u16,
    /// Why, and whether outside the maintenance window.
    #[command(flatten)]
    pub why: Why,
    /// Finish an interrupted apply: reconcile its journal with the provider, then apply again.
    #[arg(long)]
    pub resume: bool,
    /// Apply a release that has not succeeded upstream yet, or fails `statectl verify` here (needs --reason; audited).
    #[arg(long)]
    pub skip_gate: bool,
    /// Do not take in newer generations from the mirror before planning
    /// (the apply is then refused if the mirror is ahead of this store).
    #[arg(long)]
    pub no_pull: bool,
}

/// `statectl verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Which estates and environments (all by default).
    #[command(flatten)]
    pub sel: Selection,
    /// Only these rules (repeatable), e.g. tags.required.
    #[arg(long = "rule", value_name = "RULE", value_parser = clap::builder::PossibleValuesParser::new(crate::verify::RULES.iter().map(|r| r.id)))]
    pub rules: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write JUnit XML to FILE, for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Judge what the cloud holds now instead of the specs: the release
    /// each stack last applied, with every literal property and tag as the
    /// provider reports it (read-only; stacks never applied are skipped).
    #[arg(long)]
    pub observed: bool,
}

/// `statectl rollback`
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: Stack,
    /// Roll back to this release (default: the last one applied successfully before the current).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// List the rollback points and exit.
    #[arg(long)]
    pub list: bool,
    /// Why, and whether outside the maintenance window.
    #[command(flatten)]
    pub why: Why,
    /// Also delete resources that hold data and were added since.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Most operations in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub parallelism: u16,
    /// Confirmation, lock wait, colors.
    #[command(flatten)]
    pub confirm: Confirm,
}

/// `statectl drift`
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: Stack,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Plan and apply the changes that bring the cloud back to the release.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: why, and whether outside the maintenance window.
    #[command(flatten)]
    pub why: Why,
    /// With --fix: allow deleting or replacing resources that hold data.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// With --fix: confirmation, lock wait, colors.
    #[command(flatten)]
    pub confirm: Confirm,
}

/// `statectl refresh`
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: Stack,
    /// Why.
    #[arg(long)]
    pub reason: Option<String>,
    /// Seconds to wait for the stack lock.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub lock_timeout: u64,
}

/// `statectl destroy`
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: Stack,
    /// Why, and whether outside the maintenance window.
    #[command(flatten)]
    pub why: Why,
    /// Also delete resources that hold data.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Confirmation, lock wait, colors.
    #[command(flatten)]
    pub confirm: Confirm,
}

/// `statectl sim ...`
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// List what the simulated cloud holds.
    #[command(after_help = "Example:\n  statectl sim list")]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one simulated resource (by ARM id or statectl address).
    Show {
        /// ARM id or address.
        key: String,
        /// With an address: the environment it is in (when several stacks share the simulator).
        #[arg(long)]
        env: Option<String>,
    },
    /// Change a property out of band, as a portal edit would (drift).
    #[command(
        after_help = "VALUE is read as JSON when it parses (true, 3, [\"1\"]), else as text.\n\nExample:\n  statectl sim set data.redis capacity=2"
    )]
    Set {
        /// ARM id or address.
        key: String,
        /// PROPERTY=VALUE.
        assignment: String,
        /// With an address: the environment it is in.
        #[arg(long)]
        env: Option<String>,
    },
    /// Delete a resource out of band (a lost resource, or drift).
    #[command(after_help = "Example:\n  statectl sim delete data.postgres")]
    Delete {
        /// ARM id or address.
        key: String,
        /// With an address: the environment it is in.
        #[arg(long)]
        env: Option<String>,
    },
    /// Inject faults into later operations.
    #[command(subcommand)]
    Fault(FaultCommand),
    /// List soft-deleted Key Vaults holding their names.
    SoftDeleted,
    /// Purge a soft-deleted Key Vault (refused under purge protection).
    Purge {
        /// The vault name.
        name: String,
    },
}

/// `statectl sim fault ...`
#[derive(Debug, Subcommand)]
pub enum FaultCommand {
    /// Fail the N-th operation from now (on one type, or any).
    FailNth {
        /// Which operation, from 1.
        #[arg(long)]
        nth: u64,
        /// Only count operations on this ARM type.
        #[arg(long = "type", value_name = "ARM_TYPE")]
        arm_type: Option<String>,
    },
    /// Fail operations at random with probability P, from SEED.
    FailRandom {
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// The probability, 0 to 1.
        #[arg(long)]
        probability: f64,
    },
    /// Abort the process right after the K-th operation from now takes effect.
    CrashAt {
        /// Which operation, from 1.
        #[arg(long)]
        op: u64,
    },
    /// Remove every fault.
    Clear,
    /// Show the faults in force.
    Show,
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
    /// List the backups taken before production applies, or print one.
    #[command(
        after_help = "Example:\n  statectl state backups --estate chatwoot --env prod\n  statectl state backups --estate chatwoot --env prod --generation 4 > before-5.json"
    )]
    Backups {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// Print the backup of this generation (a state file for `state push`).
        #[arg(long)]
        generation: Option<u64>,
    },
    /// Import a state file written by `state pull` (audited).
    #[command(
        after_help = "The file must hold the stack's next generation (--force pushes it as the next one whatever number it holds), a release this store has, known resource types, non-empty ids and dependencies on resources in the file. A secret redacted as (sensitive) keeps the value this store holds for that resource; one it does not hold is refused (push a `state pull --show-sensitive` file instead).\n\nExample:\n  statectl state push backup.json --estate chatwoot --env prod"
    )]
    Push {
        /// The JSON file.
        file: PathBuf,
        /// The stack (must match the file).
        #[command(flatten)]
        stack: Stack,
        /// Push whatever generation number the file holds (it becomes the next generation).
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
    /// Commit COUNT generations, printing `acked N` after each durable
    /// commit (the crash test kills this). Generation N writes `m.r<N % 50>`
    /// and, with `--rows R` above 1, `b.r0` .. `b.r<R-2>`, all with property
    /// `n = N`.
    CommitLoop {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// How many generations.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// Rows per generation (large ones make the store fold often).
        #[arg(long, default_value_t = 1)]
        rows: u64,
    },
    /// Write a synthetic layered project of N resources (benchmarks).
    Generate {
        /// How many resources.
        #[arg(long)]
        resources: usize,
        /// Resources per layer.
        #[arg(long, default_value_t = 50)]
        width: usize,
        /// Where to write the project.
        #[arg(long)]
        out: PathBuf,
        /// The estate name.
        #[arg(long, default_value = "synthetic")]
        estate: String,
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

/// How a command that may change the cloud asks first and waits for the
/// stack's lock.
#[derive(Debug, Args)]
pub struct Confirm {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Seconds to wait for the stack lock.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub lock_timeout: u64,
    /// No ANSI colors (also NO_COLOR).
    #[arg(long)]
    pub no_color: bool,
}

/// Why a change is made, recorded in history and the audit log, and
/// whether it may run outside the maintenance window.
#[derive(Debug, Args)]
pub struct Why {
    /// Why (recorded in history and the audit log; required in prod and with --emergency).
    #[arg(long)]
    pub reason: Option<String>,
    /// Outside the maintenance window (needs --reason; audited).
    #[arg(long)]
    pub emergency: bool,
}

/// Output format switch.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `statectl mirror ...`
#[derive(Debug, Subcommand)]
pub enum MirrorCommand {
    /// Push every generation, release and audit record the mirror lacks.
    #[command(
        after_help = "Configure the mirror in statectl.toml ([mirror] url = \"dir:PATH\" or \"https://<account>.blob.core.windows.net/<container>\") or with STATECTL_MIRROR. Pushes are create-only and resumable: run it again after a failure. Applies push by default when a mirror is configured.\n\nExamples:\n  statectl mirror push\n  STATECTL_MIRROR=dir:/mnt/backup/statectl statectl mirror push --estate chatwoot --env prod"
    )]
    Push(Selection),
    /// Show how far the mirror is behind each stack (generations and time).
    #[command(after_help = "Example:\n  statectl mirror status --json")]
    Status {
        /// Which stacks.
        #[command(flatten)]
        sel: Selection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a lost local store from the mirror, verifying every object.
    #[command(
        after_help = "Restores releases, generations and the audit log into the state directory (normally empty: a lost or new machine), and reports what it restored and how long it took, the state's own RTO. Into an existing store it adds only what the store lacks: the way a second machine catches up after another one applied (an apply that finds the mirror ahead of its store is refused and points here). The mirror's key must be available (the same key file, or access to the Key Vault key).\n\nExamples:\n  statectl mirror restore\n  statectl mirror restore --estate chatwoot --env prod --generation 41"
    )]
    Restore {
        /// Which stacks.
        #[command(flatten)]
        sel: Selection,
        /// Restore only up to this generation.
        #[arg(long)]
        generation: Option<u64>,
    },
    /// Check the mirror: every stack's HEAD opens, and the account's data protection settings.
    #[command(
        after_help = "Exits 1 when a HEAD cannot be read with the configured key, or when the account's blob soft delete is off or shorter than the longest state_retention_days of the environments (prod: 30); it prints the `az` command that fixes it. Blob versioning is an ARM setting the Blob service does not report: check it with `az storage account blob-service-properties show`.\n\nExample:\n  statectl mirror check"
    )]
    Check,
    /// Move a stack's oldest generations to tombstones (soft delete), keeping the newest.
    #[command(
        after_help = "Pruned generations stay in tombstones for the environment's state_retention_days (30 in prod), recoverable with `mirror undelete`, until `mirror gc` purges them. Generations under legal hold, and everything after the oldest held one, are kept. The newest generation is always kept, and the ones kept still restore. Audited.\n\nExamples:\n  statectl mirror prune --estate chatwoot --env dev --keep 20\n  statectl mirror prune --estate chatwoot --env prod --older-than 90d --reason \"quarterly retention\""
    )]
    Prune {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// Keep the newest N generations.
        #[arg(
            long,
            value_name = "N",
            conflicts_with = "older_than",
            required_unless_present = "older_than"
        )]
        keep: Option<u64>,
        /// Prune generations that ended more than this long ago, e.g. 90d.
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Bring a stack's pruned generations back from their tombstones.
    #[command(after_help = "Example:\n  statectl mirror undelete --estate chatwoot --env prod")]
    Undelete {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
    },
    /// Purge tombstones older than their environment's retention; never a held generation's.
    #[command(after_help = "Example:\n  statectl mirror gc")]
    Gc,
    /// Legal holds: generations that are never pruned or purged until the hold is cleared.
    #[command(subcommand)]
    Hold(HoldCommand),
}

/// `statectl mirror hold ...`
#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Put a generation under legal hold.
    #[command(
        after_help = "Example:\n  statectl mirror hold set 41 --estate chatwoot --env prod --reason \"litigation hold LH-7\""
    )]
    Set {
        /// The generation.
        generation: u64,
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// Why (required; recorded in the hold and the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Lift a legal hold.
    #[command(
        after_help = "Example:\n  statectl mirror hold clear 41 --estate chatwoot --env prod --reason \"LH-7 closed\""
    )]
    Clear {
        /// The generation.
        generation: u64,
        /// The stack.
        #[command(flatten)]
        stack: Stack,
        /// Why (required; recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// List the legal holds of a stack.
    #[command(after_help = "Example:\n  statectl mirror hold list --estate chatwoot --env prod")]
    List {
        /// The stack.
        #[command(flatten)]
        stack: Stack,
    },
}

/// `statectl keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the local key file that seals the mirror (mode 0600).
    #[command(
        after_help = "For development and tests; production uses keys = \"azure-keyvault\" in statectl.toml. Keep a copy of the key file somewhere safe: without it the mirror cannot be read.\n\nExample:\n  statectl keys init"
    )]
    Init,
    /// Make a new key version current and re-wrap every mirrored object's data key under it.
    #[command(
        after_help = "Payloads are not re-encrypted: only each object's wrapped data key changes. Older versions stay in the key file, so anything not yet re-wrapped still opens.\n\nExample:\n  statectl keys rotate"
    )]
    Rotate,
}
