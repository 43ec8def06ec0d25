//! Collect the inventory from the live API: the user's tokens, every listed account's
//! tokens, each owner's permission-group catalogue, and the scanner's own token id.
//! A scope that cannot be read is recorded as not evaluated and the rest goes on.

use serde_json::Value;

use super::client::{ApiError, Client, Credential};
use crate::inventory::{AccountInventory, Inventory, NotEvaluated, UserInventory};

/// Which owners a scan covers (`--scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Accounts,
    All,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Accounts => "accounts",
            Scope::All => "all",
        }
    }

    fn user(self) -> bool {
        matches!(self, Scope::User | Scope::All)
    }

    fn accounts(self) -> bool {
        matches!(self, Scope::Accounts | Scope::All)
    }
}

fn include_expired() -> Vec<(&'static str, String)> {
    vec![("include_expired", "true".to_string())]
}

fn not_evaluated(scope: impl Into<String>, e: &ApiError) -> NotEvaluated {
    NotEvaluated {
        scope: scope.into(),
        reason: e.to_string(),
    }
}

/// Messages for the operator (stderr), e.g. a catalogue that could not be read.
pub type Warnings = Vec<String>;

/// Collect the inventory for `scope`. `accounts` narrows the accounts (by id); when it
/// is empty, every account the credential can list is scanned.
pub async fn collect(
    client: &Client,
    credential: &Credential,
    scope: Scope,
    accounts: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> (Inventory, Warnings) {
    let mut inv = Inventory::new();
    inv.collected_at = Some(now);
    let mut warnings = Vec::new();

    if matches!(credential, Credential::Token(_)) {
        match client.get("/user/tokens/verify", &[]).await {
            Ok(env) => inv.scanner_token_id = id_of(&env.result),
            Err(e) if e.kind.is_forbidden() => {} // an account token: verified per account below
            Err(e) => warnings.push(format!("cannot verify the scanner's own token: {e}")),
        }
    }

    if scope.user() {
        let user_id = match client.get("/user", &[]).await {
            Ok(env) => id_of(&env.result),
            // Reading the user's id needs "User Details Read", which a scanning token
            // need not have: the id only labels the owner, so go on without it.
            Err(e) if e.kind.is_forbidden() => None,
            Err(e) => {
                warnings.push(format!("cannot read the user's id: {e}"));
                None
            }
        };
        match client.list_all("/user/tokens", &include_expired()).await {
            Ok(tokens) => {
                let permission_groups =
                    catalogue(client, "/user/tokens/permission_groups", &mut warnings).await;
                inv.user = Some(UserInventory {
                    id: user_id,
                    tokens,
                    permission_groups,
                });
            }
            Err(e) => inv.not_evaluated.push(not_evaluated("user/tokens", &e)),
        }
    }

    if scope.accounts() {
        let listed = match client.list_all("/accounts", &[]).await {
            Ok(list) => list,
            Err(e) => {
                inv.not_evaluated.push(not_evaluated("accounts", &e));
                Vec::new()
            }
        };
        let mut targets: Vec<(String, Option<String>)> = listed
            .iter()
            .filter_map(|a| {
                let id = a.get("id")?.as_str()?.to_string();
                let name = a.get("name").and_then(Value::as_str).map(str::to_string);
                Some((id, name))
            })
            .collect();
        if !accounts.is_empty() {
            // Asked-for accounts are scanned even when the listing did not show them:
            // a silent skip would look like a clean account.
            targets = accounts
                .iter()
                .map(|id| {
                    let name = targets
                        .iter()
                        .find(|(i, _)| i == id)
                        .and_then(|(_, n)| n.clone());
                    (id.clone(), name)
                })
                .collect();
        }
        for (id, name) in targets {
            let path = format!("/accounts/{id}/tokens");
            match client.list_all(&path, &include_expired()).await {
                Ok(tokens) => {
                    let permission_groups = catalogue(
                        client,
                        &format!("/accounts/{id}/tokens/permission_groups"),
                        &mut warnings,
                    )
                    .await;
                    if inv.scanner_token_id.is_none() && matches!(credential, Credential::Token(_))
                    {
                        if let Ok(env) = client
                            .get(&format!("/accounts/{id}/tokens/verify"), &[])
                            .await
                        {
                            inv.scanner_token_id = id_of(&env.result);
                        }
                    }
                    inv.accounts.push(AccountInventory {
                        id,
                        name,
                        tokens,
                        permission_groups,
                    });
                }
                Err(e) => inv
                    .not_evaluated
                    .push(not_evaluated(format!("accounts/{id}/tokens"), &e)),
            }
        }
    }
    (inv, warnings)
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_string)
}

async fn catalogue(client: &Client, path: &str, warnings: &mut Warnings) -> Option<Vec<Value>> {
    match client.get(path, &[]).await {
        Ok(env) => match env.result {
            Value::Array(groups) => Some(groups),
            _ => {
                warnings.push(format!("GET {path}: `result` is not a list; unknown permission groups will not be reported"));
                None
            }
        },
        Err(e) => {
            warnings.push(format!(
                "{e}; unknown permission groups will not be reported for this owner"
            ));
            None
        }
    }
}
