//! The served UI: page routes answer the shell, static files their type, every response the
//! security headers; the search box and audit filters answer what they are asked.

use super::*;

#[tokio::test]
async fn pages_and_files_are_served_with_a_strict_policy() {
    let app = spawn_app().await;
    for path in [
        "/login",
        "/orgs/default",
        "/orgs/default/issues/OPS-1",
        "/orgs/default/admin/storage",
        "/orgs/default/admin/keys",
        "/orgs/default/admin/audit",
        "/admin/byok",
    ] {
        let r = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(d), "{csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = r.text().await.unwrap();
        assert!(html.contains(r#"<script type="module" src="/static/js/app.js">"#));
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "no inline script or style"
        );
    }
    let js = reqwest::get(format!("{}/static/js/envelope.js", app.base))
        .await
        .unwrap();
    assert_eq!(
        js.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(
        js.text()
            .await
            .unwrap()
            .contains("export async function seal")
    );
    let missing = reqwest::get(format!("{}/static/js/nope.js", app.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/session",
        "/api/v1/me/password",
        "/api/v1/invitations/accept",
        "/api/v1/orgs/{org}/search",
        "/api/v1/orgs/{org}/audit/search",
        "/api/v1/orgs/{org}/secrets",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let api = reqwest::get(format!("{}/api/v1/whoami", app.base))
        .await
        .unwrap();
    assert!(
        api.headers().contains_key(header::CONTENT_SECURITY_POLICY),
        "on API answers too"
    );
}

#[tokio::test]
async fn search_and_audit_filters() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "db-password", b"x").await;
    app.put_secret("OPS-2", "api-key", b"y").await;
    app.put_secret("WEB", "db-root", b"z").await;
    app.reveal("OPS-1", "db-password").await;
    let r = app.get("/api/v1/orgs/default/search?q=db").await;
    let scopes: Vec<&str> = r.body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["OPS-1", "WEB"]);
    let r = app.get("/api/v1/orgs/default/search?q=ops-2").await;
    assert_eq!(r.body["hits"][0]["names"][0], "api-key");
    assert_eq!(app.get("/api/v1/orgs/default/search?q=").await.status, 400);

    let r = app
        .get("/api/v1/orgs/default/audit/search?issue=OPS-1")
        .await;
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{}", r.body);
    assert_eq!(events[0]["action"], "secret.reveal", "newest first");
    let r = app
        .get("/api/v1/orgs/default/audit/search?issue=OPS-1&action=secret.write")
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 1);
    let r = app
        .get("/api/v1/orgs/default/audit/search?since=2999-01-01T00:00:00Z")
        .await;
    assert!(r.body["events"].as_array().unwrap().is_empty());
    let r = app
        .get("/api/v1/orgs/default/audit/search?until=yesterday")
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.code() == "invalid_input" && r.message().contains("RFC 3339"),
        "{}",
        r.body
    );
}
