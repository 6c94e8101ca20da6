//! Syslog drains against real receivers on loopback: plain TCP and TLS, restarts, a receiver
//! that never reads, and the router's configuration.

use ingot_core::testing::until;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingot_logging::{
    DrainConfig, DrainError, DrainRouter, Envelope, EnvelopeSink, LogType, SyslogDrain,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const APP: &str = "6f3c0bd2-3b1e-4f39-9b7e-0c5a8a1d2e4f";
/// Every test finishes well within this, or fails.
const LIMIT: Duration = Duration::from_secs(30);

fn line(text: &str, log_type: LogType) -> Envelope {
    Envelope::log(
        APP,
        "0",
        "APP/PROC/WEB",
        log_type,
        text,
        1_714_564_800_000_000_000,
    )
}

fn numbered(i: usize) -> Envelope {
    line(&format!("line {i}"), LogType::Out)
}

fn fast_retries() -> DrainConfig {
    DrainConfig {
        buffer_size: 5,
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..DrainConfig::default()
    }
}

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("test took too long")
}

// ---- receivers ----

/// A CA, and a server certificate for 127.0.0.1 it signed.
struct TestPki {
    ca: CertificateDer<'static>,
    acceptor: TlsAcceptor,
}

impl TestPki {
    fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server.der().clone()], key)
            .unwrap();
        Self {
            ca: ca.der().clone(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}

type Connection = BufReader<Box<dyn AsyncRead + Unpin + Send>>;

struct Receiver {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Receiver {
    async fn bind(addr: SocketAddr, tls: Option<TlsAcceptor>) -> Self {
        Self {
            listener: TcpListener::bind(addr).await.unwrap(),
            tls,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }

    fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "syslog-tls"
        } else {
            "syslog"
        };
        format!("{scheme}://{}", self.addr())
    }

    async fn accept(&self) -> Connection {
        let (tcp, _) = self.listener.accept().await.unwrap();
        let stream: Box<dyn AsyncRead + Unpin + Send> = match &self.tls {
            None => Box::new(tcp),
            Some(acceptor) => Box::new(acceptor.accept(tcp).await.unwrap()),
        };
        BufReader::new(stream)
    }
}

/// One octet-counted message.
async fn read_message(connection: &mut Connection) -> String {
    let mut length = Vec::new();
    connection.read_until(b' ', &mut length).await.unwrap();
    let length: usize = std::str::from_utf8(&length[..length.len() - 1])
        .unwrap()
        .parse()
        .unwrap();
    let mut message = vec![0; length];
    connection.read_exact(&mut message).await.unwrap();
    String::from_utf8(message).unwrap()
}

// ---- tests ----

#[tokio::test]
async fn a_tcp_receiver_gets_octet_counted_rfc5424_lines_of_the_app() {
    bounded(async {
        let receiver = Receiver::bind("127.0.0.1:0".parse().unwrap(), None).await;
        let router = DrainRouter::new(DrainConfig::default()).unwrap();
        router.set_drains(APP, [receiver.url()]).unwrap();

        router.ingest(line("hello", LogType::Out));
        router.ingest(line("oops", LogType::Err));
        // Neither another app's lines nor metrics reach the drain.
        router.ingest(Envelope::log(
            "other-app",
            "0",
            "APP/PROC/WEB",
            LogType::Out,
            "no",
            0,
        ));
        router.ingest(Envelope::counter(APP, "0", "requests", 1, 1, 0));
        router.ingest(line("last", LogType::Out));

        let mut connection = receiver.accept().await;
        assert_eq!(
            read_message(&mut connection).await,
            format!(
                "<14>1 2024-05-01T12:00:00+00:00 {APP} {APP} [APP/PROC/WEB/0] - \
                 [tags@47450 source_type=\"APP/PROC/WEB\"] hello\n"
            )
        );
        let error = read_message(&mut connection).await;
        assert!(error.starts_with("<11>1 "), "{error}");
        assert!(error.ends_with("] oops\n"), "{error}");
        assert!(read_message(&mut connection).await.ends_with("] last\n"));
        let stats = || router.stats(APP)[0].1;
        until("three lines counted as sent", LIMIT, || stats().sent == 3).await;
        assert_eq!((stats().dropped, stats().reconnects), (0, 0));
    })
    .await;
}

async fn survives_a_receiver_restart(pki: Option<TestPki>) {
    let acceptor = pki.as_ref().map(|pki| pki.acceptor.clone());
    let receiver = Receiver::bind("127.0.0.1:0".parse().unwrap(), acceptor.clone()).await;
    let addr = receiver.addr();
    let config = match &pki {
        Some(pki) => DrainConfig {
            extra_roots: vec![pki.ca.clone()],
            ..fast_retries()
        },
        None => fast_retries(),
    };
    let drain = SyslogDrain::start(&receiver.url(), &config).unwrap();

    for i in 0..3 {
        drain.send(&numbered(i));
    }
    let mut connection = receiver.accept().await;
    for i in 0..3 {
        assert!(
            read_message(&mut connection)
                .await
                .ends_with(&format!("] line {i}\n"))
        );
    }

    drop(connection);
    drop(receiver);
    until("the drain notices the receiver left", LIMIT, || {
        drain.stats().reconnects >= 1
    })
    .await;
    // Eight lines while away, into a buffer of five: the three oldest go.
    for i in 3..11 {
        drain.send(&numbered(i));
    }
    let stats = drain.stats();
    assert_eq!((stats.dropped, stats.buffered), (3, 5));

    let receiver = Receiver::bind(addr, acceptor).await;
    let mut connection = receiver.accept().await;
    for i in 6..11 {
        assert!(
            read_message(&mut connection)
                .await
                .ends_with(&format!("] line {i}\n"))
        );
    }
    until("all delivered lines counted", LIMIT, || {
        drain.stats().sent == 8
    })
    .await;
    assert_eq!(drain.stats().buffered, 0);
}

#[tokio::test]
async fn a_tcp_drain_survives_the_receiver_restarting() {
    bounded(survives_a_receiver_restart(None)).await;
}

#[tokio::test]
async fn a_tls_drain_delivers_and_survives_the_receiver_restarting() {
    bounded(survives_a_receiver_restart(Some(TestPki::new()))).await;
}

#[tokio::test]
async fn a_tls_drain_refuses_a_receiver_it_does_not_trust() {
    bounded(async {
        let pki = TestPki::new();
        let receiver = Receiver::bind("127.0.0.1:0".parse().unwrap(), Some(pki.acceptor)).await;
        let drain = SyslogDrain::start(&receiver.url(), &fast_retries()).unwrap();
        drain.send(&numbered(0));
        let listener = receiver.listener;
        let acceptor = receiver.tls.unwrap();
        let handshakes = tokio::spawn(async move {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                assert!(acceptor.accept(tcp).await.is_err());
            }
        });
        handshakes.await.unwrap();
        until("two failed attempts", LIMIT, || {
            drain.stats().reconnects >= 2
        })
        .await;
        assert_eq!(drain.stats().sent, 0);
        assert_eq!(drain.stats().buffered, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_reads_costs_at_most_the_buffer() {
    bounded(async {
        const LINES: usize = 50_000;
        const BUFFER: usize = 100;
        let receiver = Receiver::bind("127.0.0.1:0".parse().unwrap(), None).await;
        let config = DrainConfig {
            buffer_size: BUFFER,
            ..DrainConfig::default()
        };
        let drain = SyslogDrain::start(&receiver.url(), &config).unwrap();
        let _never_read = receiver.accept().await;

        let kilobyte = line(&"x".repeat(1024), LogType::Out);
        let started = Instant::now();
        for chunk in 0..LINES / 1000 {
            for _ in 0..1000 {
                drain.send(&kilobyte);
            }
            assert!(drain.stats().buffered <= BUFFER, "chunk {chunk}");
            // Let the drain write until the socket's buffers are full.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let elapsed = started.elapsed();
        let stats = drain.stats();
        assert!(stats.buffered <= BUFFER);
        assert!(stats.sent < LINES as u64, "{stats:?}");
        // Whatever was neither written, dropped nor buffered is the one batch in flight.
        let accounted = stats.sent + stats.dropped + stats.buffered as u64;
        assert!(LINES as u64 - accounted <= 64, "{stats:?}");
        assert!(
            elapsed < Duration::from_secs(10),
            "producer was held up: {elapsed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_router_replaces_keeps_and_removes_drains() {
    bounded(async {
        let router = DrainRouter::new(fast_retries()).unwrap();
        let first = Receiver::bind("127.0.0.1:0".parse().unwrap(), None).await;
        let second = Receiver::bind("127.0.0.1:0".parse().unwrap(), None).await;
        router.set_drains(APP, [first.url()]).unwrap();
        router.ingest(numbered(0));
        let mut connection = first.accept().await;
        read_message(&mut connection).await;
        until("sent", LIMIT, || router.stats(APP)[0].1.sent == 1).await;

        // A bad URL changes nothing.
        let err = router
            .set_drains(APP, [second.url(), "https://logs.example/drain".to_owned()])
            .unwrap_err();
        assert!(matches!(err, DrainError::UnsupportedScheme(_)));
        assert!(router.set_drains(APP, ["syslog://".to_owned()]).is_err());
        assert_eq!(router.stats(APP).len(), 1);

        // The kept drain keeps its connection and counters; the new one starts.
        router
            .set_drains(APP, [first.url(), second.url(), first.url()])
            .unwrap();
        let stats = router.stats(APP);
        assert_eq!(stats.len(), 2);
        assert_eq!(
            (stats[0].0.as_str(), stats[0].1.sent),
            (first.url().as_str(), 1)
        );
        router.ingest(numbered(1));
        assert!(read_message(&mut connection).await.ends_with("] line 1\n"));
        let mut connection = second.accept().await;
        assert!(read_message(&mut connection).await.ends_with("] line 1\n"));

        router.set_drains(APP, Vec::<String>::new()).unwrap();
        assert!(router.stats(APP).is_empty());
    })
    .await;
}

#[test]
fn an_unusable_extra_root_is_refused_up_front() {
    let config = DrainConfig {
        extra_roots: vec![CertificateDer::from(b"not a certificate".to_vec())],
        ..DrainConfig::default()
    };
    assert!(matches!(
        DrainRouter::new(config),
        Err(DrainError::Certificate(_))
    ));
}
