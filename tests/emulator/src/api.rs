//! The API proper: routes a request to one of the spec's operations, applies the rate
//! limit, authentication, scope checks and authorization in Cloudflare's order, and runs
//! the read operations (user, accounts, token lists, permission groups, verify, get).
//! Writes live in `tokens.rs`.
//!
//! Order of checks: rate limit (429) → route (404/405) → authentication (400/401) →
//! account scope (403: unknown or forbidden account, another account's token) → verify's
//! own 401 rule → permission (403) → query parameters (422) → body (400) → operation.

use std::time::Instant;

use axum::http::HeaderMap;
use serde_json::{json, Value};

use crate::auth::{self, Caller, Need};
use crate::envelope::{bad_query, fail, forbidden, ok, ok_page, Reply};
use crate::ratelimit::Limiter;
use crate::tokens;
use crate::world::{rfc3339, token_json, Account, Owner, World};

/// A request as the API layer sees it.
pub(crate) struct ApiRequest<'r> {
    pub method: &'r str,
    /// Path below the base URL, e.g. `/user/tokens`.
    pub path: &'r str,
    pub query: Option<&'r str>,
    pub headers: &'r HeaderMap,
    pub body: &'r [u8],
}

/// How list endpoints paginate (altered by the `RepeatPage`/`EndlessPages` faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMode {
    Normal,
    RepeatPage,
    Endless,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    UserDetails,
    ListAccounts,
    ListTokens,
    CreateToken,
    PermissionGroups,
    Verify,
    GetToken(String),
    UpdateToken(String),
    DeleteToken(String),
    RollToken(String),
}

/// Maps method + path to an operation of the spec: `(owner of the token endpoints, op)`.
fn route(method: &str, path: &str) -> Result<(Option<Owner>, Op), Reply> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (owner, rest) = match segments.as_slice() {
        ["user"] => return only(method, "GET", (None, Op::UserDetails)),
        ["accounts"] => return only(method, "GET", (None, Op::ListAccounts)),
        ["user", "tokens", rest @ ..] => (Owner::User, rest),
        ["accounts", account, "tokens", rest @ ..] => (Owner::account(account), rest),
        _ => return Err(not_found()),
    };
    let owner = Some(owner);
    match (rest, method) {
        ([], "GET") => Ok((owner, Op::ListTokens)),
        ([], "POST") => Ok((owner, Op::CreateToken)),
        ([], _) => Err(not_allowed()),
        (["permission_groups"], m) => only(m, "GET", (owner, Op::PermissionGroups)),
        (["verify"], m) => only(m, "GET", (owner, Op::Verify)),
        ([id], "GET") => Ok((owner, Op::GetToken(id.to_string()))),
        ([id], "PUT") => Ok((owner, Op::UpdateToken(id.to_string()))),
        ([id], "DELETE") => Ok((owner, Op::DeleteToken(id.to_string()))),
        ([_], _) => Err(not_allowed()),
        ([id, "value"], m) => only(m, "PUT", (owner, Op::RollToken(id.to_string()))),
        _ => Err(not_found()),
    }
}

fn only<T>(method: &str, expected: &str, ok: T) -> Result<T, Reply> {
    if method == expected {
        Ok(ok)
    } else {
        Err(not_allowed())
    }
}

/// 404 for a path the API does not have (the spec's own example error).
pub(crate) fn not_found() -> Reply {
    fail(404, 7003, "No route for the URI")
}

fn not_allowed() -> Reply {
    fail(405, 7001, "Method not allowed for this route")
}

/// Handles one request against the world.
pub(crate) fn handle(
    world: &mut World,
    limiter: &mut Limiter,
    req: &ApiRequest<'_>,
    mode: ListMode,
    clock: Instant,
) -> Reply {
    let caller = auth::authenticate(world, req.headers);
    let mut rate_headers = Vec::new();
    if let Some(limit) = world.rate_limit {
        let key = caller
            .as_ref()
            .map(Caller::rate_key)
            .unwrap_or_else(|_| "anonymous".to_string());
        let verdict = limiter.check(&key, limit, clock);
        rate_headers.extend(verdict.headers.iter().cloned());
        if let Some(wait) = verdict.retry_after {
            let mut reply = fail(
                429,
                10000,
                "Rate limited. Please wait and consider throttling your request speed",
            );
            reply.headers = rate_headers;
            reply.headers.push(("retry-after", wait.to_string()));
            return reply;
        }
    }
    let mut reply = dispatch(world, req, caller, mode);
    reply.headers.extend(rate_headers);
    reply
}

