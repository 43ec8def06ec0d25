//! Running a parsed command line: wires collect → enrich → evaluate → govern → report
//! and maps every failure to an exit code (DESIGN §2).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::baseline::{Baseline, Comparison};
use crate::cli::{
    Cli, ColorChoice, Command, EvalArgs, FailOnArg, FormatArg, ListFormat, PermissionGroupsArgs,
    ScanArgs, ScopeArg, SnapshotArgs, SourceArgs,
};
use crate::clock::Clock;
use crate::cloudflare::{self, ApiBase, Client, Credential, Scope};
use crate::engine::{Evaluator, RuleSet};
use crate::finding::FailOn;
use crate::inventory::Inventory;
use crate::policy::GovernancePolicy;
use crate::reach::Reach;
use crate::remediate::{self, Op};
use crate::report::{self, Format};
use crate::scan::{self, exit};
use crate::secret::Secret;
use crate::stale;

mod inspect;
mod rules;

use inspect::{doctor_cmd, explain_cmd};

/// How to reach the API: base URL, credential source and wire options.
#[derive(Debug, Clone, Copy)]
pub struct Conn<'a> {
    pub api_base: Option<&'a str>,
    pub token_file: Option<&'a Path>,
    pub concurrency: u16,
    pub rate_limit: &'a str,
    pub retries: u32,
    pub timeout: u64,
}

impl<'a> Conn<'a> {
    pub fn from_global(g: &'a crate::cli::GlobalArgs) -> Conn<'a> {
        Conn {
            api_base: g.api_base.as_deref(),
            token_file: g.api_token_file.as_deref(),
            concurrency: g.concurrency,
            rate_limit: &g.rate_limit,
            retries: g.retries,
            timeout: g.timeout,
        }
    }
}
use rules::rules_cmd;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure {
            code: exit::RUNTIME,
            message: message.into(),
        }
    }
}

type Outcome = Result<u8, Failure>;

/// stderr messages, filtered by -v/-q.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    verbosity: i8,
    pub color: bool,
}

impl Ui {
    pub fn warn(&self, msg: &str) {
        if self.verbosity >= 0 {
            eprintln!("warning: {msg}");
        }
    }

    /// Timings and other detail for `-vv`.
    pub fn debug(&self, msg: &str) {
        if self.verbosity >= 2 {
            eprintln!("{msg}");
        }
    }

    pub fn info(&self, msg: &str) {
        if self.verbosity >= 1 {
            eprintln!("{msg}");
        }
    }
}

pub fn run(cli: Cli) -> Outcome {
    let color = match cli.global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    let ui = Ui {
        verbosity: if cli.global.quiet {
            -1
        } else {
            cli.global.verbose.min(3) as i8
        },
        color,
    };
    let g = &cli.global;
    let conn = Conn::from_global(g);
    let clock = Clock::from_arg(g.now.as_deref()).map_err(|e| Failure::usage(e.to_string()))?;
    match cli.command {
        Command::Scan(args) => scan_cmd(&args, conn, clock, ui),
        Command::Snapshot(args) => snapshot_cmd(&args, conn, clock, ui),
        Command::Rules(cmd) => rules_cmd(cmd, ui),
        Command::Explain(args) => explain_cmd(&args, conn, clock, ui),
        Command::PermissionGroups(args) => permission_groups_cmd(&args, conn),
        Command::Doctor(args) => doctor_cmd(&args, conn, clock),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "tokenwarden", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Remediate(args) => remediate::cmd::remediate(&args, g, clock, ui),
        Command::Roll(args) => remediate::single::run(Op::Roll, &args, g, clock, ui),
        Command::Replace(args) => remediate::single::run(Op::Replace, &args, g, clock, ui),
        Command::Disable(args) => remediate::single::run(Op::Disable, &args, g, clock, ui),
        Command::Enable(args) => remediate::single::run(Op::Enable, &args, g, clock, ui),
    }
}

pub(crate) fn scope_of(s: ScopeArg) -> Scope {
    match s {
        ScopeArg::User => Scope::User,
        ScopeArg::Accounts => Scope::Accounts,
        ScopeArg::All => Scope::All,
    }
}

fn fail_on_of(f: FailOnArg) -> FailOn {
    match f {
        FailOnArg::Critical => FailOn::Critical,
        FailOnArg::High => FailOn::High,
        FailOnArg::Medium => FailOn::Medium,
        FailOnArg::Low => FailOn::Low,
        FailOnArg::Never => FailOn::Never,
    }
}

