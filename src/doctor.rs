//! `tokenwarden doctor`: a pre-flight of the credential before a scan. It verifies the
//! credential, reads the scanner token's own object for its expiry and client-IP
//! condition, probes every scope a scan would read (one small page each), and works out
//! which permissions are missing for a scan ("API Tokens Read", "Account API Tokens
//! Read") and for remediation ("… Write") — each with a hint and a link. It only reads,
//! and it never prints the secret (only the token's id, which is not one).

mod grants;
mod render;
mod scopes;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use render::{render_table, to_json};

use crate::cloudflare::{list_accounts, ApiPath, Client, Credential};
use crate::scope::Scope;

/// Where to create a correctly scoped token, and the docs for it.
pub const CREATE_TOKEN_URL: &str = "https://dash.cloudflare.com/profile/api-tokens";
pub const TOKEN_DOCS_URL: &str =
    "https://developers.cloudflare.com/fundamentals/api/get-started/create-token/";
pub const ACCOUNT_TOKEN_DOCS_URL: &str =
    "https://developers.cloudflare.com/fundamentals/api/get-started/account-owned-tokens/";

/// Below this many days left, the scanner token's expiry is a warning.
const EXPIRY_WARNING_DAYS: f64 = 14.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warn,
    Missing,
    Error,
}

