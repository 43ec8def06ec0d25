//! The remediation plan (docs/architecture.md §8): from governed findings to at most one action per
//! token — the strongest one its findings ask for — with the rules behind it, the weaker
//! actions it supersedes, and the tokens left alone with the reason. Pure: no I/O.
//!
//! Strength: **disable > replace > roll**. Disabling cuts all access; replacing issues a
//! fresh token *and* disables the old one; rolling only changes the secret. A token that
//! should be disabled must not get a new secret delivered to its consumers (that would
//! prolong it), and a token being replaced gets a new secret anyway.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::finding::{Action, Finding, Severity};
use crate::inventory::{Inventory, Owner};

/// One remediation action (`Action` minus `none`, plus `enable`, which undoes a disable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Roll,
    Replace,
    Disable,
    Enable,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Roll => "roll",
            Op::Replace => "replace",
            Op::Disable => "disable",
            Op::Enable => "enable",
        }
    }

    /// The action named `s` (as the journal writes it).
    pub fn parse(s: &str) -> Option<Op> {
        [Op::Roll, Op::Replace, Op::Disable, Op::Enable]
            .into_iter()
            .find(|op| op.as_str() == s)
    }

    /// The action a finding asks for, if any.
    pub fn from_action(action: Action) -> Option<Op> {
        match action {
            Action::None => None,
            Action::Roll => Some(Op::Roll),
            Action::Replace => Some(Op::Replace),
            Action::Disable => Some(Op::Disable),
        }
    }

    /// Higher wins when findings ask for several actions on one token.
    fn strength(self) -> u8 {
        match self {
            Op::Roll => 1,
            Op::Replace => 2,
            Op::Disable => 3,
            Op::Enable => 0,
        }
    }

    /// Whether the action hands out a new secret (and so needs a secret sink).
    pub fn needs_sink(self) -> bool {
        matches!(self, Op::Roll | Op::Replace)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A weaker action that findings also asked for, and that the chosen one supersedes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Superseded {
    pub action: Op,
    pub rules: Vec<String>,
}

/// One action to take on one token.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanItem {
    pub owner: Owner,
    pub token_id: String,
    pub token_name: Option<String>,
    pub op: Op,
    /// The rules asking for `op` (empty for a single-token command: the operator asked).
    pub rules: Vec<String>,
    /// The highest severity among the token's actionable findings.
    pub severity: Option<Severity>,
    pub superseded: Vec<Superseded>,
    /// The token object as scanned: the protocol skips the token if it changed since.
    pub scanned: Value,
    /// The token tokenwarden runs with (only planned with `--include-self`).
    pub is_self: bool,
}

/// A token that findings asked to act on, left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub owner: Owner,
    pub token_id: String,
    pub token_name: Option<String>,
    pub action: Op,
    pub rules: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In execution order: most severe first, the scanner's own token last.
    pub items: Vec<PlanItem>,
    pub skipped: Vec<Skipped>,
}

/// What narrows a plan (`--rule`, `--token`, `--include-self`).
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Only findings of these rules count (all when empty).
    pub rules: &'a [String],
    /// Only these token ids (all when empty).
    pub tokens: &'a [String],
    pub include_self: bool,
}

fn time(token: &Value, field: &str) -> Option<DateTime<Utc>> {
    let s = token.get(field)?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn status_of(token: &Value) -> &str {
    token.get("status").and_then(Value::as_str).unwrap_or("")
}

/// Why an action must not run on a token (the guardrails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The token tokenwarden runs with, without `--include-self`.
    Scanner,
    /// The token is already in the state the action would set: nothing to do.
    Already(&'static str),
    /// Roll or replace on a token that is not active.
    Inactive { op: Op, state: String },
}

impl Guard {
    /// Whether the action is refused (as opposed to having nothing to do).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Guard::Already(_))
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Guard::Scanner => f.write_str(
                "the token tokenwarden itself runs with (pass --include-self to act on it)",
            ),
            Guard::Already(state) => write!(f, "already {state}"),
            // A new secret for an inactive token would not work (roll), or would hand
            // its access out again as an active copy (replace).
            Guard::Inactive { op, state } => write!(
                f,
                "the token is {state}: a {op} would hand out access it no longer grants"
            ),
        }
    }
}

