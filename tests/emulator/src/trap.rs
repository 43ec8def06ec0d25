//! A second listener on another local port (so another origin than the emulator) that
//! records every request it gets and which credential headers came with it: the far end of
//! a [`FaultKind::Redirect`](crate::FaultKind::Redirect). A client that follows the
//! redirect shows up here; one that sent a credential along is caught (issue 12).
//!
//! It answers every request like an empty Cloudflare list (`200`, `success: true`,
//! `result: []`), so a client that follows a redirect also believes there is nothing to see.

use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;

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
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Trap {
    /// Binds `127.0.0.1:0` and serves on a background thread.
    ///
    /// # Panics
    /// When the runtime cannot be built or the socket cannot be bound.
    pub fn start() -> Trap {
        let records: Records = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&records);
        let thread = std::thread::Builder::new()
            .name("redirect-trap".to_string())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(listener.local_addr());
                    let app = Router::new().fallback(record).with_state(state);
                    tokio::select! {
                        _ = axum::serve(listener, app).into_future() => {}
                        _ = stop_rx => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("trap: cannot spawn the server thread");
        let addr = match ready_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => panic!("trap: cannot listen on 127.0.0.1: {e}"),
            Err(_) => panic!("trap: the server thread died before listening"),
        };
        Trap {
            records,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port><path>`: a `Location` for a redirect fault.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<TrapRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
