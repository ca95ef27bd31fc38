//! Tokens, roles and tenant isolation over HTTP.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn another_orgs_token_cannot_see_list_or_count_secrets() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "db", b"default's secret").await;
    let beta = app.org_with_owner("beta", "bob").await;
    let r = app.reveal_as(&beta, "default", "OPS-1", "db").await;
    assert_eq!(r.status, 404);
    let r = app
        .call(&beta, Method::GET, "/api/v1/orgs/default/secrets", None)
        .await;
    assert_eq!(
        r.status, 404,
        "listing another org looks like a missing org"
    );
    let missing = app
        .call(&beta, Method::GET, "/api/v1/orgs/no-such-org/secrets", None)
        .await;
    assert_eq!(
        r.message().replace("default", "X"),
        missing.message().replace("no-such-org", "X"),
        "indistinguishable from a missing org"
    );
    let r = app
        .call(
            &beta,
            Method::GET,
            "/api/v1/orgs/default/secrets/OPS-1/db",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .put_secret_as(&beta, "default", "OPS-1", "db", b"overwrite", json!({}))
        .await;
    assert_eq!(r.status, 404);
    // bob's own org works, and the same scope/name there is a different secret.
    assert_eq!(
        app.put_secret_as(&beta, "beta", "OPS-1", "db", b"beta's", json!({}))
            .await
            .status,
        201
    );
    assert_eq!(app.reveal("OPS-1", "db").await, b"default's secret");
    let r = app.call(&beta, Method::GET, "/api/v1/orgs", None).await;
    let slugs: Vec<_> = r.body["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs, ["beta"], "non-operators see only their own org");
}

#[tokio::test]
async fn operator_manages_other_orgs_but_cannot_read_their_secrets() {
    let app = spawn_app().await;
    let beta = app.org_with_owner("beta", "bob").await;
    app.put_secret_as(&beta, "beta", "OPS-1", "db", b"x", json!({}))
        .await;
    for org in ["beta", "default"] {
        assert_eq!(
            app.reveal_as(&app.operator, org, "OPS-1", "db")
                .await
                .status,
            404
        );
        for path in ["secrets", "audit", "keys", "storage"] {
            let path = format!("/api/v1/orgs/{org}/{path}");
            let r = app.call(&app.operator, Method::GET, &path, None).await;
            assert_eq!(r.status, 404, "{org}/{path}: {}", r.body);
        }
        let path = format!("/api/v1/orgs/{org}/users");
        let r = app.call(&app.operator, Method::GET, &path, None).await;
        assert_eq!(r.status, 200);
    }
    let r = app
        .call(
            &app.operator,
            Method::POST,
            "/api/v1/orgs/beta/tokens",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 403, "the operator holds no org token: {}", r.body);
    let r = app
        .call(
            &beta,
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "gamma"})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    assert!(r.message().contains("operator"), "{}", r.message());
    let r = app
        .call(
            &app.operator,
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "beta"})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "already_exists"));
}

