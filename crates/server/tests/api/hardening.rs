//! What the server does with hostile or careless clients: slow or idle connections are cut,
//! invented HTTP methods do not create metric series, `/metrics` can require a token, and a
//! lifetime that does not fit the calendar is refused rather than stored wrong.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes the connection (or `limit` passes); returns what was read and
/// how long it took.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut chunk),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
        }
    }
    (
        String::from_utf8_lossy(&buf).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_and_idle_connections_are_cut() {
    let app = spawn_with(|c| {
        c.server.header_read_timeout = Duration::from_secs(1);
        c.server.request_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = app.app.addr;
    // A slowloris: a request head a few bytes at a time, never finished.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "cut after {took:?}");
    // An idle connection, after one answered request.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, took) = until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took < Duration::from_secs(5),
        "idle connection cut after {took:?}"
    );
    // A body that trickles: the request is answered 408 in the API's error shape.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/orgs/default/secrets/OPS-1/db HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"value\":",
        app.token
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = until_closed(&mut trickle, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(
        app.get("/api/v1/orgs/default/secrets").await.body["secrets"],
        json!([])
    );
}

#[tokio::test]
async fn invented_methods_share_one_metric_label() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for m in ["FOO", "BAR", "BAZ"] {
        let r = client
            .request(
                Method::from_bytes(m.as_bytes()).unwrap(),
                format!("{}/api/v1/whoami", app.base),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
    }
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for m in ["FOO", "BAR", "BAZ"] {
        assert!(
            !text.contains(&format!("method=\"{m}\"")),
            "{m} became a series"
        );
    }
    assert!(text.contains("method=\"OTHER\""), "{text}");
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let secret = "metrics-token-0123456789";
    let app = spawn_with(|c| {
        c.server.metrics_token = Some(serde_json::from_value(json!(secret)).unwrap());
    })
    .await;
    let url = format!("{}/metrics", app.base);
    let client = reqwest::Client::new();
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = client
        .get(&url)
        .bearer_auth("metrics-token-0123456788")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client.get(&url).bearer_auth(secret).send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("coffer_http_requests"));
}

#[tokio::test]
async fn lifetimes_beyond_the_calendar_are_refused() {
    let app = spawn_app().await;
    for secs in [0, u64::MAX, 315_360_001] {
        let r = app
            .post(
                "/api/v1/orgs/default/tokens",
                json!({"name": "far", "expires_in_seconds": secs}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_input"),
            "{secs}: {}",
            r.body
        );
        assert!(
            r.message().contains("expires_in_seconds"),
            "{}",
            r.message()
        );
    }
    let r = app
        .post(
            "/api/v1/orgs/default/tokens",
            json!({"name": "ten-years", "expires_in_seconds": 315_360_000u64}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let year: i32 = r.body["info"]["expires_at"].as_str().unwrap()[..4]
        .parse()
        .unwrap();
    assert!(year >= 2035, "{}", r.body);
    let tokens = app.get("/api/v1/orgs/default/tokens").await;
    assert!(!tokens.body.to_string().contains("1970"), "{}", tokens.body);
}
