//! The router end to end on loopback: backends, routes, errors, sticky sessions, abuse.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ingot_core::testing::eventually;
use ingot_router::{LoadBalancing, RouteKey, RouteTable, RouterConfig};
use support::{TestRouter, backend, dead_addr, endpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn round_robin_spreads_across_three_backends() {
    let router = TestRouter::start(RouterConfig::default()).await;
    for i in 0..3 {
        router.register("web.example.com", endpoint(backend(i).await, i));
    }
    let mut seen = Vec::new();
    for _ in 0..9 {
        let (status, body) = router.get("Web.Example.com:80", "/").await;
        assert_eq!(status, 200);
        seen.push(body);
    }
    let distinct: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), 3, "{seen:?}");
    for i in 0..3 {
        assert_eq!(
            seen.iter().filter(|b| **b == i.to_string()).count(),
            3,
            "{seen:?}"
        );
    }
}

#[tokio::test]
async fn unknown_route_is_404_and_health_is_answered() {
    let router = TestRouter::start(RouterConfig::default()).await;
    let resp = router
        .request("nope.example.com", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["x-cf-routererror"], "unknown_route");
    assert!(resp.headers().contains_key("x-vcap-request-id"));
    assert!(resp.text().await.unwrap().contains("nope.example.com"));

    let (status, body) = router.get("nope.example.com", "/health").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let record = eventually("access log", || {
        let found = router
            .log
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.status == 404)
            .cloned();
        async move { found }
    })
    .await;
    assert_eq!(record.host, "nope.example.com");
    assert_eq!(record.router_error, Some("unknown_route"));
}

#[tokio::test]
async fn route_without_endpoints_is_503() {
    let router = TestRouter::start(RouterConfig::default()).await;
    router
        .table
        .lock()
        .unwrap()
        .add_route(&RouteKey::parse("empty.example.com"));
    let resp = router
        .request("empty.example.com", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["x-cf-routererror"], "no_endpoints");
}

#[tokio::test]
async fn dead_endpoint_is_retried_then_502() {
    let router = TestRouter::start(RouterConfig::default()).await;
    router.register("dead.example.com", endpoint(dead_addr().await, 0));
    let resp = router
        .request("dead.example.com", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["x-cf-routererror"], "endpoint_failure");
    // The failed endpoint was pruned.
    assert!(
        router
            .table
            .lock()
            .unwrap()
            .endpoints(&RouteKey::parse("dead.example.com"))
            .is_empty()
    );

    // With a live endpoint beside dead ones, every request still succeeds.
    router.register("mixed.example.com", endpoint(dead_addr().await, 0));
    router.register("mixed.example.com", endpoint(dead_addr().await, 1));
    router.register("mixed.example.com", endpoint(backend(2).await, 2));
    for _ in 0..4 {
        assert_eq!(
            router.get("mixed.example.com", "/").await,
            (200, "2".into())
        );
    }
    assert_eq!(
        router
            .table
            .lock()
            .unwrap()
            .endpoints(&RouteKey::parse("mixed.example.com"))
            .len(),
        1
    );
}

