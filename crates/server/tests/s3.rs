//! The `s3` blob backend against a real S3 API (a moto server started by the harness): the
//! blob conformance suite with and without a key prefix, what lands in the bucket, and that a
//! missing bucket or a dead endpoint fail with errors that say so.

mod support;

use bytes::Bytes;
use coffer_server::blob::{BlobError, BlobKey, BlobPrefix, BlobStore, S3BlobStore, conformance};
use support::moto::{Moto, unique};

const REGION: &str = "eu-central-1";

async fn raw_client(moto: &Moto) -> aws_sdk_s3::Client {
    coffer_server::aws::s3_client(&moto.settings(REGION))
        .await
        .expect("s3 client")
}

async fn new_bucket(moto: &Moto) -> String {
    let bucket = unique("coffer-test");
    raw_client(moto)
        .await
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuCentral1)
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    bucket
}

async fn store(moto: &Moto, bucket: &str, prefix: Option<&str>) -> S3BlobStore {
    S3BlobStore::open(&moto.settings(REGION), bucket, prefix)
        .await
        .expect("open s3 store")
}

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).unwrap()
}

#[tokio::test]
async fn conformance_suite_passes() {
    let moto = Moto::shared();
    let bucket = new_bucket(moto).await;
    conformance::run_all(&store(moto, &bucket, None).await).await;
}

#[tokio::test]
async fn conformance_suite_passes_under_a_key_prefix_and_ignores_foreign_objects() {
    let moto = Moto::shared();
    let bucket = new_bucket(moto).await;
    let raw = raw_client(moto).await;
    // Objects outside the prefix (another tenant, a human's upload) must never show up.
    for other in [
        "conformance/list/a/9.cfr",
        "tenant/b/conformance/list/a/8.cfr",
    ] {
        raw.put_object()
            .bucket(&bucket)
            .key(other)
            .content_type("application/octet-stream")
            .body(Bytes::from_static(b"x").into())
            .send()
            .await
            .unwrap();
    }
    let s = store(moto, &bucket, Some("/tenant/a/")).await;
    conformance::run_all(&s).await;

    let listed = raw
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("tenant/a/conformance/rt/")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        names,
        [
            "tenant/a/conformance/rt/a.cfr",
            "tenant/a/conformance/rt/empty.cfr"
        ]
    );
    let all = s.list(&BlobPrefix::parse("").unwrap()).await.unwrap();
    assert!(
        all.iter()
            .all(|m| m.key.as_str().starts_with("conformance/")),
        "prefix stripped, foreign objects skipped: {all:?}"
    );
}

#[tokio::test]
async fn uploads_are_stored_as_octet_stream_and_listing_pages() {
    let moto = Moto::shared();
    let bucket = new_bucket(moto).await;
    let s = store(moto, &bucket, None).await;
    // More than one ListObjectsV2 page (1,000 keys) proves pagination.
    let keys: Vec<_> = (0..1_005)
        .map(|i| key(&format!("orgs/o/secrets/s/v{i:04}.cfr")))
        .collect();
    for chunk in keys.chunks(50) {
        let puts = chunk
            .iter()
            .map(|k| s.put_if_absent(k, Bytes::from_static(b"envelope")));
        for r in futures::future::join_all(puts).await {
            r.unwrap();
        }
    }
    let listed = s
        .list(&BlobPrefix::parse("orgs/o/").unwrap())
        .await
        .unwrap();
    assert_eq!(listed.len(), keys.len());
    assert!(listed.windows(2).all(|w| w[0].key < w[1].key), "key order");
    let head = raw_client(moto)
        .await
        .head_object()
        .bucket(&bucket)
        .key(keys[0].as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    assert_eq!(head.content_length(), Some(8));
}

#[tokio::test]
async fn a_missing_bucket_is_refused_with_its_name() {
    let moto = Moto::shared();
    let bucket = unique("coffer-missing");
    let s = store(moto, &bucket, None).await;
    let k = key("orgs/o/secrets/s/v1.cfr");
    let put = s.put_if_absent(&k, Bytes::from_static(b"x")).await;
    let get = s.get(&k).await;
    let list = s.list(&BlobPrefix::parse("orgs/").unwrap()).await;
    let delete = s.delete(&k).await;
    for result in [put.map(|_| ()), get.map(|_| ()), list.map(|_| ()), delete] {
        match result {
            Err(BlobError::Refused(m)) => {
                assert!(m.contains(&bucket) && m.contains("does not exist"), "{m}")
            }
            other => panic!("expected a refusal naming the bucket, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_dead_endpoint_is_unavailable() {
    let moto = Moto::start();
    let bucket = new_bucket(&moto).await;
    let s = store(&moto, &bucket, None).await;
    let k = key("orgs/o/secrets/s/v1.cfr");
    s.put_if_absent(&k, Bytes::from_static(b"x")).await.unwrap();
    moto.stop();
    let r = s.get(&k).await;
    assert!(matches!(r, Err(BlobError::Unavailable(_))), "{r:?}");
    let r = s
        .put_if_absent(&key("orgs/o/secrets/s/v2.cfr"), Bytes::new())
        .await;
    assert!(matches!(r, Err(BlobError::Unavailable(_))), "{r:?}");
}
