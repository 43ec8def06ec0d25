//! Token drift: what changed about each token between two recorded scans, field by field.
//! Pure functions over two sets of [`TokenState`]s; nothing here reads the database.
//!
//! A token the newer scan did not list is *deleted* only when the newer scan read its
//! owner in full (`covered`); a token the older scan did not have is *created* only when
//! the older scan had read its owner. A secret roll changes `modified_on` and nothing
//! else the API shows, so a `modified_on` change with no other change is a roll.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::state::TokenState;
use crate::scope::Owner;

/// What happened to a token between two scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum TokenEvent {
    Created,
    Deleted,
    Rolled,
    Enabled,
    Disabled,
    Renamed,
    /// Permissions, resources, condition, expiry or start changed.
    Drifted,
}

impl TokenEvent {
    /// Every event, in the order reports list them.
    pub const ALL: [TokenEvent; 7] = [
        TokenEvent::Created,
        TokenEvent::Deleted,
        TokenEvent::Rolled,
        TokenEvent::Enabled,
        TokenEvent::Disabled,
        TokenEvent::Renamed,
        TokenEvent::Drifted,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One token's changes: its events and the exact lines (`+ "Zone Write" on …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenChange {
    pub owner: Owner,
    pub token_id: String,
    pub token_name: Option<String>,
    pub events: Vec<TokenEvent>,
    pub changes: Vec<String>,
}

impl TokenChange {
    pub fn drifted(&self) -> bool {
        self.events.contains(&TokenEvent::Drifted)
    }

    pub fn label(&self) -> &str {
        self.token_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.token_id)
    }
}

/// A time as history shows it: a date when it is midnight UTC, else RFC 3339; `null` when absent.
pub fn show_value(v: Option<&str>) -> String {
    match v {
        None => "null".to_string(),
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => {
                let t = t.with_timezone(&Utc);
                if t.time() == chrono::NaiveTime::MIN {
                    t.format("%Y-%m-%d").to_string()
                } else {
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                }
            }
            Err(_) => s.to_string(),
        },
    }
}

fn ip_lines(
    key: &str,
    old: Option<&BTreeSet<String>>,
    new: Option<&BTreeSet<String>>,
    out: &mut Vec<String>,
) {
    match (old, new) {
        (None, None) => {}
        (Some(_), None) => out.push(format!("- condition.request_ip.{key}")),
        (None, Some(n)) => out.push(format!(
            "+ condition.request_ip.{key} [{}]",
            n.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
        (Some(o), Some(n)) => {
            for ip in n.difference(o) {
                out.push(format!("+ condition.request_ip.{key} {ip}"));
            }
            for ip in o.difference(n) {
                out.push(format!("- condition.request_ip.{key} {ip}"));
            }
        }
    }
}

/// The changes between two states of one token, or `None` when nothing comparable changed.
pub fn diff_token(old: &TokenState, new: &TokenState) -> Option<TokenChange> {
    let mut events = Vec::new();
    let mut lines = Vec::new();
    if old.name != new.name {
        events.push(TokenEvent::Renamed);
        lines.push(format!(
            "name {} → {}",
            old.name
                .as_deref()
                .map_or("null".into(), |n| format!("{n:?}")),
            new.name
                .as_deref()
                .map_or("null".into(), |n| format!("{n:?}"))
        ));
    }
    if old.status != new.status {
        match new.status.as_deref() {
            Some("active") => events.push(TokenEvent::Enabled),
            Some("disabled") | Some("expired") => events.push(TokenEvent::Disabled),
            _ => {}
        }
        lines.push(format!(
            "status {} → {}",
            old.status.as_deref().unwrap_or("null"),
            new.status.as_deref().unwrap_or("null")
        ));
    }
    let mut drift = Vec::new();
    for g in new.grants.difference(&old.grants) {
        drift.push(format!("+ {}", g.show()));
    }
    for g in old.grants.difference(&new.grants) {
        drift.push(format!("- {}", g.show()));
    }
    ip_lines("in", old.ip_in.as_ref(), new.ip_in.as_ref(), &mut drift);
    ip_lines(
        "not_in",
        old.ip_not_in.as_ref(),
        new.ip_not_in.as_ref(),
        &mut drift,
    );
    for (field, o, n) in [
        ("expires_on", &old.expires_on, &new.expires_on),
        ("not_before", &old.not_before, &new.not_before),
    ] {
        if o != n {
            drift.push(format!(
                "{field} {} → {}",
                show_value(o.as_deref()),
                show_value(n.as_deref())
            ));
        }
    }
    if !drift.is_empty() {
        events.push(TokenEvent::Drifted);
        lines.extend(drift);
    }
    if old.modified_on != new.modified_on && events.is_empty() {
        events.push(TokenEvent::Rolled);
        lines.push(format!(
            "secret rolled (modified_on {} → {})",
            show_value(old.modified_on.as_deref()),
            show_value(new.modified_on.as_deref())
        ));
    }
    if events.is_empty() {
        return None;
    }
    events.sort();
    Some(TokenChange {
        owner: new.owner.clone(),
        token_id: new.id.clone(),
        token_name: new.name.clone(),
        events,
        changes: lines,
    })
}

/// Which owners (by path, `user` or `accounts/<id>`) a scan read in full.
pub type Covered = BTreeSet<String>;

/// Every token change between `old` (the previous scan's tokens, `old_covered` its owners
/// read in full) and `new` (this scan's tokens it read, `new_covered` likewise). Sorted by
/// owner and token id.
pub fn diff(
    old: &[TokenState],
    old_covered: &Covered,
    new: &[TokenState],
    new_covered: &Covered,
) -> Vec<TokenChange> {
    let old_by: BTreeMap<(String, &str), &TokenState> = old
        .iter()
        .map(|t| ((t.owner.path(), t.id.as_str()), t))
        .collect();
    let new_by: BTreeMap<(String, &str), &TokenState> = new
        .iter()
        .map(|t| ((t.owner.path(), t.id.as_str()), t))
        .collect();
    let mut out = Vec::new();
    let whole = |t: &TokenState, event: TokenEvent, line: String| TokenChange {
        owner: t.owner.clone(),
        token_id: t.id.clone(),
        token_name: t.name.clone(),
        events: vec![event],
        changes: vec![line],
    };
    for (key, n) in &new_by {
        match old_by.get(key) {
            Some(o) => out.extend(diff_token(o, n)),
            None if old_covered.contains(&key.0) => {
                out.push(whole(n, TokenEvent::Created, "+ token".to_string()));
            }
            None => {}
        }
    }
    for (key, o) in &old_by {
        if !new_by.contains_key(key) && new_covered.contains(&key.0) {
            out.push(whole(o, TokenEvent::Deleted, "- token".to_string()));
        }
    }
    out.sort_by(|a, b| (a.owner.path(), &a.token_id).cmp(&(b.owner.path(), &b.token_id)));
    out
}
