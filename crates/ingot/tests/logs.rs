//! `cf logs APP --recent` end to end: a pushed app's logs hold every source CF writes (STG,
//! API, CELL, APP/PROC/WEB with OUT and ERR, RTR) with the right tags and in order, and
//! someone without a role in the app's space cannot read them; `cf logs APP` (streaming) follows
//! an app's stdout and stderr as they are written; with every component in its own process,
//! the cell's and the router's envelopes reach the Cloud Controller's log-cache.

mod common;

use std::time::{Duration, Instant, UNIX_EPOCH};

use common::{Platform, push::sample_app};
use ingot_logging::{Envelope, LogCacheClient, LogType, LogWalk, Message, WalkOptions};
use reqwest::StatusCode;

/// One line of `cf logs --recent`: source type, instance, stream, text.
#[derive(Debug, Clone)]
struct Line {
    source: String,
    instance: String,
    log_type: LogType,
    text: String,
}

fn lines(app: &str, envelopes: &[Envelope]) -> Vec<Line> {
    envelopes
        .iter()
        .filter_map(|e| {
            let Message::Log(log) = &e.message else {
                return None;
            };
            assert_eq!(e.source_id, app, "{e:?}");
            Some(Line {
                source: e.tags["source_type"].clone(),
                instance: e.instance_id.clone(),
                log_type: log.log_type,
                text: String::from_utf8_lossy(&log.payload).into_owned(),
            })
        })
        .collect()
}

