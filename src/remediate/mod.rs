//! Remediation (docs/architecture.md §8, issue 3): turn findings into a plan of actions — roll, replace,
//! disable, enable — and carry it out without ever losing a secret or weakening a token.
//!
//! - [`plan`]: which one action each offending token gets, and why (pure).
//! - [`status`]: the disable/enable protocol: GET fresh, PUT the whole token back with only
//!   `status` changed, GET again and verify.
//! - [`apply`]: the driver that journals every action, and the roll protocol.
//! - [`replace`]: the replace protocol.
//! - [`sink`]: where new secrets go (`file:`, `exec:`, `stdout`) and the escrow.
//! - [`journal`]: the append-only JSONL record of every action and of each of its steps.
//! - [`recover`]: finish or undo the actions an interrupted run left unfinished.
//! - [`render`]: the plan and its outcomes as a table or JSON.
//!
//! The commands (`remediate`, `roll|replace|disable|enable TOKEN_ID`) are wired in the
//! binary's command layer; nothing here prints.

pub mod apply;
pub mod journal;
pub mod plan;
pub mod recover;
pub mod render;
pub mod replace;
pub mod sink;
pub mod status;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

pub use plan::{Op, Plan, PlanItem};

/// Where one planned action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    /// Dry run: would be executed.
    Planned,
    /// Not executed: beyond `max_actions` for this run.
    Deferred,
    Succeeded,
    /// Nothing to do: the token was already in the wanted state.
    Unchanged,
    /// Not executed because the token changed since the scan; the next run decides again.
    Skipped,
    Failed,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Planned => "planned",
            ActionStatus::Deferred => "deferred",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Unchanged => "unchanged",
            ActionStatus::Skipped => "skipped",
            ActionStatus::Failed => "failed",
        }
    }

    /// Whether this outcome makes the run exit 3: an action that did not do what the plan
    /// said (failed, or skipped because the token changed under it).
    pub fn is_failure(self) -> bool {
        matches!(self, ActionStatus::Failed | ActionStatus::Skipped)
    }
}

/// A request to stop (SIGINT/SIGTERM, set by the command layer): the current action
/// finishes its critical step — its new secret escrowed and the delivery under way — and
/// no further action or step starts (docs/architecture.md §8).
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Whether this is the first request (so a second one can be told apart).
    pub fn request_first(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }
}

/// What executing one action did. Never holds a secret: only where it went.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub status: ActionStatus,
    pub message: String,
    /// Where the new secret was delivered (a file path, "stdout", "the exec: command").
    pub delivered_to: Option<String>,
    /// The escrow file holding a secret that could not be delivered.
    pub escrow: Option<PathBuf>,
    /// The token a replace created (whether or not it still exists: see `message`).
    pub new_token_id: Option<String>,
    /// The token as read fresh just before the change.
    pub before: Option<Value>,
    /// The token as read back after the change.
    pub after: Option<Value>,
    /// The action left work behind that `tokenwarden recover` finishes or undoes: a secret
    /// escrowed but not delivered, a secret nobody holds, a replacement not deleted, an old
    /// token not disabled. Journaled in the `end` entry.
    pub unfinished: bool,
}

impl ActionOutcome {
    pub fn new(status: ActionStatus, message: impl Into<String>) -> ActionOutcome {
        ActionOutcome {
            status,
            message: message.into(),
            delivered_to: None,
            escrow: None,
            new_token_id: None,
            before: None,
            after: None,
            unfinished: false,
        }
    }

    /// Marks the outcome as leaving work for `tokenwarden recover`.
    pub fn unfinished(mut self) -> ActionOutcome {
        self.unfinished = true;
        self
    }

    pub fn failed(message: impl Into<String>) -> ActionOutcome {
        ActionOutcome::new(ActionStatus::Failed, message)
    }

    pub fn with_before(mut self, before: Option<Value>) -> ActionOutcome {
        self.before = before;
        self
    }

    pub fn with_after(mut self, after: Option<Value>) -> ActionOutcome {
        self.after = after;
        self
    }
}

/// Why a write body cannot be built from a token as the API returned it: the token is not
/// changed then, and the action fails with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the token is not a JSON object")]
    NotAnObject,
    #[error("the token has no name, which a PUT requires")]
    NoName,
    #[error("the token has no policies, which a PUT requires")]
    NoPolicies,
    #[error("the token has no policies to copy")]
    NothingToCopy,
    #[error("policies[{0}] has a permission group without an id")]
    GroupWithoutId(usize),
    #[error("policies[{0}] has no effect or no resources")]
    NoEffectOrResources(usize),
    #[error("the token's not_before is not a time")]
    NotBefore,
    /// `max_lifetime_days` would give a replacement less than the minimum validity, or an
    /// expiry past any representable time (issue 12).
    #[error("{0}")]
    Lifetime(String),
}

/// A token object without anything secret: API objects never carry the secret except a
/// create response's `value`, which is removed here once more for good measure.
pub fn without_secret(token: &Value) -> Value {
    let mut t = token.clone();
    if let Value::Object(map) = &mut t {
        map.remove("value");
    }
    t
}
