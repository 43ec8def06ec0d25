//! The scopes a scan would read, each probed with one small page: the user's tokens and
//! catalogue, the account list, and every account's tokens and catalogue.

use super::{
    check, Check, CheckStatus, Need, ACCOUNT_TOKEN_DOCS_URL, CREATE_TOKEN_URL, TOKEN_DOCS_URL,
};
use crate::cloudflare::{list_accounts, ApiError, Client};
use crate::scope::{account_targets, AccountTarget, ScopePath};

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

async fn catalogue(client: &Client, id: &str, path: &str, checks: &mut Vec<Check>) {
    let c = match client.get(path, &[]).await {
        Ok(_) => check(id, CheckStatus::Ok, Need::Advice, "readable".into(), None),
        Err(e) => check(
            id,
            CheckStatus::Warn,
            Need::Advice,
            format!("the permission-group catalogue is not readable ({e}): unknown permission groups will not be reported"),
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
    let r = client.get("/user/tokens", &per_page()).await.map(|_| ());
    let ok = r.is_ok();
    checks.push(probe_result("scope user/tokens", r, || {
        read_hint("API Tokens Read", "the user", TOKEN_DOCS_URL)
    }));
    if ok {
        catalogue(
            client,
            "catalogue user",
            "/user/tokens/permission_groups",
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
        Ok(list) => list,
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
        let r = client
            .get(&format!("/accounts/{id}/tokens"), &per_page())
            .await
            .map(|_| ());
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
                &format!("/accounts/{id}/tokens/permission_groups"),
                checks,
            )
            .await;
            readable.push(id);
        }
    }
    readable
}
