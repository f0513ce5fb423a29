//! Connections are bounded: thousands of idle TLS and HTTP/2 connections are closed within
//! the configured timeouts, a server at its connection cap makes room by closing the
//! longest-idle ones, and slow headers and bodies are cut off — while health checks on
//! fresh connections keep being answered. Timeouts are shortened to seconds so the tests
//! run quickly; the margins allow for a loaded two-core machine.

use super::{temp_dir, Wid, T0};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use wid_core::clock::ManualClock;
use wid_server::config::Limits;

/// Idle connections each test opens.
const IDLE: usize = 2000;
/// Connections opened at once, so that the handshakes don't all time out together.
const OPENING: usize = 64;
/// What a close may be late by, beyond its timeout, on a loaded machine.
const LATE: Duration = Duration::from_secs(6);
/// How long a health check on a fresh connection may take on a loaded machine (they take
/// well under a second here).
const PROMPT: Duration = Duration::from_secs(5);

/// Two descriptors per connection (the test's and the server's end) for a few thousand
/// connections: more than a default soft limit of 1024.
fn raise_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur >= needed {
            return;
        }
        assert!(
            limit.rlim_max >= needed,
            "this test needs {needed} file descriptors; the hard limit is {}",
            limit.rlim_max
        );
        limit.rlim_cur = needed;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

async fn start(tweak: impl FnOnce(&mut Limits)) -> Wid {
    raise_fd_limit(3 * IDLE as u64 + 1024);
    Wid::start_configured(temp_dir(), ManualClock::new(T0), |config| {
        tweak(&mut config.limits)
    })
    .await
}

/// A TLS connector trusting the server's CA, offering `alpn`.
fn connector(wid: &Wid, alpn: &[u8]) -> TlsConnector {
    let ca = std::fs::read(wid.info().ca_bundle.as_ref().unwrap()).unwrap();
    let mut config = wid_client::tls::client_config(wid_client::tls::Trust::Only(&[&ca]))
        .unwrap()
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

fn addr(wid: &Wid) -> SocketAddr {
    wid.server.as_ref().unwrap().local_addr
}

async fn tls(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// Reads until the server closes, returning what it sent; fails the test if the server has
/// not closed within `limit`, so that a server without the bound fails rather than hangs.
async fn closed_within(stream: &mut TlsStream<TcpStream>, limit: Duration) -> Vec<u8> {
    tokio::time::timeout(limit, until_closed(stream))
        .await
        .unwrap_or_else(|_| panic!("the server kept the connection open for {limit:?}"))
}

/// Reads until the server closes (EOF or reset), returning everything it sent.
async fn until_closed(stream: &mut TlsStream<TcpStream>) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Health checks as a load balancer sends them, each on a fresh connection, until stopped;
/// every one must be answered 200 promptly.
struct Prober {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<(usize, Duration)>,
}

impl Prober {
    fn start(wid: &Wid) -> Prober {
        let url = wid.client.url("/healthz");
        let ca = std::fs::read(wid.info().ca_bundle.as_ref().unwrap()).unwrap();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let (mut answered, mut slowest) = (0, Duration::ZERO);
            while !*stopped.borrow() {
                let client = wid_client::WidClient::new(&url, &ca).unwrap();
                let started = Instant::now();
                let status = tokio::time::timeout(PROMPT, client.http().get(&url).send())
                    .await
                    .unwrap_or_else(|_| panic!("a health check took longer than {PROMPT:?}"))
                    .expect("a health check is answered")
                    .status();
                assert_eq!(status, 200);
                slowest = slowest.max(started.elapsed());
                answered += 1;
                let _ = tokio::time::timeout(Duration::from_millis(100), stopped.changed()).await;
            }
            (answered, slowest)
        });
        Prober { stop, task }
    }

    /// Stops, and returns how many checks were answered and the slowest one.
    async fn finish(self) -> (usize, Duration) {
        let _ = self.stop.send(true);
        self.task.await.expect("every health check is answered")
    }
}

/// 2,000 clients complete the TLS handshake and send nothing; each is closed once the
/// first-request timeout has passed since its handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tls_connections_are_closed_after_the_first_request_timeout() {
    let timeout = Duration::from_secs(2);
    let wid = start(|limits| {
        limits.first_request_timeout = timeout;
        limits.max_connections = 2 * IDLE;
    })
    .await;
    let prober = Prober::start(&wid);
    let (connector, addr) = (connector(&wid, b"http/1.1"), addr(&wid));
    let opening = Arc::new(Semaphore::new(OPENING));
    let mut idle = JoinSet::new();
    for _ in 0..IDLE {
        let (connector, opening) = (connector.clone(), opening.clone());
        idle.spawn(async move {
            let permit = opening.acquire_owned().await.unwrap();
            let mut stream = tls(&connector, addr).await;
            let connected = Instant::now();
            drop(permit);
            let sent = closed_within(&mut stream, timeout + LATE).await;
            assert!(sent.is_empty(), "the server sent {sent:?}");
            connected.elapsed()
        });
    }
    let mut open_for = Vec::new();
    while let Some(done) = idle.join_next().await {
        open_for.push(done.unwrap());
    }
    let (answered, slowest) = prober.finish().await;
    let (shortest, longest) = (
        open_for.iter().min().unwrap(),
        open_for.iter().max().unwrap(),
    );
    eprintln!("{IDLE} idle TLS connections open {shortest:?}..{longest:?}; {answered} health checks, slowest {slowest:?}");
    assert!(
        *shortest >= timeout - Duration::from_millis(100),
        "{shortest:?}"
    );
    assert!(*longest <= timeout + LATE, "{longest:?}");
    assert!(answered > 0);
    wid.stop().await;
}

