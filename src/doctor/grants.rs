//! What the scanner token may write, read from its own policies: remediation needs
//! "API Tokens Write" on the user and "Account API Tokens Write" on each account. Only
//! checked, never tried: doctor does not write.

use serde_json::Value;

use super::{check, Check, CheckStatus, Identity, Need, CREATE_TOKEN_URL};
use crate::enrich::normalize_group_name;

/// A scope remediation would write.
enum Target {
    User,
    Account(String),
}

impl Target {
    fn id(&self) -> String {
        match self {
            Target::User => "write user/tokens".into(),
            Target::Account(a) => format!("write accounts/{a}/tokens"),
        }
    }

    fn group(&self) -> &'static str {
        match self {
            Target::User => "API Tokens Write",
            Target::Account(_) => "Account API Tokens Write",
        }
    }

    fn label(&self) -> String {
        match self {
            Target::User => "the user".into(),
            Target::Account(a) => format!("account {a}"),
        }
    }

    /// A policy resource key that covers this scope.
    fn accepts(&self, key: &str) -> bool {
        match self {
            Target::User => key.starts_with("com.cloudflare.api.user."),
            Target::Account(a) => {
                key == "com.cloudflare.api.account.*"
                    || key.strip_prefix("com.cloudflare.api.account.") == Some(a.as_str())
            }
        }
    }
}

/// Whether the token's policies grant `group` on a resource key accepted by `on`
/// (an allow policy, and no deny policy doing the same).
fn grants(token: &Value, target: &Target) -> bool {
    let want = normalize_group_name(target.group());
    let mut allowed = false;
    for p in token
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let has_group = p
            .get("permission_groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("name").and_then(Value::as_str))
            .any(|n| normalize_group_name(n) == want);
        let on_resource = p
            .get("resources")
            .and_then(Value::as_object)
            .is_some_and(|r| r.keys().any(|k| target.accepts(k)));
        if has_group && on_resource {
            match p.get("effect").and_then(Value::as_str) {
                Some("deny") => return false,
                Some("allow") => allowed = true,
                _ => {}
            }
        }
    }
    allowed
}

/// One check per scope remediation would write: the user (when user tokens are scanned)
/// and each readable account.
pub(super) fn remediation(
    identity: &Identity,
    own: Option<&Value>,
    user: bool,
    accounts: &[String],
    checks: &mut Vec<Check>,
) {
    let mut targets: Vec<Target> = Vec::new();
    if user {
        targets.push(Target::User);
    }
    targets.extend(accounts.iter().map(|a| Target::Account(a.clone())));
    for t in targets {
        let group = t.group();
        let (status, detail) = match (identity, own) {
            (Identity::Legacy, _) => (
                CheckStatus::Ok,
                "the global API key can write every scope".to_string(),
            ),
            (_, None) => (
                CheckStatus::Warn,
                format!("unknown: the token's own policies could not be read, so \"{group}\" cannot be checked"),
            ),
            (_, Some(token)) if grants(token, &t) => (CheckStatus::Ok, format!("\"{group}\" granted")),
            (_, Some(_)) => (
                CheckStatus::Missing,
                format!("\"{group}\" is not granted on {}", t.label()),
            ),
        };
        let hint = (status != CheckStatus::Ok).then(|| {
            format!(
                "only if this credential runs `tokenwarden remediate --apply` (or roll/replace/disable/enable): add \"{group}\" on {} ({CREATE_TOKEN_URL}); a scan-only token should stay read-only",
                t.label()
            )
        });
        checks.push(check(&t.id(), status, Need::Remediation, detail, hint));
    }
}
