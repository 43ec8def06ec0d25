//! The scopes a scan would read, each probed with one small page: the user's tokens and
//! catalogue, the account list, and every account's tokens and catalogue.

use super::{
    check, Check, CheckStatus, Need, ACCOUNT_TOKEN_DOCS_URL, CREATE_TOKEN_URL, TOKEN_DOCS_URL,
};
use crate::cloudflare::{list_accounts, ApiError, ApiPath, Client};
use crate::scope::{account_targets, AccountTarget, Owner, ScopePath};

fn per_page() -> Vec<(&'static str, String)> {
    vec![
        ("per_page", "5".to_string()),
        ("include_expired", "true".to_string()),
    ]
}

fn read_hint(group: &str, on: &str, docs: &str) -> String {
    format!("add the permission group \"{group}\" on {on} to the scanning token ({CREATE_TOKEN_URL}; {docs})")
}

fn probe_result(id: &str, result: Result<(), ApiError>, missing: impl FnOnce() -> String) -> Check {
    match result {
        Ok(()) => check(id, CheckStatus::Ok, Need::Scan, "readable".into(), None),
        Err(e) if e.kind.is_forbidden() => check(
            id,
            CheckStatus::Missing,
            Need::Scan,
            format!("not readable: {e}"),
            Some(missing()),
        ),
        Err(e) => check(
            id,
            CheckStatus::Error,
            Need::Scan,
            format!("cannot read: {e}"),
            Some("check --api-base and the network, then run doctor again".into()),
        ),
    }
}

async fn catalogue(client: &Client, id: &str, path: &ApiPath, checks: &mut Vec<Check>) {
    let c = match client.get(path, &[]).await {
        Ok(_) => check(id, CheckStatus::Ok, Need::Advice, "readable".into(), None),
        // A scan reports an unreadable catalogue as not evaluated (exit 3).
        Err(e) => check(
            id,
            CheckStatus::Error,
            Need::Scan,
            format!("the permission-group catalogue is not readable ({e}): a scan reports it as not evaluated (exit 3), and groups named only by id cannot be matched"),
            None,
        ),
    };
    checks.push(c);
}

pub(super) async fn user_scope(client: &Client, account_token: bool, checks: &mut Vec<Check>) {
    if account_token {
        checks.push(check("scope user/tokens", CheckStatus::Missing, Need::Scan, "an account-owned token cannot read user tokens".into(), Some(format!("scan with --scope accounts, or use a user-owned token with \"API Tokens Read\" ({CREATE_TOKEN_URL})"))));
        return;
    }
    let r = client
        .get(&ApiPath::new(&["user", "tokens"]), &per_page())
        .await
        .map(|_| ());
    let ok = r.is_ok();
    checks.push(probe_result("scope user/tokens", r, || {
        read_hint("API Tokens Read", "the user", TOKEN_DOCS_URL)
    }));
    if ok {
        catalogue(
            client,
            "catalogue user",
            &ApiPath::new(&["user", "tokens", "permission_groups"]),
            checks,
        )
        .await;
    }
}

/// Probe each account a scan would read; returns those whose tokens are readable.
pub(super) async fn account_scopes(
    client: &Client,
    wanted: &[String],
    checks: &mut Vec<Check>,
) -> Vec<String> {
    let listed = match list_accounts(client).await {
        Ok(list) => {
            for reason in &list.rejected {
                checks.push(check(
                    "scope accounts",
                    CheckStatus::Error,
                    Need::Scan,
                    format!("{reason}: a scan reports it as not evaluated"),
                    None,
                ));
            }
            list.accounts
        }
        Err(e) => {
            checks.push(probe_result("scope accounts", Err(e), || {
                "the scanning token must be able to list accounts: grant \"Account API Tokens Read\" on the accounts to scan, or name them with --account ID".into()
            }));
            Vec::new()
        }
    };
    let targets = account_targets(&listed, wanted);
    if targets.is_empty() {
        checks.push(check(
            "scope accounts",
            CheckStatus::Warn,
            Need::Advice,
            "the credential sees no account: account-owned tokens will not be scanned".into(),
            Some(read_hint(
                "Account API Tokens Read",
                "each account (or All accounts)",
                ACCOUNT_TOKEN_DOCS_URL,
            )),
        ));
    }
    let mut readable = Vec::new();
    for AccountTarget { id, name } in targets {
        let label = match &name {
            Some(n) => format!("account {n} ({id})"),
            None => format!("account {id}"),
        };
        let owner = Owner::Account {
            id: id.clone(),
            name: None,
        };
        let paths = ApiPath::tokens(&owner).and_then(|t| Ok((t, ApiPath::catalogue(&owner)?)));
        let Ok((tokens_path, catalogue_path)) = paths else {
            continue;
        };
        let r = client.get(&tokens_path, &per_page()).await.map(|_| ());
        let ok = r.is_ok();
        checks.push(probe_result(
            &format!("scope {}", ScopePath::AccountTokens(id.clone())),
            r,
            || read_hint("Account API Tokens Read", &label, ACCOUNT_TOKEN_DOCS_URL),
        ));
        if ok {
            catalogue(
                client,
                &format!("catalogue accounts/{id}"),
                &catalogue_path,
                checks,
            )
            .await;
            readable.push(id);
        }
    }
    readable
}
