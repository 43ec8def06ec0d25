//! A stateful emulator of the Cloudflare API token endpoints, for tokenwarden's integration
//! tests and benchmarks. It serves every operation of
//! `tests/fixtures/cloudflare/openapi-tokens.json` (`GET /user`, `GET /accounts`, and list,
//! permission groups, verify, create, get, update, delete and roll for user- and
//! account-owned tokens) on `127.0.0.1`, with Cloudflare's semantics: Bearer auth against
//! the *current* secrets, the legacy key, authorization from the calling token's policies,
//! pagination bounds, `PUT` as full replacement, quotas, a per-credential rate limit, and
//! injectable faults.
//!
//! ```text
//! let mut world = World::new(now);
//! world.add_account(ACCOUNT, "Example Inc.");
//! world.add_scanner_user_token(SCANNER_ID, "scanner-secret", &[ACCOUNT]);
//! let emu = Emulator::start(world);
//! // run the binary with CLOUDFLARE_API_BASE_URL=emu.base_url() ...
//! assert_eq!(emu.write_requests(), 0);
//! ```
//!
//! The server runs on its own thread with its own tokio runtime, so synchronous `#[test]`s
//! can use it; dropping the [`Emulator`] stops it (hanging requests included).
//!
//! Where the spec is silent, the emulator chooses (each choice pinned by a unit test beside
//! the module that makes it; `testkit/` holds what they share):
//! - Error codes: 401 `1000` "Invalid API Token" (unknown, rolled, disabled, expired or
//!   not-yet-valid token; also verify at the wrong owner), 401 `9106` missing credentials,
//!   401 `9103` wrong legacy key, 400 `6003` non-Bearer `Authorization`, 403 `9109`
//!   "Unauthorized to access requested resource", 404 `7003` "No route for the URI",
//!   404 `1003` unknown token, 405 `7001`, 400 `6007` malformed body, 400 `1001` invalid
//!   body content, 400 `1005` quota, 413 `6007` body over 1 MiB, 422 `6008` bad query
//!   parameter, 429 `10000` rate limited.
//! - `GET /user` needs "User Details Read/Write" for a token (the spec's
//!   `x-api-token-group`); account-owned tokens get 403 there.
//! - Lists are ordered by id (ascending; `direction=desc` reverses); `GET /accounts`'s
//!   `name` filter is a case-insensitive substring match; permission groups filter by exact
//!   (case-insensitive) `name` and exact `scope`.
//! - Token objects are returned verbatim: a token past `expires_on` keeps the status it was
//!   given (only list filtering and authentication look at the clock).
//! - Unknown and forbidden accounts both answer 403, even for the legacy key.

mod api;
mod auth;
mod background;
mod catalogue;
mod conn;
mod envelope;
mod faults;
mod ratelimit;
pub mod synth;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
mod tokens;
mod trap;
mod world;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use catalogue::{account_catalogue, default_catalogue, group_id};
pub use faults::{Fault, FaultKind, Occurrence, WorldEdit};
pub use trap::{Trap, TrapRecord};
pub use world::{
    rfc3339, token_json, Account, Owner, RateLimit, StoredToken, TokenBuilder, TokenPolicy, User,
    World, ACCOUNT_TOKEN_QUOTA, USER_API_KEY, USER_EMAIL, USER_ID, USER_TOKEN_QUOTA,
};

use api::{ApiRequest, ListMode};
use background::Background;
use conn::{Conn, KillableListener};
use envelope::{fail, Reply};
use faults::ArmedFault;
use ratelimit::Limiter;

/// The instant every test and the benchmark take as now: the worlds' clock, their tokens'
/// times and the binary's `--now`, so nothing depends on the real date (issue 10).
pub const NOW: &str = "2026-11-22T10:00:00Z";

/// [`NOW`] as a time.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("NOW is RFC 3339")
        .to_utc()
}

/// [`NOW`] moved by `n` days (negative: in the past).
pub fn days(n: i64) -> DateTime<Utc> {
    now() + chrono::Duration::days(n)
}

/// Path prefix of the API, as in `https://api.cloudflare.com/client/v4`.
pub const BASE_PATH: &str = "/client/v4";

/// Largest request body the emulator reads.
const MAX_BODY: usize = 1 << 20;

