//! The command line (clap derive). CLI enums stay separate from core enums and are
//! converted at the edge.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tokenwarden",
    version,
    about = "Govern Cloudflare API tokens: scan every token against Rego rules, report as SARIF, gate CI.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Cloudflare API base URL (plain http:// only for loopback hosts).
    #[arg(
        long,
        global = true,
        env = "CLOUDFLARE_API_BASE_URL",
        value_name = "URL",
        help_heading = "Connection"
    )]
    pub api_base: Option<String>,
    /// Read the API token from this file (instead of CLOUDFLARE_API_TOKEN). Secrets are never accepted as command-line values.
    #[arg(long, global = true, value_name = "FILE", help_heading = "Connection")]
    pub api_token_file: Option<PathBuf>,
    /// Requests in flight at once, 1 to 64.
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Connection")]
    pub concurrency: u16,
    /// Client-side request budget, REQUESTS/SECONDS (1 to 100000 / 1 to 86400), shared by the whole run (Cloudflare allows 1200/300).
    #[arg(
        long,
        global = true,
        default_value = "1000/300",
        value_name = "N/SECS",
        help_heading = "Connection"
    )]
    pub rate_limit: String,
    /// Extra attempts for a read after a 5xx, a timeout or a connection error, 0 to 10.
    #[arg(long, global = true, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=10), help_heading = "Connection")]
    pub retries: u32,
    /// Timeout for one request, in seconds, 1 to 600.
    #[arg(long, global = true, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600), value_name = "SECS", help_heading = "Connection")]
    pub timeout: u64,
    /// Take this time (RFC 3339) as now — for evaluation, guards, replacement expiry, journal and report times — instead of the system clock, for reproducible runs.
    #[arg(
        long,
        global = true,
        value_name = "RFC3339",
        help_heading = "Evaluation"
    )]
    pub now: Option<String>,
    /// More detail on stderr (repeatable).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,
    /// Colour in human output (honours NO_COLOR).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan tokens (live or from a snapshot), report findings and gate on them.
    Scan(ScanArgs),
    /// Collect the inventory from the API and save it as a snapshot file.
    Snapshot(SnapshotArgs),
    /// List, show and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Show the exact Rego input document and the findings for one token.
    Explain(ExplainArgs),
    /// List the permission-group catalogue of the user or an account.
    PermissionGroups(PermissionGroupsArgs),
    /// Plan (and with --apply, execute) roll / replace / disable for offending tokens.
    Remediate(RemediateArgs),
    /// Roll one token's secret and deliver the new one (dry run unless --apply).
    Roll(TokenActionArgs),
    /// Replace one token with a fresh copy, deliver its secret, then disable the old one.
    Replace(TokenActionArgs),
    /// Disable one token, changing nothing else about it (dry run unless --apply).
    Disable(TokenActionArgs),
    /// Enable one token again (undo a disable), changing nothing else about it.
    Enable(TokenActionArgs),
    /// Check the credential before a scan: verify, expiry, IP condition, readable scopes, missing permissions.
    Doctor(DoctorArgs),
    /// Finish or undo the actions an interrupted remediation left unfinished (dry run unless --apply).
    Recover(RecoverArgs),
    /// List recorded scans; `history diff A B`, `history prune --keep DAYS`, `history report --output FILE.html`.
    History(HistoryArgs),
    /// Print a shell completion script (e.g. `tokenwarden completions bash > /etc/bash_completion.d/tokenwarden`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    User,
    Accounts,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Sarif,
    Markdown,
    /// The self-contained HTML dashboard of the history (needs --history).
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    Critical,
    High,
    Medium,
    Low,
    Never,
}

