//! The HTTP client for Cloudflare's v4 API: authentication (a redacted credential in a
//! header marked sensitive), the response envelope, error mapping, and pagination that
//! stops on every documented end condition and refuses a server that never stops.
//!
//! Every request goes through [`Client::send`]: at most `concurrency` in flight, paced by
//! the shared [`Pacer`] under Cloudflare's rate limit, and — for GETs only — retried with
//! exponential backoff and jitter on 5xx, timeouts and connection errors. Writes are never
//! retried here: the remediation protocol decides what happens after a failed write.
//!
//! Identifiers from the API are data, not paths (issue 12): a request path is an
//! [`ApiPath`], fixed segments written here plus checked ids, joined to the base with
//! `path_segments_mut` (each segment percent-encoded). The client follows no redirect:
//! Cloudflare's API does not redirect, and a redirect followed would carry the legacy
//! `X-Auth-Key` to whatever origin it names, so any 3xx is an error naming the endpoint
//! and the `Location`.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::pacer::{Budget, Pacer, StatsSnapshot};
pub use super::path::ApiPath;
use crate::secret::Secret;

pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";
/// The largest page Cloudflare serves (docs/architecture.md §9).
pub const PER_PAGE: u32 = 50;
/// No list is this long (500 tokens per account is 10 pages; 200 pages of accounts is
/// 10,000 accounts): a server that keeps going is broken, and the scope is reported, not
/// looped on.
const MAX_PAGES: u32 = 200;
/// 429s tolerated for one GET before its scope is given up.
const MAX_RATE_LIMITED: u32 = 3;

/// How the client behaves on the wire.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The client-side request budget shared by the whole run.
    pub budget: Budget,
    /// Extra attempts for a GET after a 5xx, a timeout or a connection error.
    pub retries: u32,
    /// First backoff delay; doubles per attempt (with jitter), capped at 20 s.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            concurrency: 8,
            budget: Budget::DEFAULT,
            retries: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A connection setting that cannot work: checked before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("invalid API base URL {url:?}: {reason}")]
    InvalidBase { url: String, reason: String },
    #[error("refusing plain http API base {0:?}: credentials would cross the network unencrypted (http is accepted only for loopback hosts)")]
    PlainHttp(String),
    #[error("{what} contains characters not allowed in a header")]
    CredentialHeader { what: &'static str },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// How tokenwarden authenticates. Never printed (the secret is a [`Secret`]).
#[derive(Clone, Debug)]
pub enum Credential {
    /// `Authorization: Bearer <token>`
    Token(Secret),
    /// The legacy global API key: `X-Auth-Email` + `X-Auth-Key`.
    Key { email: String, key: Secret },
}

impl Credential {
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Token(_) => "API token",
            Credential::Key { .. } => "global API key",
        }
    }

    fn headers(&self) -> Result<HeaderMap, ConnectionError> {
        let header = |what| ConnectionError::CredentialHeader { what };
        let mut h = HeaderMap::new();
        match self {
            Credential::Token(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose().trim()))
                    .map_err(|_| header("the API token"))?;
                v.set_sensitive(true);
                h.insert(AUTHORIZATION, v);
            }
            Credential::Key { email, key } => {
                let e =
                    HeaderValue::from_str(email.trim()).map_err(|_| header("CLOUDFLARE_EMAIL"))?;
                let mut k = HeaderValue::from_str(key.expose().trim())
                    .map_err(|_| header("the API key"))?;
                k.set_sensitive(true);
                h.insert("X-Auth-Email", e);
                h.insert("X-Auth-Key", k);
            }
        }
        Ok(h)
    }
}

/// A validated API base URL: https, or plain http only to a loopback host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiBase(Url);

