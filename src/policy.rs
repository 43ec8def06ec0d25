//! Governance policy files (`policies/*.toml`, docs/architecture.md §6): thresholds, lists, the gate,
//! disabled rules, severity overrides, exemptions and the remediation map.
//!
//! The file is parsed with spans and then validated into [`GovernancePolicy`], collecting
//! every problem with its line (as cargo-deny does) instead of stopping at the first.
//! A policy file overrides the built-in default key by key: a file that only sets
//! `[gate] fail_on` keeps every default threshold.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::finding::{Action, FailOn, Severity};

/// The built-in policy, compiled in (docs/architecture.md §6).
pub const DEFAULT_POLICY: &str = include_str!("../policies/default.toml");

/// A value together with the line it was written on (1-based; 0 for built-ins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub max_lifetime_days: f64,
    pub expiry_warning_days: f64,
    pub max_secret_age_days: f64,
    pub max_unused_days: f64,
    pub min_ipv4_prefix: u8,
    pub min_ipv6_prefix: u8,
    pub max_permission_groups: u32,
    pub lingering_days: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lists {
    pub privilege_escalation_groups: Vec<String>,
    pub sensitive_write_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    pub disabled: Vec<Located<String>>,
    pub severity: Vec<(Located<String>, Severity)>,
}

/// Which tokens an exemption names: one token by id, or tokens by a glob on their name —
/// never both, so an id never matches a token *named* like it (issue 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenMatch {
    /// `token_id = "<32 hex>"`.
    Id(String),
    /// `token_name = "<glob>"`.
    Name(String),
}

impl TokenMatch {
    /// The id or the glob, as written.
    pub fn text(&self) -> &str {
        match self {
            TokenMatch::Id(s) | TokenMatch::Name(s) => s,
        }
    }

    /// `token_id` or `token_name`: the key it was written with.
    pub fn key(&self) -> &'static str {
        match self {
            TokenMatch::Id(_) => "token_id",
            TokenMatch::Name(_) => "token_name",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemption {
    pub rule: Located<String>,
    pub token: TokenMatch,
    pub account: Option<String>,
    pub reason: String,
    /// Who answers for the exemption (the `owner` key): not the token's owner.
    pub contact: String,
    pub expires: NaiveDate,
    /// Where it was written: the policy file, an `--exemptions` file, or the built-in name.
    pub source: String,
    pub line: usize,
}

/// Bounds the policy puts on itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// An exemption may expire at most this many days after the run's now.
    pub max_exemption_days: u32,
    /// The most one rule may take on one token, in milliseconds (custom packs).
    pub rule_time_limit_ms: u32,
    /// How far rule evaluation may grow the process heap, in MiB (custom packs).
    pub rule_memory_limit_mb: u32,
}

/// The range `[limits] rule_time_limit_ms` may take.
pub const RULE_TIME_LIMIT_MS_RANGE: std::ops::RangeInclusive<i64> = 10..=600_000;

/// The range `[limits] rule_memory_limit_mb` may take.
pub const RULE_MEMORY_LIMIT_MB_RANGE: std::ops::RangeInclusive<i64> = 16..=65_536;

/// The range `[limits] max_exemption_days` may take.
pub const MAX_EXEMPTION_DAYS_RANGE: std::ops::RangeInclusive<i64> = 1..=3650;

#[derive(Debug, Clone, PartialEq)]
pub struct RemediationSettings {
    pub actions: Vec<(Located<String>, Action)>,
    pub max_actions: u32,
}

/// Remediation deadlines (`[sla]`): days a finding of each severity may stay open after
/// it was first seen; `None` sets no deadline (docs/architecture.md, "History").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sla {
    pub critical: Option<u32>,
    pub high: Option<u32>,
    pub medium: Option<u32>,
    pub low: Option<u32>,
}

impl Sla {
    pub fn days(&self, severity: crate::finding::Severity) -> Option<u32> {
        use crate::finding::Severity;
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }
    }
}

/// The range each `[sla]` key may take, in days.
pub const SLA_DAYS_RANGE: std::ops::RangeInclusive<i64> = 1..=3650;