#[tokio::test]
async fn context_paths_route_to_different_backends() {
    let router = TestRouter::start(RouterConfig::default()).await;
    router.register("app.example.com", endpoint(backend(0).await, 0));
    router.register("app.example.com/foo", endpoint(backend(1).await, 1));
    router.register("app.example.com/foo/bar", endpoint(backend(2).await, 2));
    for (path, want) in [
        ("/", "0"),
        ("/foobar", "0"),
        ("/foo", "1"),
        ("/foo/x?q=1", "1"),
        ("/foo/bar", "2"),
        ("/foo/bar/baz", "2"),
    ] {
        assert_eq!(
            router.get("app.example.com", path).await,
            (200, want.into()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn sticky_sessions_stick() {
    let router = TestRouter::start(RouterConfig::default()).await;
    for i in 0..3 {
        router.register("sticky.example.com", endpoint(backend(i).await, i));
    }
    let resp = router
        .request("sticky.example.com", "/login")
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let index = resp.text().await.unwrap();
    let want = format!("__VCAP_ID__=guid-{index}; Path=/");
    assert!(cookies.contains(&want), "{cookies:?}");
    for _ in 0..6 {
        let resp = router
            .request("sticky.example.com", "/")
            .header("cookie", format!("JSESSIONID=s1; __VCAP_ID__=guid-{index}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), index);
    }
    // An instance that is gone no longer pins the session.
    let sticky_addr = router
        .table
        .lock()
        .unwrap()
        .endpoints(&RouteKey::parse("sticky.example.com"))
        .into_iter()
        .find(|e| e.instance_guid == format!("guid-{index}"))
        .unwrap()
        .addr();
    router
        .table
        .lock()
        .unwrap()
        .unregister(&RouteKey::parse("sticky.example.com"), &sticky_addr);
    let resp = router
        .request("sticky.example.com", "/")
        .header("cookie", format!("__VCAP_ID__=guid-{index}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_ne!(resp.text().await.unwrap(), index);
}

#[tokio::test]
async fn forwarded_headers_reach_the_endpoint() {
    let router = TestRouter::start(RouterConfig::default()).await;
    router.register("h.example.com", endpoint(backend(0).await, 0));
    let resp = router
        .request("h.example.com", "/headers")
        .header("x-forwarded-for", "198.51.100.1")
        .header("x-vcap-request-id", "rid-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-vcap-request-id"], "rid-1");
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("x-forwarded-for=198.51.100.1, 127.0.0.1\n"),
        "{body}"
    );
    assert!(body.contains("x-forwarded-proto=http\n"), "{body}");
    assert!(body.contains("x-vcap-request-id=rid-1\n"), "{body}");
    let start: u128 = body
        .lines()
        .find_map(|l| l.strip_prefix("x-request-start="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(start > 1_600_000_000_000, "{start}");

    let record = eventually("access log", || {
        let found = router.log.0.lock().unwrap().first().cloned();
        async move { found }
    })
    .await;
    assert_eq!(record.app_index, Some(0));
    assert_eq!(record.request_id, "rid-1");
    assert_eq!(record.bytes_sent, body.len() as u64);
}

#[tokio::test]
async fn huge_header_is_rejected_without_hurting_others() {
    let router = TestRouter::start(RouterConfig::default()).await;
    router.register("big.example.com", endpoint(backend(0).await, 0));

    let stream = TcpStream::connect(router.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writer_task = tokio::spawn(async move {
        let mut request = b"GET / HTTP/1.1\r\nHost: big.example.com\r\nX-Big: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 1024 * 1024));
        request.extend(b"\r\n\r\n");
        let _ = writer.write_all(&request).await;
    });
    // A normal request at the same time is served.
    assert_eq!(router.get("big.example.com", "/").await, (200, "0".into()));

    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the oversized request was not cut off");
    let answer = String::from_utf8_lossy(&answer);
    // Either the 431 arrives or the reset overtakes it; the connection never reaches a backend.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    println!("oversized header answer: {:?}", answer.lines().next());
    writer_task.abort();
    assert!(router.log.0.lock().unwrap().iter().all(|r| r.status == 200));
}

#[tokio::test]
async fn slowloris_does_not_block_others_and_is_cut_off() {
    let config = RouterConfig {
        client_idle_timeout: Duration::from_millis(500),
        ..RouterConfig::default()
    };
    let router = TestRouter::start(config).await;
    router.register("slow.example.com", endpoint(backend(0).await, 0));

    let mut slow = TcpStream::connect(router.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: slow.example.com\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let dribble = tokio::spawn(async move {
        // One header byte every 50 ms: never a complete head.
        loop {
            if writer.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let silent = TcpStream::connect(router.addr).await.unwrap();

    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(router.get("slow.example.com", "/").await, (200, "0".into()));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let mut buf = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut buf)).await;
    assert!(cut.is_ok(), "the slow client was never cut off");
    println!("slowloris cut off after {:?}", started.elapsed());
    dribble.abort();

    let (mut silent_reader, _w) = silent.into_split();
    let cut =
        tokio::time::timeout(Duration::from_secs(5), silent_reader.read_to_end(&mut buf)).await;
    assert!(cut.is_ok(), "the idle client was never cut off");
}

#[tokio::test]
async fn websocket_upgrade_is_spliced() {
    let router = TestRouter::start(RouterConfig::default()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        read_head(&mut conn).await;
        conn.write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => conn.write_all(&buf[..n]).await.unwrap(),
            }
        }
    });
    router.register("ws.example.com", endpoint(backend_addr, 0));

    let mut client = TcpStream::connect(router.addr).await.unwrap();
    client
        .write_all(b"GET /socket HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut client).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for message in ["hello", "world"] {
        client.write_all(message.as_bytes()).await.unwrap();
        let mut echo = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut echo))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echo, message.as_bytes());
    }
}

/// Reads up to the blank line that ends an HTTP head.
async fn read_head(conn: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed in the head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A backend that takes one request, says so on `arrived`, and answers `body` only once
/// `release` fires.
async fn held_backend(
    body: &'static str,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        read_head(&mut conn).await;
        arrived_tx.send(()).unwrap();
        released.await.unwrap();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(response.as_bytes()).await.unwrap();
    });
    (addr, arrived, release)
}

#[tokio::test]
async fn request_bodies_are_forwarded() {
    let router = TestRouter::start(RouterConfig::default()).await;
    router.register("up.example.com", endpoint(backend(0).await, 0));
    let body = vec![b'x'; 1536 * 1024];
    let resp = router
        .http
        .post(format!("http://{}/upload", router.addr))
        .header("host", "up.example.com")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), body.len().to_string());
}

#[tokio::test]
async fn a_request_in_flight_survives_its_endpoint_being_removed() {
    let router = TestRouter::start(RouterConfig::default()).await;
    let (addr, arrived, release) = held_backend("done").await;
    router.register("drain.example.com", endpoint(addr, 0));
    let request = tokio::spawn({
        let req = router.request("drain.example.com", "/");
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    });
    arrived.await.unwrap();
    let route = RouteKey::parse("drain.example.com");
    router.table.lock().unwrap().remove_route(&route);
    assert_eq!(router.get("drain.example.com", "/").await.0, 404);
    release.send(()).unwrap();
    assert_eq!(request.await.unwrap(), (200, "done".into()));
}

#[tokio::test]
async fn least_connection_prefers_the_idle_endpoint() {
    let table = RouteTable::shared(LoadBalancing::LeastConnection);
    let router = TestRouter::start_with_table(RouterConfig::default(), table).await;
    // Endpoint 0 holds the first request until released; endpoint 1 answers at once.
    let (busy, arrived, release) = held_backend("0").await;
    router.register("lc.example.com", endpoint(busy, 0));
    router.register("lc.example.com", endpoint(backend(1).await, 1));

    let slow = tokio::spawn(router.request("lc.example.com", "/").send());
    arrived.await.unwrap();
    // Round robin would send every other request to the busy endpoint and hang there.
    for _ in 0..4 {
        assert_eq!(router.get("lc.example.com", "/").await, (200, "1".into()));
    }
    release.send(()).unwrap();
    let resp = slow.await.unwrap().unwrap();
    assert_eq!(resp.text().await.unwrap(), "0");
}
