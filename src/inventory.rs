//! The collected inventory (owners, their tokens and permission-group catalogues, what
//! could not be read) and the `tokenwarden-snapshot/v1` file that stores it (docs/architecture.md §3).
//!
//! Token and permission-group objects stay verbatim Cloudflare API objects, so a snapshot
//! can also be built with curl, and nothing the API sends is lost between collection and
//! evaluation. A token is held as its compact JSON text ([`RawToken`]) and parsed only by
//! the worker that evaluates it: a JSON tree per token costs about eight times the text,
//! which at 100,000 tokens is the difference between 100 MB and a gigabyte (issue 5).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

pub use crate::scope::Owner;
use crate::scope::{Narrowing, ScopePath};

pub const SNAPSHOT_FORMAT: &str = "tokenwarden-snapshot/v1";

/// Everything one scan looked at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanner_token_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInventory>,
    #[serde(default)]
    pub accounts: Vec<AccountInventory>,
    #[serde(default)]
    pub not_evaluated: Vec<NotEvaluated>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserInventory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub tokens: Vec<RawToken>,
    /// `None` when the catalogue was not read: then no group can be called unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_groups: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountInventory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub tokens: Vec<RawToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_groups: Option<Vec<Value>>,
}

/// One token object exactly as the API sent it, minus insignificant whitespace, with the
/// id and name that every report needs read out once.
#[derive(Clone)]
pub struct RawToken {
    // Shared with every finding on the token (issue 5's memory target).
    id: Arc<str>,
    name: Option<Arc<str>>,
    json: Box<RawValue>,
    /// Why the object cannot be identified (JSON path suffix, message): reported by
    /// [`Inventory::validate`] with the token's full path, never dropped silently.
    problem: Option<(String, String)>,
}

impl RawToken {
    /// A token from a parsed API object; an object without a usable `id` is an error
    /// naming `json_path`.
    pub fn from_value(value: &Value, json_path: &str) -> Result<RawToken, (String, String)> {
        check_object_with_id(value, json_path)?;
        let json = serde_json::value::to_raw_value(value)
            .map_err(|e| (json_path.to_string(), e.to_string()))?;
        Ok(RawToken::from_raw(json))
    }

    fn from_raw(json: Box<RawValue>) -> RawToken {
        /// The two members every report needs; everything else is skipped unparsed.
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(borrow)]
            id: Option<&'a RawValue>,
            #[serde(borrow)]
            name: Option<&'a RawValue>,
        }
        let as_string =
            |v: Option<&RawValue>| v.and_then(|v| serde_json::from_str::<String>(v.get()).ok());
        let (id, name, problem) = match serde_json::from_str::<Head<'_>>(json.get()) {
            // Not an object, or (say) a duplicated `id` member: say which.
            Err(e) => {
                let message = if json.get().starts_with('{') {
                    e.to_string()
                } else {
                    "expected an object".to_string()
                };
                (String::new(), None, Some((String::new(), message)))
            }
            Ok(head) => {
                let id = as_string(head.id);
                let problem = match (&id, head.id) {
                    (Some(id), _) if !id.trim().is_empty() => None,
                    (Some(_), _) => Some((".id".into(), "must not be empty".into())),
                    (None, Some(_)) => Some((".id".into(), "expected a string".into())),
                    (None, None) => Some((".id".into(), "missing required key".into())),
                };
                (id.unwrap_or_default(), as_string(head.name), problem)
            }
        };
        RawToken {
            id: id.into(),
            name: name.map(Into::into),
            json,
            problem,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id, shared (findings keep it without a copy).
    pub fn shared_id(&self) -> &Arc<str> {
        &self.id
    }

    /// The name, shared.
    pub fn shared_name(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
    }

    /// The token's name when it is a string.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The compact JSON text of the object.
    pub fn json(&self) -> &str {
        self.json.get()
    }

    /// The object as a JSON tree (for explain and remediation, one token at a time).
    pub fn value(&self) -> Value {
        // The text was valid JSON when it was stored, so this cannot fail; `Null` keeps
        // library code free of panics all the same.
        serde_json::from_str(self.json.get()).unwrap_or(Value::Null)
    }
}

