//! Client-side uploads against the real app: the client seals the envelope itself with the
//! granted data key, uploads it (to Coffer for the default store, by presigned URL straight to a
//! moto bucket for an org bucket) and commits; the normal reveal API then returns the value.
//! Refusals are in `uploads_refused`, org buckets in `uploads_bucket`; expired grants are here.

use crate::helpers::*;
use coffer_envelope::{Binding, Key32, WrappedDataKey, seal_with_data_key};
use reqwest::Method;
use serde_json::{Value, json};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Seals `value` as a client would, from the grant alone (the org key never leaves Coffer).
pub(crate) fn seal(grant: &Value, value: &[u8], wrapped_from: Option<&Value>) -> Vec<u8> {
    let b64 = |v: &Value, k: &str| B64.decode(v[k].as_str().unwrap()).unwrap();
    let uuid = |k: &str| {
        *uuid::Uuid::parse_str(grant[k].as_str().unwrap())
            .unwrap()
            .as_bytes()
    };
    let dek = Key32::try_from_slice(&b64(grant, "data_key")).unwrap();
    let wrapped = WrappedDataKey::from_slice(&b64(wrapped_from.unwrap_or(grant), "wrapped_key"));
    let binding = Binding {
        org: uuid("org_id"),
        secret: uuid("secret_id"),
        version: grant["version"].as_u64().unwrap() as u32,
        key_version: grant["key_version"].as_u64().unwrap() as u32,
    };
    seal_with_data_key(&dek, &wrapped.unwrap(), &binding, value).unwrap()
}

pub(crate) async fn grant(app: &TestApp, token: &str, org: &str, path: &str, body: Value) -> Value {
    let url = format!("/api/v1/orgs/{org}/secrets/{path}/uploads");
    let r = app.call(token, Method::POST, &url, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// PUTs `bytes` to the grant's `put_url` the way the grant says (bearer only if not presigned).
pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    grant: &Value,
    bytes: Vec<u8>,
) -> reqwest::StatusCode {
    let url = grant["put_url"].as_str().unwrap();
    let presigned = grant["presigned"].as_bool().unwrap();
    let mut req = reqwest::Client::new()
        .put(if presigned {
            url.to_owned()
        } else {
            format!("{}{url}", app.base)
        })
        .header("content-type", "application/octet-stream")
        .body(bytes);
    if !presigned {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().status()
}

pub(crate) async fn commit(
    app: &TestApp,
    token: &str,
    org: &str,
    grant: &Value,
    sha: &str,
) -> Resp {
    let id = grant["id"].as_str().unwrap();
    let url = format!("/api/v1/orgs/{org}/uploads/{id}/commit");
    app.call(token, Method::POST, &url, Some(json!({"sha256": sha})))
        .await
}

pub(crate) async fn audited(app: &TestApp, action: &str) -> usize {
    let r = app
        .get(&format!("/api/v1/orgs/default/audit?action={action}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["events"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_client_sealed_upload_on_the_default_store_is_revealed_by_the_normal_api() {
    let app = spawn_app().await;
    let t = app.token.clone();
    let g = grant(
        &app,
        &t,
        "default",
        "OPS-1/db",
        json!({"size": 7, "kind": "password"}),
    )
    .await;
    assert_eq!(g["presigned"], false);
    assert_eq!(g["version"], 1);
    assert!(
        g["put_url"]
            .as_str()
            .unwrap()
            .starts_with("/api/v1/orgs/default/uploads/")
    );
    let sealed = seal(&g, b"hunter2", None);
    assert!(upload(&app, &t, &g, sealed.clone()).await.is_success());
    // Nothing is visible before the commit.
    assert_eq!(
        app.get("/api/v1/orgs/default/secrets/OPS-1/db")
            .await
            .status,
        404
    );
    let r = commit(&app, &t, "default", &g, &sha256_hex(&sealed)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    assert_eq!(app.reveal("OPS-1", "db").await, b"hunter2");
    // The grant is used up.
    assert_eq!(
        commit(&app, &t, "default", &g, &sha256_hex(&sealed))
            .await
            .status,
        404
    );

    // Next version with check-and-set; a stale expect_version is a conflict up front.
    let stale = app
        .post(
            "/api/v1/orgs/default/secrets/OPS-1/db/uploads",
            json!({"size": 3, "expect_version": 0}),
        )
        .await;
    assert_eq!(
        (stale.status.as_u16(), stale.code()),
        (409, "version_conflict")
    );
    let g2 = grant(
        &app,
        &t,
        "default",
        "OPS-1/db",
        json!({"size": 3, "expect_version": 1}),
    )
    .await;
    assert_eq!(g2["version"], 2);
    let sealed2 = seal(&g2, b"new", None);
    assert!(upload(&app, &t, &g2, sealed2.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g2, &sha256_hex(&sealed2)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.reveal("OPS-1", "db").await, b"new");
    assert_eq!(audited(&app, "secret.upload_create").await, 2);
    assert_eq!(audited(&app, "secret.upload_commit").await, 2);

    // The endpoints are in the OpenAPI document.
    let doc = app.get("/api/v1/openapi.json").await.body;
    for (path, method) in [
        ("/api/v1/orgs/{org}/secrets/{scope}/{name}/uploads", "post"),
        ("/api/v1/orgs/{org}/uploads/{id}/envelope", "put"),
        ("/api/v1/orgs/{org}/uploads/{id}/commit", "post"),
        (
            "/api/v1/orgs/{org}/secrets/{scope}/{name}/versions/{n}/envelope-url",
            "post",
        ),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} {method}");
    }
    assert!(doc["components"]["schemas"]["UploadGrant"].is_object());

    // The default store has no presigned URLs.
    let r = app
        .post(
            "/api/v1/orgs/default/secrets/OPS-1/db/versions/1/envelope-url",
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "envelope_in_default_store")
    );
}

#[tokio::test]
async fn an_expired_grant_is_gone_with_a_clear_message() {
    let app = spawn_with(|c| c.storage.presign_ttl = std::time::Duration::from_secs(1)).await;
    let t = app.token.clone();
    let g = grant(&app, &t, "default", "OPS-4/late", json!({"size": 5})).await;
    let sealed = seal(&g, b"value", None);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(upload(&app, &t, &g, sealed.clone()).await, 410);
    let g = grant(&app, &t, "default", "OPS-4/late", json!({"size": 5})).await;
    let sealed = seal(&g, b"value", None);
    assert!(upload(&app, &t, &g, sealed.clone()).await.is_success());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = commit(&app, &t, "default", &g, &sha256_hex(&sealed)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (410, "upload_expired"),
        "{}",
        r.body
    );
    assert!(
        r.message().contains("start a new upload"),
        "{}",
        r.message()
    );
    // Expired grants are cleaned up: the grant and its object are gone, nothing is visible.
    let r = commit(&app, &t, "default", &g, &sha256_hex(&sealed)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/orgs/default/secrets/OPS-4/late")
            .await
            .status,
        404
    );
    let blobs = app.data_dir().join("blobs");
    let left = if blobs.exists() {
        files_under(&blobs)
    } else {
        vec![]
    };
    assert!(
        left.iter().all(|p| !p.to_string_lossy().ends_with(".cfr")),
        "{left:?}"
    );
}