/// How a request authenticated (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// No credential headers.
    None,
    /// `Authorization: Bearer …`; the id of the token the secret currently belongs to, or
    /// `None` for an unknown (e.g. rolled-away) secret.
    Bearer { token_id: Option<String> },
    /// `X-Auth-Email` + `X-Auth-Key`, and whether they matched the user.
    LegacyKey { valid: bool },
    /// An `Authorization` header that is not Bearer, or only one of the legacy headers.
    Malformed,
}

/// One request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path below the base URL (`/user/tokens`); the full path if outside it.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    pub auth: AuthKind,
    /// Status sent; `None` when the connection was closed without a response.
    pub status: Option<u16>,
}

impl RequestRecord {
    /// Whether the method can change state (POST, PUT, DELETE, PATCH).
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH")
    }
}

struct Inner {
    world: World,
    faults: Vec<ArmedFault>,
    records: Vec<RequestRecord>,
    limiter: Limiter,
}

type Shared = Arc<Mutex<Inner>>;

/// A test's lock must not die with another test thread's panic inside `with_world`.
fn lock(shared: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running emulator. Dropping it shuts the server down.
pub struct Emulator {
    shared: Shared,
    addr: SocketAddr,
    /// Stops the server when the emulator is dropped.
    _server: Background,
}

impl Emulator {
    /// Binds `127.0.0.1:0` and serves `world` on a background thread with its own tokio
    /// runtime; returns once the socket is listening.
    ///
    /// # Panics
    /// When the runtime cannot be built or the socket cannot be bound.
    pub fn start(world: World) -> Emulator {
        let shared: Shared = Arc::new(Mutex::new(Inner {
            world,
            faults: Vec::new(),
            records: Vec::new(),
            limiter: Limiter::default(),
        }));
        let state = Arc::clone(&shared);
        let server = Background::start("cloudflare-emulator", 2, move |listener| async move {
            let app = Router::new().fallback(serve_request).with_state(state);
            let _ = axum::serve(
                KillableListener(listener),
                app.into_make_service_with_connect_info::<Conn>(),
            )
            .into_future()
            .await;
        });
        Emulator {
            shared,
            addr: server.addr,
            _server: server,
        }
    }

    /// `http://127.0.0.1:<port>/client/v4`: what `--api-base` / `CLOUDFLARE_API_BASE_URL` take.
    pub fn base_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared).records.clone()
    }

    /// Forgets the request log (e.g. after a test's setup calls).
    pub fn clear_requests(&self) {
        lock(&self.shared).records.clear();
    }

    /// How many POST/PUT/DELETE/PATCH requests were received.
    pub fn write_requests(&self) -> usize {
        lock(&self.shared)
            .records
            .iter()
            .filter(|r| r.is_write())
            .count()
    }

    /// How many requests were answered 429.
    pub fn too_many_requests(&self) -> usize {
        lock(&self.shared)
            .records
            .iter()
            .filter(|r| r.status == Some(429))
            .count()
    }

    /// Runs `f` on the live world (inspect or change state mid-test).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.shared).world)
    }

    /// The secret that currently authenticates as `token_id` (of any owner).
    pub fn current_secret(&self, token_id: &str) -> Option<String> {
        self.with_world(|w| w.find_token(token_id).map(|(_, t)| t.secret.clone()))
    }

    /// Every token secret the world has held: given at set-up, created and rolled
    /// (including secrets rolled away since), so tests can check that none leaked.
    pub fn all_secrets(&self) -> Vec<String> {
        self.with_world(|w| {
            let mut all = w.secret_log.clone();
            let current = w
                .user_tokens
                .values()
                .chain(w.accounts.values().flat_map(|a| a.tokens.values()))
                .map(|t| t.secret.clone());
            all.extend(current);
            all.sort();
            all.dedup();
            all
        })
    }

    /// A copy of a token's API object (of any owner).
    pub fn token(&self, token_id: &str) -> Option<Value> {
        self.with_world(|w| w.token(token_id).cloned())
    }

    /// Arms a fault; faults are checked in the order injected (latencies add up, the
    /// first other kind that fires wins, every matching fault counts the request).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared)
            .faults
            .push(ArmedFault { fault, seen: 0 });
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }
}

fn response(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        map.insert(header::CONTENT_TYPE, v);
    }
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(n, v);
        }
    }
    response
}