#[tokio::test]
async fn roles_are_enforced_with_clear_messages() {
    let app = spawn_app().await;
    let auditor = &app.member("carol", "auditor").await;
    let member = &app.member("dave", "member").await;
    let r = app
        .put_secret_as(member, "default", "OPS-1", "db", b"v", json!({}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden"),
        "a member writes only where granted"
    );
    assert!(r.message().contains("grant you write"), "{}", r.message());
    app.grant("OPS", "user:dave", "write").await;
    assert_eq!(
        app.put_secret_as(member, "default", "OPS-1", "db", b"v", json!({}))
            .await
            .status,
        201
    );
    let r = app.reveal_as(auditor, "default", "OPS-1", "db").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"));
    assert!(
        r.message().contains("your access to it is metadata"),
        "{}",
        r.message()
    );
    assert_eq!(
        app.call(auditor, Method::GET, "/api/v1/orgs/default/secrets", None)
            .await
            .status,
        200,
        "auditors see metadata"
    );
    assert_eq!(
        app.call(
            auditor,
            Method::GET,
            "/api/v1/orgs/default/audit/verify",
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.call(member, Method::GET, "/api/v1/orgs/default/audit", None)
            .await
            .status,
        403
    );
    assert_eq!(
        app.call(
            member,
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-1/db/destroy",
            None
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.call(
            member,
            Method::POST,
            "/api/v1/orgs/default/keys/rotate",
            None
        )
        .await
        .status,
        403
    );
    let r = app
        .call(
            member,
            Method::POST,
            "/api/v1/orgs/default/users",
            Some(json!({"name": "eve", "role": "owner"})),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .call(
            member,
            Method::POST,
            "/api/v1/orgs/default/tokens",
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(r.status, 201, "anyone may create a token for themselves");
}

/// A new token `ci` of the bootstrap admin in `default`: its value and its id.
async fn ci_token(app: &TestApp) -> (String, String) {
    let r = app
        .post("/api/v1/orgs/default/tokens", json!({"name": "ci"}))
        .await;
    (
        r.body["token"].as_str().unwrap().to_owned(),
        r.body["info"]["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn revoked_expired_and_unknown_tokens_are_401_and_audited() {
    let app = spawn_app().await;
    let (token, id) = ci_token(&app).await;
    assert_eq!(
        app.call(&token, Method::GET, "/api/v1/whoami", None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.call(
            &app.token,
            Method::DELETE,
            &format!("/api/v1/orgs/default/tokens/{id}"),
            None
        )
        .await
        .status,
        204
    );
    let r = app.call(&token, Method::GET, "/api/v1/whoami", None).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "unauthenticated"));
    assert!(r.message().contains("revoked"), "{}", r.message());

    let r = app
        .post(
            "/api/v1/orgs/default/tokens",
            json!({"name": "short", "expires_in_seconds": 1}),
        )
        .await;
    let short = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call(&short, Method::GET, "/api/v1/whoami", None)
            .await
            .status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app.call(&short, Method::GET, "/api/v1/whoami", None).await;
    assert_eq!(r.status, 401);
    assert!(r.message().contains("expired"), "{}", r.message());

    let unknown = format!("coffer_{}", "A".repeat(43));
    assert_eq!(
        app.call(&unknown, Method::GET, "/api/v1/whoami", None)
            .await
            .status,
        401
    );
    assert_eq!(
        app.call("garbage", Method::GET, "/api/v1/whoami", None)
            .await
            .status,
        401
    );
    let r = reqwest::get(format!("{}/api/v1/whoami", app.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Without a known token, the failure is audited in the org the request was aimed at.
    let r = app
        .call(&unknown, Method::GET, "/api/v1/orgs/default/secrets", None)
        .await;
    assert_eq!(r.status, 401);
    let r = reqwest::get(format!("{}/api/v1/orgs/default/secrets", app.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .call(
            &unknown,
            Method::GET,
            "/api/v1/orgs/no-such-org/secrets",
            None,
        )
        .await;
    assert_eq!(
        r.status, 401,
        "an unknown org changes nothing for the caller"
    );

    // Failures are summarised: one event per reason per flush, with the count.
    app.flush_failed_auth().await;
    let events = app
        .get("/api/v1/orgs/default/audit?action=auth.failed")
        .await;
    let mut reasons: Vec<_> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["details"]["reason"].as_str().unwrap().to_owned(),
                e["details"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("expired".to_owned(), 1),
            ("missing_token".to_owned(), 1),
            ("revoked".to_owned(), 1),
            ("unknown_token".to_owned(), 1)
        ]
    );
    let all = serde_json::to_string(&app.get("/api/v1/orgs/default/audit?limit=1000").await.body)
        .unwrap();
    assert!(
        !all.contains(&token) && !all.contains(&short),
        "raw tokens never reach the audit trail"
    );
}

/// A reveal looks its bearer token up together with its own reads; the token is still judged
/// first, exactly as on every other route: bad input behind a bad token is a 401 (and
/// audited), another org's secret behind a good token is a 404, a revoked token reveals
/// nothing.
#[tokio::test]
async fn a_reveal_judges_its_token_before_anything_else() {
    let app = spawn_app().await;
    assert_eq!(app.put_secret("OPS-7", "db", b"hunter2").await.status, 201);
    let other = app.org_with_owner("other", "olga").await;
    assert_eq!(
        app.put_secret_as(&other, "other", "OPS-7", "db", b"theirs", json!({}))
            .await
            .status,
        201
    );
    let (token, id) = ci_token(&app).await;
    let r = app.reveal_as(&token, "default", "OPS-7", "db").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.reveal_as(&token, "other", "OPS-7", "db").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "not_found"),
        "another org's secret is not there for this token"
    );
    let r = app.reveal_as(&other, "default", "OPS-7", "db").await;
    assert_eq!(r.status, 404, "nor for that org's owner: {}", r.body);
    let r = app
        .call(
            &token,
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-7/db/reveal?version=x",
            None,
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a good token with bad input is told about the input"
    );

    let unknown = format!("coffer_{}", "B".repeat(43));
    for path in [
        "/api/v1/orgs/default/secrets/OPS-7/db/reveal",
        "/api/v1/orgs/default/secrets/not-a-scope/db/reveal",
        "/api/v1/orgs/default/secrets/OPS-7/db/reveal?version=x",
    ] {
        let r = app.call(&unknown, Method::POST, path, None).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "unauthenticated"),
            "{path}"
        );
        assert!(r.message().contains("unknown token"), "{}", r.message());
        let r = app.call("", Method::POST, path, None).await;
        assert_eq!(r.status, 401, "no token: {path}");
    }
    assert_eq!(
        app.call(
            "garbage",
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-7/db/reveal",
            None
        )
        .await
        .status,
        401
    );
    let path = format!("/api/v1/orgs/default/tokens/{id}");
    assert_eq!(
        app.call(&app.token, Method::DELETE, &path, None)
            .await
            .status,
        204
    );
    let r = app.reveal_as(&token, "default", "OPS-7", "db").await;
    assert_eq!(r.status, 401);
    assert!(r.message().contains("revoked"), "{}", r.message());
    assert!(!r.body.to_string().contains("hunter2"));

    app.flush_failed_auth().await;
    let events = app
        .get("/api/v1/orgs/default/audit?action=auth.failed")
        .await;
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    for e in events.body["events"].as_array().unwrap() {
        *reasons
            .entry(e["details"]["reason"].as_str().unwrap().to_owned())
            .or_default() += e["details"]["count"].as_u64().unwrap();
    }
    assert_eq!(
        reasons.into_iter().collect::<Vec<_>>(),
        [
            ("malformed_token".to_owned(), 1),
            ("missing_token".to_owned(), 3),
            ("revoked".to_owned(), 1),
            ("unknown_token".to_owned(), 3)
        ]
    );
    let reveals = app
        .get("/api/v1/orgs/default/audit?action=secret.reveal")
        .await;
    assert_eq!(
        reveals.body["events"].as_array().unwrap().len(),
        1,
        "only the one good reveal was counted: {}",
        reveals.body
    );
}

#[tokio::test]
async fn token_listing_never_shows_values() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/orgs/default/tokens").await;
    let text = r.body.to_string();
    assert!(text.contains("bootstrap"));
    assert!(!text.contains(&app.token));
    let who = app.get("/api/v1/whoami").await;
    assert_eq!(
        (
            who.body["user"].as_str(),
            who.body["kind"].as_str(),
            who.body["org"].as_str(),
            who.body["operator"].as_bool()
        ),
        (Some("admin"), Some("person"), Some("default"), Some(false))
    );
    let op = app
        .call(&app.operator, Method::GET, "/api/v1/whoami", None)
        .await;
    assert_eq!(
        (
            op.body["kind"].as_str(),
            op.body["org"].is_null(),
            op.body["role"].is_null(),
            op.body["operator"].as_bool()
        ),
        (Some("operator"), true, true, Some(true))
    );
}