fn format_of(f: FormatArg) -> Format {
    match f {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Sarif => Format::Sarif,
        FormatArg::Markdown => Format::Markdown,
    }
}

/// The credential from `--api-token-file`, `CLOUDFLARE_API_TOKEN`, or
/// `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`, in that order.
pub(crate) fn credential(token_file: Option<&Path>) -> Result<Credential, Failure> {
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!(
                "cannot read --api-token-file {}: {e}",
                path.display()
            ))
        })?;
        let secret = Secret::new(text.trim());
        if secret.is_empty() {
            return Err(Failure::usage(format!(
                "--api-token-file {} is empty",
                path.display()
            )));
        }
        return Ok(Credential::Token(secret));
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(t) = var("CLOUDFLARE_API_TOKEN") {
        return Ok(Credential::Token(Secret::new(t.trim())));
    }
    match (var("CLOUDFLARE_EMAIL"), var("CLOUDFLARE_API_KEY")) {
        (Some(email), Some(key)) => Ok(Credential::Key {
            email,
            key: Secret::new(key.trim()),
        }),
        (Some(_), None) => Err(Failure::usage("CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not")),
        (None, Some(_)) => Err(Failure::usage("CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not")),
        (None, None) => Err(Failure::usage(
            "no Cloudflare credential: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY), use --api-token-file FILE, or scan a file with --snapshot FILE",
        )),
    }
}

pub(crate) fn client(conn: Conn<'_>) -> Result<(Client, Credential), Failure> {
    let base = ApiBase::parse(
        conn.api_base
            .unwrap_or(cloudflare::client::DEFAULT_API_BASE),
    )
    .map_err(Failure::usage)?;
    let budget = cloudflare::Budget::parse(conn.rate_limit)
        .map_err(|e| Failure::usage(format!("--rate-limit: {e}")))?;
    let cred = credential(conn.token_file)?;
    let options = cloudflare::ClientOptions {
        concurrency: usize::from(conn.concurrency),
        budget,
        retries: conn.retries,
        timeout: std::time::Duration::from_secs(conn.timeout),
        ..Default::default()
    };
    let client = Client::with_options(base, &cred, options).map_err(Failure::usage)?;
    Ok((client, cred))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))
}

/// The inventory from a snapshot, or collected live.
pub(crate) fn inventory(
    source: &SourceArgs,
    conn: Conn<'_>,
    now: DateTime<Utc>,
    ui: Ui,
) -> Result<Inventory, Failure> {
    if let Some(path) = &source.snapshot {
        let mut inv = Inventory::read(path).map_err(|e| Failure::usage(e.to_string()))?;
        narrow(&mut inv, scope_of(source.scope), &source.accounts);
        return Ok(inv);
    }
    let (client, cred) = client(conn)?;
    ui.info(&format!(
        "collecting from {} ({})",
        client.base().as_str(),
        cred.kind()
    ));
    let rt = runtime()?;
    let progress = crate::progress::Progress::new(
        ui.verbosity >= 0 && std::io::stderr().is_terminal(),
        ui.verbosity >= 1 && !std::io::stderr().is_terminal(),
    );
    let (inv, warnings) = rt.block_on(cloudflare::collect(
        &client,
        &cred,
        scope_of(source.scope),
        &source.accounts,
        now,
        &progress,
    ));
    for w in warnings {
        ui.warn(&w);
    }
    Ok(inv)
}

/// Apply `--scope` and `--account` to a snapshot as a live scan would.
fn narrow(inv: &mut Inventory, scope: Scope, accounts: &[String]) {
    if scope == Scope::Accounts {
        inv.user = None;
        inv.not_evaluated.retain(|n| !n.scope.starts_with("user"));
    }
    if scope == Scope::User {
        inv.accounts.clear();
        inv.not_evaluated.retain(|n| n.scope.starts_with("user"));
    }
    if !accounts.is_empty() {
        for wanted in accounts {
            if scope != Scope::User && !inv.accounts.iter().any(|a| &a.id == wanted) {
                inv.not_evaluated.push(crate::inventory::NotEvaluated {
                    scope: format!("accounts/{wanted}/tokens"),
                    reason: "account not in the snapshot".into(),
                });
            }
        }
        inv.accounts.retain(|a| accounts.contains(&a.id));
        inv.not_evaluated.retain(|n| {
            !n.scope.starts_with("accounts/")
                || accounts
                    .iter()
                    .any(|a| n.scope.starts_with(&format!("accounts/{a}/")))
        });
    }
}