/// Where the inventory comes from.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// Scan this snapshot file instead of the live API.
    #[arg(long, value_name = "FILE", help_heading = "Inventory")]
    pub snapshot: Option<PathBuf>,
    /// Which owners to scan.
    #[arg(long, value_enum, default_value_t = ScopeArg::All, help_heading = "Inventory")]
    pub scope: ScopeArg,
    /// Only this account (repeatable).
    #[arg(long = "account", value_name = "ID", value_parser = cloudflare_id, help_heading = "Inventory")]
    pub accounts: Vec<String>,
}

/// Terraform instead of the API (docs/terraform.md).
#[derive(Debug, Args, Clone, Default)]
pub struct TerraformArgs {
    /// Read token resources from Terraform instead of the API: a directory of .tf files
    /// (modules in subdirectories included) or a plan in JSON (`terraform show -json`);
    /// repeatable. With a plan, a directory locates its resources in the .tf files.
    #[arg(long = "terraform", value_name = "PATH", num_args = 1.., help_heading = "Terraform")]
    pub terraform: Vec<PathBuf>,
    /// Permission-group catalogue (the API's JSON, e.g. from `GET /user/tokens/permission_groups`)
    /// to name groups given by id; `--snapshot` also provides one.
    #[arg(
        long,
        value_name = "FILE",
        requires = "terraform",
        help_heading = "Terraform"
    )]
    pub permission_groups: Option<PathBuf>,
}

/// Which rules and policy apply.
#[derive(Debug, Args, Clone)]
pub struct EvalArgs {
    /// Governance policy file (default: the built-in policies/default.toml).
    #[arg(long, value_name = "FILE", help_heading = "Rules and policy")]
    pub policy: Option<PathBuf>,
    /// Add the rules in this directory (repeatable).
    #[arg(long = "rules", value_name = "DIR", help_heading = "Rules and policy")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long, help_heading = "Rules and policy")]
    pub no_default_rules: bool,
    /// Also apply the [[exemptions]] in this file (repeatable; merged with the policy's).
    #[arg(
        long = "exemptions",
        value_name = "FILE",
        help_heading = "Rules and policy"
    )]
    pub exemptions: Vec<PathBuf>,
    /// Rego backend: regorus's bytecode VM (default) or its interpreter (same results).
    #[arg(long, value_enum, default_value_t = EngineArg::Vm, help_heading = "Rules and policy")]
    pub engine: EngineArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Vm,
    Interpreter,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub terraform: TerraformArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table, help_heading = "Report")]
    pub format: FormatArg,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE", help_heading = "Report")]
    pub output: Option<PathBuf>,
    /// Also write SARIF to this file.
    #[arg(long, value_name = "FILE", help_heading = "Report")]
    pub sarif: Option<PathBuf>,
    /// Exit 1 when an unexempted finding is at or above this severity (default: the policy's gate.fail_on).
    #[arg(long, value_enum, help_heading = "Report")]
    pub fail_on: Option<FailOnArg>,
    /// Compare with this baseline: findings are new, unchanged or absent, and the gate counts only new ones.
    #[arg(long, value_name = "FILE", help_heading = "Governance")]
    pub baseline: Option<PathBuf>,
    /// Record the current findings as a baseline in this file (keeps first_seen from --baseline).
    #[arg(long, value_name = "FILE", help_heading = "Governance")]
    pub write_baseline: Option<PathBuf>,
    /// Fail (exit 2) when an exemption has expired or matched no finding.
    #[arg(long, help_heading = "Governance")]
    pub strict_exemptions: bool,
    #[command(flatten)]
    pub history: HistoryGateArgs,
}

