//! Collect the inventory from the live API: the user's tokens, every listed account's
//! tokens, each owner's permission-group catalogue, and the scanner's own token id.
//!
//! The fewest requests that can do it (no per-token GETs; one catalogue per owner; the
//! account list once), with owners and pages fetched concurrently under the client's
//! bound and pacing. A scope that cannot be read is recorded as not evaluated and the
//! rest goes on; so is a catalogue that cannot be read (without it a group the token names
//! only by id cannot be matched), and so is every listed token or account whose id is not
//! a Cloudflare id (it never reaches a path; docs/architecture.md §3).

use std::time::Duration;

use serde_json::Value;

use super::client::{ApiError, ApiErrorKind, ApiPath, Client, Credential, PER_PAGE};
use super::pacer::StatsSnapshot;
use crate::id;
use crate::inventory::{AccountInventory, Inventory, NotEvaluated, RawToken, UserInventory};
use crate::scope::{account_targets, AccountTarget, Owner, Scope, ScopePath};

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

/// What `GET /accounts` listed: the accounts, and why each entry whose id is not a
/// Cloudflare id was left out (naming its page and JSON path). A scan reports those as
/// not evaluated; they never reach a request path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountListing {
    pub accounts: Vec<AccountTarget>,
    pub rejected: Vec<String>,
}

/// Where item `i` of a list read by [`Client::list_all`] was: every page before the last
/// is full, so its page and index follow from `i`.
fn item_path(endpoint: &ApiPath, i: usize) -> String {
    let per_page = PER_PAGE as usize;
    format!(
        "GET {endpoint} (page {}): result[{}]",
        i / per_page + 1,
        i % per_page
    )
}

/// `GET /accounts`, every page: the accounts the credential can see. Scan and doctor both
/// list accounts with this.
pub async fn list_accounts(client: &Client) -> Result<AccountListing, ApiError> {
    let path = ApiPath::new(&["accounts"]);
    let listed = client.list_all(&path, &[]).await?;
    let mut out = AccountListing::default();
    for (i, a) in listed.iter().enumerate() {
        // `list_all` has checked that every item is an object with a string id.
        let text = a.get("id").and_then(Value::as_str).unwrap_or_default();
        match id::check(text) {
            Ok(()) => out.accounts.push(AccountTarget {
                id: text.to_string(),
                name: a.get("name").and_then(Value::as_str).map(str::to_string),
            }),
            Err(e) => out.rejected.push(format!(
                "{}.id: {e}: that account is not read",
                item_path(&path, i)
            )),
        }
    }
    Ok(out)
}

/// Messages for the operator (stderr), e.g. a scanner token that could not be verified.
pub type Warnings = Vec<String>;

/// One owner's tokens and catalogue, or why its tokens could not be read.
struct Owned {
    tokens: Result<Vec<RawToken>, ApiError>,
    /// Listed tokens left out because their id is not a Cloudflare id: why, each.
    rejected: Vec<String>,
    /// The catalogue, or why it could not be read.
    catalogue: Result<Vec<Value>, String>,
}