/// What the gate fails on besides `fail_on`, when the scan is recorded in a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryGate {
    /// Any unexempted finding new since the previous scan of the scope.
    pub fail_on_new: bool,
    /// Any token whose permissions, resources, condition, expiry or start changed.
    pub fail_on_drift: bool,
    /// Any unexempted open finding past its `[sla]` deadline.
    pub fail_on_overdue: bool,
}

/// A validated governance policy.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernancePolicy {
    /// Where it came from: a file path, or "built-in default policy".
    pub source: String,
    pub thresholds: Thresholds,
    pub lists: Lists,
    pub fail_on: FailOn,
    pub rules: RuleSettings,
    pub exemptions: Vec<Exemption>,
    pub remediation: RemediationSettings,
    pub limits: Limits,
    pub sla: Sla,
    pub history_gate: HistoryGate,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub line: usize,
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(.source_name, .problems))]
    Invalid {
        source_name: String,
        problems: Vec<PolicyProblem>,
    },
}

fn render_problems(source: &str, problems: &[PolicyProblem]) -> String {
    let mut s = format!(
        "invalid governance policy {source} ({} problem{}):",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        if p.key.is_empty() {
            s.push_str(&format!("\n  {source}:{}: {}", p.line, p.message));
        } else {
            s.push_str(&format!(
                "\n  {source}:{}: {}: {}",
                p.line, p.key, p.message
            ));
        }
    }
    s
}

impl fmt::Display for Located<String> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl GovernancePolicy {
    /// Every exemption must expire within `[limits] max_exemption_days` of `now`: an
    /// exemption is a deadline, never a permanent waiver (issue 12). Problems name each
    /// exemption's file and line.
    pub fn check_exemption_horizon(&self, now: DateTime<Utc>) -> Result<(), PolicyError> {
        let max = self.limits.max_exemption_days;
        let latest = now.date_naive() + chrono::Days::new(u64::from(max));
        let far: Vec<&Exemption> = self
            .exemptions
            .iter()
            .filter(|e| e.expires > latest)
            .collect();
        let Some(first) = far.first() else {
            return Ok(());
        };
        let problems = far
            .iter()
            .filter(|e| e.source == first.source)
            .map(|e| PolicyProblem {
                line: e.line,
                key: "expires".into(),
                message: format!(
                    "{} is more than [limits] max_exemption_days ({max}) after {}: set an expiry on or before {latest}",
                    e.expires,
                    now.date_naive()
                ),
            })
            .collect();
        Err(PolicyError::Invalid {
            source_name: first.source.clone(),
            problems,
        })
    }

    pub fn builtin() -> Result<Self, PolicyError> {
        Self::parse(DEFAULT_POLICY, "built-in default policy", None)
    }

    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = Self::builtin()?;
        Self::parse(&text, &path.display().to_string(), Some(base))
    }

    /// Parse `text` over `base` (the built-in default), or as a complete policy when
    /// `base` is `None` (the built-in itself must set every key).
    pub fn parse(text: &str, source: &str, base: Option<Self>) -> Result<Self, PolicyError> {
        let mut p = Parser {
            text,
            source,
            problems: Vec::new(),
        };
        let table = p.parse_toml()?;
        let complete = base.is_none();
        let mut policy = base.unwrap_or_else(empty_policy);
        policy.source = source.to_string();
        p.policy(table.get_ref(), &mut policy, complete);
        p.finish(policy)
    }

    /// Rule ids named by the policy (and by merged exemption files) must exist: a typo
    /// would silently do nothing. Problems are reported against the file they are in.
    pub fn check_rule_ids(&self, known: &BTreeSet<String>) -> Result<(), PolicyError> {
        let mut by_source: std::collections::BTreeMap<String, Vec<PolicyProblem>> =
            std::collections::BTreeMap::new();
        let mut check = |source: &str, id: &Located<String>, key: &str, wildcard_ok: bool| {
            if !(known.contains(&id.value) || (wildcard_ok && id.value == "*")) {
                by_source
                    .entry(if source == self.source {
                        String::new()
                    } else {
                        source.to_string()
                    })
                    .or_default()
                    .push(PolicyProblem {
                        line: id.line,
                        key: key.to_string(),
                        message: format!("unknown rule id {:?}", id.value),
                    });
            }
        };
        let own = self.source.as_str();
        for d in &self.rules.disabled {
            check(own, d, "rules.disabled", false);
        }
        for (id, _) in &self.rules.severity {
            check(own, id, "rules.severity", false);
        }
        for (id, _) in &self.remediation.actions {
            check(own, id, "remediation.actions", false);
        }
        for e in &self.exemptions {
            check(&e.source, &e.rule, "exemptions.rule", true);
        }
        // The policy file's own problems first (its key sorts as ""), then each
        // exemptions file's.
        match by_source.into_iter().next() {
            None => Ok(()),
            Some((source, mut problems)) => {
                problems.sort_by_key(|p| p.line);
                Err(PolicyError::Invalid {
                    source_name: if source.is_empty() {
                        self.source.clone()
                    } else {
                        source
                    },
                    problems,
                })
            }
        }
    }

    /// `data.tokenwarden.config`: what rules read (docs/architecture.md §4).
    pub fn config_data(&self) -> Value {
        let t = &self.thresholds;
        json!({
            "max_lifetime_days": num(t.max_lifetime_days),
            "expiry_warning_days": num(t.expiry_warning_days),
            "max_secret_age_days": num(t.max_secret_age_days),
            "max_unused_days": num(t.max_unused_days),
            "min_ipv4_prefix": t.min_ipv4_prefix,
            "min_ipv6_prefix": t.min_ipv6_prefix,
            "max_permission_groups": t.max_permission_groups,
            "lingering_days": num(t.lingering_days),
            "privilege_escalation_groups": self.lists.privilege_escalation_groups,
            "sensitive_write_groups": self.lists.sensitive_write_groups,
        })
    }
}

