//! Client-side uploads to an org's own bucket (moto): the envelope goes by presigned URL
//! straight to the bucket, the commit files a copy only Coffer wrote, envelope-url serves the
//! exact stored bytes, and a tampered presigned upload is refused and removed from the bucket.

use crate::helpers::*;
use crate::support::moto::{Moto, unique};
use crate::uploads::{audited, commit, grant, seal, sha256_hex, upload};
use reqwest::Method;
use serde_json::json;

const REGION: &str = "us-east-1";

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
    // The version points at a copy only Coffer wrote, with Coffer's manifest beside it; the
    // client's object is gone.
    let filed = bucket_keys(&s3, &bucket).await;
    assert_eq!(filed.len(), 2, "{filed:?}");
    assert!(filed.iter().all(|k| !uploaded.contains(k)), "{filed:?}");
    assert_eq!(
        filed.iter().filter(|k| k.ends_with(".cfm")).count(),
        1,
        "{filed:?}"
    );

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
    assert_eq!(bucket_keys(&s3, &bucket).await.len(), 3);
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
