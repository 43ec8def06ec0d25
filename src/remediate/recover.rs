//! Recovery (docs/architecture.md §8, issue 12): find every action an earlier run left
//! unfinished in the journal — killed, interrupted, or ended with work left
//! (`"unfinished": true`) — and finish or undo it against the live API.
//!
//! This module reads the journal into [`Unfinished`] actions, each with the [`State`] its
//! steps reached (pure); [`live`] decides and acts per action (what it decides is in the
//! README, "If a rotation job was killed"). Entries recover writes while working on an
//! action carry `recovers: <run>`, so they extend that action: a recovery that is itself
//! killed is picked up again where it stopped. An action is closed by its `end` (when not
//! unfinished) or by a `recovered` entry.

pub mod live;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::plan::{Op, PlanItem};
use crate::inventory::Owner;
use crate::text::terminal as t;

/// How far an unfinished action got, by its journaled steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No API write was sent.
    NotStarted,
    /// A disable/enable started and never ended: its PUT may or may not have happened.
    StatusUnknown,
    /// A roll was sent and no answer was journaled: the secret may have changed.
    RollSent,
    /// A roll answered; its secret went to `escrow` (if writing it worked), undelivered.
    Rolled { escrow: Option<PathBuf> },
    /// The roll's secret reached the sink; only a leftover escrow may remain.
    RollDelivered,
    /// A replacement named `name` was asked for and no answer was journaled; `existing`
    /// already bore the name before.
    CreateSent { name: String, existing: Vec<String> },
    /// The replacement exists; its secret went to `escrow` (if written), undelivered.
    Created {
        new_token_id: String,
        new_token_name: String,
        escrow: Option<PathBuf>,
    },
    /// The replacement's secret reached the sink; the old token may still be active.
    ReplaceDelivered {
        new_token_id: String,
        new_token_name: String,
    },
}

impl State {
    /// What the journal shows, in a few words.
    pub fn describe(&self) -> String {
        match self {
            State::NotStarted => "started, nothing sent".into(),
            State::StatusUnknown => "status change sent, no end".into(),
            State::RollSent => "roll sent, no answer journaled".into(),
            State::Rolled { escrow: Some(_) } => "rolled, secret escrowed, not delivered".into(),
            State::Rolled { escrow: None } => "rolled, escrow failed, not delivered".into(),
            State::RollDelivered => "rolled and delivered".into(),
            State::CreateSent { .. } => "replacement asked for, no answer journaled".into(),
            State::Created { new_token_id, .. } => {
                format!("replacement {new_token_id} created, secret not delivered")
            }
            State::ReplaceDelivered { new_token_id, .. } => {
                format!("replacement {new_token_id} delivered, old token not disabled")
            }
        }
    }

    /// Whether finishing it may need to deliver a secret (so `--apply` needs a sink).
    pub fn may_deliver(&self) -> bool {
        matches!(
            self,
            State::RollSent
                | State::Rolled { .. }
                | State::CreateSent { .. }
                | State::Created { .. }
        )
    }
}

