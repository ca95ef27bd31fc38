//! Client-side uploads against the real app: the client seals the envelope itself with the
//! granted data key, uploads it (to Coffer for the default store, by presigned URL straight to a
//! moto bucket for an org bucket) and commits; the normal reveal API then returns the value.
//! Tampered envelopes, swapped wrapped keys and wrong hashes are refused at commit and leave
//! nothing visible; another org's upload id is not found; envelope-url serves the exact bytes.

use crate::helpers::*;
use crate::support::moto::{Moto, unique};
use coffer_envelope::{Binding, Key32, WrappedDataKey, seal_with_data_key};
use reqwest::Method;
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Seals `value` as a client would, from the grant alone (the org key never leaves Coffer).
fn seal(grant: &Value, value: &[u8], wrapped_from: Option<&Value>) -> Vec<u8> {
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

async fn grant(app: &TestApp, token: &str, org: &str, path: &str, body: Value) -> Value {
    let url = format!("/api/v1/orgs/{org}/secrets/{path}/uploads");
    let r = app.call(token, Method::POST, &url, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// PUTs `bytes` to the grant's `put_url` the way the grant says (bearer only if not presigned).
async fn upload(app: &TestApp, token: &str, grant: &Value, bytes: Vec<u8>) -> reqwest::StatusCode {
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

async fn commit(app: &TestApp, token: &str, org: &str, grant: &Value, sha: &str) -> Resp {
    let id = grant["id"].as_str().unwrap();
    let url = format!("/api/v1/orgs/{org}/uploads/{id}/commit");
    app.call(token, Method::POST, &url, Some(json!({"sha256": sha})))
        .await
}

async fn audited(app: &TestApp, action: &str) -> usize {
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
async fn tampered_swapped_and_misdeclared_uploads_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    let t = app.token.clone();
    // A byte flipped after sealing (the hash matches the tampered bytes).
    let g = grant(&app, &t, "default", "OPS-2/a", json!({"size": 5})).await;
    let mut bytes = seal(&g, b"value", None);
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    assert!(upload(&app, &t, &g, bytes.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g, &sha256_hex(&bytes)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("integrity check"), "{}", r.message());
    // Refused for good: the grant is gone and so is the object.
    assert_eq!(
        commit(&app, &t, "default", &g, &sha256_hex(&bytes))
            .await
            .status,
        404
    );

    // Sealed with this grant's data key but another grant's wrapped key.
    let g1 = grant(&app, &t, "default", "OPS-2/b", json!({"size": 5})).await;
    let g2 = grant(&app, &t, "default", "OPS-2/c", json!({"size": 5})).await;
    let swapped = seal(&g1, b"value", Some(&g2));
    assert!(upload(&app, &t, &g1, swapped.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g1, &sha256_hex(&swapped)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("wrapped data key"), "{}", r.message());

    // An honest envelope committed with the wrong hash.
    let good = seal(&g2, b"value", None);
    assert!(upload(&app, &t, &g2, good.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g2, &sha256_hex(b"something else")).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("SHA-256"), "{}", r.message());
    let bad = commit(&app, &t, "default", &g2, "not hex").await;
    assert_eq!(
        (bad.status.as_u16(), bad.code()),
        (400, "invalid_input"),
        "{}",
        bad.body
    );
    let gone = commit(&app, &t, "default", &g2, &sha256_hex(&good)).await;
    assert_eq!(gone.status, 404, "the refused grant is gone: {}", gone.body);

    // Nothing became visible, and no object was left behind.
    let list = app.get("/api/v1/orgs/default/secrets").await;
    assert_eq!(list.body["secrets"], json!([]), "{}", list.body);
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

    // The server opens the envelope and holds the value to its kind's rules.
    let g4 = grant(
        &app,
        &t,
        "default",
        "OPS-2/e",
        json!({"size": 2, "kind": "password"}),
    )
    .await;
    let binary = seal(&g4, &[0xff, 0xfe], None);
    assert!(upload(&app, &t, &g4, binary.clone()).await.is_success());
    let r = commit(&app, &t, "default", &g4, &sha256_hex(&binary)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert!(r.message().contains("UTF-8"), "{}", r.message());

    // Wrong size at upload; another org's upload id is not found.
    let g3 = grant(&app, &t, "default", "OPS-2/d", json!({"size": 5})).await;
    assert_eq!(upload(&app, &t, &g3, seal(&g3, b"valu", None)).await, 400);
    let other = app.org_with_owner("acme", "bob").await;
    let id = g3["id"].as_str().unwrap();
    for org in ["acme", "default"] {
        let r = app
            .call(
                &other,
                Method::PUT,
                &format!("/api/v1/orgs/{org}/uploads/{id}/envelope"),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{org}: {}", r.body);
        assert_eq!(
            commit(&app, &other, org, &g3, &sha256_hex(b"x"))
                .await
                .status,
            404
        );
    }
    // The owner can still finish it.
    let ok = seal(&g3, b"value", None);
    assert!(upload(&app, &t, &g3, ok.clone()).await.is_success());
    assert_eq!(
        commit(&app, &t, "default", &g3, &sha256_hex(&ok))
            .await
            .status,
        201
    );
    assert_eq!(app.reveal("OPS-2", "d").await, b"value");
}

async fn bucket_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn presigned_uploads_go_straight_to_the_org_bucket_and_envelope_urls_serve_them() {
    let moto = Moto::shared();
    let s3 = coffer_server::aws::s3_client(&moto.settings(REGION))
        .await
        .unwrap();
    let bucket = unique("coffer-uploads");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let app = spawn_with(|c| {
        c.storage.allow_custom_endpoints = true;
        c.storage.aws = moto.settings(REGION);
    })
    .await;
    let t = app.token.clone();
    let body = json!({"bucket": bucket, "region": REGION, "endpoint": moto.endpoint()});
    let r = app
        .call(&t, Method::PUT, "/api/v1/orgs/default/storage", Some(body))
        .await;
    assert!(r.status.is_success(), "{}", r.body);

    let g = grant(
        &app,
        &t,
        "default",
        "OPS-3/key",
        json!({"size": 11, "kind": "note"}),
    )
    .await;
    assert_eq!(g["presigned"], true);
    assert!(
        g["put_url"].as_str().unwrap().starts_with(moto.endpoint()),
        "{}",
        g["put_url"]
    );
    let sealed = seal(&g, b"from client", None);
    assert!(upload(&app, &t, &g, sealed.clone()).await.is_success());
    let uploaded = bucket_keys(&s3, &bucket).await;
    assert_eq!(uploaded.len(), 1, "{uploaded:?}");
    assert!(uploaded[0].contains(g["secret_id"].as_str().unwrap()));
    let r = commit(&app, &t, "default", &g, &sha256_hex(&sealed)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.reveal("OPS-3", "key").await, b"from client");
    // The version points at a copy only Coffer wrote; the client's object is gone.
    let filed = bucket_keys(&s3, &bucket).await;
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert_ne!(filed, uploaded);

    // envelope-url: a presigned GET of exactly the stored envelope, audited.
    let r = app
        .post(
            "/api/v1/orgs/default/secrets/OPS-3/key/versions/1/envelope-url",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    let url = r.body["url"].as_str().unwrap();
    let got = reqwest::get(url).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), sealed.as_slice());
    assert_eq!(audited(&app, "secret.envelope_url").await, 1);
    let r = app
        .post(
            "/api/v1/orgs/default/secrets/OPS-3/key/versions/9/envelope-url",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // A tampered presigned upload is refused and removed from the bucket.
    let g = grant(&app, &t, "default", "OPS-3/other", json!({"size": 5})).await;
    let mut bytes = seal(&g, b"value", None);
    bytes[160] ^= 0x80;
    assert!(upload(&app, &t, &g, bytes.clone()).await.is_success());
    assert_eq!(bucket_keys(&s3, &bucket).await.len(), 2);
    let r = commit(&app, &t, "default", &g, &sha256_hex(&bytes)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "upload_rejected"),
        "{}",
        r.body
    );
    assert_eq!(bucket_keys(&s3, &bucket).await, filed);
    let r = app.get("/api/v1/orgs/default/secrets/OPS-3/other").await;
    assert_eq!(r.status, 404, "{}", r.body);
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
