//! The connection layer under the HTTP router: accepting TCP connections (optionally with
//! TLS), and the limits that keep slow, idle and numerous connections from exhausting
//! the server (file descriptors, memory) so that everyone else is still served.
//!
//! One path serves plain HTTP and TLS: an accept loop that takes a slot per connection
//! (global and per client address; none left → the connection is closed at once), a TLS
//! handshake with a deadline, an idle watchdog on the socket, and hyper's HTTP/1.1
//! connection with a header-read timeout and a header size limit. Only HTTP/1.1 is spoken:
//! browsers and clients fall back to it, and every limit here is written for it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sesam_core::limits::SourceKey;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use sesam_core::error::AppError;

use crate::proxy_protocol::{self, TrustedProxies};

/// How long requests in flight may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Limits on connections (config keys `[http] …`, see docs/operations.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The whole request head must arrive within this time after the server starts
    /// waiting for it (on a new connection and between keep-alive requests).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves while no request is being answered is closed
    /// after this long (nothing sent after connecting, after a keep-alive response, or a
    /// client that stops reading its response).
    pub idle_timeout: Duration,
    /// The TLS handshake must finish within this time.
    pub tls_handshake_timeout: Duration,
    /// The largest request head (request line and headers) accepted; larger → 431.
    pub max_header_bytes: usize,
    /// Open connections at most, from everyone together.
    pub max_connections: usize,
    /// Open connections at most from one client address.
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(20),
            tls_handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_connections: 1024,
            max_connections_per_address: 64,
        }
    }
}

/// Counts open connections, in total and per client address.
struct Slots {
    max: usize,
    per_address: usize,
    open: Mutex<(usize, HashMap<SourceKey, usize>)>,
}

/// One open connection's place; given back when dropped.
struct Slot {
    slots: Arc<Slots>,
    key: SourceKey,
}

impl Slots {
    /// A place for a connection from `ip`, counted per address as the request limits
    /// count it (IPv4 as is, IPv6 by its /64: a subscriber usually has a whole /64).
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = SourceKey::of(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_ip) = &mut *open;
        let mine = by_ip.get(&key).copied().unwrap_or(0);
        if *total >= self.max || mine >= self.per_address {
            return None;
        }
        *total += 1;
        by_ip.insert(key, mine + 1);
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_ip) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(n) = by_ip.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                by_ip.remove(&self.key);
            }
        }
    }
}

/// A socket that fails with `TimedOut` when nothing has moved for `timeout` while no
/// request is being answered. hyper's own timeouts start only once a request is parsed
/// (or cover only the head), so this is what closes silent connections.
struct IdleWatch<IO> {
    io: IO,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    busy: Arc<AtomicUsize>,
}

impl<IO> IdleWatch<IO> {
    fn new(io: IO, timeout: Duration, busy: Arc<AtomicUsize>) -> Self {
        Self {
            io,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            busy,
        }
    }

    fn touch(&mut self) {
        let next = tokio::time::Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    /// Called when the socket would wait: ready with an error once the time is up.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if self.busy.load(Ordering::Acquire) == 0 {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
            // A request is being answered (the handler has its own timeout): wait on.
            self.touch();
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for IdleWatch<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
            other => other,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for IdleWatch<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.poll_idle(cx).map(Err),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Marks a request as being answered while alive.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(n: &Arc<AtomicUsize>) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Self(n.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` completes, then
/// stops accepting and lets requests in flight finish for up to [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    proxies: TrustedProxies,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let proxies = Arc::new(proxies);
    let slots = Arc::new(Slots {
        max: limits.max_connections,
        per_address: limits.max_connections_per_address,
        open: Mutex::default(),
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of
                    // spinning; connections that close free them.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let http = http.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let slots = slots.clone();
        let proxied = proxies.trusts(peer.ip());
        tokio::spawn(async move {
            let mut stream = stream;
            // Behind a trusted balancer the client is who the PROXY header names; the
            // header is read before the slot is taken, so the cap counts the client.
            let peer = if proxied {
                match tokio::time::timeout(
                    limits.header_read_timeout,
                    proxy_protocol::read_client_address(&mut stream, peer),
                )
                .await
                {
                    Ok(Ok(client)) => client,
                    Ok(Err(e)) => {
                        metrics::counter!("sesam_proxy_headers_refused_total").increment(1);
                        tracing::warn!(%peer, error = %e, "connection from a trusted proxy closed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "PROXY header timed out");
                        return;
                    }
                }
            } else {
                peer
            };
            let Some(_slot) = slots.take(peer.ip()) else {
                metrics::counter!("sesam_connections_refused_total").increment(1);
                tracing::debug!(%peer, "connection refused: too many open connections");
                return;
            };
            match tls {
                None => serve_connection(stream, peer, app, &http, limits, watcher).await,
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(
                        limits.tls_handshake_timeout,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    serve_connection(stream, peer, app, &http, limits, watcher).await
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", SHUTDOWN_GRACE.as_secs());
        }
    }
    Ok(())
}

async fn serve_connection<IO>(
    io: IO,
    peer: SocketAddr,
    app: Router,
    http: &hyper::server::conn::http1::Builder,
    limits: ConnectionLimits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let busy = Arc::new(AtomicUsize::new(0));
    let io = IdleWatch::new(io, limits.idle_timeout, busy.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // Handlers read the client address as axum's `ConnectInfo`.
        req.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::start(&busy);
        let app = app.clone();
        async move {
            let response = app.oneshot(req).await;
            drop(busy);
            response
        }
    });
    let conn = http.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_ipv6_by_its_64_prefix() {
        let key = |s: &str| SourceKey::of(s.parse().unwrap());
        assert_eq!(key("192.0.2.7"), key("::ffff:192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn slots_are_capped_in_total_and_per_address_and_given_back() {
        let slots = Arc::new(Slots {
            max: 3,
            per_address: 2,
            open: Mutex::default(),
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "per address");
        let _b1 = slots.take(b).unwrap();
        assert!(slots.take(c).is_none(), "in total");
        drop(a1);
        assert!(slots.take(c).is_some());
    }
}
