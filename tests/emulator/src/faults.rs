//! Injectable faults: which requests they hit (method, path pattern, occurrence) and what
//! they do at the HTTP level. See [`FaultKind`] for each kind's exact behaviour.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::world::World;

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answers this status without touching state. 502, 504 and 52x get Cloudflare's HTML
    /// edge error page (`text/html`); other codes a JSON failure envelope (code 10500+);
    /// a 429 also carries `Retry-After: 1`.
    Status(u16),
    /// Waits this long, then handles the request normally.
    Latency(Duration),
    /// Holds the request for `World::hang_limit` (default 60 s, so a client timeout fires
    /// first), then closes the connection without answering. No state change.
    Hang,
    /// Handles the request (state changes happen, e.g. a roll's new secret replaces the old
    /// one), then closes the connection without sending any response byte.
    DropAfterApply,
    /// `200 text/html` with a Cloudflare challenge page. No state change.
    NonJson,
    /// Handles the request, then sends the real status with the first half of the JSON
    /// body (a valid start, cut) and a matching `Content-Length`.
    Truncated,
    /// `200` with a `success: false` envelope (code 10001, result null). No state change.
    SuccessFalse,
    /// Handles the request (state changes happen), then answers this status as `Status`
    /// does: the origin acted, but the client sees an error (a 5xx from the edge after the
    /// origin applied a write, for instance).
    StatusAfterApply(u16),
    /// Applies this edit to the world, then handles the request normally: another
    /// administrator's change landing just before this request (deterministic, no timing).
    EditBefore(WorldEdit),
    /// List endpoints serve page 1 whatever `page` asks for (`result_info.page` echoes the
    /// requested page), so a client that only follows page numbers loops. Others: no effect.
    RepeatPage,
    /// Answers this 3xx status with `Location: <location>` and an empty body, without
    /// touching state. Cloudflare's API never redirects; point the location at a
    /// [`Trap`](crate::Trap) to see whether a client follows it and what it sends along.
    Redirect { status: u16, location: String },
    /// List endpoints always answer a full page of fresh synthetic items with a
    /// `total_count` one page beyond the requested one, so a client that trusts the server
    /// never stops. Others: no effect.
    EndlessPages,
}

impl FaultKind {
    /// `Redirect { status, location }`.
    pub fn redirect(status: u16, location: &str) -> FaultKind {
        FaultKind::Redirect {
            status,
            location: location.to_string(),
        }
    }
}

/// A change to the world made by a fault (see [`FaultKind::EditBefore`]).
#[derive(Clone)]
pub struct WorldEdit(pub Arc<dyn Fn(&mut World) + Send + Sync>);

impl WorldEdit {
    pub fn new(edit: impl Fn(&mut World) + Send + Sync + 'static) -> WorldEdit {
        WorldEdit(Arc::new(edit))
    }
}

impl fmt::Debug for WorldEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorldEdit(..)")
    }
}

/// Two edits are the same when they are the same closure.
impl PartialEq for WorldEdit {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for WorldEdit {}

/// Which of the matching requests a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurrence {
    /// Every matching request.
    Every,
    /// Only the n-th matching request (1-based).
    Nth(usize),
    /// The first n matching requests.
    FirstN(usize),
}

/// A fault: `Fault::on("PUT", "/user/tokens/*/value", FaultKind::DropAfterApply).nth(1)`.
///
/// The path is relative to the base URL (`/user/tokens`), without the query string.
/// `*` stands for exactly one path segment. By default the pattern is a prefix by whole
/// segments (`/user/tokens` also matches `/user/tokens/abc`); `.exact()` requires the
/// whole path. The method `"*"` matches any method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub method: String,
    pub path: String,
    pub exact: bool,
    pub occurrence: Occurrence,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault hitting every request of `method` whose path starts with `path`.
    pub fn on(method: &str, path: &str, kind: FaultKind) -> Fault {
        Fault {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            exact: false,
            occurrence: Occurrence::Every,
            kind,
        }
    }
    /// Only the n-th matching request (1-based).
    pub fn nth(mut self, n: usize) -> Fault {
        self.occurrence = Occurrence::Nth(n);
        self
    }
    /// Only the first n matching requests.
    pub fn first(mut self, n: usize) -> Fault {
        self.occurrence = Occurrence::FirstN(n);
        self
    }
    /// The path must match completely, not as a prefix.
    pub fn exact(mut self) -> Fault {
        self.exact = true;
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let pattern: Vec<&str> = segments(&self.path);
        let actual: Vec<&str> = segments(path);
        if actual.len() < pattern.len() || (self.exact && actual.len() != pattern.len()) {
            return false;
        }
        pattern
            .iter()
            .zip(&actual)
            .all(|(p, a)| *p == "*" || p == a)
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// An injected fault with its count of matching requests.
#[derive(Debug, Clone)]
pub(crate) struct ArmedFault {
    pub fault: Fault,
    pub seen: usize,
}

impl ArmedFault {
    /// Counts a matching request and tells whether the fault fires for it.
    pub fn hit(&mut self, method: &str, path: &str) -> bool {
        if !self.fault.matches(method, path) {
            return false;
        }
        self.seen += 1;
        match self.fault.occurrence {
            Occurrence::Every => true,
            Occurrence::Nth(n) => self.seen == n,
            Occurrence::FirstN(n) => self.seen <= n,
        }
    }
}

/// Cloudflare's edge error page for 502/504/52x: what a client sees when the origin
/// behind the API fails.
pub(crate) fn edge_error_html(status: u16) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head><title>api.cloudflare.com | {status}: \
         Bad gateway</title></head>\n<body>\n<div id=\"cf-error-details\">\n<h1>Error \
         {status}</h1>\n<p>Bad gateway</p>\n<p>Cloudflare Ray ID: 8e1f2a3b4c5d6e7f</p>\n\
         </div>\n</body>\n</html>\n"
    )
}

/// A challenge page served with 200, as a misconfigured proxy or WAF would.
pub(crate) fn challenge_html() -> String {
    "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head><title>Just a moment...</title></head>\n\
     <body><noscript>Enable JavaScript and cookies to continue</noscript></body>\n</html>\n"
        .to_string()
}

/// Whether a status gets the HTML edge page rather than a JSON envelope.
pub(crate) fn is_edge_status(status: u16) -> bool {
    matches!(status, 502 | 504 | 520..=527 | 530)
}

/// The JSON envelope of a `Status` fault.
pub(crate) fn status_envelope(status: u16) -> Value {
    json!({
        "success": false,
        "errors": [{ "code": 10000 + u32::from(status), "message": format!("Injected fault: HTTP {status}") }],
        "messages": [],
        "result": null,
    })
}

/// The body of a `SuccessFalse` fault.
pub(crate) fn success_false_envelope() -> Value {
    json!({
        "success": false,
        "errors": [{ "code": 10001, "message": "Internal error: please try again" }],
        "messages": [],
        "result": null,
    })
}

#[cfg(test)]
mod tests;
