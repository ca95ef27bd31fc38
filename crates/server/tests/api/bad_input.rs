//! Bad input gets a clear error naming what was wrong, and changes nothing.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_paths_name_the_field_and_the_shape() {
    let app = spawn_app().await;
    let r = app.put_secret("ops-12", "x", b"v").await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_input"));
    assert!(
        r.message().contains("issue key") && r.message().contains("OPS-123"),
        "{}",
        r.message()
    );
    let r = app.put_secret("OPS-012", "x", b"v").await;
    assert_eq!(r.status, 400);
    let r = app.put_secret("OPS-1", "bad name!", b"v").await;
    assert!(r.message().contains("secret name"), "{}", r.message());
    let r = app.get("/api/v1/orgs/default/secrets?issue=nope").await;
    assert_eq!(r.status, 400);
    let list = app.get("/api/v1/orgs/default/secrets").await;
    assert!(
        list.body["secrets"].as_array().unwrap().is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn unknown_things_are_404() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/orgs/nosuch/secrets").await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"));
    let r = app
        .reveal_as(&app.token, "default", "OPS-1", "missing")
        .await;
    assert_eq!(r.status, 404);
    assert!(r.message().contains("OPS-1/missing"), "{}", r.message());
    assert_eq!(app.get("/api/v1/nothing-here").await.status, 404);
}

#[tokio::test]
async fn oversize_values_and_bodies_are_413_before_any_work() {
    let app = spawn_with(|c| c.limits.max_secret_bytes = 1024).await;
    let r = app.put_secret("OPS-1", "big", &vec![b'a'; 1025]).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, "too_large"));
    assert!(r.message().contains("1024"), "{}", r.message());
    assert_eq!(
        app.put_secret("OPS-1", "fits", &vec![b'a'; 1024])
            .await
            .status,
        201
    );
    // A declared body far over the cap is refused from its Content-Length, before it is read.
    let body = vec![b' '; 10 << 20];
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/orgs/default/secrets/OPS-1/huge",
            app.base
        ))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        app.get("/api/v1/orgs/default/secrets/OPS-1/big")
            .await
            .status,
        404,
        "nothing was stored"
    );
}

#[tokio::test]
async fn bad_json_and_bad_base64_are_400() {
    let app = spawn_app().await;
    let r = app
        .call(
            &app.token,
            Method::PUT,
            "/api/v1/orgs/default/secrets/OPS-1/x",
            Some(json!({"valu": "eA=="})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("value"), "{}", r.message());
    let r = app
        .call(
            &app.token,
            Method::PUT,
            "/api/v1/orgs/default/secrets/OPS-1/x",
            Some(json!({"value": "not base64!"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("base64"));
    // Non-canonical base64 (the last character's unused bits set) has one right spelling.
    let r = app
        .call(
            &app.token,
            Method::PUT,
            "/api/v1/orgs/default/secrets/OPS-1/x",
            Some(json!({"value": "eB=="})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn a_mistyped_field_is_refused_not_ignored() {
    // A one-time secret whose `view_limit` is misspelt must not be stored without its limit.
    let app = spawn_app().await;
    let put = |body| {
        app.call(
            &app.token,
            Method::PUT,
            "/api/v1/orgs/default/secrets/OPS-1/handover",
            Some(body),
        )
    };
    let r = put(json!({"value": "eA==", "view_limt": 1})).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_input"));
    assert!(r.message().contains("view_limt"), "{}", r.message());
    // Fields in an array (serde would take them in order) are not a body either.
    let r = put(json!(["eA==", null, null, null, 1])).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_input"));
    assert!(r.message().contains("JSON object"), "{}", r.message());
    let list = app.get("/api/v1/orgs/default/secrets").await;
    assert!(
        list.body["secrets"].as_array().unwrap().is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn a_tampered_blob_is_an_integrity_error_never_wrong_plaintext() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "pw", b"original value").await;
    let blob = envelopes_under(&app.data_dir().join("blobs"))
        .into_iter()
        .next()
        .unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let r = app.reveal_as(&app.token, "default", "OPS-1", "pw").await;
    assert_eq!((r.status.as_u16(), r.code()), (500, "integrity_error"));
    assert!(r.body.get("value").is_none());
    let meta = app.get("/api/v1/orgs/default/secrets/OPS-1/pw").await;
    assert_eq!(meta.body["views"], 0, "a failed reveal is not counted");
}

#[tokio::test]
async fn a_blob_swapped_between_secrets_is_refused() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "a", b"value of a").await;
    app.put_secret("OPS-1", "b", b"value of b").await;
    let blobs = envelopes_under(&app.data_dir().join("blobs"));
    let (a, b) = (
        std::fs::read(&blobs[0]).unwrap(),
        std::fs::read(&blobs[1]).unwrap(),
    );
    std::fs::write(&blobs[0], &b).unwrap();
    std::fs::write(&blobs[1], &a).unwrap();
    for name in ["a", "b"] {
        let r = app.reveal_as(&app.token, "default", "OPS-1", name).await;
        assert_eq!(r.code(), "integrity_error", "{name}: {}", r.body);
    }
}

/// The envelope files (`.cfr`, not their manifests) under `dir`.
fn envelopes_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cfr"))
        .collect()
}