impl std::fmt::Debug for RawToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json.get())
    }
}

impl PartialEq for RawToken {
    fn eq(&self, other: &Self) -> bool {
        self.json.get() == other.json.get()
    }
}

impl Serialize for RawToken {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let compact = minify(raw.get());
        let json = if compact.len() == raw.get().len() {
            raw
        } else {
            RawValue::from_string(compact).map_err(serde::de::Error::custom)?
        };
        Ok(RawToken::from_raw(json))
    }
}

/// JSON text without the whitespace between tokens (strings are copied untouched). A
/// pretty-printed snapshot spends a third of its bytes on indentation.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    out
}

/// A scope (or a single token) that could not be read or evaluated. Never clean.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NotEvaluated {
    pub scope: ScopePath,
    pub reason: String,
}

impl NotEvaluated {
    pub fn new(scope: ScopePath, reason: impl Into<String>) -> NotEvaluated {
        NotEvaluated {
            scope,
            reason: reason.into(),
        }
    }
}

/// One token with its owner and the owner's catalogue, borrowed from the inventory.
#[derive(Debug, Clone, Copy)]
pub struct TokenRef<'a> {
    pub owner: &'a Arc<Owner>,
    pub token: &'a RawToken,
    pub catalogue: Option<&'a [Value]>,
}

impl<'a> TokenRef<'a> {
    pub fn id(&self) -> &'a str {
        self.token.id()
    }

    pub fn name(&self) -> Option<&'a str> {
        self.token.name()
    }
}

/// An owner of tokens in the inventory, ready to iterate.
#[derive(Debug, Clone)]
pub struct OwnerTokens<'a> {
    pub owner: Arc<Owner>,
    pub tokens: &'a [RawToken],
    pub catalogue: Option<&'a [Value]>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write snapshot {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {path}: not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("snapshot {path}: at {json_path}: {message}")]
    Shape {
        path: PathBuf,
        json_path: String,
        message: String,
    },
}

impl Inventory {
    pub fn new() -> Self {
        Inventory {
            format: SNAPSHOT_FORMAT.to_string(),
            ..Default::default()
        }
    }

