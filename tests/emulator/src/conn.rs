//! A TCP listener whose connections can be cut from inside a handler, so the emulator can
//! close a connection without sending a response (faults `DropAfterApply` and `Hang`).
//!
//! axum's `serve` accepts any [`Listener`]; each accepted stream shares a kill flag with the
//! [`Conn`] that handlers receive through `ConnectInfo`. Once a handler sets the flag, the
//! stream reports end-of-file on read and an error on write, so hyper abandons the response
//! it is about to write and drops the socket: the client sees the connection close before
//! any response byte (reqwest: "connection closed before message completed").

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Handle on one client connection, given to handlers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conn {
    kill: Arc<AtomicBool>,
}

impl Conn {
    /// Makes the connection close without writing anything more.
    pub fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Conn {
        stream.remote_addr().clone()
    }
}

/// A `TcpListener` handing out killable streams.
pub(crate) struct KillableListener(pub TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (KillableStream, Conn) {
        loop {
            match self.0.accept().await {
                Ok((inner, _)) => {
                    // Latency must come from the emulator's knobs, not from Nagle's algorithm.
                    let _ = inner.set_nodelay(true);
                    let conn = Conn::default();
                    let stream = KillableStream {
                        inner,
                        kill: Arc::clone(&conn.kill),
                    };
                    return (stream, conn);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Conn> {
        Ok(Conn::default())
    }
}

/// A `TcpStream` that goes dead once its kill flag is set.
pub(crate) struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "emulator dropped the connection",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use crate::testkit::*;
    use crate::{Emulator, Fault, FaultKind};

    #[tokio::test]
    async fn hang_outlasts_the_client_timeout() {
        let mut world = base_world();
        world.hang_limit = Duration::from_millis(600);
        let emu = Emulator::start(world);
        let api = Api::with_timeout(&emu, Duration::from_millis(150));
        emu.inject(Fault::on("GET", "/user/tokens", FaultKind::Hang).nth(1));
        let err = api
            .try_send("GET", "/user/tokens", Cred::Bearer(SCANNER_SECRET), None)
            .await
            .expect_err("hangs");
        assert!(err.is_timeout(), "{err}");
        assert_eq!(emu.requests()[0].status, None, "no answer was sent");
        // Past the hang limit the connection is closed without an answer, however patient
        // the client.
        let patient = Api::with_timeout(&emu, Duration::from_secs(10));
        emu.inject(Fault::on("GET", "/user/tokens/verify", FaultKind::Hang));
        let started = Instant::now();
        let closed = patient
            .try_send(
                "GET",
                "/user/tokens/verify",
                Cred::Bearer(SCANNER_SECRET),
                None,
            )
            .await
            .expect_err("closed without an answer");
        assert!(!closed.is_timeout(), "{closed}");
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the hang is bounded"
        );
        assert_eq!(
            api.get("/user/tokens", Cred::Bearer(SCANNER_SECRET))
                .await
                .status,
            200
        );
    }

    #[tokio::test]
    async fn drop_after_apply_changes_state_but_loses_the_answer() {
        let emu = Emulator::start(base_world());
        let api = Api::new(&emu);
        emu.inject(Fault::on("PUT", "/user/tokens/*/value", FaultKind::DropAfterApply).nth(1));
        let err = api
            .try_send(
                "PUT",
                &format!("/user/tokens/{TARGET}/value"),
                Cred::Bearer(WRITER_SECRET),
                Some(b"{}".to_vec()),
            )
            .await
            .expect_err("no response");
        assert!(!err.is_timeout(), "{err}");
        let rolled = emu.current_secret(TARGET).expect("token");
        assert_ne!(rolled, TARGET_SECRET, "the roll happened");
        assert_eq!(
            api.get("/user/tokens/verify", Cred::Bearer(TARGET_SECRET))
                .await
                .status,
            401
        );
        let log = emu.requests();
        assert_eq!((log[0].method.as_str(), log[0].status), ("PUT", None));
        assert_eq!(emu.write_requests(), 1);
        let retry = api
            .send(
                "PUT",
                &format!("/user/tokens/{TARGET}/value"),
                Cred::Bearer(WRITER_SECRET),
                Some(json!({})),
            )
            .await;
        assert_eq!(retry.status, 200, "the next attempt answers");
    }
}
