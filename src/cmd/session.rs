//! The session of one run: the clock, the credential, the API client and its runtime, the
//! messages on stderr and the writer on stdout. Everything a command needs from the world
//! outside the library comes from here, once.

use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use tokenwarden::clock::Clock;
use tokenwarden::cloudflare::{self, ApiBase, Client, ClientOptions, Credential};
use tokenwarden::engine::{Backend, Evaluator, RuleSet};
use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;
use tokenwarden::scope::{Narrowing, Scope};
use tokenwarden::secret::Secret;
use tokenwarden::text::terminal_lines;

use super::args::{ColorChoice, EngineArg, EvalArgs, GlobalArgs, ScopeArg, SourceArgs};
use super::error::{usage, Error};
use super::progress::Progress;

/// Messages on stderr, filtered by `-v`/`-q`. A closed stderr is ignored: messages are
/// never worth a failed run.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub verbosity: i8,
    pub color: bool,
}

impl Ui {
    /// One message: control characters that outside text (an API error, a token name)
    /// may carry are spelled out, so no message can drive the terminal (issue 12).
    fn line(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "{}", terminal_lines(text));
    }

    pub fn warn(&self, msg: &str) {
        if self.verbosity >= 0 {
            self.line(&format!("warning: {msg}"));
        }
    }

    /// An error that does not end the run (the run's exit code still shows it).
    pub fn error(&self, msg: &str) {
        self.line(&format!("error: {msg}"));
    }

    /// Progress and results for `-v`.
    pub fn info(&self, msg: &str) {
        if self.verbosity >= 1 {
            self.line(msg);
        }
    }

    /// Timings and other detail for `-vv`.
    pub fn debug(&self, msg: &str) {
        if self.verbosity >= 2 {
            self.line(msg);
        }
    }

    /// A message the user asked for (e.g. "aborted"), shown even with `-q`.
    pub fn say(&self, msg: &str) {
        self.line(msg);
    }
}

/// Standard output as commands write it. A closed pipe (`tokenwarden … | head`) is not an
/// error, as for ripgrep: the first `EPIPE` turns every later write into a no-op, so no
/// command panics or fails because its reader went away, and each keeps its own exit code
/// (a gate's verdict is not changed by who reads it).
#[derive(Debug, Default)]
pub struct Stdout {
    closed: bool,
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match io::stdout().lock().write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match io::stdout().lock().flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
}

/// Write `text` to stdout (see [`Stdout`]).
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = Stdout::default();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Output {
            what: "the output",
            target: "stdout".into(),
            source,
        })
}

/// One run's shared state.
#[derive(Debug, Clone)]
pub struct Session {
    pub clock: Clock,
    pub ui: Ui,
    api_base: Option<String>,
    token_file: Option<PathBuf>,
    options: ClientOptions,
}

