//! Collect the inventory from the live API: the user's tokens, every listed account's
//! tokens, each owner's permission-group catalogue, and the scanner's own token id.
//!
//! The fewest requests that can do it (no per-token GETs; one catalogue per owner; the
//! account list once), with owners and pages fetched concurrently under the client's
//! bound and pacing. A scope that cannot be read is recorded as not evaluated and the
//! rest goes on.

use std::time::Duration;

use serde_json::Value;

use super::client::{ApiError, ApiErrorKind, Client, Credential};
use super::pacer::StatsSnapshot;
use crate::inventory::{AccountInventory, Inventory, NotEvaluated, RawToken, UserInventory};
use crate::scope::{account_targets, AccountTarget, Scope, ScopePath};

/// What the collector tells whoever watches it (the command layer draws a progress bar).
/// Every method has a do-nothing default, so an observer implements only what it shows.
pub trait CollectObserver: Sync {
    /// `n` more owners will be collected.
    fn add_owners(&self, _n: usize) {}
    /// One owner (its tokens and catalogue) is collected or given up: `outcome` says which.
    fn owner_done(&self, _scope: &ScopePath, _outcome: &str) {}
    /// The client's request counters, refreshed while the collection runs.
    fn stats(&self, _stats: StatsSnapshot) {}
    /// The collection is over.
    fn finish(&self, _stats: StatsSnapshot) {}
}

/// An observer that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl CollectObserver for Unobserved {}

fn include_expired() -> Vec<(&'static str, String)> {
    vec![("include_expired", "true".to_string())]
}

fn not_evaluated(scope: ScopePath, e: &ApiError) -> NotEvaluated {
    NotEvaluated::new(scope, e.to_string())
}

/// `GET /accounts`, every page: the accounts the credential can see. Scan and doctor both
/// list accounts with this.
pub async fn list_accounts(client: &Client) -> Result<Vec<AccountTarget>, ApiError> {
    let listed = client.list_all("/accounts", &[]).await?;
    Ok(listed
        .iter()
        .filter_map(|a| {
            Some(AccountTarget {
                id: a.get("id")?.as_str()?.to_string(),
                name: a.get("name").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect())
}

/// Messages for the operator (stderr), e.g. a catalogue that could not be read.
pub type Warnings = Vec<String>;

/// One owner's tokens and catalogue, or why its tokens could not be read.
struct Owned {
    tokens: Result<Vec<RawToken>, ApiError>,
    catalogue: Option<Vec<Value>>,
    warning: Option<String>,
}

/// Tokens first; the catalogue only for an owner whose tokens could be read.
async fn owner(client: &Client, tokens_path: &str, catalogue_path: &str) -> Owned {
    let tokens = client
        .list_all(tokens_path, &include_expired())
        .await
        .and_then(|items| {
            // `list_all` has checked every item is an object with an id; this keeps the
            // text compact for the rest of the run.
            items
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    RawToken::from_value(t, &format!("result[{i}]")).map_err(|(p, m)| ApiError {
                        method: "GET".into(),
                        endpoint: tokens_path.to_string(),
                        page: None,
                        kind: ApiErrorKind::Malformed(format!("{p}: {m}")),
                    })
                })
                .collect()
        });
    if tokens.is_err() {
        return Owned {
            tokens,
            catalogue: None,
            warning: None,
        };
    }
    let (catalogue, warning) = catalogue(client, catalogue_path).await;
    Owned {
        tokens,
        catalogue,
        warning,
    }
}

fn outcome(o: &Owned) -> String {
    match &o.tokens {
        Ok(t) => format!("{} tokens", t.len()),
        Err(e) => format!("not evaluated ({})", e.kind),
    }
}

/// Collect the inventory for `scope`. `accounts` narrows the accounts (by id); when it
/// is empty, every account the credential can list is scanned.
pub async fn collect(
    client: &Client,
    credential: &Credential,
    scope: Scope,
    accounts: &[String],
    now: chrono::DateTime<chrono::Utc>,
    progress: &dyn CollectObserver,
) -> (Inventory, Warnings) {
    let work = collect_inner(client, credential, scope, accounts, now, progress);
    tokio::pin!(work);
    // Refresh the request counters while the collection runs.
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tokio::time::sleep(Duration::from_millis(200)) => progress.stats(client.stats()),
        }
    };
    progress.finish(client.stats());
    result
}

