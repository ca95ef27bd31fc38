//! Per-org storage end to end against a real S3 API (a moto server started by the harness): an
//! org admin saves a bucket over HTTP, the app validates it against the bucket itself, new
//! envelopes go there, existing ones move in the background, and every failed validation names
//! its step and changes nothing. The app reaches moto as if it were AWS (`[storage.aws]` points
//! at it) and tenant endpoints are allowed (`storage.allow_custom_endpoints`), as loopback needs.
//! Saved buckets are then re-checked in the background (drift checks, `drift.rs`).

#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../support/mod.rs"]
mod support;

mod drift;
mod migrate;
mod save;

use coffer_server::aws::AwsSettings;
use helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::moto::{Moto, unique};

/// Coffer's principal as printed in the setup documents.
pub const PRINCIPAL: &str = "arn:aws:iam::123456789012:user/coffer-service";

/// An app whose tenant buckets live on `moto` (reached with `aws`), an `eu` org `acme` with an
/// owner; returns the app and the owner's token.
pub async fn env(moto: &Moto, aws: AwsSettings) -> (TestApp, String) {
    let app = spawn_with(|c| {
        c.byok.principal_arn = Some(PRINCIPAL.into());
        c.storage.allow_custom_endpoints = true;
        c.storage.aws = aws;
        c.storage.migration_interval = std::time::Duration::from_millis(100);
        c.storage.public_origin = Some("https://coffer.example.com".into());
    })
    .await;
    let _ = moto;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    (app, owner)
}

/// A new bucket in `region`, created with `aws`'s credentials.
pub async fn bucket_in(moto: &Moto, aws: &AwsSettings, region: &str) -> String {
    let bucket = unique("acme-secrets");
    let client = coffer_server::aws::s3_client(&AwsSettings {
        region: Some(region.into()),
        endpoint: Some(moto.endpoint().into()),
        force_path_style: true,
        ..aws.clone()
    })
    .await
    .unwrap();
    let mut req = client.create_bucket().bucket(&bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(region.into())
                .build(),
        );
    }
    req.send().await.expect("create bucket");
    bucket
}

/// Every object key in `bucket`.
pub async fn objects(moto: &Moto, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let client = coffer_server::aws::s3_client(&moto.settings("us-east-1"))
        .await
        .unwrap();
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_owned();
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        out.push((key, body.body.collect().await.unwrap().to_vec()));
    }
    out
}

/// `PUT /api/v1/orgs/acme/storage`.
pub async fn save(app: &TestApp, token: &str, body: Value) -> Resp {
    app.call(token, Method::PUT, "/api/v1/orgs/acme/storage", Some(body))
        .await
}

/// `GET /api/v1/orgs/acme/storage`.
pub async fn storage(app: &TestApp, token: &str) -> Value {
    let r = app
        .call(token, Method::GET, "/api/v1/orgs/acme/storage", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Waits until acme's migration is idle with every version in place.
pub async fn wait_migrated(app: &TestApp, token: &str) -> Value {
    for _ in 0..200 {
        let s = storage(app, token).await;
        if s["migration"]["state"] == "idle" {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("migration did not finish: {}", storage(app, token).await);
}