    /// Owners in a fixed order: the user first, then accounts as listed.
    pub fn owners(&self) -> Vec<OwnerTokens<'_>> {
        let mut out = Vec::with_capacity(self.accounts.len() + 1);
        if let Some(user) = &self.user {
            out.push(OwnerTokens {
                owner: Arc::new(Owner::User {
                    id: user.id.clone(),
                }),
                tokens: &user.tokens,
                catalogue: user.permission_groups.as_deref(),
            });
        }
        for account in &self.accounts {
            out.push(OwnerTokens {
                owner: Arc::new(Owner::Account {
                    id: account.id.clone(),
                    name: account.name.clone(),
                }),
                tokens: &account.tokens,
                catalogue: account.permission_groups.as_deref(),
            });
        }
        out
    }

    /// Keep only what `--scope` and `--account` select, as a live scan with the same flags
    /// would have read it; an asked-for account the inventory lacks is *not evaluated*,
    /// never silently clean.
    pub fn narrow(&mut self, n: Narrowing<'_>) {
        if !n.keeps_user() {
            self.user = None;
        }
        if n.scope.covers_accounts() {
            for wanted in n.accounts {
                if !self.accounts.iter().any(|a| &a.id == wanted) {
                    self.not_evaluated.push(NotEvaluated::new(
                        ScopePath::AccountTokens(wanted.clone()),
                        "account not in the snapshot",
                    ));
                }
            }
        }
        self.accounts.retain(|a| n.keeps_account(&a.id));
        self.not_evaluated.retain(|e| n.keeps_path(&e.scope));
    }

    pub fn token_count(&self) -> usize {
        self.user.as_ref().map_or(0, |u| u.tokens.len())
            + self.accounts.iter().map(|a| a.tokens.len()).sum::<usize>()
    }

    /// Parse a snapshot document. `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Inventory, SnapshotError> {
        // A first pass checks the syntax and the format without building anything (the
        // rest is skipped as `IgnoredAny`); the second builds the inventory straight from
        // the text, so a large snapshot is held once, not as a JSON tree and a copy.
        #[derive(Deserialize)]
        struct Head {
            format: Option<Value>,
        }
        let syntax = |e: serde_json::Error| SnapshotError::Syntax {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let shape = |json_path: String, message: String| SnapshotError::Shape {
            path: path.to_path_buf(),
            json_path,
            message,
        };
        let head: Head = match serde_json::from_str(text) {
            Ok(h) => h,
            Err(e) if e.is_syntax() || e.is_eof() => return Err(syntax(e)),
            Err(e) => return Err(shape("$".into(), e.to_string())),
        };
        match head.format {
            Some(Value::String(f)) if f == SNAPSHOT_FORMAT => {}
            Some(Value::String(f)) => {
                return Err(shape(
                    "format".into(),
                    format!("unsupported format {f:?}, expected {SNAPSHOT_FORMAT:?}"),
                ))
            }
            Some(_) => return Err(shape("format".into(), "expected a string".into())),
            None => {
                return Err(shape(
                    "format".into(),
                    format!("missing required key (expected {SNAPSHOT_FORMAT:?})"),
                ))
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let inventory: Inventory = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let p = e.path().to_string();
            shape(if p == "." { "$".into() } else { p }, e.inner().to_string())
        })?;
        let mut inventory = inventory;
        inventory.validate().map_err(|(p, m)| shape(p, m))?;
        inventory.set_aside_invalid_ids();
        Ok(inventory)
    }

    pub fn read(path: &Path) -> Result<Inventory, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Write the snapshot atomically (temp file + rename) so a crash never leaves half
    /// of the audit evidence.
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        crate::atomic::write_json(path, self).map_err(|source| SnapshotError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A token or account whose id is not a Cloudflare id (32 lowercase hex characters) is
    /// taken out and recorded as not evaluated, with its JSON path in the reason: an id
    /// is data, never a path, and a snapshot is an entry point like the API
    /// (docs/architecture.md §3). A scope path cannot hold such an id, so a token is named
    /// by its owner's token list and an account by the account list.
    fn set_aside_invalid_ids(&mut self) {
        fn tokens(
            set_aside: &mut Vec<NotEvaluated>,
            prefix: &str,
            owner: &Owner,
            tokens: &mut Vec<RawToken>,
        ) {
            if tokens.iter().all(|t| crate::id::is_id(t.id())) {
                return;
            }
            let mut i = 0;
            tokens.retain(|t| {
                let kept = match crate::id::check(t.id()) {
                    Ok(()) => true,
                    Err(e) => {
                        set_aside.push(NotEvaluated::new(
                            owner.tokens_path(),
                            format!("snapshot {prefix}.tokens[{i}].id: {e}: that token is not evaluated"),
                        ));
                        false
                    }
                };
                i += 1;
                kept
            });
        }
        let mut set_aside = Vec::new();
        if let Some(user) = &mut self.user {
            let user_owner = Owner::User { id: None };
            tokens(&mut set_aside, "user", &user_owner, &mut user.tokens);
        }
        let mut i = 0;
        self.accounts.retain_mut(|a| {
            let prefix = format!("accounts[{i}]");
            i += 1;
            match crate::id::check(&a.id) {
                Ok(()) => {
                    let owner = Owner::Account {
                        id: a.id.clone(),
                        name: None,
                    };
                    tokens(&mut set_aside, &prefix, &owner, &mut a.tokens);
                    true
                }
                Err(e) => {
                    set_aside.push(NotEvaluated::new(
                        ScopePath::Accounts,
                        format!(
                            "snapshot {prefix}.id: {e}: that account and its {} tokens are not evaluated",
                            a.tokens.len()
                        ),
                    ));
                    false
                }
            }
        });
        self.not_evaluated.extend(set_aside);
    }

    /// Every token must be an object with a string `id`; permission groups likewise.
    /// A token we cannot identify cannot be reported, so it is an error, never dropped.
    /// The scanner's token id and the user's id, when given, must be Cloudflare ids.
    fn validate(&self) -> Result<(), (String, String)> {
        for (path, id) in [
            ("scanner_token_id", self.scanner_token_id.as_deref()),
            ("user.id", self.user.as_ref().and_then(|u| u.id.as_deref())),
        ] {
            if let Some(Err(e)) = id.map(crate::id::check) {
                return Err((path.into(), e.to_string()));
            }
        }
        let check_tokens = |prefix: &str, tokens: &[RawToken]| -> Result<(), (String, String)> {
            for (i, t) in tokens.iter().enumerate() {
                if let Some((suffix, message)) = &t.problem {
                    return Err((format!("{prefix}.tokens[{i}]{suffix}"), message.clone()));
                }
            }
            Ok(())
        };
        let check_groups =
            |prefix: &str, groups: &Option<Vec<Value>>| -> Result<(), (String, String)> {
                for (i, g) in groups.iter().flatten().enumerate() {
                    check_object_with_id(g, &format!("{prefix}.permission_groups[{i}]"))?;
                }
                Ok(())
            };
        if let Some(user) = &self.user {
            check_tokens("user", &user.tokens)?;
            check_groups("user", &user.permission_groups)?;
        }
        for (i, account) in self.accounts.iter().enumerate() {
            let prefix = format!("accounts[{i}]");
            if account.id.trim().is_empty() {
                return Err((format!("{prefix}.id"), "must not be empty".into()));
            }
            check_tokens(&prefix, &account.tokens)?;
            check_groups(&prefix, &account.permission_groups)?;
        }
        Ok(())
    }
}