impl ApiBase {
    pub fn parse(s: &str) -> Result<ApiBase, ConnectionError> {
        let invalid = |reason: String| ConnectionError::InvalidBase {
            url: s.to_string(),
            reason,
        };
        let url = Url::parse(s.trim_end_matches('/')).map_err(|e| invalid(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    Some(url::Host::Ipv4(a)) => IpAddr::V4(a).is_loopback(),
                    Some(url::Host::Ipv6(a)) => IpAddr::V6(a).is_loopback(),
                    None => false,
                };
                if !loopback {
                    return Err(ConnectionError::PlainHttp(s.to_string()));
                }
            }
            other => return Err(invalid(format!("unsupported scheme {other:?}"))),
        }
        if url.username() != "" || url.password().is_some() {
            return Err(invalid(
                "the API base URL must not contain credentials".into(),
            ));
        }
        Ok(ApiBase(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }
}

/// An API call that failed. Names the endpoint (and page); never a secret or a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {endpoint}{}: {kind}", page.map(|p| format!(" (page {p})")).unwrap_or_default())]
pub struct ApiError {
    pub method: String,
    pub endpoint: String,
    pub page: Option<u32>,
    pub kind: ApiErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// A non-2xx status, with Cloudflare's error codes and messages when the body had them.
    Status { status: u16, errors: Vec<String> },
    /// No response: connect failure, timeout, reset.
    Transport(String),
    /// A response that is not the documented envelope.
    Malformed(String),
    /// `success: false` in a 2xx envelope.
    Unsuccessful(Vec<String>),
    /// A list that does not end as Cloudflare's do.
    Pagination(String),
    /// A 3xx answer. Cloudflare's API does not redirect; it is not followed, so no
    /// credential goes to the origin it names.
    Redirect {
        status: u16,
        location: Option<String>,
    },
    /// The request was not sent: an id that should go into its path is not a Cloudflare id.
    InvalidId(String),
}

impl ApiErrorKind {
    /// 401/403: the credential may not read this scope.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            ApiErrorKind::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                String::new()
            } else {
                format!(": {}", v.join("; "))
            }
        };
        match self {
            ApiErrorKind::Status { status, errors } => write!(f, "HTTP {status}{}", list(errors)),
            ApiErrorKind::Transport(m) => write!(f, "request failed: {m}"),
            ApiErrorKind::Malformed(m) => write!(f, "malformed response: {m}"),
            ApiErrorKind::Unsuccessful(e) => write!(f, "API answered success=false{}", list(e)),
            ApiErrorKind::Pagination(m) => write!(f, "pagination error: {m}"),
            ApiErrorKind::Redirect { status, location } => write!(
                f,
                "HTTP {status} redirect to {}, not followed: Cloudflare's API does not redirect, and no credential is sent to another address",
                location.as_deref().map_or("an unnamed location".to_string(), |l| format!("{l:?}"))
            ),
            ApiErrorKind::InvalidId(m) => write!(f, "not sent: {m}"),
        }
    }
}

/// The parts of Cloudflare's envelope we read.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub result: Value,
    pub result_info: Option<Value>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: ApiBase,
    headers: HeaderMap,
    credential_kind: &'static str,
    options: ClientOptions,
    pacer: Arc<Pacer>,
    permits: Arc<Semaphore>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("credential", &self.credential_kind)
            .finish()
    }
}