fn dispatch(
    world: &mut World,
    req: &ApiRequest<'_>,
    caller: Result<Caller, Reply>,
    mode: ListMode,
) -> Reply {
    let (owner, op) = match route(req.method, req.path) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let caller = match caller {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    if world.track_last_used {
        if let Caller::Token { id, .. } = &caller {
            let now = json!(rfc3339(world.now));
            if let Some(Value::Object(token)) = world.token_mut(id).map(|t| &mut t.json) {
                token.insert("last_used_on".to_string(), now);
            }
        }
    }
    let params = match query_params(req.query) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let Some(owner) = owner else {
        return match op {
            Op::UserDetails => user_details(world, &caller),
            _ => list_accounts(world, &caller, &params, mode),
        };
    };
    if let Owner::Account(id) = &owner {
        let readable = world.accounts.get(id).is_some_and(|a| !a.forbidden);
        if !readable {
            return forbidden();
        }
    }
    if op == Op::Verify {
        return verify(&caller, &owner);
    }
    let need = match op {
        Op::ListTokens | Op::PermissionGroups | Op::GetToken(_) => Need::Read,
        _ => Need::Write,
    };
    if !auth::may_use_tokens(world, &caller, &owner, need) {
        return forbidden();
    }
    match op {
        Op::ListTokens => list_tokens(world, &owner, &params, mode),
        Op::PermissionGroups => permission_groups(world, &owner, &params),
        Op::GetToken(id) => match world.tokens(&owner).and_then(|t| t.get(&id)) {
            Some(token) => ok(token.json.clone()),
            None => tokens::token_not_found(),
        },
        Op::CreateToken => tokens::create(world, &owner, req.body),
        Op::UpdateToken(id) => tokens::update(world, &owner, &id, req.body),
        Op::DeleteToken(id) => tokens::delete(world, &owner, &id),
        Op::RollToken(id) => tokens::roll(world, &owner, &id, req.body),
        Op::UserDetails | Op::ListAccounts | Op::Verify => not_found(),
    }
}

type Params = Vec<(String, String)>;

fn query_params(query: Option<&str>) -> Result<Params, Reply> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    let uri: axum::http::Uri = format!("/?{query}")
        .parse()
        .map_err(|_| bad_query("unparsable query string"))?;
    axum::extract::Query::<Params>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| bad_query("unparsable query string"))
}

fn param<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `page`, `per_page` and `direction`, validated as the spec bounds them.
#[derive(Debug, Clone, Copy)]
struct Paging {
    page: u64,
    per_page: u64,
    desc: bool,
}

fn paging(params: &Params) -> Result<Paging, Reply> {
    let number = |name: &str, default: u64| -> Result<u64, Reply> {
        match param(params, name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .map_err(|_| bad_query(&format!("{name} must be a whole number"))),
        }
    };
    let page = number("page", 1)?;
    if page < 1 {
        return Err(bad_query("page must be 1 or more"));
    }
    let per_page = number("per_page", 20)?;
    if !(5..=50).contains(&per_page) {
        return Err(bad_query("per_page must be a number between 5 and 50"));
    }
    let desc = match param(params, "direction") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad_query("direction must be asc or desc")),
    };
    Ok(Paging {
        page,
        per_page,
        desc,
    })
}

/// Serves one page of `items` (already in ascending id order); only the served items are
/// rendered, so scanning a large world stays linear.
fn page_reply<T>(
    mut items: Vec<T>,
    paging: Paging,
    mode: ListMode,
    render: impl Fn(T) -> Value,
    synthetic: impl Fn(u64, u64) -> Value,
) -> Reply {
    if paging.desc {
        items.reverse();
    }
    let total = items.len() as u64;
    let served_page = match mode {
        ListMode::RepeatPage => 1,
        _ => paging.page,
    };
    if mode == ListMode::Endless {
        let page_items = (0..paging.per_page)
            .map(|i| synthetic(paging.page, i))
            .collect();
        let total = paging
            .page
            .saturating_add(1)
            .saturating_mul(paging.per_page);
        return ok_page(page_items, paging.page, paging.per_page, total);
    }
    let start = (served_page - 1).saturating_mul(paging.per_page);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(paging.per_page).unwrap_or(usize::MAX))
        .map(render)
        .collect();
    ok_page(page_items, paging.page, paging.per_page, total)
}

