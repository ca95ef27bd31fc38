//! Secret lifecycle over HTTP: write, reveal, versions, check-and-set, delete, restore,
//! destroy, expiry and view limits, listing.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn put_then_reveal_round_trips_and_versions_accumulate() {
    let app = spawn_app().await;
    let r = app.put_secret("OPS-123", "db-password", b"hunter2").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["version"].as_u64(), r.body["kind"].as_str()),
        (Some(1), Some("password"))
    );
    assert_eq!(app.reveal("OPS-123", "db-password").await, b"hunter2");
    let r = app
        .put_secret("OPS-123", "db-password", b"correct horse")
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["version"].as_u64()),
        (200, Some(2))
    );
    assert_eq!(app.reveal("OPS-123", "db-password").await, b"correct horse");
    let old = app
        .call(
            &app.token,
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-123/db-password/reveal?version=1",
            None,
        )
        .await;
    assert_eq!(
        B64.decode(old.body["value"].as_str().unwrap()).unwrap(),
        b"hunter2"
    );
    let h = app
        .get("/api/v1/orgs/default/secrets/OPS-123/db-password/versions")
        .await;
    let versions: Vec<u64> = h.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    let missing = app
        .call(
            &app.token,
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-123/db-password/reveal?version=9",
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    assert!(
        missing.message().contains("latest is 2"),
        "{}",
        missing.message()
    );
}