/// One action of an earlier run that the journal shows unfinished.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    /// The run that started it.
    pub run: String,
    /// The action as planned; `scanned` is the token as it was before the action.
    pub item: PlanItem,
    pub state: State,
    /// Every escrow file the action wrote, beside the journal.
    pub escrows: Vec<PathBuf>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A journaled escrow path, found beside the journal by its file name (the journal may have
/// been written from another working directory).
/// Only a file named like an escrow file counts: a journal that was tampered with cannot
/// make recover read (and then remove) any other file as a secret.
fn escrow_path(v: &Value, escrow_dir: &Path) -> Option<PathBuf> {
    let shown = v.get("escrow").and_then(Value::as_str)?;
    let name = Path::new(shown).file_name()?.to_str()?;
    let escrow_like = name.starts_with("tokenwarden-escrow-") && name.ends_with(".secret");
    escrow_like.then(|| escrow_dir.join(name))
}

/// The action a `start` entry describes. The journal is read back from disk, so its ids are
/// checked again before they reach a request path or a file name (issue 12).
fn item_of(start: &Value) -> Option<PlanItem> {
    let owner = serde_json::from_value::<Owner>(start.get("owner")?.clone()).ok()?;
    if owner.account_id().is_some_and(|a| !crate::id::is_id(a)) {
        return None;
    }
    let token_id = text(start, "token_id").filter(|t| crate::id::is_id(t))?;
    Some(PlanItem {
        owner,
        token_id,
        token_name: text(start, "token_name"),
        op: Op::parse(start.get("action")?.as_str()?)?,
        rules: start
            .get("rules")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        severity: None,
        superseded: Vec::new(),
        scanned: start.get("before").cloned().unwrap_or(Value::Null),
        is_self: false,
    })
}

/// What a journal says is left to do.
#[derive(Debug, Clone)]
pub struct Leftovers {
    /// Unfinished actions recover can look at, in the order they started.
    pub actions: Vec<Unfinished>,
    /// Unfinished actions whose `start` entry is missing or unreadable (or names something
    /// that is not a Cloudflare id): recover cannot act on them, and says so — never a
    /// silent skip.
    pub unreadable: Vec<String>,
}

/// Every unfinished action in `entries` (a journal, oldest first), in the order they
/// started. `escrow_dir` is the journal's directory.
pub fn unfinished(entries: &[Value], escrow_dir: &Path) -> Vec<Unfinished> {
    leftovers(entries, escrow_dir).actions
}

/// [`unfinished`], and the unfinished actions that cannot be read.
pub fn leftovers(entries: &[Value], escrow_dir: &Path) -> Leftovers {
    let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    for e in entries {
        let (Some(run), Some(token)) = (text(e, "run"), text(e, "token_id")) else {
            continue; // run-level entries (`interrupted`)
        };
        let key = (text(e, "recovers").unwrap_or(run), token);
        let group = groups.entry(key.clone()).or_default();
        if group.is_empty() {
            order.push(key);
        }
        group.push(e);
    }
    let mut left = Leftovers {
        actions: Vec::new(),
        unreadable: Vec::new(),
    };
    for key in order {
        let Some(events) = groups.get(&key) else {
            continue;
        };
        let closed = events.iter().any(|e| {
            let event = e.get("event").and_then(Value::as_str);
            event == Some("recovered")
                || (event == Some("end") && e.get("unfinished") != Some(&json!(true)))
        });
        if closed {
            continue;
        }
        let start = events
            .iter()
            .find(|e| e.get("event") == Some(&json!("start")) && e.get("recovers").is_none());
        let Some(item) = start.and_then(|s| item_of(s)) else {
            left.unreadable.push(format!(
                "run {}, token {:?}: the action's start entry is missing or unreadable, so recover cannot act on it; check that token by hand",
                key.0, key.1
            ));
            continue;
        };
        let (state, escrows) = state_of(&item, events, escrow_dir);
        left.actions.push(Unfinished {
            run: key.0,
            item,
            state,
            escrows,
        });
    }
    left
}

/// The state an action's steps reached, and the escrow files it wrote.
fn state_of(item: &PlanItem, events: &[&Value], escrow_dir: &Path) -> (State, Vec<PathBuf>) {
    let mut state = match item.op {
        Op::Disable | Op::Enable => State::StatusUnknown,
        Op::Roll | Op::Replace => State::NotStarted,
    };
    let mut escrows = Vec::new();
    for e in events {
        let escrow = escrow_path(e, escrow_dir);
        if let Some(p) = &escrow {
            if !escrows.contains(p) {
                escrows.push(p.clone());
            }
        }
        state = match (e.get("event").and_then(Value::as_str), &state) {
            (Some("rolling"), _) => State::RollSent,
            (Some("rolled"), _) => State::Rolled { escrow },
            (Some("creating"), _) => State::CreateSent {
                name: text(e, "new_token_name").unwrap_or_default(),
                existing: e
                    .get("existing")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            (Some("created"), _) => State::Created {
                new_token_id: text(e, "new_token_id").unwrap_or_default(),
                new_token_name: text(e, "new_token_name").unwrap_or_default(),
                escrow,
            },
            (
                Some("delivered"),
                State::Created {
                    new_token_id,
                    new_token_name,
                    ..
                },
            ) => State::ReplaceDelivered {
                new_token_id: new_token_id.clone(),
                new_token_name: new_token_name.clone(),
            },
            (Some("delivered"), _) if item.op == Op::Roll => State::RollDelivered,
            _ => state,
        };
    }
    (state, escrows)
}

/// What recover decided for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Completed: the secret is in the sink (and, for a replace, the old token disabled).
    Finished,
    /// Rolled back: nothing of the action remains (a replacement deleted again).
    Undone,
    /// Nothing to finish or undo (nothing was changed, or the token is gone).
    Closed,
    /// Dry run: what `--apply` would do.
    WouldFinish,
    WouldUndo,
    WouldClose,
    /// It could not be finished or undone; the run exits 3.
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Finished => "finished",
            Verdict::Undone => "undone",
            Verdict::Closed => "closed",
            Verdict::WouldFinish => "would finish",
            Verdict::WouldUndo => "would undo",
            Verdict::WouldClose => "would close",
            Verdict::Failed => "failed",
        }
    }

    /// The journal's `outcome` of a `recovered` entry, for the verdicts that close.
    pub fn closes(self) -> Option<&'static str> {
        match self {
            Verdict::Finished => Some("finished"),
            Verdict::Undone => Some("undone"),
            Verdict::Closed => Some("closed"),
            _ => None,
        }
    }
}