/// Tokens first; the catalogue only for an owner whose tokens could be read.
async fn owner(client: &Client, owner: &Owner) -> Owned {
    let paths = ApiPath::tokens(owner).and_then(|t| Ok((t, ApiPath::catalogue(owner)?)));
    let (tokens_path, catalogue_path) = match paths {
        Ok(p) => p,
        Err(e) => {
            return Owned {
                tokens: Err(ApiError {
                    method: "GET".into(),
                    endpoint: "/accounts/…/tokens".into(),
                    page: None,
                    kind: ApiErrorKind::InvalidId(e.to_string()),
                }),
                rejected: Vec::new(),
                catalogue: Err(String::new()),
            }
        }
    };
    let mut rejected = Vec::new();
    let tokens = client
        .list_all(&tokens_path, &include_expired())
        .await
        .and_then(|items| {
            // `list_all` has checked every item is an object with an id; this keeps the
            // text compact for the rest of the run.
            let mut tokens = Vec::with_capacity(items.len());
            for (i, t) in items.iter().enumerate() {
                let raw = RawToken::from_value(t, &format!("result[{i}]")).map_err(|(p, m)| {
                    ApiError {
                        method: "GET".into(),
                        endpoint: tokens_path.to_string(),
                        page: None,
                        kind: ApiErrorKind::Malformed(format!("{p}: {m}")),
                    }
                })?;
                match id::check(raw.id()) {
                    Ok(()) => tokens.push(raw),
                    Err(e) => rejected.push(format!(
                        "{}.id: {e}: that token is not evaluated",
                        item_path(&tokens_path, i)
                    )),
                }
            }
            Ok(tokens)
        });
    if tokens.is_err() {
        return Owned {
            tokens,
            rejected,
            catalogue: Err(String::new()),
        };
    }
    let catalogue = catalogue(client, &catalogue_path).await;
    Owned {
        tokens,
        rejected,
        catalogue,
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
        match client
            .get(&ApiPath::new(&["user", "tokens", "verify"]), &[])
            .await
        {
            Ok(env) => scanner_id(&env.result),
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
        let o = owner(client, &Owner::User { id: None }).await;
        progress.owner_done(&ScopePath::UserTokens, &outcome(&o));
        Some(o)
    };
    let accounts_part = async {
        if !scope.covers_accounts() {
            return (Vec::new(), Vec::new());
        }
        let listed = list_accounts(client).await;
        let targets = account_targets(
            listed
                .as_ref()
                .map(|l| l.accounts.as_slice())
                .unwrap_or_default(),
            accounts,
        );
        progress.add_owners(targets.len());
        let owned = futures_util::future::join_all(targets.into_iter().map(
            |AccountTarget { id, name }| async move {
                let scope = ScopePath::AccountTokens(id.clone());
                let o = owner(
                    client,
                    &Owner::Account {
                        id: id.clone(),
                        name: None,
                    },
                )
                .await;
                progress.owner_done(&scope, &outcome(&o));
                (id, name, o)
            },
        ))
        .await;
        // Only the listing of every account (no --account) loses accounts when the list
        // fails or leaves entries out.
        let list_problems = match listed {
            _ if !accounts.is_empty() => Vec::new(),
            Ok(l) => l.rejected,
            Err(e) => vec![e.to_string()],
        };
        (owned, list_problems)
    };
    let ((scanner, verify_warning), user, (owned_accounts, list_problems)) =
        tokio::join!(verify, user, accounts_part);

    inv.scanner_token_id = scanner;
    warnings.extend(verify_warning);
    if let Some(o) = user {
        let owner = Owner::User { id: None };
        if let Some(tokens) = keep(&mut inv.not_evaluated, &owner, o) {
            inv.user = Some(tokens.into_user());
        }
    }
    for reason in list_problems {
        inv.not_evaluated
            .push(NotEvaluated::new(ScopePath::Accounts, reason));
    }
    for (id, name, o) in owned_accounts {
        let owner = Owner::Account {
            id: id.clone(),
            name: None,
        };
        if let Some(tokens) = keep(&mut inv.not_evaluated, &owner, o) {
            inv.accounts.push(tokens.into_account(id, name));
        }
    }
    // An account-owned scanning token answers verify only at its own account.
    if is_token && inv.scanner_token_id.is_none() {
        for account in &inv.accounts {
            let Ok(path) = ApiPath::new(&["accounts"]).id(&account.id) else {
                continue;
            };
            if let Ok(env) = client.get(&path.then("tokens").then("verify"), &[]).await {
                let (id, warning) = scanner_id(&env.result);
                inv.scanner_token_id = id;
                warnings.extend(warning);
                break;
            }
        }
    }
    (inv, warnings)
}

/// What an owner contributes to the inventory: its tokens and catalogue.
struct Kept {
    tokens: Vec<RawToken>,
    catalogue: Option<Vec<Value>>,
}

impl Kept {
    fn into_user(self) -> UserInventory {
        UserInventory {
            id: None,
            tokens: self.tokens,
            permission_groups: self.catalogue,
        }
    }

    fn into_account(self, id: String, name: Option<String>) -> AccountInventory {
        AccountInventory {
            id,
            name,
            tokens: self.tokens,
            permission_groups: self.catalogue,
        }
    }
}

/// Record what of `o` could not be read (its token list, single tokens, its catalogue) as
/// not evaluated, and return the rest.
fn keep(not_evaluated_out: &mut Vec<NotEvaluated>, owner: &Owner, o: Owned) -> Option<Kept> {
    let tokens = match o.tokens {
        Ok(tokens) => tokens,
        Err(e) => {
            let scope = match (&e.kind, owner.account_id()) {
                // An account id that is not one cannot be named in a scope path.
                (ApiErrorKind::InvalidId(_), Some(_)) => ScopePath::Accounts,
                _ => owner.tokens_path(),
            };
            not_evaluated_out.push(not_evaluated(scope, &e));
            return None;
        }
    };
    // A token whose id cannot be a path segment is named by the list it came from, with
    // its JSON path in the reason (a scope path cannot hold such an id).
    for reason in o.rejected {
        not_evaluated_out.push(NotEvaluated::new(owner.tokens_path(), reason));
    }
    let catalogue = match o.catalogue {
        Ok(groups) => Some(groups),
        Err(reason) => {
            not_evaluated_out.push(NotEvaluated::new(owner.catalogue_path(), reason));
            None
        }
    };
    Some(Kept { tokens, catalogue })
}

/// The scanner's token id from a verify answer, when it is a Cloudflare id.
fn scanner_id(result: &Value) -> (Option<String>, Option<String>) {
    match result.get("id").and_then(Value::as_str) {
        None => (None, None),
        Some(text) => match id::check(text) {
            Ok(()) => (Some(text.to_string()), None),
            Err(e) => (
                None,
                Some(format!(
                    "cannot tell the scanner's own token: verify answered an id that is not one ({e})"
                )),
            ),
        },
    }
}

/// Why a catalogue is not usable, or its groups. Without it a group the token names only
/// by id cannot be matched by name, and no group can be called unknown (issue 12), so a
/// catalogue that cannot be read is not evaluated, never a warning.
async fn catalogue(client: &Client, path: &ApiPath) -> Result<Vec<Value>, String> {
    const CONSEQUENCE: &str = "permission groups this owner's tokens name only by id cannot be matched, and token-unknown-permission-group cannot be evaluated for them";
    let groups = match client.get(path, &[]).await {
        Ok(env) => match env.result {
            Value::Array(groups) => groups,
            _ => {
                return Err(format!(
                    "GET {path}: malformed response: `result` is not a list; {CONSEQUENCE}"
                ))
            }
        },
        Err(e) => return Err(format!("{e}; {CONSEQUENCE}")),
    };
    // The snapshot reader holds catalogues to the same shape.
    for (i, g) in groups.iter().enumerate() {
        if let Err((p, m)) = crate::inventory::check_object_with_id(g, &format!("result[{i}]")) {
            return Err(format!(
                "GET {path}: malformed response: {p}: {m}; {CONSEQUENCE}"
            ));
        }
    }
    Ok(groups)
}