/// Where the scan history lives and what the gate does with it.
#[derive(Debug, Args)]
pub struct HistoryGateArgs {
    /// Record the scan in this history (a SQLite file, or a postgres:// URL) and report the changes since the previous scan of the scope.
    #[arg(
        long = "history",
        env = "TOKENWARDEN_HISTORY",
        value_name = "DB",
        help_heading = "History"
    )]
    pub db: Option<String>,
    /// With --history: the gate counts only findings new since the previous scan (policy gate.fail_on_new).
    #[arg(long, requires = "db", help_heading = "History")]
    pub fail_on_new: bool,
    /// With --history: fail when a token's permissions, resources, condition, expiry or start changed (policy gate.fail_on_drift).
    #[arg(long, requires = "db", help_heading = "History")]
    pub fail_on_drift: bool,
    /// With --history: fail when an unexempted finding is past its [sla] deadline (policy gate.fail_on_overdue).
    #[arg(long, requires = "db", help_heading = "History")]
    pub fail_on_overdue: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The history (a SQLite file, or a postgres:// URL).
    #[arg(
        long = "history",
        env = "TOKENWARDEN_HISTORY",
        value_name = "DB",
        global = true
    )]
    pub db: Option<String>,
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// Only scans at or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only scans of this scope (e.g. all, user, accounts, all:<account id>).
    #[arg(long, value_name = "SCOPE", global = true)]
    pub scope: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table, global = true)]
    pub format: ListFormat,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// The changes between two recorded scans (by id, as `history` lists them).
    Diff {
        scan_a: i64,
        scan_b: i64,
        /// The policy whose [sla] dates the open findings (default: the built-in one).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Delete scans older than DAYS before now (the latest scan of each scope is kept).
    Prune {
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=36500))]
        keep: u32,
    },
    /// Write the HTML dashboard of the history.
    Report {
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// The policy whose [sla] dates the open findings (default: the built-in one).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Where to write the snapshot.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Which owners to collect.
    #[arg(long, value_enum, default_value_t = ScopeArg::All)]
    pub scope: ScopeArg,
    /// Only this account (repeatable).
    #[arg(long = "account", value_name = "ID", value_parser = cloudflare_id)]
    pub accounts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules with their severity, default action and origin.
    List {
        #[command(flatten)]
        rules: RuleSourceArgs,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show one rule: metadata and source.
    Show {
        /// Rule id, e.g. token-no-expiry.
        id: String,
        #[command(flatten)]
        rules: RuleSourceArgs,
    },
    /// Run the rule unit tests (`*_test.rego`): the built-in pack, plus each DIR.
    Test {
        /// Rule directories whose tests to run (with the built-in pack unless --no-default-rules).
        dirs: Vec<PathBuf>,
        /// Do not load the built-in rule pack.
        #[arg(long)]
        no_default_rules: bool,
        /// Also print, per rule file, the lines no test reached and the percentage covered.
        #[arg(long)]
        coverage: bool,
    },
}

#[derive(Debug, Args, Clone)]
pub struct RuleSourceArgs {
    /// Add the rules in this directory (repeatable).
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    pub no_default_rules: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The token id (32 lowercase hex characters), or with --terraform a resource address
    /// (`cloudflare_api_token.logpush`).
    #[arg(value_parser = token_or_address, required_unless_present = "all", conflicts_with = "all")]
    pub token_id: Option<String>,
    /// Every token of the inventory, one JSON line each (input, config data, findings):
    /// for `opa eval` or conftest over the whole estate. Needs `--format jsonl`.
    #[arg(long, requires = "format")]
    pub all: bool,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub terraform: TerraformArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Output format (`jsonl` with `--all`).
    #[arg(long, value_enum, default_value_t = ExplainFormat::Table)]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Table,
    Json,
    /// One JSON line per token (with --all).
    Jsonl,
}

#[derive(Debug, Args)]
pub struct PermissionGroupsArgs {
    /// An account's catalogue instead of the user's.
    #[arg(long = "account", value_name = "ID", value_parser = cloudflare_id)]
    pub account: Option<String>,
    /// Read the catalogue from this snapshot instead of the API.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// How remediation is carried out (shared by `remediate` and the single-token commands).
#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Execute the actions. Without it nothing is changed at Cloudflare (dry run).
    #[arg(long, help_heading = "Remediation")]
    pub apply: bool,
    /// Where new secrets go (roll, replace): file:DIR, exec:COMMAND (secret on stdin) or stdout.
    #[arg(long, value_name = "SPEC", help_heading = "Remediation")]
    pub secret_sink: Option<String>,
    /// Seconds (1-3600) an exec: sink may run before it is killed and the secret escrowed.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=tokenwarden::remediate::sink::MAX_EXEC_TIMEOUT_SECS),
        help_heading = "Remediation"
    )]
    pub sink_timeout: u64,
    /// Append-only JSONL journal of every action (escrow files go beside it).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "tokenwarden-journal.jsonl",
        help_heading = "Remediation"
    )]
    pub journal: PathBuf,
    /// Also act on the token tokenwarden itself runs with.
    #[arg(long, help_heading = "Remediation")]
    pub include_self: bool,
    /// Output format of the plan and outcomes.
    #[arg(long, value_enum, default_value_t = ListFormat::Table, help_heading = "Remediation")]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct RemediateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub eval: EvalArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Do not ask for confirmation on a terminal (required with --apply when stdin is not a terminal).
    #[arg(long, short = 'y', help_heading = "Remediation")]
    pub yes: bool,
    /// Execute at most N actions, 0 to 10000 (default: the policy's remediation.max_actions).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10_000), help_heading = "Remediation")]
    pub max_actions: Option<u32>,
    /// Only act on findings of this rule (repeatable).
    #[arg(long = "rule", value_name = "ID", help_heading = "Remediation")]
    pub only_rules: Vec<String>,
    /// Only act on this token id (repeatable).
    #[arg(long = "token", value_name = "ID", value_parser = cloudflare_id, help_heading = "Remediation")]
    pub only_tokens: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenActionArgs {
    /// The token id (32 lowercase hex characters).
    #[arg(value_parser = cloudflare_id)]
    pub token_id: String,
    /// The account owning the token (default: a token of the user).
    #[arg(long = "account", value_name = "ID", value_parser = cloudflare_id)]
    pub account: Option<String>,
    /// Governance policy whose max_lifetime_days sets a replacement's expiry (default: built-in).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Which owners the scan will cover.
    #[arg(long, value_enum, default_value_t = ScopeArg::All)]
    pub scope: ScopeArg,
    /// Only this account (repeatable).
    #[arg(long = "account", value_name = "ID", value_parser = cloudflare_id)]
    pub accounts: Vec<String>,
    /// Also require the permissions remediation needs (API Tokens Write, Account API Tokens Write).
    #[arg(long)]
    pub remediation: bool,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Finish or undo the unfinished actions. Without it nothing is changed (dry run).
    #[arg(long)]
    pub apply: bool,
    /// The journal of the interrupted runs (escrow files are beside it); recover appends to it.
    #[arg(long, value_name = "FILE", default_value = "tokenwarden-journal.jsonl")]
    pub journal: PathBuf,
    /// Where escrowed or new secrets go: file:DIR, exec:COMMAND (secret on stdin) or stdout.
    #[arg(long, value_name = "SPEC")]
    pub secret_sink: Option<String>,
    /// Seconds (1-3600) an exec: sink may run before it is killed and the secret kept in escrow.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=tokenwarden::remediate::sink::MAX_EXEC_TIMEOUT_SECS)
    )]
    pub sink_timeout: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// A token id, or a Terraform resource address (checked against --terraform later).
fn token_or_address(text: &str) -> Result<String, String> {
    let address = text.starts_with("cloudflare_") || text.starts_with("module.");
    if address {
        Ok(text.to_string())
    } else {
        cloudflare_id(text)
    }
}

/// An account or token id on the command line must be a Cloudflare id (32 lowercase hex
/// characters) before it can reach a request path or a file name (issue 12); clap refuses
/// anything else with exit 2.
fn cloudflare_id(text: &str) -> Result<String, String> {
    tokenwarden::id::check(text)
        .map(|()| text.to_string())
        .map_err(|e| e.to_string())
}
