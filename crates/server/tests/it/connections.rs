//! Slow, idle and numerous connections against the real binary (issue 12, item 1): they
//! are closed, and other clients are still served, over plain HTTP and TLS.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Only bounds a test that would otherwise hang; nothing is asserted about speed.
const GIVE_UP: Duration = Duration::from_secs(20);

fn server(dir: &tempfile::TempDir, extra: &[&str], env: &[(&str, &str)], scheme: &str) -> Server {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
    Server::start_full(&Data::Dir(dir.path().join("data")), extra, scheme, &env)
}

fn addr(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
}

/// A TCP connection to the server from the loopback address `from` (127.0.0.x).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// Sends one keep-alive request and reads its answer; the status, or `None` when the
/// server closed the connection instead of answering.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Option<u16> {
    let sent = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    if sent.is_err() {
        return None;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + GIVE_UP;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + length {
                return head.split(' ').nth(1).and_then(|c| c.parse().ok());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no answer and no close"),
        }
    }
}

/// Whether the server closes the connection (end of stream or reset), waiting at most
/// [`GIVE_UP`]; what it sends before closing is skipped.
async fn closed_by_server<S: AsyncRead + Unpin>(s: &mut S) -> bool {
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(GIVE_UP, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// A connection from `from` that has been answered once (so the server holds it),
/// retried while the server still counts connections that just closed.
async fn held_connection(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + GIVE_UP;
    loop {
        let mut s = connect_from(from, to).await;
        if request(&mut s).await == Some(200) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the server never took a connection from {from:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn healthz_from(base: &str, from: [u8; 4]) -> reqwest::Result<reqwest::StatusCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| r.status())
}

#[tokio::test]
async fn idle_connections_are_closed_and_others_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(
        &dir,
        &[],
        &[
            ("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "1"),
            ("SESAM_HTTP_HEADER_READ_TIMEOUT_SECONDS", "600"),
        ],
        "http",
    );
    // Nothing sent after connecting.
    let mut silent = TcpStream::connect(addr(&server)).await.unwrap();
    // Nothing sent after one keep-alive request.
    let mut kept = TcpStream::connect(addr(&server)).await.unwrap();
    assert_eq!(request(&mut kept).await, Some(200));
    // A second request on the same connection still works while it is active.
    assert_eq!(request(&mut kept).await, Some(200));

    assert!(
        closed_by_server(&mut silent).await,
        "a silent connection stays open"
    );
    assert!(
        closed_by_server(&mut kept).await,
        "an idle keep-alive connection stays open"
    );
    assert_eq!(
        http_client()
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_slow_header_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(
        &dir,
        &[],
        &[
            ("SESAM_HTTP_HEADER_READ_TIMEOUT_SECONDS", "1"),
            ("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "600"),
        ],
        "http",
    );
    let stream = TcpStream::connect(addr(&server)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move { closed_by_server(&mut read).await });
    write.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // One header line every 300 ms: each arrives well within any idle limit, but the
    // head as a whole never completes.
    let mut lines = 0;
    while !reader.is_finished() && lines < 60 {
        if write
            .write_all(format!("X-Slow-{lines}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
        lines += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(reader.await.unwrap(), "the slow header was never cut off");
    assert!(
        lines < 60,
        "the server read {lines} header lines without closing"
    );
    assert_eq!(
        http_client()
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn oversized_headers_are_refused_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir, &[], &[], "http");
    let big = "a".repeat(20 * 1024);
    match http_client()
        .get(format!("{}/healthz", server.base))
        .header("x-big", &big)
        .send()
        .await
    {
        Ok(r) => assert_eq!(r.status(), 431, "a 20 KiB header is accepted"),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    // An ordinary large header (cookies, long URLs) still passes.
    let r = http_client()
        .get(format!("{}/healthz", server.base))
        .header("x-big", "a".repeat(6 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn connection_caps_close_extra_connections_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(
        &dir,
        &[],
        &[
            ("SESAM_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "2"),
            ("SESAM_HTTP_MAX_CONNECTIONS", "4"),
            ("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "600"),
            ("SESAM_HTTP_HEADER_READ_TIMEOUT_SECONDS", "600"),
        ],
        "http",
    );
    let to = addr(&server);
    let base = format!("http://127.0.0.1:{}", server.port);
    // One address holds its two connections; a third from it is closed unanswered.
    let _a1 = held_connection([127, 0, 0, 4], to).await;
    let a2 = held_connection([127, 0, 0, 4], to).await;
    let mut a3 = connect_from([127, 0, 0, 4], to).await;
    assert_eq!(
        request(&mut a3).await,
        None,
        "a third connection from one address is served"
    );
    // Another address is still served.
    assert_eq!(healthz_from(&base, [127, 0, 0, 2]).await.unwrap(), 200);

    // The global cap: two more held connections from other addresses fill it.
    let _b = held_connection([127, 0, 0, 5], to).await;
    let _c = held_connection([127, 0, 0, 6], to).await;
    let mut d = connect_from([127, 0, 0, 7], to).await;
    assert_eq!(
        request(&mut d).await,
        None,
        "a connection over the global cap is served"
    );

    // A closed connection frees its place.
    drop(a2);
    let deadline = Instant::now() + GIVE_UP;
    loop {
        let mut e = connect_from([127, 0, 0, 7], to).await;
        if request(&mut e).await == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never given out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tls_connector(cert: &std::path::Path) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_from(
    connector: &tokio_rustls::TlsConnector,
    from: [u8; 4],
    to: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, connect_from(from, to).await).await
}

#[tokio::test]
async fn tls_handshakes_and_idle_tls_connections_are_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = test_certificate(dir.path()) else {
        return;
    };
    let server = server(
        &dir,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[
            ("SESAM_HTTP_TLS_HANDSHAKE_TIMEOUT_SECONDS", "1"),
            ("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "1"),
            ("SESAM_HTTP_HEADER_READ_TIMEOUT_SECONDS", "600"),
        ],
        "https",
    );
    let to = addr(&server);
    let connector = tls_connector(&cert);
    // No handshake at all.
    let mut raw = TcpStream::connect(to).await.unwrap();
    // A handshake, then nothing; and one keep-alive request, then nothing.
    let mut silent = tls_from(&connector, [127, 0, 0, 1], to).await.unwrap();
    let mut kept = tls_from(&connector, [127, 0, 0, 1], to).await.unwrap();
    assert_eq!(request(&mut kept).await, Some(200));

    assert!(
        closed_by_server(&mut raw).await,
        "a connection without a handshake stays open"
    );
    assert!(
        closed_by_server(&mut silent).await,
        "a silent TLS connection stays open"
    );
    assert!(
        closed_by_server(&mut kept).await,
        "an idle TLS keep-alive connection stays open"
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn tls_connections_over_the_cap_are_closed_and_others_served() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = test_certificate(dir.path()) else {
        return;
    };
    let server = server(
        &dir,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[
            ("SESAM_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "2"),
            ("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "600"),
            ("SESAM_HTTP_HEADER_READ_TIMEOUT_SECONDS", "600"),
        ],
        "https",
    );
    let to = addr(&server);
    let connector = tls_connector(&cert);
    let mut held = Vec::new();
    let deadline = Instant::now() + GIVE_UP;
    while held.len() < 2 {
        if let Ok(mut s) = tls_from(&connector, [127, 0, 0, 4], to).await
            && request(&mut s).await == Some(200)
        {
            held.push(s);
            continue;
        }
        assert!(
            Instant::now() < deadline,
            "the server never took the connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match tls_from(&connector, [127, 0, 0, 4], to).await {
        Err(_) => {}
        Ok(mut s) => assert_eq!(
            request(&mut s).await,
            None,
            "a third TLS connection is served"
        ),
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let other = reqwest::Client::builder()
        .tls_certs_only([ca])
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = other
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server(&dir, &[], &[], "http");
    let mut s = TcpStream::connect(addr(&server)).await.unwrap();
    let body = br#"{"activation_code":"ABCD-EFGH-JKLM"}"#;
    // `Expect: 100-continue`: the server says "100 Continue" only once a handler reads the
    // body, so the signal below surely comes while the request is in flight (not while
    // the connection still waits in the accept queue, where it is not a request yet).
    let head = format!(
        "POST /app/v1/activation/start HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(GIVE_UP, s.read(&mut byte))
            .await
            .expect("no 100 Continue")
            .unwrap();
        assert_eq!(n, 1, "closed before 100 Continue: {interim:?}");
        interim.push(byte[0]);
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{interim:?}");
    s.write_all(&body[..5]).await.unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Once the server stops accepting, the signal has been handled.
    let deadline = Instant::now() + GIVE_UP;
    while TcpStream::connect(addr(&server)).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The request already started is read to its end and answered.
    s.write_all(&body[5..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(GIVE_UP, s.read_to_end(&mut answer))
        .await
        .expect("no answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(answer.contains("\"error\""), "{answer}");
    let deadline = Instant::now() + GIVE_UP;
    loop {
        if let Some(code) = server.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection from `from` that begins with a PROXY v1 header naming `client`.
async fn proxied_from(from: [u8; 4], to: SocketAddr, client: &str) -> TcpStream {
    let mut s = connect_from(from, to).await;
    let header = format!("PROXY TCP4 {client} 127.0.0.1 40000 {}\r\n", to.port());
    s.write_all(header.as_bytes()).await.unwrap();
    s
}

/// Behind a trusted balancer the connection cap counts the client the PROXY header names:
/// one client's extra connection is closed while another client behind the same balancer
/// is served; the balancer's own connections without a header are closed unanswered.
#[tokio::test]
async fn behind_a_trusted_balancer_the_cap_counts_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(
        &dir,
        &[],
        &[
            ("SESAM_HTTP_PROXY_PROTOCOL_FROM", "127.0.0.9"),
            ("SESAM_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "1"),
            ("SESAM_HTTP_IDLE_TIMEOUT_SECONDS", "600"),
        ],
        "http",
    );
    let to = addr(&server);
    let mut first = proxied_from([127, 0, 0, 9], to, "203.0.113.7").await;
    assert_eq!(request(&mut first).await, Some(200));
    let mut again = proxied_from([127, 0, 0, 9], to, "203.0.113.7").await;
    assert_eq!(
        request(&mut again).await,
        None,
        "a second connection of one client behind the balancer is served"
    );
    let mut other = proxied_from([127, 0, 0, 9], to, "203.0.113.8").await;
    assert_eq!(
        request(&mut other).await,
        Some(200),
        "another client behind the same balancer is refused"
    );
    let mut bare = connect_from([127, 0, 0, 9], to).await;
    assert_eq!(
        request(&mut bare).await,
        None,
        "a trusted balancer's connection without a header is served"
    );
    // An untrusted peer's PROXY header is not believed: it is a malformed request.
    let mut forged = proxied_from([127, 0, 0, 10], to, "203.0.113.9").await;
    assert!(closed_by_server(&mut forged).await);
    // Untrusted peers without a header are served as always.
    assert_eq!(
        healthz_from(
            &format!("http://127.0.0.1:{}", server.port),
            [127, 0, 0, 10]
        )
        .await
        .unwrap(),
        200
    );
}