impl Session {
    /// Everything global flags decide; errors here are usage errors.
    pub fn new(g: &GlobalArgs) -> Result<Session, Error> {
        let clock = Clock::from_arg(g.now.as_deref())?;
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && io::stdout().is_terminal()
            }
        };
        let ui = Ui {
            verbosity: if g.quiet { -1 } else { g.verbose.min(3) as i8 },
            color,
        };
        // Every numeric flag is checked here, before any command starts, whether or not
        // the command talks to the API (clap checks the others' ranges).
        let budget = cloudflare::Budget::parse(&g.rate_limit)?;
        let options = ClientOptions {
            concurrency: usize::from(g.concurrency),
            retries: g.retries,
            timeout: std::time::Duration::from_secs(g.timeout),
            budget,
            ..Default::default()
        };
        Ok(Session {
            clock,
            ui,
            api_base: g.api_base.clone(),
            token_file: g.api_token_file.clone(),
            options,
        })
    }

    /// The credential from `--api-token-file`, `CLOUDFLARE_API_TOKEN`, or
    /// `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`, in that order.
    pub fn credential(&self) -> Result<Credential, Error> {
        if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Unreadable {
                flag: "--api-token-file",
                path: path.clone(),
                source,
            })?;
            let secret = Secret::new(text.trim());
            if secret.is_empty() {
                return Err(Error::Credential(format!(
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
            (Some(_), None) => Err(Error::Credential(
                "CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not".into(),
            )),
            (None, Some(_)) => Err(Error::Credential(
                "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not".into(),
            )),
            (None, None) => Err(Error::Credential(
                "no Cloudflare credential: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY), use --api-token-file FILE, or scan a file with --snapshot FILE".into(),
            )),
        }
    }

    /// The API client, with the credential it uses.
    pub fn client(&self) -> Result<(Client, Credential), Error> {
        let base = ApiBase::parse(
            self.api_base
                .as_deref()
                .unwrap_or(cloudflare::client::DEFAULT_API_BASE),
        )?;
        let cred = self.credential()?;
        let client = Client::with_options(base, &cred, self.options.clone())?;
        Ok((client, cred))
    }

    pub fn runtime(&self) -> Result<tokio::runtime::Runtime, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(Error::Runtime)
    }

    /// The inventory from a snapshot (narrowed as a live scan would be), or collected live.
    pub fn inventory(
        &self,
        source: &SourceArgs,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Inventory, Error> {
        let scope = scope_of(source.scope);
        if let Some(path) = &source.snapshot {
            let mut inv = Inventory::read(path)?;
            inv.narrow(Narrowing {
                scope,
                accounts: &source.accounts,
            });
            return Ok(inv);
        }
        let (client, cred) = self.client()?;
        self.ui.info(&format!(
            "collecting from {} ({})",
            client.base().as_str(),
            cred.kind()
        ));
        let rt = self.runtime()?;
        let on_terminal = io::stderr().is_terminal();
        let progress = Progress::new(
            self.ui.verbosity >= 0 && on_terminal,
            self.ui.verbosity >= 1 && !on_terminal,
        );
        let (inv, warnings) = rt.block_on(cloudflare::collect(
            &client,
            &cred,
            scope,
            &source.accounts,
            now,
            &progress,
        ));
        for w in warnings {
            self.ui.warn(&w);
        }
        Ok(inv)
    }
}

pub fn scope_of(s: ScopeArg) -> Scope {
    match s {
        ScopeArg::User => Scope::User,
        ScopeArg::Accounts => Scope::Accounts,
        ScopeArg::All => Scope::All,
    }
}

/// The rules of a run: the built-in pack unless `--no-default-rules`, plus each `--rules DIR`.
pub fn rule_set(extra: &[PathBuf], no_default: bool) -> Result<RuleSet, Error> {
    let mut set = if no_default {
        RuleSet::default()
    } else {
        RuleSet::builtin()?
    };
    for dir in extra {
        set.add_dir(dir)?;
    }
    if set.rules.is_empty() {
        return Err(usage(
            "no rules to evaluate (--no-default-rules without --rules DIR)",
        ));
    }
    Ok(set)
}

/// Policy, rules and the prepared evaluator: everything that can fail with exit 2.
pub struct Prepared {
    pub policy: GovernancePolicy,
    pub rules: RuleSet,
    pub evaluator: Evaluator,
}

/// `now` bounds how far ahead an exemption may expire (`[limits] max_exemption_days`).
pub fn prepare(eval: &EvalArgs, now: chrono::DateTime<chrono::Utc>) -> Result<Prepared, Error> {
    let mut policy = match &eval.policy {
        Some(p) => GovernancePolicy::load(p),
        None => GovernancePolicy::builtin(),
    }?;
    for path in &eval.exemptions {
        policy
            .exemptions
            .extend(GovernancePolicy::load_exemptions(path)?);
    }
    policy.check_exemption_horizon(now)?;
    let rules = rule_set(&eval.rules, eval.no_default_rules)?;
    policy.check_rule_ids(&rules.ids())?;
    let disabled: Vec<String> = policy
        .rules
        .disabled
        .iter()
        .map(|d| d.value.clone())
        .collect();
    let backend = match eval.engine {
        EngineArg::Vm => Backend::Vm,
        EngineArg::Interpreter => Backend::Interpreter,
    };
    let mut evaluator = Evaluator::with_backend(&rules, &policy.config_data(), &disabled, backend)?;
    evaluator.set_rule_time_limit(std::time::Duration::from_millis(u64::from(
        policy.limits.rule_time_limit_ms,
    )));
    evaluator.set_rule_memory_limit(u64::from(policy.limits.rule_memory_limit_mb) * 1024 * 1024);
    Ok(Prepared {
        policy,
        rules,
        evaluator,
    })
}

/// Fail before the run starts when `path` (named by `flag`) cannot be written: an existing
/// file must open for writing (it is not truncated here), a new one must be creatable in
/// its directory (a probe file is created and removed). So a file that cannot be written is
/// exit 2 whichever flag named it, and no live scan is spent on a report that cannot land.
pub fn check_writable(flag: &'static str, path: &Path) -> Result<(), Error> {
    let err = |source| Error::Unwritable {
        flag,
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    if path.exists() {
        return OpenOptions::new()
            .write(true)
            .open(path)
            .map(drop)
            .map_err(err);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let probe = dir.join(format!(".{name}.tokenwarden-probe-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(err)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_path_is_found_before_the_run_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("report.json");
        check_writable("--output", &fresh).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let existing = dir.path().join("kept.json");
        std::fs::write(&existing, "old").unwrap();
        check_writable("--output", &existing).unwrap();
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "old");
        let e = check_writable("--sarif", &dir.path().join("missing/x.sarif")).unwrap_err();
        assert!(e.to_string().starts_with("cannot write --sarif "), "{e}");
        assert_eq!(e.exit().code(), 2);
        let e = check_writable("--output", dir.path()).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