/// Shared by the snapshot reader and the API client: a token or group object we can name.
pub fn check_object_with_id(value: &Value, json_path: &str) -> Result<(), (String, String)> {
    let Some(obj) = value.as_object() else {
        return Err((json_path.to_string(), "expected an object".into()));
    };
    match obj.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        Some(Value::String(_)) => Err((format!("{json_path}.id"), "must not be empty".into())),
        Some(_) => Err((format!("{json_path}.id"), "expected a string".into())),
        None => Err((format!("{json_path}.id"), "missing required key".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A1: &str = "023e105f4ecef8ad9ca31a8372d0c353";
    const T1: &str = "ed17574386854bf78a67040be0a770b0";
    const T2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

    fn parse(text: &str) -> Result<Inventory, SnapshotError> {
        Inventory::from_json(text, Path::new("snap.json"))
    }

    #[test]
    fn minimal_snapshot_parses() {
        let inv = parse(&format!(
            r#"{{"format":"tokenwarden-snapshot/v1","accounts":[{{"id":"{A1}","tokens":[{{"id":"{T1}"}}]}}]}}"#
        ))
        .unwrap();
        assert_eq!(inv.token_count(), 1);
        assert!(inv.accounts[0].permission_groups.is_none());
    }

    #[test]
    fn missing_format_is_an_error_naming_the_key() {
        let e = parse(r#"{"accounts":[]}"#).unwrap_err().to_string();
        assert!(e.contains("snap.json") && e.contains("format"), "{e}");
    }

    #[test]
    fn wrong_format_version_is_rejected() {
        let e = parse(r#"{"format":"tokenwarden-snapshot/v9"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported format"), "{e}");
    }

    #[test]
    fn missing_token_list_names_the_json_path() {
        let e = parse(r#"{"format":"tokenwarden-snapshot/v1","accounts":[{"id":"a1"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("accounts[0]") && e.contains("tokens"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_json_path() {
        let e = parse(r#"{"format":"tokenwarden-snapshot/v1","user":{"tokens":{}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("user.tokens"), "{e}");
    }

    #[test]
    fn token_without_id_is_an_error_not_a_dropped_token() {
        let e = parse(
            r#"{"format":"tokenwarden-snapshot/v1","user":{"tokens":[{"id":"x"},{"name":"n"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("user.tokens[1].id"), "{e}");
    }

    #[test]
    fn tokens_are_held_compact_with_their_id_and_name() {
        let inv = parse(&format!(
            "{{\"format\":\"tokenwarden-snapshot/v1\",\"user\":{{\"tokens\":[\n  {{\n    \"id\": \"{T1}\",\n    \"name\": \"a \\\" b\",\n    \"policies\": [ ]\n  }}\n]}}}}",
        ))
        .unwrap();
        let t = &inv.user.unwrap().tokens[0];
        assert_eq!(
            t.json(),
            format!(r#"{{"id":"{T1}","name":"a \" b","policies":[]}}"#)
        );
        assert_eq!((t.id(), t.name()), (T1, Some("a \" b")));
    }

    #[test]
    fn a_token_that_is_not_an_object_names_its_path() {
        let e = parse(r#"{"format":"tokenwarden-snapshot/v1","accounts":[{"id":"a","tokens":[{"id":"x"},[1]]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("accounts[0].tokens[1]") && e.contains("expected an object"),
            "{e}"
        );
    }

    #[test]
    fn a_token_with_a_duplicated_id_names_its_path_and_the_problem() {
        let e = parse(
            r#"{"format":"tokenwarden-snapshot/v1","user":{"tokens":[{"id":"x","id":"y"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("user.tokens[0]") && e.contains("duplicate field"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = parse("{\n \"format\": }").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let inv =
            parse(r#"{"format":"tokenwarden-snapshot/v1","extra":1,"user":{"tokens":[],"x":2}}"#)
                .unwrap();
        assert!(inv.user.is_some());
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut inv = Inventory::new();
        inv.accounts.push(AccountInventory {
            id: A1.into(),
            name: Some("A".into()),
            tokens: vec![RawToken::from_value(
                &serde_json::json!({"id":T1,"name":"n","policies":[]}),
                "t",
            )
            .unwrap()],
            permission_groups: Some(vec![]),
        });
        inv.write(&path).unwrap();
        assert_eq!(Inventory::read(&path).unwrap(), inv);
    }

    /// Issue 12: an id is data, never a path. A snapshot's token or account whose id is
    /// not a Cloudflare id is not evaluated, with its JSON path, and the rest is read.
    #[test]
    fn ids_that_are_not_cloudflare_ids_are_set_aside_as_not_evaluated() {
        let text = serde_json::json!({
            "format": "tokenwarden-snapshot/v1",
            "user": {"tokens": [{"id": T1}, {"id": "/../../../../tmp/pwned"}, {"id": T2}, {"id": "t1"}]},
            "accounts": [
                {"id": "a/b", "tokens": [{"id": T1}]},
                {"id": A1, "tokens": [{"id": "a%2Fb"}, {"id": T2}]},
                {"id": "x\ny", "tokens": []},
            ],
        })
        .to_string();
        let inv = parse(&text).unwrap();
        assert_eq!(inv.token_count(), 3, "the valid tokens are kept");
        assert_eq!(inv.accounts.len(), 1);
        let ne: Vec<(String, String)> = inv
            .not_evaluated
            .iter()
            .map(|n| (n.scope.to_string(), n.reason.clone()))
            .collect();
        let expect = [
            (
                "user/tokens".to_string(),
                "user.tokens[1].id: \"/../../../../tmp/pwned\"",
            ),
            ("user/tokens".to_string(), "user.tokens[3].id: \"t1\""),
            ("accounts".to_string(), "accounts[0].id: \"a/b\""),
            (
                format!("accounts/{A1}/tokens"),
                "accounts[1].tokens[0].id: \"a%2Fb\"",
            ),
            ("accounts".to_string(), "accounts[2].id: \"x\\ny\""),
        ];
        assert_eq!(ne.len(), expect.len(), "{ne:?}");
        for (scope, reason) in expect {
            assert!(
                ne.iter().any(|(s, r)| s == &scope && r.contains(reason)),
                "{scope} {reason} in {ne:?}"
            );
        }
        assert!(ne.iter().all(|(_, r)| r.contains("not a Cloudflare id")));
        // What was set aside is in the snapshot's own not-evaluated list when written back.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        inv.write(&path).unwrap();
        let again = Inventory::read(&path).unwrap();
        assert_eq!(again, inv);
    }

    #[test]
    fn a_scanner_or_user_id_that_is_not_one_is_a_shape_error() {
        for (key, text) in [
            (
                "scanner_token_id",
                r#"{"format":"tokenwarden-snapshot/v1","scanner_token_id":"../x"}"#,
            ),
            (
                "user.id",
                r#"{"format":"tokenwarden-snapshot/v1","user":{"id":"u","tokens":[]}}"#,
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("not a Cloudflare id"), "{e}");
        }
    }
}