/// What a check is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    Scan,
    Remediation,
    Advice,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: String,
    pub status: CheckStatus,
    pub needed_for: Need,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The outcome of `doctor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub api_base: String,
    pub credential: &'static str,
    pub token_id: Option<String>,
    /// `user` or `accounts/<id>` for an API token.
    pub token_owner: Option<String>,
    pub checks: Vec<Check>,
}

impl Diagnosis {
    fn blocking(&self, need: Need) -> bool {
        self.checks.iter().any(|c| {
            c.needed_for == need && matches!(c.status, CheckStatus::Missing | CheckStatus::Error)
        })
    }

    /// A scan of the chosen scope can read everything.
    pub fn scan_ready(&self) -> bool {
        !self.blocking(Need::Scan)
    }

    /// Remediation can write every scope (`None`: the token's permissions are unknown).
    pub fn remediation_ready(&self) -> Option<bool> {
        let checks: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.needed_for == Need::Remediation)
            .collect();
        if checks.iter().any(|c| c.status == CheckStatus::Warn) {
            None
        } else {
            Some(!self.blocking(Need::Remediation))
        }
    }

    /// Ok when the scan can run fully (and, with `require_remediation`, remediation too);
    /// a runtime failure otherwise.
    pub fn exit(&self, require_remediation: bool) -> crate::exit::Exit {
        let remediation_ok = !require_remediation || self.remediation_ready() == Some(true);
        if self.scan_ready() && remediation_ok {
            crate::exit::Exit::Ok
        } else {
            crate::exit::Exit::Runtime
        }
    }
}

pub struct Options {
    pub scope: Scope,
    pub accounts: Vec<String>,
    pub now: DateTime<Utc>,
}

fn check(id: &str, status: CheckStatus, need: Need, detail: String, hint: Option<String>) -> Check {
    Check {
        id: id.to_string(),
        status,
        needed_for: need,
        detail,
        hint,
    }
}

/// Who the credential is.
enum Identity {
    Legacy,
    /// An API token: its id, owner path (`user` / `accounts/<id>`), verify result.
    Token {
        id: String,
        owner: String,
        verify: Value,
    },
}

/// Run every check.
pub async fn diagnose(client: &Client, credential: &Credential, opts: &Options) -> Diagnosis {
    let mut d = Diagnosis {
        api_base: client.base().as_str().to_string(),
        credential: credential.kind(),
        token_id: None,
        token_owner: None,
        checks: Vec::new(),
    };
    let Some(identity) = identify(client, credential, &mut d.checks).await else {
        return d;
    };
    let own = match &identity {
        Identity::Legacy => None,
        Identity::Token { id, owner, verify } => {
            d.token_id = Some(id.clone());
            d.token_owner = Some(owner.clone());
            let own = own_token(client, id, owner, &mut d.checks).await;
            expiry(own.as_ref().unwrap_or(verify), opts.now, &mut d.checks);
            if let Some(t) = &own {
                ip_condition(t, &mut d.checks);
            }
            own
        }
    };
    let account_token = d
        .token_owner
        .as_deref()
        .is_some_and(|o| o.starts_with("accounts/"));
    let mut readable_accounts = Vec::new();
    if opts.scope.covers_user() {
        scopes::user_scope(client, account_token, &mut d.checks).await;
    }
    if opts.scope.covers_accounts() {
        readable_accounts = scopes::account_scopes(client, &opts.accounts, &mut d.checks).await;
    }
    let user_scanned = opts.scope.covers_user() && !account_token;
    grants::remediation(
        &identity,
        own.as_ref(),
        user_scanned,
        &readable_accounts,
        &mut d.checks,
    );
    d
}

async fn identify(
    client: &Client,
    credential: &Credential,
    checks: &mut Vec<Check>,
) -> Option<Identity> {
    let bad_token_hint = format!(
        "check CLOUDFLARE_API_TOKEN (or --api-token-file): it may be mistyped, rolled, disabled or expired; create a new one at {CREATE_TOKEN_URL}"
    );
    if matches!(credential, Credential::Key { .. }) {
        return match client.get(&ApiPath::new(&["user"]), &[]).await {
            Ok(_) => {
                checks.push(check(
                    "verify",
                    CheckStatus::Ok,
                    Need::Scan,
                    "the global API key (X-Auth-Email + X-Auth-Key) is accepted".into(),
                    None,
                ));
                checks.push(check(
                    "credential-kind",
                    CheckStatus::Warn,
                    Need::Advice,
                    "a global API key can do everything the user can, in every account".into(),
                    Some(format!("scan with a scoped, read-only API token instead ({CREATE_TOKEN_URL}; {TOKEN_DOCS_URL})")),
                ));
                Some(Identity::Legacy)
            }
            Err(e) => {
                checks.push(check(
                    "verify",
                    CheckStatus::Error,
                    Need::Scan,
                    format!("the global API key was rejected: {e}"),
                    Some("check CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY".into()),
                ));
                None
            }
        };
    }
    match client
        .get(&ApiPath::new(&["user", "tokens", "verify"]), &[])
        .await
    {
        Ok(env) => return token_identity(env.result, "user".into(), checks),
        Err(e) if !e.kind.is_forbidden() => {
            checks.push(check(
                "verify",
                CheckStatus::Error,
                Need::Scan,
                format!("cannot verify the token: {e}"),
                Some("check --api-base (CLOUDFLARE_API_BASE_URL) and the network".into()),
            ));
            return None;
        }
        Err(_) => {} // not a user token (or not valid): try as an account-owned token
    }
    // An account-owned token is verified at its own account, which it can list.
    if let Ok(listing) = list_accounts(client).await {
        for a in listing.accounts.iter().map(|a| a.id.as_str()) {
            let Ok(path) = ApiPath::new(&["accounts"]).id(a) else {
                continue;
            };
            if let Ok(env) = client.get(&path.then("tokens").then("verify"), &[]).await {
                return token_identity(env.result, format!("accounts/{a}"), checks);
            }
        }
    }
    checks.push(check("verify", CheckStatus::Error, Need::Scan, "the API token is not valid: /user/tokens/verify and every visible account's verify answered 401".into(), Some(bad_token_hint)));
    None
}

fn token_identity(verify: Value, owner: String, checks: &mut Vec<Check>) -> Option<Identity> {
    let id = verify
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let status = verify
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let whose = if owner == "user" {
        "user-owned".to_string()
    } else {
        format!("owned by {owner}")
    };
    let ok = status == "active";
    checks.push(check(
        "verify",
        if ok {
            CheckStatus::Ok
        } else {
            CheckStatus::Error
        },
        Need::Scan,
        format!("API token {id} ({whose}) is valid, status {status}"),
        (!ok).then(|| format!("enable the token or create a new one at {CREATE_TOKEN_URL}")),
    ));
    ok.then_some(Identity::Token { id, owner, verify })
}

async fn own_token(
    client: &Client,
    id: &str,
    owner: &str,
    checks: &mut Vec<Check>,
) -> Option<Value> {
    // `owner` is `user` or `accounts/<id>` as built above; both ids are checked again here,
    // since the token id came from the API.
    let path = match owner.strip_prefix("accounts/") {
        None => Ok(ApiPath::new(&["user", "tokens"])),
        Some(a) => ApiPath::new(&["accounts"]).id(a).map(|p| p.then("tokens")),
    }
    .and_then(|p| p.id(id));
    let result = match path {
        Ok(path) => client.get(&path, &[]).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(env) if env.result.is_object() => Some(env.result),
        Ok(_) => None,
        Err(e) => {
            checks.push(check(
                "own-token",
                CheckStatus::Warn,
                Need::Advice,
                format!("cannot read the scanner token's own object ({e}): its IP condition and permissions are unknown"),
                Some("the token's own object is readable with the read permission on its owner (see the scope checks below)".into()),
            ));
            None
        }
    }
}

fn expiry(token: &Value, now: DateTime<Utc>, checks: &mut Vec<Check>) {
    let expires = token.get("expires_on").and_then(Value::as_str);
    let Some(raw) = expires else {
        checks.push(check("expiry", CheckStatus::Warn, Need::Advice, "the scanner token never expires".into(), Some("give it an expiry (e.g. 90 days) and rotate it: a leaked scanner secret would otherwise work forever".into())));
        return;
    };
    let Ok(at) = DateTime::parse_from_rfc3339(raw) else {
        checks.push(check(
            "expiry",
            CheckStatus::Warn,
            Need::Advice,
            format!("expires_on {raw:?} is not an RFC 3339 time"),
            None,
        ));
        return;
    };
    let days = (at.with_timezone(&Utc) - now).num_seconds() as f64 / 86_400.0;
    let (status, hint) = if days <= 0.0 {
        (
            CheckStatus::Error,
            Some(format!(
                "the token has expired: create a new one at {CREATE_TOKEN_URL}"
            )),
        )
    } else if days <= EXPIRY_WARNING_DAYS {
        (
            CheckStatus::Warn,
            Some("replace it before it expires, or scheduled scans will start failing".into()),
        )
    } else {
        (CheckStatus::Ok, None)
    };
    let need = if status == CheckStatus::Error {
        Need::Scan
    } else {
        Need::Advice
    };
    checks.push(check(
        "expiry",
        status,
        need,
        format!("the scanner token expires on {raw} (in {days:.1} days)"),
        hint,
    ));
}

fn ip_condition(token: &Value, checks: &mut Vec<Check>) {
    let cond = token.get("condition");
    let ip = cond
        .and_then(|c| c.get("request_ip").or_else(|| c.get("request.ip")))
        .and_then(|r| r.get("in"))
        .and_then(Value::as_array);
    let allow: Vec<&str> = ip.into_iter().flatten().filter_map(Value::as_str).collect();
    if allow.is_empty() {
        checks.push(check("ip-condition", CheckStatus::Warn, Need::Advice, "the scanner token has no client IP restriction: its secret works from any address".into(), Some("add a client IP address filter for where the scan runs (your CI runners' egress addresses)".into())));
    } else {
        checks.push(check(
            "ip-condition",
            CheckStatus::Ok,
            Need::Advice,
            format!("restricted to {}", allow.join(", ")),
            None,
        ));
    }
}