#[tokio::test]
async fn binary_files_and_kv_secrets() {
    let app = spawn_app().await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-1",
            "cert.der",
            &bytes,
            json!({"kind": "file"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.reveal("OPS-1", "cert.der").await, bytes);
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-1",
            "bad-pw",
            &[0xff, 0xfe],
            json!({}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_input"));
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-1",
            "creds",
            br#"{"user":"u","pass":"p"}"#,
            json!({"kind": "kv"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-1",
            "creds2",
            b"[1,2]",
            json!({"kind": "kv"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("JSON object"));
}

#[tokio::test]
async fn check_and_set_conflicts_name_the_current_version() {
    let app = spawn_app().await;
    let create = |expect| {
        app.put_secret_as(
            &app.token,
            "default",
            "OPS-9",
            "api-key",
            b"v",
            json!({"expect_version": expect}),
        )
    };
    assert_eq!(create(0).await.status, 201);
    let r = create(0).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "version_conflict"));
    assert!(
        r.message().contains("current version is 1"),
        "{}",
        r.message()
    );
    assert_eq!(create(1).await.status, 200);
    let r = create(1).await;
    assert_eq!(r.status, 409);
    let h = app
        .get("/api/v1/orgs/default/secrets/OPS-9/api-key/versions")
        .await;
    assert_eq!(
        h.body["versions"].as_array().unwrap().len(),
        2,
        "a refused write adds nothing"
    );
}

#[tokio::test]
async fn concurrent_writers_never_lose_a_version() {
    let app = spawn_app().await;
    let values: Vec<String> = (0..20).map(|i| format!("value-{i}")).collect();
    let writes = values
        .iter()
        .map(|v| app.put_secret("OPS-5", "hot", v.as_bytes()));
    let results = futures::future::join_all(writes).await;
    assert!(
        results.iter().all(|r| r.status.is_success()),
        "every write without expect_version lands"
    );
    let mut versions: Vec<u64> = results
        .iter()
        .map(|r| r.body["version"].as_u64().unwrap())
        .collect();
    versions.sort();
    assert_eq!(
        versions,
        (1..=20).collect::<Vec<_>>(),
        "each write got its own version"
    );
}

#[tokio::test]
async fn delete_restore_destroy() {
    let app = spawn_app().await;
    app.put_secret("OPS-2", "token", b"abc").await;
    let path = "/api/v1/orgs/default/secrets/OPS-2/token";
    let r = app.call(&app.token, Method::DELETE, path, None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["state"].as_str()),
        (200, Some("deleted"))
    );
    let r = app.reveal_as(&app.token, "default", "OPS-2", "token").await;
    assert_eq!((r.status.as_u16(), r.code()), (410, "secret_unavailable"));
    assert!(r.message().contains("restore"), "{}", r.message());
    let r = app.put_secret("OPS-2", "token", b"new").await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "secret_deleted"));
    let list = app.get("/api/v1/orgs/default/secrets?issue=OPS-2").await;
    assert!(
        list.body["secrets"].as_array().unwrap().is_empty(),
        "deleted secrets are hidden by default"
    );
    let list = app
        .get("/api/v1/orgs/default/secrets?issue=OPS-2&deleted=true")
        .await;
    assert_eq!(list.body["secrets"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.post(&format!("{path}/restore"), json!({})).await.status,
        200
    );
    assert_eq!(app.reveal("OPS-2", "token").await, b"abc");
    app.put_secret("OPS-2", "token", b"abc2").await;
    let blobs_before = files_under(&app.data_dir().join("blobs")).len();
    assert_eq!(
        app.post(&format!("{path}/destroy"), json!({})).await.status,
        204
    );
    assert_eq!(
        files_under(&app.data_dir().join("blobs")).len(),
        blobs_before - 4,
        "both versions' envelopes and manifests are gone"
    );
    assert_eq!(app.get(path).await.status, 404);
    assert_eq!(
        app.put_secret("OPS-2", "token", b"fresh").await.status,
        201,
        "the name is free again"
    );
}

#[tokio::test]
async fn view_limits_and_expiry_make_a_secret_unavailable_and_say_why() {
    let app = spawn_app().await;
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-3",
            "once",
            b"x",
            json!({"view_limit": 2}),
        )
        .await;
    assert_eq!(r.status, 201);
    let reveals = futures::future::join_all(
        (0..6).map(|_| app.reveal_as(&app.token, "default", "OPS-3", "once")),
    )
    .await;
    assert_eq!(
        reveals.iter().filter(|r| r.status == 200).count(),
        2,
        "concurrent reveals never exceed the limit"
    );
    let refused = reveals.iter().find(|r| r.status != 200).unwrap();
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (410, "secret_unavailable")
    );
    assert!(
        refused.message().contains("view limit"),
        "{}",
        refused.message()
    );
    let meta = app.get("/api/v1/orgs/default/secrets/OPS-3/once").await;
    assert_eq!(meta.body["views"], 2);
    assert!(
        meta.body["unavailable"]
            .as_str()
            .unwrap()
            .contains("view limit")
    );

    let soon = (time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-3",
            "brief",
            b"y",
            json!({"expires_at": soon}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.reveal("OPS-3", "brief").await, b"y");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = app.reveal_as(&app.token, "default", "OPS-3", "brief").await;
    assert_eq!(r.status, 410);
    assert!(r.message().contains("expired"), "{}", r.message());
    let past = "2001-01-01T00:00:00Z";
    let r = app
        .put_secret_as(
            &app.token,
            "default",
            "OPS-3",
            "late",
            b"z",
            json!({"expires_at": past}),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn list_by_project_issue_and_prefix() {
    let app = spawn_app().await;
    for (scope, name) in [
        ("OPS", "shared"),
        ("OPS-1", "db-a"),
        ("OPS-1", "db-b"),
        ("OPS-2", "api"),
        ("WEB-1", "x"),
    ] {
        assert!(app.put_secret(scope, name, b"v").await.status.is_success());
    }
    let names = async |q: &str| {
        let r = app.get(&format!("/api/v1/orgs/default/secrets?{q}")).await;
        r.body["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s["scope"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names("project=OPS").await,
        ["OPS/shared", "OPS-1/db-a", "OPS-1/db-b", "OPS-2/api"]
    );
    assert_eq!(names("issue=OPS-1").await, ["OPS-1/db-a", "OPS-1/db-b"]);
    assert_eq!(
        names("project=OPS&prefix=db").await,
        ["OPS-1/db-a", "OPS-1/db-b"]
    );
    assert_eq!(names("").await.len(), 5);
    assert_eq!(
        app.put_secret("OPS", "shared", b"v2").await.status,
        200,
        "project-level secrets version too"
    );
}

#[tokio::test]
async fn no_stored_value_appears_anywhere_under_the_data_dir() {
    let app = spawn_app().await;
    let values: Vec<String> = (0..5)
        .map(|i| format!("needle-{i}-{}", "Z".repeat(20)))
        .collect();
    for (i, v) in values.iter().enumerate() {
        app.put_secret(&format!("OPS-{}", i + 1), "needle", v.as_bytes())
            .await;
        app.reveal(&format!("OPS-{}", i + 1), "needle").await;
    }
    app.post("/api/v1/orgs/default/keys/rotate", json!({}))
        .await;
    for file in files_under(&app.data_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        for v in &values {
            assert!(
                !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                "{v} found in {}",
                file.display()
            );
        }
    }
}

/// A warm reveal is served from the envelope cache (ciphertext that opened cleanly before),
/// still opened and counted each time; `limits.envelope_cache_bytes = 0` reads the store every
/// time.
#[tokio::test]
async fn warm_reveals_skip_the_blob_store_unless_the_cache_is_off() {
    let gets = [("operation", "get"), ("outcome", "ok")];
    for (cache_bytes, expected_gets) in [(1 << 20, 1.0), (0, 3.0)] {
        let app = spawn_with(|c| c.limits.envelope_cache_bytes = cache_bytes).await;
        app.put_secret("OPS-1", "pw", b"hunter2").await;
        for _ in 0..3 {
            assert_eq!(app.reveal("OPS-1", "pw").await, b"hunter2");
        }
        let meta = app.get("/api/v1/orgs/default/secrets/OPS-1/pw").await;
        assert_eq!(meta.body["views"], 3, "every reveal is counted");
        let read = app.metric("coffer_blob_requests_total", &gets).await;
        assert_eq!(read, expected_gets, "cache of {cache_bytes} bytes");
        let hits = app
            .metric("coffer_envelope_cache_lookups_total", &[("result", "hit")])
            .await;
        assert_eq!(hits, 3.0 - expected_gets, "cache of {cache_bytes} bytes");
    }
}
