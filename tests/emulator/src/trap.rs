//! A second listener on another local port (so another origin than the emulator) that
//! records every request it gets and which credential headers came with it: the far end of
//! a [`FaultKind::Redirect`](crate::FaultKind::Redirect). A client that follows the
//! redirect shows up here; one that sent a credential along is caught (issue 12).
//!
//! It answers every request like an empty Cloudflare list (`200`, `success: true`,
//! `result: []`), so a client that follows a redirect also believes there is nothing to see.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Router;

use crate::background::Background;

/// Headers that carry a Cloudflare credential (or any credential a browser would send).
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "x-auth-key", "x-auth-email", "cookie"];

/// One request the trap received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapRecord {
    pub method: String,
    /// Path and query as received.
    pub target: String,
    /// The credential headers that arrived (lower-case names; never their values).
    pub credential_headers: Vec<String>,
}

type Records = Arc<Mutex<Vec<TrapRecord>>>;

/// A running trap. Dropping it stops the server.
pub struct Trap {
    records: Records,
    server: Background,
}

impl Trap {
    /// Binds `127.0.0.1:0` and serves on a background thread.
    ///
    /// # Panics
    /// When the runtime cannot be built or the socket cannot be bound.
    pub fn start() -> Trap {
        let records: Records = Arc::default();
        let state = Arc::clone(&records);
        let server = Background::start("redirect-trap", 1, move |listener| async move {
            let app = Router::new().fallback(record).with_state(state);
            let _ = axum::serve(listener, app).into_future().await;
        });
        Trap { records, server }
    }

    /// `http://127.0.0.1:<port><path>`: a `Location` for a redirect fault.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<TrapRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn record(State(records): State<Records>, request: Request) -> Response {
    let credential_headers = CREDENTIAL_HEADERS
        .iter()
        .filter(|h| request.headers().contains_key(**h))
        .map(|h| h.to_string())
        .collect();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |p| p.to_string());
    records
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(TrapRecord {
            method: request.method().to_string(),
            target,
            credential_headers,
        });
    let mut response = Response::new(Body::from(
        r#"{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"page":1,"per_page":50,"count":0,"total_count":0}}"#,
    ));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