/// Polls `--recent` until `done` holds, failing after 30 s.
async fn recent_until(
    client: &LogCacheClient,
    app: &str,
    token: &str,
    done: impl Fn(&[Line]) -> bool,
) -> Vec<Line> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let envelopes = client.recent(app, token).await.expect("recent logs");
        let got = lines(app, &envelopes);
        if done(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "logs so far: {got:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The position of the first line from `source` containing `text`.
fn position(lines: &[Line], source: &str, text: &str) -> usize {
    lines
        .iter()
        .position(|l| l.source == source && l.text.contains(text))
        .unwrap_or_else(|| panic!("no {source} line containing {text:?}: {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn recent_logs_show_every_source_in_order_to_those_allowed() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest = "applications:\n- name: logs-app\n  default-route: true\n";
    let app = platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await
        .guid;
    let (status, body) = platform.via_router("logs-app.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let client = LogCacheClient::new(platform.log_cache.as_deref().expect("log-cache")).unwrap();
    // The python server logs each request on stderr; the router writes its access line.
    let got = recent_until(&client, &app, &token, |lines| {
        lines.iter().any(|l| l.source == "RTR")
            && lines
                .iter()
                .any(|l| l.source == "APP/PROC/WEB" && l.log_type == LogType::Err)
    })
    .await;
    let order = [
        position(&got, "API", &format!("Created app with guid {app}")),
        position(&got, "STG", "Staging app"),
        // Push sets the droplet, then restarts the app.
        position(&got, "API", &format!("Restarted app with guid {app}")),
        position(&got, "CELL", "creating container for instance"),
        position(&got, "CELL", "successfully created container for instance"),
        position(&got, "CELL", "Starting health monitoring of container"),
        position(&got, "CELL", "Container became healthy"),
        position(&got, "RTR", "\"GET / HTTP/1.1\" 200"),
    ];
    assert!(order.is_sorted(), "{order:?} in {got:#?}");
    // App output is stamped when the cell reads it, so under load it may trail the health
    // check that its listening socket already passed; it still follows the container's start.
    assert!(position(&got, "APP/PROC/WEB", "python sample listening") > order[4]);
    for line in &got[order[3]..] {
        assert_eq!(line.instance, "0", "{line:?}");
    }

    let request = &got[order[7]];
    assert_eq!(request.log_type, LogType::Out);
    assert!(
        request.text.starts_with("logs-app.apps.localhost - ["),
        "{request:?}"
    );
    for field in [
        format!("app_id:\"{app}\""),
        "app_index:\"0\"".to_owned(),
        "x_forwarded_proto:\"http\"".to_owned(),
        "vcap_request_id:\"".to_owned(),
        "response_time:".to_owned(),
    ] {
        assert!(request.text.contains(&field), "{field} in {request:?}");
    }
    let stderr = got
        .iter()
        .find(|l| l.source == "APP/PROC/WEB" && l.log_type == LogType::Err)
        .unwrap();
    assert!(stderr.text.contains("\"GET / HTTP/1.1\" 200"), "{stderr:?}");

    // Someone with no role in the space: log-cache answers 404, as for an unknown app.
    platform.create_user(&token, "outsider", "secret").await;
    let outsider = platform.password_token("outsider", "secret").await.unwrap();
    let log_cache = platform.log_cache.as_deref().unwrap();
    let response = platform
        .http
        .get(format!("{log_cache}/api/v1/read/{app}"))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(client.recent(&app, &outsider).await.is_err());

    // Stopping: the Cloud Controller says so, the cell stops the instance, the app's exit
    // status follows, then the container goes.
    platform.stop_all_apps(&token).await;
    let got = recent_until(&client, &app, &token, |lines| {
        lines
            .iter()
            .any(|l| l.text.contains("successfully destroyed container"))
    })
    .await;
    let order = [
        position(&got, "API", &format!("Stopping app with guid {app}")),
        position(&got, "CELL", "stopping instance"),
        position(&got, "APP/PROC/WEB", "Exit status"),
        position(&got, "CELL", "destroying container for instance"),
        position(
            &got,
            "CELL",
            "successfully destroyed container for instance",
        ),
    ];
    assert!(order.is_sorted(), "{order:?} in {got:#?}");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_reader_follows_stdout_and_stderr_in_order() {
    let platform = Platform::start().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest = "applications:\n- name: chatty\n  default-route: true\n";
    let app = platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await
        .guid;

    // Start following now, with the cf CLI's polling and hold-back, then make the app write.
    let client = LogCacheClient::new(platform.log_cache.as_deref().expect("log-cache")).unwrap();
    let since = i64::try_from(UNIX_EPOCH.elapsed().unwrap().as_nanos()).unwrap();
    let mut walk = LogWalk::new(client, &app, since, WalkOptions::default());
    let (status, body) = platform
        .via_router("chatty.apps.localhost", "/log?n=5")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got: Vec<Envelope> = Vec::new();
    while lines(&app, &got)
        .iter()
        .filter(|l| l.text.starts_with("log line"))
        .count()
        < 10
    {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let batch = tokio::time::timeout(remaining, walk.next_batch(&token))
            .await
            .unwrap_or_else(|_| panic!("streamed so far: {:#?}", lines(&app, &got)))
            .expect("streaming read");
        got.extend(batch);
    }

    assert!(
        got.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
        "streamed out of order: {got:#?}"
    );
    let got = lines(&app, &got);
    for (stream, log_type) in [("out", LogType::Out), ("err", LogType::Err)] {
        let numbers: Vec<usize> = got
            .iter()
            .filter(|l| {
                l.text.starts_with("log line") && l.text.contains(&format!(" {stream} at "))
            })
            .map(|l| {
                assert_eq!(
                    (l.source.as_str(), l.instance.as_str()),
                    ("APP/PROC/WEB", "0")
                );
                assert_eq!(l.log_type, log_type, "{l:?}");
                l.text.split(' ').nth(2).unwrap().parse().unwrap()
            })
            .collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4], "{stream} lines in {got:#?}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn split_components_forward_logs_and_metrics_to_the_cloud_controllers_log_cache() {
    let platform = Platform::start_split().await;
    let token = platform.admin_token().await;
    let space = platform.org_and_space(&token, "demo", "dev").await;
    let manifest = "applications:\n- name: remote\n  default-route: true\n";
    let app = platform
        .push(&token, &space, &sample_app("python"), manifest)
        .await
        .guid;
    let (status, body) = platform.via_router("remote.apps.localhost", "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let client = LogCacheClient::new(platform.log_cache.as_deref().expect("log-cache")).unwrap();
    let got = recent_until(&client, &app, &token, |lines| {
        lines.iter().any(|l| l.source == "RTR") && lines.iter().any(|l| l.source == "APP/PROC/WEB")
    })
    .await;
    // From the cell (staging and the instance), the router, and the Cloud Controller itself.
    position(&got, "STG", "Staging app");
    position(&got, "CELL", "Container became healthy");
    position(&got, "APP/PROC/WEB", "python sample listening");
    position(&got, "RTR", "\"GET / HTTP/1.1\" 200");
    position(&got, "API", &format!("Created app with guid {app}"));

    // The cell's container metrics reach it too: `cf app` shows the instance's memory.
    let process = platform
        .first_guid(&format!("/v3/apps/{app}/processes"), &token)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, stats) = platform
            .get(&format!("/v3/processes/{process}/stats"), &token)
            .await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        if stats["resources"][0]["usage"]["mem"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no usage in {stats:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    platform.stop().await;
}