/// Reads a response body to its end, as a well-behaved client does.
async fn drain(mut body: hyper::body::Incoming) {
    use http_body::Body as _;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        frame.unwrap();
    }
}

/// 2,000 HTTP/2 clients each make one request and then keep their connection open,
/// answering the server's PINGs; each is closed (GOAWAY) once it has had no open stream for
/// the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_after_the_idle_timeout() {
    let timeout = Duration::from_secs(2);
    let wid = start(|limits| {
        limits.idle_timeout = timeout;
        limits.max_connections = 2 * IDLE;
    })
    .await;
    let prober = Prober::start(&wid);
    let (connector, addr) = (connector(&wid, b"h2"), addr(&wid));
    let opening = Arc::new(Semaphore::new(OPENING));
    let mut idle = JoinSet::new();
    for _ in 0..IDLE {
        let (connector, opening) = (connector.clone(), opening.clone());
        idle.spawn(async move {
            let permit = opening.acquire_owned().await.unwrap();
            let stream = tls(&connector, addr).await;
            assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let (mut sender, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(stream),
            )
            .await
            .unwrap();
            let conn = tokio::spawn(conn);
            let request = http::Request::get("https://localhost/healthz")
                .body(String::new())
                .unwrap();
            // The server's idle time starts between sending the request and the end of
            // its response here: the bounds are checked from the one and the other.
            let sent = Instant::now();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            drain(response.into_body()).await;
            let answered = Instant::now();
            drop(permit);
            // The sender stays alive: the connection ends because the server ends it.
            let ended = tokio::time::timeout(timeout + LATE, conn)
                .await
                .expect("the server closes an idle HTTP/2 connection")
                .unwrap();
            drop(sender);
            (sent.elapsed(), answered.elapsed(), ended.is_ok())
        });
    }
    let (mut shortest, mut longest) = (Duration::MAX, Duration::ZERO);
    while let Some(done) = idle.join_next().await {
        let (since_sent, since_answered, graceful) = done.unwrap();
        assert!(
            graceful,
            "the server closes an idle HTTP/2 connection with GOAWAY"
        );
        shortest = shortest.min(since_sent);
        longest = longest.max(since_answered);
    }
    let (answered, slowest) = prober.finish().await;
    let (shortest, longest) = (&shortest, &longest);
    eprintln!("{IDLE} idle HTTP/2 connections closed {shortest:?} after their request at the soonest, {longest:?} after its response at the latest; {answered} health checks, slowest {slowest:?}");
    assert!(
        *shortest >= timeout - Duration::from_millis(100),
        "{shortest:?}"
    );
    assert!(*longest <= timeout + LATE, "{longest:?}");
    assert!(answered > 0);
    wid.stop().await;
}

/// With long timeouts and a cap of 100, a client opening 1,000 idle connections only ever
/// holds about 100: each new connection closes the longest-idle one, the newest survive,
/// and health checks get in without waiting for any timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_the_longest_idle_connection_makes_room() {
    const CAP: usize = 100;
    const OPENED: usize = 1000;
    let wid = start(|limits| {
        limits.max_connections = CAP;
        limits.first_request_timeout = Duration::from_secs(300);
        limits.idle_timeout = Duration::from_secs(300);
    })
    .await;
    let prober = Prober::start(&wid);
    let (connector, addr) = (connector(&wid, b"http/1.1"), addr(&wid));
    let closed = Arc::new(AtomicUsize::new(0));
    let mut holders = JoinSet::new();
    for i in 0..OPENED {
        let mut stream = tls(&connector, addr).await;
        let closed = closed.clone();
        holders.spawn(async move {
            until_closed(&mut stream).await;
            closed.fetch_add(1, Ordering::SeqCst);
            i
        });
    }
    // Evictions are asynchronous; give the last ones a moment to land.
    let settle = Instant::now() + Duration::from_secs(10);
    while OPENED - closed.load(Ordering::SeqCst) > CAP && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (answered, slowest) = prober.finish().await;
    let still_open = OPENED - closed.load(Ordering::SeqCst);
    eprintln!("{OPENED} connections opened under a cap of {CAP}: {still_open} still open; {answered} health checks, slowest {slowest:?}");
    assert!(still_open <= CAP, "{still_open} connections open");
    assert!(
        still_open >= CAP / 2,
        "only {still_open} connections left open"
    );
    // The oldest were closed first: none of the first half survives, since each of the
    // later connections had to evict an older idle one.
    let mut first_closed = Vec::new();
    while let Some(Ok(i)) = tokio::time::timeout(Duration::from_millis(10), holders.join_next())
        .await
        .ok()
        .flatten()
    {
        first_closed.push(i);
    }
    assert!(
        (0..OPENED / 2).all(|i| first_closed.contains(&i)),
        "an old idle connection was kept while newer ones were closed"
    );
    assert!(answered > 0);
    holders.abort_all();
    wid.stop().await;
}