/// Whole numbers print as integers, so `explain` shows `90`, not `90.0`.
fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn empty_policy() -> GovernancePolicy {
    GovernancePolicy {
        source: String::new(),
        thresholds: Thresholds {
            max_lifetime_days: 0.0,
            expiry_warning_days: 0.0,
            max_secret_age_days: 0.0,
            max_unused_days: 0.0,
            min_ipv4_prefix: 0,
            min_ipv6_prefix: 0,
            max_permission_groups: 0,
            lingering_days: 0.0,
        },
        lists: Lists {
            privilege_escalation_groups: Vec::new(),
            sensitive_write_groups: Vec::new(),
        },
        fail_on: FailOn::High,
        rules: RuleSettings {
            disabled: Vec::new(),
            severity: Vec::new(),
        },
        exemptions: Vec::new(),
        remediation: RemediationSettings {
            actions: Vec::new(),
            max_actions: 0,
        },
        limits: Limits {
            max_exemption_days: 365,
            rule_time_limit_ms: 2000,
            rule_memory_limit_mb: 1024,
        },
        sla: Sla::default(),
        history_gate: HistoryGate::default(),
    }
}

type Table<'i> = DeTable<'i>;
type Item<'i> = Spanned<DeValue<'i>>;

struct Parser<'t> {
    text: &'t str,
    source: &'t str,
    problems: Vec<PolicyProblem>,
}

