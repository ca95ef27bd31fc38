//! KMS stays off the hot path for BYOK orgs: reads make at most one KMS Decrypt per org per
//! `key_cache_ttl` (counted from `coffer_kms_requests_total` on /metrics), concurrent cold reads
//! share one, and writes make none.

use crate::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_thousand_reveals_make_at_most_one_kms_decrypt_per_ttl() {
    let ttl = Duration::from_secs(1);
    let e = env(Moto::shared(), |c| c.keys.key_cache_ttl = ttl).await;
    e.enable().await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201);
    let (decrypts, encrypts) = (e.kms("decrypt").await, e.kms("encrypt").await);
    let started = Instant::now();
    for _ in 0..100 {
        let batch = (0..10).map(|_| e.reveal("OPS-1", "db"));
        let all = futures::future::join_all(batch).await;
        assert!(all.iter().all(|r| r.status == 200));
    }
    let took = started.elapsed();
    let used = e.kms("decrypt").await - decrypts;
    let bound = (took.as_secs_f64() / ttl.as_secs_f64()).ceil() + 1.0;
    eprintln!("1000 reveals in {took:?}: {used} KMS Decrypt calls (bound {bound})");
    assert!(
        used <= bound,
        "{used} decrypts in {took:?} with a {ttl:?} TTL"
    );
    for i in 0..20 {
        assert_eq!(e.put("OPS-2", &format!("w{i}"), b"v").await.status, 201);
    }
    assert_eq!(e.kms("encrypt").await, encrypts, "writes make no KMS call");
}

#[tokio::test]
async fn fifty_concurrent_cold_reveals_make_one_kms_call() {
    let ttl = Duration::from_millis(400);
    let e = env(Moto::shared(), |c| c.keys.key_cache_ttl = ttl).await;
    e.enable().await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201);
    tokio::time::sleep(ttl * 2).await; // let the cached org key expire
    let before = e.kms("decrypt").await;
    let all = futures::future::join_all((0..50).map(|_| e.reveal("OPS-1", "db"))).await;
    assert!(all.iter().all(|r| r.status == 200), "{}", all[0].body);
    let used = e.kms("decrypt").await - before;
    eprintln!("50 concurrent cold reveals: {used} KMS Decrypt call(s)");
    assert_eq!(used, 1.0);
}