fn endless_id(kind: &str, page: u64, i: u64) -> String {
    crate::world::sha_hex(&format!("endless/{kind}/{page}/{i}"))[..32].to_string()
}

fn user_details(world: &World, caller: &Caller) -> Reply {
    if !auth::may_read_user(world, caller) {
        return forbidden();
    }
    let user = &world.user;
    ok(json!({
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "telephone": null,
        "country": null,
        "zipcode": null,
        "two_factor_authentication_enabled": false,
        "two_factor_authentication_locked": false,
        "has_pro_zones": false,
        "has_business_zones": false,
        "has_enterprise_zones": false,
        "suspended": false,
        "betas": [],
        "organizations": [],
    }))
}

fn list_accounts(world: &World, caller: &Caller, params: &Params, mode: ListMode) -> Reply {
    let paging = match paging(params) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let name = param(params, "name").map(str::to_lowercase);
    let items = auth::visible_accounts(world, caller)
        .iter()
        .filter_map(|id| world.accounts.get(id))
        .filter(|a| {
            name.as_ref()
                .is_none_or(|n| a.name.to_lowercase().contains(n.as_str()))
        })
        .collect::<Vec<_>>();
    let render = |a: &Account| {
        json!({
            "id": a.id,
            "name": a.name,
            "type": a.account_type,
            "settings": { "enforce_twofactor": false },
            "created_on": rfc3339(a.created_on),
        })
    };
    page_reply(items, paging, mode, render, |page, i| {
        json!({
            "id": endless_id("account", page, i),
            "name": format!("Endless account {page}-{i}"),
            "type": "standard",
        })
    })
}

fn list_tokens(world: &World, owner: &Owner, params: &Params, mode: ListMode) -> Reply {
    let paging = match paging(params) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let include_expired = match param(params, "include_expired") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => return bad_query("include_expired must be true or false"),
    };
    let items = world
        .tokens(owner)
        .into_iter()
        .flat_map(|tokens| tokens.values())
        .filter(|t| include_expired || !auth::is_expired(&t.json, world.now))
        .collect::<Vec<_>>();
    let now = world.now;
    page_reply(
        items,
        paging,
        mode,
        |t| t.json.clone(),
        |page, i| {
            token_json(
                &endless_id("token", page, i),
                &format!("endless {page}-{i}"),
            )
            .issued(now)
            .build()
        },
    )
}

fn permission_groups(world: &World, owner: &Owner, params: &Params) -> Reply {
    let name = param(params, "name");
    let scope = param(params, "scope");
    let groups: Vec<Value> = world
        .catalogue(owner)
        .iter()
        .filter(|g| {
            name.is_none_or(|n| {
                g.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|gn| gn.eq_ignore_ascii_case(n))
            })
        })
        .filter(|g| {
            scope.is_none_or(|s| {
                g.get("scopes")
                    .and_then(Value::as_array)
                    .is_some_and(|scopes| scopes.iter().any(|x| x.as_str() == Some(s)))
            })
        })
        .cloned()
        .collect();
    ok(Value::Array(groups))
}

/// `GET .../tokens/verify`: only a token of that very owner; anything else is 401.
fn verify(caller: &Caller, owner: &Owner) -> Reply {
    match caller {
        Caller::Token {
            owner: token_owner,
            id,
            json: token,
        } if token_owner == owner => {
            let mut result = serde_json::Map::new();
            result.insert("id".into(), json!(id));
            result.insert(
                "status".into(),
                token.get("status").cloned().unwrap_or(json!("active")),
            );
            for field in ["expires_on", "not_before"] {
                if let Some(v) = token.get(field) {
                    result.insert(field.into(), v.clone());
                }
            }
            ok(Value::Object(result))
        }
        _ => auth::invalid_token(),
    }
}

#[cfg(test)]
mod tests;