fn error_strings(body: &Value) -> Vec<String> {
    body.get("errors")
        .and_then(Value::as_array)
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    let code = e.get("code").map(|c| c.to_string()).unwrap_or_default();
                    let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                    if code.is_empty() {
                        msg.to_string()
                    } else {
                        format!("code {code}: {msg}")
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Client {
    pub fn new(base: ApiBase, credential: &Credential) -> Result<Client, ConnectionError> {
        Self::with_options(base, credential, ClientOptions::default())
    }

    pub fn with_options(
        base: ApiBase,
        credential: &Credential,
        options: ClientOptions,
    ) -> Result<Client, ConnectionError> {
        let headers = credential.headers()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tokenwarden/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .https_only(base.0.scheme() == "https")
            // Cloudflare's API does not redirect; reqwest would strip only `Authorization`
            // on the way to another origin, never the legacy key's headers (issue 12).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectionError::Build(e.to_string()))?;
        let concurrency = options.concurrency.max(1);
        Ok(Client {
            http,
            base,
            headers,
            credential_kind: credential.kind(),
            // Keep enough quota in reserve for the requests already in flight.
            pacer: Arc::new(Pacer::new(options.budget, concurrency as u64)),
            permits: Arc::new(Semaphore::new(concurrency)),
            options,
        })
    }

    pub fn base(&self) -> &ApiBase {
        &self.base
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.pacer.stats.snapshot()
    }

    /// Send one request (paced, bounded, GETs retried) and return the parsed envelope
    /// of a successful answer.
    pub async fn send(
        &self,
        method: Method,
        path: &ApiPath,
        query: &[(&str, String)],
        body: Option<&Value>,
        page: Option<u32>,
    ) -> Result<Envelope, ApiError> {
        let retry = method == Method::GET;
        let mut attempt = 0u32;
        let mut limited = 0u32;
        loop {
            let outcome = {
                let _permit = self.permits.acquire().await;
                self.pacer.acquire().await;
                self.send_once(&method, path, query, body, page).await
            };
            let (err, retry_after) = match outcome {
                Ok(env) => return Ok(env),
                Err(e) => e,
            };
            if let ApiErrorKind::Status { status: 429, .. } = err.kind {
                self.pacer.record_429(retry_after);
                if retry && limited < MAX_RATE_LIMITED {
                    limited += 1;
                    continue;
                }
                return Err(err);
            }
            let transient = matches!(
                err.kind,
                ApiErrorKind::Transport(_)
                    | ApiErrorKind::Status {
                        status: 500..=599,
                        ..
                    }
            );
            if retry && transient && attempt < self.options.retries {
                attempt += 1;
                self.pacer
                    .stats
                    .retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(self.backoff(attempt)).await;
                continue;
            }
            return Err(err);
        }
    }

    /// Exponential backoff with jitter: a random delay in [d/2, d], d = base * 2^(n-1).
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = Duration::from_secs(20);
        let d = self
            .options
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(cap);
        let half = d / 2;
        half + Duration::from_millis(fastrand::u64(0..=half.as_millis() as u64))
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &ApiPath,
        query: &[(&str, String)],
        body: Option<&Value>,
        page: Option<u32>,
    ) -> Result<Envelope, (ApiError, Option<Duration>)> {
        let err = |kind| ApiError {
            method: method.to_string(),
            endpoint: path.to_string(),
            page,
            kind,
        };
        let url = self.url(path).map_err(|kind| (err(kind), None))?;
        let mut req = self
            .http
            .request(method.clone(), url)
            .headers(self.headers.clone())
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| (err(ApiErrorKind::Transport(transport_message(&e))), None))?;
        let status = resp.status();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        self.pacer.observe(header("ratelimit").as_deref());
        let retry_after = header(RETRY_AFTER.as_str())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status.is_redirection() {
            // Only the text of the header: it may name anything, and it is never followed.
            let location = header(LOCATION.as_str()).map(|l| l.chars().take(200).collect());
            return Err((
                err(ApiErrorKind::Redirect {
                    status: status.as_u16(),
                    location,
                }),
                None,
            ));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| (err(ApiErrorKind::Transport(transport_message(&e))), None))?;
        let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
        if !status.is_success() {
            let errors = parsed.as_ref().map(error_strings).unwrap_or_default();
            return Err((
                err(ApiErrorKind::Status {
                    status: status.as_u16(),
                    errors,
                }),
                retry_after,
            ));
        }
        let body = parsed.map_err(|e| {
            (
                err(ApiErrorKind::Malformed(format!(
                    "body is not JSON ({} bytes): {e}",
                    bytes.len()
                ))),
                None,
            )
        })?;
        match body.get("success") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err((err(ApiErrorKind::Unsuccessful(error_strings(&body))), None))
            }
            _ => {
                return Err((
                    err(ApiErrorKind::Malformed(
                        "no boolean `success` in the response envelope".into(),
                    )),
                    None,
                ))
            }
        }
        let Some(result) = body.get("result").cloned() else {
            return Err((
                err(ApiErrorKind::Malformed(
                    "no `result` in the response envelope".into(),
                )),
                None,
            ));
        };
        Ok(Envelope {
            result,
            result_info: body.get("result_info").cloned(),
        })
    }

    /// The base joined with `path`, segment by segment: `path_segments_mut` percent-encodes
    /// each one (a `/`, `%`, `?` or `#` inside a segment stays inside it).
    fn url(&self, path: &ApiPath) -> Result<Url, ApiErrorKind> {
        let mut url = self.base.0.clone();
        url.path_segments_mut()
            .map_err(|()| ApiErrorKind::InvalidId("the API base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(path.segments());
        Ok(url)
    }

    pub async fn get(
        &self,
        path: &ApiPath,
        query: &[(&str, String)],
    ) -> Result<Envelope, ApiError> {
        self.send(Method::GET, path, query, None, None).await
    }

    /// One page of a list: its items (each an object with an id) and `total_count`.
    async fn page(
        &self,
        path: &ApiPath,
        page: u32,
        extra: &[(&str, String)],
    ) -> Result<(Vec<Value>, Option<u64>), ApiError> {
        let mut query = vec![
            ("page", page.to_string()),
            ("per_page", PER_PAGE.to_string()),
        ];
        query.extend(extra.iter().cloned());
        let env = self
            .send(Method::GET, path, &query, None, Some(page))
            .await?;
        let err = |kind| ApiError {
            method: "GET".into(),
            endpoint: path.to_string(),
            page: Some(page),
            kind,
        };
        let Value::Array(items) = env.result else {
            return Err(err(ApiErrorKind::Malformed(
                "`result` is not a list".into(),
            )));
        };
        for (i, item) in items.iter().enumerate() {
            crate::inventory::check_object_with_id(item, &format!("result[{i}]"))
                .map_err(|(p, m)| err(ApiErrorKind::Malformed(format!("{p}: {m}"))))?;
        }
        let total = env
            .result_info
            .as_ref()
            .and_then(|ri| ri.get("total_count"))
            .and_then(Value::as_f64)
            .filter(|t| *t >= 0.0)
            .map(|t| t as u64);
        Ok((items, total))
    }

    /// Every item of a paginated list (`per_page` 50, `extra` query parameters added).
    ///
    /// Page 1 tells `total_count`; the other pages are then fetched concurrently. The list
    /// ends on an empty page, a page shorter than `per_page`, or once
    /// `page * per_page >= total_count` (docs/architecture.md §9). A list that changes or repeats itself
    /// while it is read — a short page before the last, an item listed twice, a
    /// `total_count` that grows — is an error naming the endpoint and page: a scope read
    /// inconsistently is not evaluated, never silently partial.
    pub async fn list_all(
        &self,
        path: &ApiPath,
        extra: &[(&str, String)],
    ) -> Result<Vec<Value>, ApiError> {
        let pagination = |page, msg: String| ApiError {
            method: "GET".into(),
            endpoint: path.to_string(),
            page: Some(page),
            kind: ApiErrorKind::Pagination(msg),
        };
        let (first, total) = self.page(path, 1, extra).await?;
        let per_page = PER_PAGE as usize;
        let mut pages: Vec<(u32, Vec<Value>, Option<u64>)> = vec![(1, first, total)];
        let full = |items: &Vec<Value>| items.len() >= per_page;
        if full(&pages[0].1) {
            match total {
                Some(total) => {
                    let last = total.div_ceil(PER_PAGE as u64).min(u64::from(MAX_PAGES)) as u32;
                    let rest = futures_util::future::join_all(
                        (2..=last).map(|p| async move { (p, self.page(path, p, extra).await) }),
                    )
                    .await;
                    for (p, r) in rest {
                        let (items, t) = r?;
                        pages.push((p, items, t));
                    }
                    if total.div_ceil(PER_PAGE as u64) > u64::from(MAX_PAGES) {
                        return Err(pagination(
                            MAX_PAGES,
                            format!("total_count {total} is more than {MAX_PAGES} pages"),
                        ));
                    }
                }
                None => {
                    // No total_count: one page after another until a short one.
                    let mut p = 2;
                    while full(&pages[pages.len() - 1].1) {
                        if p > MAX_PAGES {
                            return Err(pagination(
                                p,
                                format!("more than {MAX_PAGES} pages: the server does not stop"),
                            ));
                        }
                        let (items, t) = self.page(path, p, extra).await?;
                        pages.push((p, items, t));
                        p += 1;
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut ended = false;
        for (p, items, t) in pages {
            if let (Some(first), Some(now)) = (total, t) {
                if now != first {
                    return Err(pagination(
                        p,
                        format!(
                            "total_count changed from {first} to {now} while the list was read"
                        ),
                    ));
                }
            }
            // total_count may over-count (the API documents it as the total without
            // filters), so pages past a short one may be empty — but never hold items.
            if ended && !items.is_empty() {
                return Err(pagination(
                    p,
                    "items after a short page: the list changed while it was read".into(),
                ));
            }
            ended = items.len() < per_page;
            for item in items {
                let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                if !seen.insert(id.to_string()) {
                    return Err(pagination(
                        p,
                        format!("item {id} was already listed on an earlier page: the server repeats pages"),
                    ));
                }
                out.push(item);
            }
        }
        Ok(out)
    }
}

/// reqwest's error text without the URL's query (no secrets are in URLs, but keep
/// messages short and stable).
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body was cut off"
    } else {
        "connection error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_accepts_https_and_loopback_http_only() {
        assert!(ApiBase::parse(DEFAULT_API_BASE).is_ok());
        assert!(ApiBase::parse("http://127.0.0.1:8080/client/v4").is_ok());
        assert!(ApiBase::parse("http://localhost:1/client/v4").is_ok());
        assert!(ApiBase::parse("http://[::1]:1/client/v4").is_ok());
        let e = ApiBase::parse("http://api.example.com/client/v4").unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        assert!(ApiBase::parse("http://10.0.0.1/").is_err());
        assert!(ApiBase::parse("ftp://x/").is_err());
        assert!(ApiBase::parse("https://u:p@x/").is_err());
        assert_eq!(
            ApiBase::parse("https://x.test/client/v4/")
                .unwrap()
                .as_str(),
            "https://x.test/client/v4"
        );
    }

    #[test]
    fn authorization_header_is_sensitive_and_debug_is_redacted() {
        let c = Credential::Token(Secret::new("abc123"));
        let h = c.headers().unwrap();
        assert!(h.get(AUTHORIZATION).unwrap().is_sensitive());
        assert!(!format!("{h:?}").contains("abc123"));
        assert!(!format!("{c:?}").contains("abc123"));
        let k = Credential::Key {
            email: "a@b.c".into(),
            key: Secret::new("k3y"),
        };
        let h = k.headers().unwrap();
        assert!(h.get("X-Auth-Key").unwrap().is_sensitive());
        let client = Client::new(ApiBase::parse(DEFAULT_API_BASE).unwrap(), &k).unwrap();
        assert!(!format!("{client:?}").contains("k3y"));
    }

    /// Issue 12: the base's own path (`/client/v4`) is kept and each segment is joined
    /// as one segment.
    #[test]
    fn urls_keep_the_base_path_and_join_segment_by_segment() {
        let cred = Credential::Token(Secret::new("x"));
        let path = ApiPath::new(&["accounts"])
            .id("023e105f4ecef8ad9ca31a8372d0c353")
            .unwrap()
            .then("tokens");
        for (base, url) in [
            (
                "https://x.test/client/v4/",
                "https://x.test/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/tokens",
            ),
            (
                "http://127.0.0.1:1",
                "http://127.0.0.1:1/accounts/023e105f4ecef8ad9ca31a8372d0c353/tokens",
            ),
        ] {
            let client = Client::new(ApiBase::parse(base).unwrap(), &cred).unwrap();
            assert_eq!(client.url(&path).unwrap().as_str(), url);
        }
    }

    #[test]
    fn error_display_names_endpoint_and_page() {
        let e = ApiError {
            method: "GET".into(),
            endpoint: "/accounts/a/tokens".into(),
            page: Some(3),
            kind: ApiErrorKind::Status {
                status: 403,
                errors: vec!["code 9109: Unauthorized".into()],
            },
        };
        assert_eq!(
            e.to_string(),
            "GET /accounts/a/tokens (page 3): HTTP 403: code 9109: Unauthorized"
        );
        assert!(e.kind.is_forbidden());
    }
}