fn json_body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=UTF-8";

/// The answer of a `Status` (or `StatusAfterApply`) fault.
fn status_fault_response(status: u16) -> Response {
    let mut headers = Vec::new();
    if status == 429 {
        headers.push(("retry-after", "1".to_string()));
    }
    if faults::is_edge_status(status) {
        response(
            status,
            HTML,
            faults::edge_error_html(status).into_bytes(),
            &headers,
        )
    } else {
        response(
            status,
            JSON,
            json_body(&faults::status_envelope(status)),
            &headers,
        )
    }
}

/// The one handler: faults, then the API, then transport-level faults.
async fn serve_request(
    State(shared): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_string();
    let full_path = parts.uri.path().to_string();
    let relative = full_path
        .strip_prefix(BASE_PATH)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .map(|rest| if rest.is_empty() { "/" } else { rest }.to_string());
    let query = parts.uri.query().map(str::to_string);
    let body = axum::body::to_bytes(body, MAX_BODY).await;

    let (fault, delay, hang_limit, auth) = {
        let mut inner = lock(&shared);
        let match_path = relative.clone().unwrap_or_else(|| full_path.clone());
        let mut fault = None;
        let mut delay = inner.world.latency;
        for armed in &mut inner.faults {
            if armed.hit(&method, &match_path) {
                match &armed.fault.kind {
                    FaultKind::Latency(d) => delay += *d,
                    kind if fault.is_none() => fault = Some(kind.clone()),
                    _ => {}
                }
            }
        }
        let auth = auth::describe(&inner.world, &parts.headers);
        (fault, delay, inner.world.hang_limit, auth)
    };
    let record = |status: Option<u16>| RequestRecord {
        method: method.clone(),
        path: relative.clone().unwrap_or_else(|| full_path.clone()),
        query: query.clone(),
        auth: auth.clone(),
        status,
    };
    let log = |status: Option<u16>| lock(&shared).records.push(record(status));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    match fault {
        Some(FaultKind::Status(status)) => {
            log(Some(status));
            return status_fault_response(status);
        }
        Some(FaultKind::Hang) => {
            // Logged first: hyper may drop this future when the client gives up.
            log(None);
            tokio::time::sleep(hang_limit).await;
            conn.kill();
            return response(504, JSON, Vec::new(), &[]);
        }
        Some(FaultKind::NonJson) => {
            log(Some(200));
            return response(200, HTML, faults::challenge_html().into_bytes(), &[]);
        }
        Some(FaultKind::Redirect { status, location }) => {
            log(Some(status));
            return response(status, JSON, Vec::new(), &[("location", location)]);
        }
        Some(FaultKind::SuccessFalse) => {
            log(Some(200));
            return response(200, JSON, json_body(&faults::success_false_envelope()), &[]);
        }
        _ => {}
    }

    let mode = match fault {
        Some(FaultKind::RepeatPage) => ListMode::RepeatPage,
        Some(FaultKind::EndlessPages) => ListMode::Endless,
        _ => ListMode::Normal,
    };
    let reply: Reply = match (&relative, &body) {
        (None, _) => api::not_found(),
        (Some(_), Err(_)) => fail(413, 6007, "Request body too large"),
        (Some(path), Ok(bytes)) => {
            let mut guard = lock(&shared);
            let inner = &mut *guard;
            if let Some(FaultKind::EditBefore(edit)) = &fault {
                (edit.0)(&mut inner.world);
            }
            let request = ApiRequest {
                method: &method,
                path,
                query: query.as_deref(),
                headers: &parts.headers,
                body: bytes,
            };
            api::handle(
                &mut inner.world,
                &mut inner.limiter,
                &request,
                mode,
                Instant::now(),
            )
        }
    };

    if let Some(FaultKind::StatusAfterApply(status)) = fault {
        log(Some(status));
        return status_fault_response(status);
    }
    if fault == Some(FaultKind::DropAfterApply) {
        conn.kill();
        log(None);
        return response(reply.status, JSON, Vec::new(), &[]);
    }
    log(Some(reply.status));
    let mut bytes = json_body(&reply.body);
    if fault == Some(FaultKind::Truncated) {
        bytes.truncate((bytes.len() / 2).max(1));
    }
    response(reply.status, JSON, bytes, &reply.headers)
}