const PING: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n";

/// What hyper's HTTP/1.1 header-read timeout covers, found by experiment: it runs from
/// when the connection is ready for a request, so it closes an idle keep-alive connection
/// after a response; but not a connection that never sent a byte (hyper-util's protocol
/// detection reads first, without a timeout), which is what the first-request timeout is
/// for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_idle_keep_alive_and_silent_connections_are_closed() {
    let header_read = Duration::from_secs(1);
    let first_request = Duration::from_secs(4);
    let wid = start(|limits| {
        limits.header_read_timeout = header_read;
        limits.first_request_timeout = first_request;
        limits.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let (connector, addr) = (connector(&wid, b"http/1.1"), addr(&wid));

    let mut kept_alive = tls(&connector, addr).await;
    let sent = Instant::now();
    kept_alive.write_all(PING).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"ok") {
        let mut buf = [0u8; 1024];
        let n = kept_alive.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response");
        response.extend_from_slice(&buf[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200"));
    let answered = Instant::now();
    let silent_since = Instant::now();
    let mut silent = tls(&connector, addr).await;
    closed_within(&mut kept_alive, header_read + LATE).await;
    // The server's wait for the next request starts between the request and its answer.
    let (since_sent, since_answered) = (sent.elapsed(), answered.elapsed());
    assert!(
        since_sent >= header_read - Duration::from_millis(100),
        "{since_sent:?}"
    );
    assert!(since_answered <= header_read + LATE, "{since_answered:?}");

    closed_within(&mut silent, first_request + LATE).await;
    let silent_for = silent_since.elapsed();
    assert!(
        silent_for >= first_request - Duration::from_millis(100),
        "closed by the header-read timeout after {silent_for:?}"
    );
    assert!(silent_for <= first_request + LATE, "{silent_for:?}");
    wid.stop().await;
}

/// Headers that trickle in are cut off by the header-read timeout, and a body that trickles
/// by the request timeout, with 408 (the handler's time includes reading its body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_bodies_are_cut_off() {
    let (header_read, request) = (Duration::from_secs(2), Duration::from_secs(2));
    let wid = start(|limits| {
        limits.header_read_timeout = header_read;
        limits.request_timeout = request;
        limits.first_request_timeout = Duration::from_secs(60);
    })
    .await;
    let (connector, addr) = (connector(&wid, b"http/1.1"), addr(&wid));
    let trickle = |mut stream: TlsStream<TcpStream>, head: Vec<u8>| async move {
        stream.write_all(&head).await.unwrap();
        let started = Instant::now();
        let (mut read, mut write) = tokio::io::split(stream);
        let writer = tokio::spawn(async move {
            while write.write_all(b"a").await.is_ok() && write.flush().await.is_ok() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), read.read_to_end(&mut got)).await;
        writer.abort();
        (
            started.elapsed(),
            String::from_utf8_lossy(&got).into_owned(),
        )
    };

    let slow_headers = tls(&connector, addr).await;
    let (took, _) = trickle(
        slow_headers,
        b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-slow: ".to_vec(),
    )
    .await;
    assert!(took >= header_read - Duration::from_millis(100), "{took:?}");
    assert!(took <= header_read + LATE, "{took:?}");

    let token = format!("/{}/oauth2/v2.0/token", wid.creds.tenant_id);
    let slow_body = tls(&connector, addr).await;
    let (took, answer) = trickle(
        slow_body,
        format!("POST {token} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100000\r\n\r\n").into_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took >= request - Duration::from_millis(100), "{took:?}");
    assert!(took <= request + LATE, "{took:?}");
    wid.stop().await;
}

/// A client that asks and then stops reading (here an HTTP/2 client that never grants
/// flow-control window, so the response body can't be sent) keeps its request in progress:
/// it is not idle, so the connection is dropped once the request has made no progress for
/// the request timeout plus the send timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let (request, send) = (Duration::from_secs(1), Duration::from_secs(1));
    let wid = start(|limits| {
        limits.request_timeout = request;
        limits.send_timeout = send;
        limits.idle_timeout = Duration::from_secs(60);
        limits.http2_keep_alive_interval = Duration::from_secs(60);
    })
    .await;
    let stream = tls(&connector(&wid, b"h2"), addr(&wid)).await;
    let (mut sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(0)
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let sent = Instant::now();
    let response = sender
        .send_request(
            http::Request::get("https://localhost/healthz")
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the headers need no window");
    let bound = request + send;
    let ended = tokio::time::timeout(bound + LATE, conn)
        .await
        .expect("the server drops a connection that stopped reading")
        .unwrap();
    let took = sent.elapsed();
    assert!(ended.is_err(), "dropped, not closed gracefully");
    assert!(took >= bound - Duration::from_millis(100), "{took:?}");
    drop((sender, response));
    wid.stop().await;
}