/// Why `op` must not run on this token, if it must not.
pub fn guard(
    op: Op,
    token: &Value,
    is_self: bool,
    include_self: bool,
    now: DateTime<Utc>,
) -> Option<Guard> {
    if is_self && !include_self {
        return Some(Guard::Scanner);
    }
    let status = status_of(token);
    match op {
        Op::Disable if status == "disabled" => Some(Guard::Already("disabled")),
        Op::Enable if status == "active" => Some(Guard::Already("active")),
        Op::Roll | Op::Replace => {
            let expired = time(token, "expires_on").is_some_and(|t| t <= now);
            if status != "active" || expired {
                let state = if expired { "expired" } else { status };
                Some(Guard::Inactive {
                    op,
                    state: state.to_string(),
                })
            } else {
                None
            }
        }
        _ => None,
    }
}

#[derive(Default)]
struct Asks {
    rules: BTreeMap<Op, Vec<String>>,
    severity: Option<Severity>,
    owner: Option<Owner>,
    name: Option<String>,
}

/// The plan for a scan's findings. Exempted findings and `none` actions ask for nothing.
pub fn build(
    findings: &[Finding],
    inventory: &Inventory,
    filter: &Filter<'_>,
    now: DateTime<Utc>,
) -> Plan {
    let mut asks: BTreeMap<(String, String), Asks> = BTreeMap::new();
    for f in findings {
        let Some(op) = Op::from_action(f.action) else {
            continue;
        };
        if f.is_exempted()
            || (!filter.rules.is_empty() && !filter.rules.contains(&f.rule_id))
            || (!filter.tokens.is_empty() && !filter.tokens.iter().any(|t| **t == *f.token_id))
        {
            continue;
        }
        let a = asks
            .entry((f.owner.path(), f.token_id.to_string()))
            .or_default();
        let rules = a.rules.entry(op).or_default();
        if !rules.contains(&f.rule_id) {
            rules.push(f.rule_id.clone());
            rules.sort();
        }
        a.severity = a.severity.max(Some(f.severity));
        a.owner.get_or_insert_with(|| (*f.owner).clone());
        a.name = a
            .name
            .take()
            .or_else(|| f.token_name.as_deref().map(str::to_string));
    }

    let owners = inventory.owners();
    let scanner = inventory.scanner_token_id.as_deref();
    let mut plan = Plan::default();
    for ((owner_path, token_id), a) in asks {
        let Some(owner) = a.owner else { continue };
        let mut by_strength: Vec<(Op, Vec<String>)> = a.rules.into_iter().collect();
        by_strength.sort_by_key(|(op, _)| Reverse(op.strength()));
        let mut ops = by_strength.into_iter();
        let Some((op, rules)) = ops.next() else {
            continue;
        };
        let superseded = ops
            .map(|(action, rules)| Superseded { action, rules })
            .collect();
        let token = owners
            .iter()
            .filter(|o| o.owner.path() == owner_path)
            .flat_map(|o| o.tokens.iter())
            .find(|t| t.id() == token_id)
            .map(|t| t.value());
        let is_self = scanner == Some(token_id.as_str());
        let reason = match token {
            None => Some("not in the inventory".to_string()),
            Some(ref t) => guard(op, t, is_self, filter.include_self, now).map(|g| g.to_string()),
        };
        match (reason, token) {
            (None, Some(t)) => plan.items.push(PlanItem {
                owner,
                token_id,
                token_name: a.name,
                op,
                rules,
                severity: a.severity,
                superseded,
                scanned: t,
                is_self,
            }),
            (reason, _) => plan.skipped.push(Skipped {
                owner,
                token_id,
                token_name: a.name,
                action: op,
                rules,
                reason: reason.unwrap_or_default(),
            }),
        }
    }
    // The most severe first, so a max_actions limit defers the least urgent; the
    // scanner's own token last, since acting on it may end this run's access.
    plan.items.sort_by(|a, b| {
        (a.is_self, Reverse(a.severity), a.owner.path(), &a.token_id).cmp(&(
            b.is_self,
            Reverse(b.severity),
            b.owner.path(),
            &b.token_id,
        ))
    });
    plan
}

/// The plan of a single-token command (`tokenwarden disable ID`): the operator asked.
pub fn single(
    op: Op,
    owner: Owner,
    token: &Value,
    is_self: bool,
    include_self: bool,
    now: DateTime<Utc>,
) -> Plan {
    let token_id = token
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let token_name = token
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut plan = Plan::default();
    match guard(op, token, is_self, include_self, now) {
        Some(reason) => plan.skipped.push(Skipped {
            owner,
            token_id,
            token_name,
            action: op,
            rules: Vec::new(),
            reason: reason.to_string(),
        }),
        None => plan.items.push(PlanItem {
            owner,
            token_id,
            token_name,
            op,
            rules: Vec::new(),
            severity: None,
            superseded: Vec::new(),
            scanned: token.clone(),
            is_self,
        }),
    }
    plan
}

#[cfg(test)]
mod tests;
