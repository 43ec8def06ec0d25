//! The HTTP client for Cloudflare's v4 API: authentication (a redacted credential in a
//! header marked sensitive), the response envelope, error mapping, and pagination that
//! stops on every documented end condition and refuses a server that never stops.
//!
//! Retries and rate-limit pacing hook in at [`Client::send`] (issue 5): every request goes
//! through it.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde_json::Value;
use url::Url;

use crate::secret::Secret;

pub const DEFAULT_API_BASE: &str = "https://api.cloudflare.com/client/v4";
/// The largest page Cloudflare serves (DESIGN §9).
pub const PER_PAGE: u32 = 50;
/// No estate has this many pages of tokens (500 tokens per account / 50 per page): a
/// server that keeps going is broken, and the scope is reported, not looped on.
const MAX_PAGES: u32 = 1_000;

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

    fn headers(&self) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        match self {
            Credential::Token(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose().trim()))
                    .map_err(|_| {
                        "the API token contains characters not allowed in a header".to_string()
                    })?;
                v.set_sensitive(true);
                h.insert(AUTHORIZATION, v);
            }
            Credential::Key { email, key } => {
                let e = HeaderValue::from_str(email.trim()).map_err(|_| {
                    "CLOUDFLARE_EMAIL contains characters not allowed in a header".to_string()
                })?;
                let mut k = HeaderValue::from_str(key.expose().trim()).map_err(|_| {
                    "the API key contains characters not allowed in a header".to_string()
                })?;
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
    pub fn parse(s: &str) -> Result<ApiBase, String> {
        let url = Url::parse(s.trim_end_matches('/'))
            .map_err(|e| format!("invalid API base URL {s:?}: {e}"))?;
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
                    return Err(format!(
                        "refusing plain http API base {s:?}: credentials would cross the network unencrypted (http is accepted only for loopback hosts)"
                    ));
                }
            }
            other => {
                return Err(format!(
                    "invalid API base URL {s:?}: unsupported scheme {other:?}"
                ))
            }
        }
        if url.username() != "" || url.password().is_some() {
            return Err("the API base URL must not contain credentials".into());
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
    pub fn new(base: ApiBase, credential: &Credential) -> Result<Client, String> {
        let headers = credential.headers()?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("tokenwarden/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .https_only(base.0.scheme() == "https")
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            base,
            headers,
            credential_kind: credential.kind(),
        })
    }

    pub fn base(&self) -> &ApiBase {
        &self.base
    }

    /// Send one request and return the parsed envelope of a successful answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        page: Option<u32>,
    ) -> Result<Envelope, ApiError> {
        let err = |kind| ApiError {
            method: method.to_string(),
            endpoint: path.to_string(),
            page,
            kind,
        };
        let url = format!("{}{}", self.base.as_str(), path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .headers(self.headers.clone())
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| err(ApiErrorKind::Transport(transport_message(&e))))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| err(ApiErrorKind::Transport(transport_message(&e))))?;
        let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
        if !status.is_success() {
            let errors = parsed.as_ref().map(error_strings).unwrap_or_default();
            return Err(err(ApiErrorKind::Status {
                status: status.as_u16(),
                errors,
            }));
        }
        let body = parsed.map_err(|e| {
            err(ApiErrorKind::Malformed(format!(
                "body is not JSON ({} bytes): {e}",
                bytes.len()
            )))
        })?;
        match body.get("success") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(err(ApiErrorKind::Unsuccessful(error_strings(&body))))
            }
            _ => {
                return Err(err(ApiErrorKind::Malformed(
                    "no boolean `success` in the response envelope".into(),
                )))
            }
        }
        let Some(result) = body.get("result").cloned() else {
            return Err(err(ApiErrorKind::Malformed(
                "no `result` in the response envelope".into(),
            )));
        };
        Ok(Envelope {
            result,
            result_info: body.get("result_info").cloned(),
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Envelope, ApiError> {
        self.send(Method::GET, path, query, None, None).await
    }

    /// Every item of a paginated list (`per_page` 50, `extra` query parameters added).
    ///
    /// Stops on an empty page, a page shorter than `per_page`, or once
    /// `page * per_page >= total_count` (DESIGN §9). A page that repeats an earlier one,
    /// or a list that runs past [`MAX_PAGES`], is an error naming the endpoint and page.
    pub async fn list_all(
        &self,
        path: &str,
        extra: &[(&str, String)],
    ) -> Result<Vec<Value>, ApiError> {
        let mut items: Vec<Value> = Vec::new();
        let mut seen_ids = std::collections::HashSet::new();
        let mut page = 1u32;
        loop {
            let err = |kind| ApiError {
                method: "GET".into(),
                endpoint: path.to_string(),
                page: Some(page),
                kind,
            };
            if page > MAX_PAGES {
                return Err(err(ApiErrorKind::Pagination(format!(
                    "more than {MAX_PAGES} pages: the server does not stop"
                ))));
            }
            let mut query = vec![
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ];
            query.extend(extra.iter().cloned());
            let env = self
                .send(Method::GET, path, &query, None, Some(page))
                .await?;
            let Value::Array(batch) = env.result else {
                return Err(err(ApiErrorKind::Malformed(
                    "`result` is not a list".into(),
                )));
            };
            let n = batch.len();
            let mut new_ids = 0usize;
            for (i, item) in batch.iter().enumerate() {
                crate::inventory::check_object_with_id(item, &format!("result[{i}]"))
                    .map_err(|(p, m)| err(ApiErrorKind::Malformed(format!("{p}: {m}"))))?;
                let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                if seen_ids.insert(id.to_string()) {
                    new_ids += 1;
                }
            }
            if n > 0 && new_ids == 0 {
                return Err(err(ApiErrorKind::Pagination(
                    "the page repeats items already listed: the server ignores `page`".into(),
                )));
            }
            if new_ids < n {
                return Err(err(ApiErrorKind::Pagination(format!(
                    "{} item(s) on this page were already listed on an earlier page",
                    n - new_ids
                ))));
            }
            items.extend(batch);
            let total = env
                .result_info
                .as_ref()
                .and_then(|ri| ri.get("total_count"))
                .and_then(Value::as_f64);
            if n == 0 || n < PER_PAGE as usize {
                break;
            }
            if let Some(total) = total {
                if f64::from(page) * f64::from(PER_PAGE) >= total {
                    break;
                }
            }
            page += 1;
        }
        Ok(items)
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
        assert!(e.contains("loopback"), "{e}");
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