async fn collect_inner(
    client: &Client,
    credential: &Credential,
    scope: Scope,
    accounts: &[String],
    now: chrono::DateTime<chrono::Utc>,
    progress: &dyn CollectObserver,
) -> (Inventory, Warnings) {
    let mut inv = Inventory::new();
    inv.collected_at = Some(now);
    let mut warnings = Vec::new();
    let is_token = matches!(credential, Credential::Token(_));

    let verify = async {
        if !is_token {
            return (None, None);
        }
        match client.get("/user/tokens/verify", &[]).await {
            Ok(env) => (id_of(&env.result), None),
            // An account-owned token: verified per account below.
            Err(e) if e.kind.is_forbidden() => (None, None),
            Err(e) => (
                None,
                Some(format!("cannot verify the scanner's own token: {e}")),
            ),
        }
    };
    let user = async {
        if !scope.covers_user() {
            return None;
        }
        progress.add_owners(1);
        let o = owner(client, "/user/tokens", "/user/tokens/permission_groups").await;
        progress.owner_done(&ScopePath::UserTokens, &outcome(&o));
        Some(o)
    };
    let accounts_part = async {
        if !scope.covers_accounts() {
            return (Vec::new(), None);
        }
        let listed = list_accounts(client).await;
        let targets = account_targets(listed.as_deref().unwrap_or_default(), accounts);
        progress.add_owners(targets.len());
        let owned = futures_util::future::join_all(targets.into_iter().map(
            |AccountTarget { id, name }| async move {
                let scope = ScopePath::AccountTokens(id.clone());
                let o = owner(
                    client,
                    &format!("/accounts/{id}/tokens"),
                    &format!("/accounts/{id}/tokens/permission_groups"),
                )
                .await;
                progress.owner_done(&scope, &outcome(&o));
                (id, name, o)
            },
        ))
        .await;
        // Only an account listing failure without --account loses accounts wholesale.
        let list_error = listed.err().filter(|_| accounts.is_empty());
        (owned, list_error)
    };
    let ((scanner, verify_warning), user, (owned_accounts, list_error)) =
        tokio::join!(verify, user, accounts_part);

    inv.scanner_token_id = scanner;
    warnings.extend(verify_warning);
    if let Some(o) = user {
        warnings.extend(o.warning);
        match o.tokens {
            Ok(tokens) => {
                inv.user = Some(UserInventory {
                    id: None,
                    tokens,
                    permission_groups: o.catalogue,
                })
            }
            Err(e) => inv
                .not_evaluated
                .push(not_evaluated(ScopePath::UserTokens, &e)),
        }
    }
    if let Some(e) = list_error {
        inv.not_evaluated
            .push(not_evaluated(ScopePath::Accounts, &e));
    }
    for (id, name, o) in owned_accounts {
        warnings.extend(o.warning);
        match o.tokens {
            Ok(tokens) => inv.accounts.push(AccountInventory {
                id,
                name,
                tokens,
                permission_groups: o.catalogue,
            }),
            Err(e) => inv
                .not_evaluated
                .push(not_evaluated(ScopePath::AccountTokens(id), &e)),
        }
    }
    // An account-owned scanning token answers verify only at its own account.
    if is_token && inv.scanner_token_id.is_none() {
        for account in &inv.accounts {
            let path = format!("/accounts/{}/tokens/verify", account.id);
            if let Ok(env) = client.get(&path, &[]).await {
                inv.scanner_token_id = id_of(&env.result);
                break;
            }
        }
    }
    (inv, warnings)
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

async fn catalogue(client: &Client, path: &str) -> (Option<Vec<Value>>, Option<String>) {
    match client.get(path, &[]).await {
        Ok(env) => match env.result {
            Value::Array(groups) => (Some(groups), None),
            _ => (
                None,
                Some(format!(
                    "GET {path}: `result` is not a list; unknown permission groups will not be reported"
                )),
            ),
        },
        Err(e) => (
            None,
            Some(format!(
                "{e}; unknown permission groups will not be reported for this owner"
            )),
        ),
    }
}