impl<'t> Parser<'t> {
    fn parse_toml(&self) -> Result<Spanned<DeTable<'t>>, PolicyError> {
        DeTable::parse(self.text).map_err(|e| {
            let line = e.span().map_or(1, |s| self.line(&s));
            PolicyError::Invalid {
                source_name: self.source.to_string(),
                problems: vec![PolicyProblem {
                    line,
                    key: String::new(),
                    message: format!("not valid TOML: {}", e.message().trim()),
                }],
            }
        })
    }

    /// `value`, or every problem collected, sorted by line.
    fn finish<T>(mut self, value: T) -> Result<T, PolicyError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            self.problems.sort_by_key(|x| x.line);
            Err(PolicyError::Invalid {
                source_name: self.source.to_string(),
                problems: self.problems,
            })
        }
    }

    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn problem(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(PolicyProblem {
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// Report keys of `table` that are not in `allowed`.
    fn unknown_keys(&mut self, table: &Table<'_>, prefix: &str, allowed: &[&str]) {
        for (k, _) in table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let key = join(prefix, k.get_ref());
                self.problem(
                    &k.span(),
                    &key,
                    format!("unknown key (expected one of: {})", allowed.join(", ")),
                );
            }
        }
    }

    fn get<'a, 'i>(table: &'a Table<'i>, key: &str) -> Option<&'a Item<'i>> {
        table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    fn sub_table<'a, 'i>(&mut self, table: &'a Table<'i>, key: &str) -> Option<&'a Table<'i>> {
        let item = Self::get(table, key)?;
        match item.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.problem(
                    &item.span(),
                    key,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn policy(&mut self, root: &Table<'_>, policy: &mut GovernancePolicy, complete: bool) {
        self.unknown_keys(
            root,
            "",
            &[
                "thresholds",
                "lists",
                "gate",
                "rules",
                "exemptions",
                "remediation",
                "limits",
                "sla",
            ],
        );
        if let Some(t) = self.sub_table(root, "thresholds") {
            self.thresholds(t, &mut policy.thresholds, complete);
        } else if complete {
            self.missing(0..0, "thresholds");
        }
        if let Some(t) = self.sub_table(root, "lists") {
            self.unknown_keys(
                t,
                "lists",
                &["privilege_escalation_groups", "sensitive_write_groups"],
            );
            for (key, slot) in [
                (
                    "privilege_escalation_groups",
                    &mut policy.lists.privilege_escalation_groups,
                ),
                (
                    "sensitive_write_groups",
                    &mut policy.lists.sensitive_write_groups,
                ),
            ] {
                if let Some(item) = Self::get(t, key) {
                    if let Some(list) = self.string_list(item, &format!("lists.{key}")) {
                        *slot = list.into_iter().map(|l| l.value).collect();
                    }
                }
            }
        }
        if let Some(t) = self.sub_table(root, "gate") {
            self.unknown_keys(
                t,
                "gate",
                &["fail_on", "fail_on_new", "fail_on_drift", "fail_on_overdue"],
            );
            for (key, slot) in [
                ("fail_on_new", &mut policy.history_gate.fail_on_new),
                ("fail_on_drift", &mut policy.history_gate.fail_on_drift),
                ("fail_on_overdue", &mut policy.history_gate.fail_on_overdue),
            ] {
                if let Some(item) = Self::get(t, key) {
                    match item.get_ref() {
                        DeValue::Boolean(b) => *slot = *b,
                        other => self.problem(
                            &item.span(),
                            &format!("gate.{key}"),
                            format!("expected a boolean, found {}", other.type_str()),
                        ),
                    }
                }
            }
            if let Some(item) = Self::get(t, "fail_on") {
                if let Some(s) = self.string(item, "gate.fail_on") {
                    match s.parse::<FailOn>() {
                        Ok(f) => policy.fail_on = f,
                        Err(e) => self.problem(&item.span(), "gate.fail_on", e.to_string()),
                    }
                }
            }
        }
        if let Some(t) = self.sub_table(root, "rules") {
            self.rules(t, &mut policy.rules);
        }
        if let Some(item) = Self::get(root, "exemptions") {
            self.exemptions(item, &mut policy.exemptions);
        }
        if let Some(t) = self.sub_table(root, "remediation") {
            self.remediation(t, &mut policy.remediation);
        }
        if let Some(t) = self.sub_table(root, "sla") {
            self.unknown_keys(t, "sla", &["critical", "high", "medium", "low"]);
            for (key, slot) in [
                ("critical", &mut policy.sla.critical),
                ("high", &mut policy.sla.high),
                ("medium", &mut policy.sla.medium),
                ("low", &mut policy.sla.low),
            ] {
                if let Some(item) = Self::get(t, key) {
                    if let Some(n) = self.integer(item, &format!("sla.{key}")) {
                        if SLA_DAYS_RANGE.contains(&n) {
                            *slot = Some(n as u32);
                        } else {
                            self.problem(
                                &item.span(),
                                &format!("sla.{key}"),
                                format!(
                                    "{n} is out of range ({}..={} days)",
                                    SLA_DAYS_RANGE.start(),
                                    SLA_DAYS_RANGE.end()
                                ),
                            );
                        }
                    }
                }
            }
        }
        if let Some(t) = self.sub_table(root, "limits") {
            self.unknown_keys(
                t,
                "limits",
                &[
                    "max_exemption_days",
                    "rule_time_limit_ms",
                    "rule_memory_limit_mb",
                ],
            );
            if let Some(item) = Self::get(t, "rule_memory_limit_mb") {
                if let Some(n) = self.integer(item, "limits.rule_memory_limit_mb") {
                    if RULE_MEMORY_LIMIT_MB_RANGE.contains(&n) {
                        policy.limits.rule_memory_limit_mb = n as u32;
                    } else {
                        self.problem(
                            &item.span(),
                            "limits.rule_memory_limit_mb",
                            format!(
                                "{n} is out of range ({}..={} MiB)",
                                RULE_MEMORY_LIMIT_MB_RANGE.start(),
                                RULE_MEMORY_LIMIT_MB_RANGE.end()
                            ),
                        );
                    }
                }
            }
            if let Some(item) = Self::get(t, "rule_time_limit_ms") {
                if let Some(n) = self.integer(item, "limits.rule_time_limit_ms") {
                    if RULE_TIME_LIMIT_MS_RANGE.contains(&n) {
                        policy.limits.rule_time_limit_ms = n as u32;
                    } else {
                        self.problem(
                            &item.span(),
                            "limits.rule_time_limit_ms",
                            format!(
                                "{n} is out of range ({}..={} ms)",
                                RULE_TIME_LIMIT_MS_RANGE.start(),
                                RULE_TIME_LIMIT_MS_RANGE.end()
                            ),
                        );
                    }
                }
            }
            if let Some(item) = Self::get(t, "max_exemption_days") {
                if let Some(n) = self.integer(item, "limits.max_exemption_days") {
                    if MAX_EXEMPTION_DAYS_RANGE.contains(&n) {
                        policy.limits.max_exemption_days = n as u32;
                    } else {
                        self.problem(
                            &item.span(),
                            "limits.max_exemption_days",
                            format!(
                                "{n} is out of range ({}..={} days)",
                                MAX_EXEMPTION_DAYS_RANGE.start(),
                                MAX_EXEMPTION_DAYS_RANGE.end()
                            ),
                        );
                    }
                }
            }
        }
    }

    fn missing(&mut self, span: Range<usize>, key: &str) {
        self.problem(&span, key, "missing required key");
    }

    fn thresholds(&mut self, t: &Table<'_>, th: &mut Thresholds, complete: bool) {
        const DAYS: [&str; 5] = [
            "max_lifetime_days",
            "expiry_warning_days",
            "max_secret_age_days",
            "max_unused_days",
            "lingering_days",
        ];
        const ALL: [&str; 8] = [
            "max_lifetime_days",
            "expiry_warning_days",
            "max_secret_age_days",
            "max_unused_days",
            "min_ipv4_prefix",
            "min_ipv6_prefix",
            "max_permission_groups",
            "lingering_days",
        ];
        self.unknown_keys(t, "thresholds", &ALL);
        for key in ALL {
            let name = format!("thresholds.{key}");
            let Some(item) = Self::get(t, key) else {
                if complete {
                    self.missing(0..0, &name);
                }
                continue;
            };
            if DAYS.contains(&key) {
                let Some(x) = self.number(item, &name) else {
                    continue;
                };
                if !(0.0..=36500.0).contains(&x) {
                    self.problem(
                        &item.span(),
                        &name,
                        format!("{x} is out of range (0 to 36500 days)"),
                    );
                    continue;
                }
                match key {
                    "max_lifetime_days" => th.max_lifetime_days = x,
                    "expiry_warning_days" => th.expiry_warning_days = x,
                    "max_secret_age_days" => th.max_secret_age_days = x,
                    "max_unused_days" => th.max_unused_days = x,
                    _ => th.lingering_days = x,
                }
            } else {
                let max = match key {
                    "min_ipv4_prefix" => 32,
                    "min_ipv6_prefix" => 128,
                    _ => 10_000,
                };
                let Some(n) = self.integer(item, &name) else {
                    continue;
                };
                if n < 0 || n > max {
                    self.problem(
                        &item.span(),
                        &name,
                        format!("{n} is out of range (0 to {max})"),
                    );
                    continue;
                }
                match key {
                    "min_ipv4_prefix" => th.min_ipv4_prefix = n as u8,
                    "min_ipv6_prefix" => th.min_ipv6_prefix = n as u8,
                    _ => th.max_permission_groups = n as u32,
                }
            }
        }
    }

    fn rules(&mut self, t: &Table<'_>, rules: &mut RuleSettings) {
        self.unknown_keys(t, "rules", &["disabled", "severity"]);
        if let Some(item) = Self::get(t, "disabled") {
            if let Some(list) = self.string_list(item, "rules.disabled") {
                rules.disabled = list;
            }
        }
        if let Some(item) = Self::get(t, "severity") {
            if let Some(map) = self.rule_map(item, "rules.severity", "severity") {
                rules.severity = map;
            }
        }
    }

    fn remediation(&mut self, t: &Table<'_>, r: &mut RemediationSettings) {
        self.unknown_keys(t, "remediation", &["actions", "max_actions"]);
        if let Some(item) = Self::get(t, "max_actions") {
            if let Some(n) = self.integer(item, "remediation.max_actions") {
                if (0..=10_000).contains(&n) {
                    r.max_actions = n as u32;
                } else {
                    self.problem(
                        &item.span(),
                        "remediation.max_actions",
                        format!("{n} is out of range (0 to 10000)"),
                    );
                }
            }
        }
        if let Some(item) = Self::get(t, "actions") {
            if let Some(map) = self.rule_map(item, "remediation.actions", "action") {
                r.actions = map;
            }
        }
    }

    /// A table of `rule id = value` (severity overrides, remediation actions).
    fn rule_map<T: std::str::FromStr<Err = crate::finding::UnknownName>>(
        &mut self,
        item: &Item<'_>,
        key: &str,
        what: &str,
    ) -> Option<Vec<(Located<String>, T)>> {
        let DeValue::Table(map) = item.get_ref() else {
            self.problem(
                &item.span(),
                key,
                format!(
                    "expected a table of rule id = {what}, found {}",
                    item.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in map.iter() {
            let name = format!("{key}.{}", k.get_ref());
            let Some(s) = self.string(v, &name) else {
                continue;
            };
            match s.parse::<T>() {
                Ok(value) => out.push((
                    Located {
                        value: k.get_ref().to_string(),
                        line: self.line(&k.span()),
                    },
                    value,
                )),
                Err(e) => self.problem(&v.span(), &name, e.to_string()),
            }
        }
        Some(out)
    }

    fn string(&mut self, item: &Item<'_>, key: &str) -> Option<String> {
        match item.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.problem(
                    &item.span(),
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn string_list(&mut self, item: &Item<'_>, key: &str) -> Option<Vec<Located<String>>> {
        let DeValue::Array(a) = item.get_ref() else {
            self.problem(
                &item.span(),
                key,
                format!(
                    "expected an array of strings, found {}",
                    item.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for v in a.iter() {
            match v.get_ref() {
                DeValue::String(s) => out.push(Located {
                    value: s.to_string(),
                    line: self.line(&v.span()),
                }),
                other => {
                    self.problem(
                        &v.span(),
                        key,
                        format!("expected a string, found {}", other.type_str()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn integer(&mut self, item: &Item<'_>, key: &str) -> Option<i64> {
        match item.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        self.problem(&item.span(), key, format!("invalid integer: {e}"));
                        None
                    }
                }
            }
            other => {
                self.problem(
                    &item.span(),
                    key,
                    format!("expected an integer, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn number(&mut self, item: &Item<'_>, key: &str) -> Option<f64> {
        match item.get_ref() {
            DeValue::Integer(_) => self.integer(item, key).map(|n| n as f64),
            DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    self.problem(&item.span(), key, format!("invalid number {}", f.as_str()));
                    None
                }
            },
            other => {
                self.problem(
                    &item.span(),
                    key,
                    format!("expected a number, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A date: a TOML local date (`2027-01-31`) or a string of that form.
    fn date(&mut self, item: &Item<'_>, key: &str) -> Option<NaiveDate> {
        let text = match item.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            other => {
                self.problem(
                    &item.span(),
                    key,
                    format!(
                        "expected a date like 2027-01-31, found {}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(
                    &item.span(),
                    key,
                    format!("invalid date {text:?} (expected YYYY-MM-DD): {e}"),
                );
                None
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

mod exemptions;
pub mod govern;

#[cfg(test)]
mod tests;
