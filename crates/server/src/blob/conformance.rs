//! The blob conformance suite: the [`BlobStore`] contract as executable checks. Every backend's
//! tests call [`run_all`] (the `s3` backend runs it against a real S3 API server), so a backend
//! that passes is interchangeable with the others. Public so backends in other crates or test
//! harnesses can run it too.

use super::{BlobError, BlobKey, BlobPrefix, BlobStore};
use bytes::Bytes;

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).expect("test key is valid")
}

/// Runs every check against `store`, which must be empty under `conformance/`.
pub async fn run_all(store: &dyn BlobStore) {
    put_get_round_trip(store).await;
    put_never_overwrites(store).await;
    missing_is_not_found(store).await;
    delete_is_idempotent(store).await;
    list_by_prefix(store).await;
    concurrent_creates_have_one_winner(store).await;
}

async fn put_get_round_trip(store: &dyn BlobStore) {
    let k = key("conformance/rt/a.cfr");
    let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put_if_absent(&k, Bytes::from(body.clone()))
        .await
        .expect("put");
    assert_eq!(
        store.get(&k).await.expect("get"),
        body,
        "get returns the bytes stored"
    );
    let empty = key("conformance/rt/empty.cfr");
    store
        .put_if_absent(&empty, Bytes::new())
        .await
        .expect("put empty");
    assert!(store.get(&empty).await.expect("get empty").is_empty());
}

async fn put_never_overwrites(store: &dyn BlobStore) {
    let k = key("conformance/once/a.cfr");
    store
        .put_if_absent(&k, Bytes::from_static(b"first"))
        .await
        .expect("put");
    let second = store.put_if_absent(&k, Bytes::from_static(b"second")).await;
    assert!(
        matches!(second, Err(BlobError::AlreadyExists)),
        "second put must fail: {second:?}"
    );
    assert_eq!(store.get(&k).await.unwrap(), Bytes::from_static(b"first"));
}

async fn missing_is_not_found(store: &dyn BlobStore) {
    let r = store.get(&key("conformance/missing/nothing.cfr")).await;
    assert!(matches!(r, Err(BlobError::NotFound)), "{r:?}");
}

async fn delete_is_idempotent(store: &dyn BlobStore) {
    let k = key("conformance/del/a.cfr");
    store
        .put_if_absent(&k, Bytes::from_static(b"x"))
        .await
        .unwrap();
    store.delete(&k).await.expect("delete");
    assert!(matches!(store.get(&k).await, Err(BlobError::NotFound)));
    store.delete(&k).await.expect("deleting again is fine");
    store
        .put_if_absent(&k, Bytes::from_static(b"y"))
        .await
        .expect("key reusable after delete");
}

async fn list_by_prefix(store: &dyn BlobStore) {
    for k in [
        "conformance/list/a/1.cfr",
        "conformance/list/a/2.cfr",
        "conformance/list/ab/3.cfr",
        "conformance/list/b/4.cfr",
    ] {
        store
            .put_if_absent(&key(k), Bytes::from_static(b"12345"))
            .await
            .unwrap();
    }
    let names = |p: &str| {
        let p = BlobPrefix::parse(p).unwrap();
        async move {
            let listed = store.list(&p).await.expect("list");
            listed
                .iter()
                .map(|m| m.key.as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names("conformance/list/a/").await,
        ["conformance/list/a/1.cfr", "conformance/list/a/2.cfr"]
    );
    assert_eq!(
        names("conformance/list/a").await,
        [
            "conformance/list/a/1.cfr",
            "conformance/list/a/2.cfr",
            "conformance/list/ab/3.cfr"
        ],
        "a prefix need not end at a separator"
    );
    assert_eq!(names("conformance/list/").await.len(), 4);
    assert!(names("conformance/nothing-here/").await.is_empty());
    let all = store
        .list(&BlobPrefix::parse("conformance/list/b/").unwrap())
        .await
        .unwrap();
    assert_eq!(all[0].size, 5);
    assert!(all[0].modified_ms > 0);
}

async fn concurrent_creates_have_one_winner(store: &dyn BlobStore) {
    let k = key("conformance/race/a.cfr");
    let attempts = (0..8u8).map(|i| store.put_if_absent(&k, Bytes::from(vec![i; 64])));
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one concurrent create wins: {results:?}");
    let stored = store.get(&k).await.unwrap();
    assert!(stored.iter().all(|b| *b == stored[0]), "no torn object");
}