/// One action's recovery. Never holds a secret: only where it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    pub action: Unfinished,
    pub verdict: Verdict,
    pub message: String,
    pub delivered_to: Option<String>,
    /// An escrow file that still holds a working secret after this.
    pub escrow: Option<PathBuf>,
}

/// The recoveries as JSON: `{mode, actions: [...], summary}`.
pub fn json(recoveries: &[Recovery], apply: bool, exit_code: u8) -> Value {
    let actions: Vec<Value> = recoveries
        .iter()
        .map(|r| {
            json!({
                "run": r.action.run,
                "owner": r.action.item.owner,
                "token_id": r.action.item.token_id,
                "token_name": r.action.item.token_name,
                "action": r.action.item.op,
                "journal_state": r.action.state.describe(),
                "verdict": r.verdict.as_str(),
                "message": r.message,
                "delivered_to": r.delivered_to,
                "escrow": r.escrow.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    json!({
        "tool": "tokenwarden",
        "mode": if apply { "apply" } else { "dry-run" },
        "actions": actions,
        "summary": {
            "unfinished": recoveries.len(),
            "failed": recoveries.iter().filter(|r| r.verdict == Verdict::Failed).count(),
            "exit_code": exit_code,
        },
    })
}

/// The recoveries as a table, one action per row with what was (or would be) done under it.
pub fn table(recoveries: &[Recovery], apply: bool) -> String {
    let mut out = String::new();
    if !apply {
        out.push_str(
            "Dry run: nothing was changed. Pass --apply to finish or undo these actions.\n\n",
        );
    }
    if recoveries.is_empty() {
        out.push_str("Nothing to recover: every action in the journal is finished.\n");
        return out;
    }
    for r in recoveries {
        let a = &r.action;
        out.push_str(&format!(
            "{} {} {} ({}) of run {}: {} -> {}\n    -> {}\n",
            a.item.op,
            t(&a.item.owner.label()),
            t(&a.item.token_id),
            t(a.item.token_name.as_deref().unwrap_or("-")),
            t(&a.run),
            a.state.describe(),
            r.verdict.as_str(),
            t(&r.message)
        ));
    }
    let failed = recoveries
        .iter()
        .filter(|r| r.verdict == Verdict::Failed)
        .count();
    out.push_str(&format!(
        "\n{} unfinished action(s); {failed} could not be finished\n",
        recoveries.len()
    ));
    out
}

#[cfg(test)]
mod tests;