fn rule_set(extra: &[PathBuf], no_default: bool) -> Result<RuleSet, Failure> {
    let mut set = if no_default {
        RuleSet::default()
    } else {
        RuleSet::builtin().map_err(|e| Failure::usage(e.to_string()))?
    };
    for dir in extra {
        set.add_dir(dir)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    if set.rules.is_empty() {
        return Err(Failure::usage(
            "no rules to evaluate (--no-default-rules without --rules DIR)",
        ));
    }
    Ok(set)
}

/// Policy, rules and the prepared evaluator: everything that can fail with exit 2.
pub(crate) fn prepare(
    eval: &EvalArgs,
    clock: Clock,
) -> Result<(GovernancePolicy, Evaluator, DateTime<Utc>), Failure> {
    let (policy, _, evaluator, now) = prepare_with_rules(eval, clock)?;
    Ok((policy, evaluator, now))
}

/// [`prepare`], also returning the rule set (for `explain`, which lists every rule).
pub(crate) fn prepare_with_rules(
    eval: &EvalArgs,
    clock: Clock,
) -> Result<(GovernancePolicy, RuleSet, Evaluator, DateTime<Utc>), Failure> {
    // One reading for the whole evaluation: every token is judged as of the same instant.
    let now = clock.now();
    let mut policy = match &eval.policy {
        Some(p) => GovernancePolicy::load(p),
        None => GovernancePolicy::builtin(),
    }
    .map_err(|e| Failure::usage(e.to_string()))?;
    for path in &eval.exemptions {
        let more =
            GovernancePolicy::load_exemptions(path).map_err(|e| Failure::usage(e.to_string()))?;
        policy.exemptions.extend(more);
    }
    let set = rule_set(&eval.rules, eval.no_default_rules)?;
    policy
        .check_rule_ids(&set.ids())
        .map_err(|e| Failure::usage(e.to_string()))?;
    let disabled: Vec<String> = policy
        .rules
        .disabled
        .iter()
        .map(|d| d.value.clone())
        .collect();
    let backend = match eval.engine {
        crate::cli::EngineArg::Vm => crate::engine::Backend::Vm,
        crate::cli::EngineArg::Interpreter => crate::engine::Backend::Interpreter,
    };
    let evaluator = Evaluator::with_backend(&set, &policy.config_data(), &disabled, backend)
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok((policy, set, evaluator, now))
}

/// Open `path` for writing, or stdout.
fn sink(path: Option<&Path>) -> Result<Box<dyn Write>, Failure> {
    match path {
        Some(p) => std::fs::File::create(p)
            .map(|f| Box::new(std::io::BufWriter::new(f)) as Box<dyn Write>)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", p.display()))),
        None => Ok(Box::new(std::io::stdout().lock())),
    }
}

fn write_report(
    format: Format,
    report: &scan::Report,
    path: Option<&Path>,
    color: bool,
) -> Result<(), Failure> {
    let mut out = sink(path)?;
    let where_ = path.map_or("stdout".to_string(), |p| p.display().to_string());
    report::write(format, report, &mut out, color && path.is_none())
        .and_then(|_| out.flush())
        .map_err(|e| Failure::runtime(format!("cannot write the report to {where_}: {e}")))
}

fn scan_cmd(args: &ScanArgs, conn: Conn<'_>, clock: Clock, ui: Ui) -> Outcome {
    let (policy, evaluator, now) = prepare(&args.eval, clock)?;
    let fail_on = args.fail_on.map_or(policy.fail_on, fail_on_of);
    // Read before collecting: a baseline that does not parse is a usage error (exit 2),
    // never an empty baseline.
    let previous = match &args.baseline {
        Some(p) => Some(Baseline::read(p).map_err(|e| Failure::usage(e.to_string()))?),
        None => None,
    };
    if let Some(reason) = &evaluator.fallback_reason {
        ui.info(&format!(
            "using the Rego interpreter: the bytecode VM cannot run these rules ({reason})"
        ));
    }
    let started = std::time::Instant::now();
    let inv = inventory(&args.source, conn, now, ui)?;
    ui.debug(&format!(
        "inventory: {} tokens in {:.2?}",
        inv.token_count(),
        started.elapsed()
    ));
    let started = std::time::Instant::now();
    let mut report = scan::scan(
        &inv,
        &evaluator,
        &policy,
        fail_on,
        now,
        scope_of(args.source.scope).as_str(),
    );
    ui.debug(&format!(
        "evaluation ({}): {} findings in {:.2?}",
        evaluator.backend().as_str(),
        report.findings.len(),
        started.elapsed()
    ));
    let started = std::time::Instant::now();
    let reach = Reach::of(&inv, scope_of(args.source.scope), &args.source.accounts);
    report.stale_exemptions = stale::find(&policy.exemptions, &report.findings, now, &reach);
    if let (Some(b), Some(path)) = (&previous, &args.baseline) {
        report.baseline = Some(Comparison::new(
            b,
            &path.display().to_string(),
            &report.findings,
            &reach,
        ));
    }
    write_report(
        format_of(args.format),
        &report,
        args.output.as_deref(),
        ui.color,
    )?;
    if let Some(path) = &args.sarif {
        write_report(Format::Sarif, &report, Some(path), false)?;
    }
    ui.debug(&format!("reports: {:.2?}", started.elapsed()));
    if let Some(path) = &args.write_baseline {
        let b = Baseline::record(&report.findings, now, previous.as_ref(), &reach);
        b.write(path).map_err(|e| Failure::runtime(e.to_string()))?;
        ui.info(&format!(
            "wrote {} findings to the baseline {}",
            b.findings.len(),
            path.display()
        ));
    }
    for n in &report.not_evaluated {
        ui.warn(&format!("not evaluated: {}: {}", n.scope, n.reason));
    }
    for e in &report.stale_exemptions {
        ui.warn(&format!("stale {}", e.message()));
    }
    if args.strict_exemptions && !report.stale_exemptions.is_empty() {
        let list: Vec<String> = report
            .stale_exemptions
            .iter()
            .map(|e| format!("\n  {}", e.message()))
            .collect();
        return Err(Failure::usage(format!(
            "--strict-exemptions: {} stale exemption{}:{}",
            list.len(),
            if list.len() == 1 { "" } else { "s" },
            list.concat()
        )));
    }
    Ok(report.exit_code())
}

fn snapshot_cmd(args: &SnapshotArgs, conn: Conn<'_>, clock: Clock, ui: Ui) -> Outcome {
    let source = SourceArgs {
        snapshot: None,
        scope: args.scope,
        accounts: args.accounts.clone(),
    };
    let inv = inventory(&source, conn, clock.now(), ui)?;
    inv.write(&args.output)
        .map_err(|e| Failure::runtime(e.to_string()))?;
    ui.info(&format!(
        "wrote {} tokens of {} owners to {}",
        inv.token_count(),
        inv.owners().len(),
        args.output.display()
    ));
    for n in &inv.not_evaluated {
        ui.warn(&format!("not collected: {}: {}", n.scope, n.reason));
    }
    Ok(if inv.not_evaluated.is_empty() {
        exit::OK
    } else {
        exit::RUNTIME
    })
}

fn permission_groups_cmd(args: &PermissionGroupsArgs, conn: Conn<'_>) -> Outcome {
    let groups: Vec<Value> = if let Some(path) = &args.snapshot {
        let inv = Inventory::read(path).map_err(|e| Failure::usage(e.to_string()))?;
        let cat = match &args.account {
            Some(id) => inv
                .accounts
                .iter()
                .find(|a| &a.id == id)
                .ok_or_else(|| Failure::usage(format!("account {id} is not in the snapshot")))?
                .permission_groups
                .clone(),
            None => inv.user.as_ref().and_then(|u| u.permission_groups.clone()),
        };
        cat.ok_or_else(|| {
            Failure::usage("the snapshot has no permission-group catalogue for this owner")
        })?
    } else {
        let (client, _) = client(conn)?;
        let path = match &args.account {
            Some(id) => format!("/accounts/{id}/tokens/permission_groups"),
            None => "/user/tokens/permission_groups".to_string(),
        };
        let rt = runtime()?;
        let env = rt
            .block_on(client.get(&path, &[]))
            .map_err(|e| Failure::runtime(e.to_string()))?;
        match env.result {
            Value::Array(g) => g,
            _ => {
                return Err(Failure::runtime(format!(
                    "GET {path}: `result` is not a list"
                )))
            }
        }
    };
    let mut groups = groups;
    groups.sort_by(|a, b| {
        let k = |v: &Value| {
            v.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase()
        };
        k(a).cmp(&k(b))
    });
    match args.format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&groups).unwrap_or_default()
        ),
        ListFormat::Table => {
            for g in &groups {
                let s = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let scopes = g
                    .get("scopes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                println!("{:<32}  {:<45}  {}", s("id"), s("name"), scopes);
            }
        }
    }
    Ok(exit::OK)
}
