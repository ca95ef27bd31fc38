//! Sessions: cookie flags, CSRF, revocation, the rate limit, tenancy.

use super::*;

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_the_session_works_on_the_api() {
    let app = spawn_app().await;
    assert_eq!(
        set_password(&app, &app.token, "default", "admin", PASSWORD)
            .await
            .status,
        204
    );
    let r = sign_in_raw(&app, "default", "admin", PASSWORD, &[]).await;
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    for flag in [
        "coffer_session=coffer_s_",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let tls = sign_in_raw(
        &app,
        "default",
        "admin",
        PASSWORD,
        &[("X-Forwarded-Proto", "https")],
    )
    .await;
    assert!(
        tls.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    let b = sign_in(&app, "default", "admin", PASSWORD).await;
    let me = b
        .call(&app, Method::GET, "/api/v1/session", None, false)
        .await;
    assert_eq!(
        (me.body["user"].as_str(), me.body["org"].as_str()),
        (Some("admin"), Some("default"))
    );
    assert_eq!(me.body["csrf_token"], b.csrf.as_str());
    app.put_secret("OPS-1", "db", b"hunter2").await;
    let list = b
        .call(
            &app,
            Method::GET,
            "/api/v1/orgs/default/secrets",
            None,
            false,
        )
        .await;
    assert_eq!(list.body["secrets"][0]["name"], "db");
    // Reveals through a session are audited like any other.
    let r = b
        .call(
            &app,
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-1/db/reveal",
            None,
            true,
        )
        .await;
    assert_eq!(
        B64.decode(r.body["value"].as_str().unwrap()).unwrap(),
        b"hunter2"
    );
    let audit = app
        .get("/api/v1/orgs/default/audit?action=secret.reveal")
        .await;
    assert_eq!(audit.body["events"][0]["actor"], "admin");
}

#[tokio::test]
async fn changes_need_the_sessions_csrf_token_and_the_same_origin() {
    let app = spawn_app().await;
    set_password(&app, &app.token, "default", "admin", PASSWORD).await;
    app.put_secret("OPS-1", "db", b"x").await;
    let b = sign_in(&app, "default", "admin", PASSWORD).await;
    let path = "/api/v1/orgs/default/secrets/OPS-1/db";
    let r = b.call(&app, Method::DELETE, path, None, false).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "csrf_token_missing"),
        "{}",
        r.body
    );
    assert!(r.message().contains("X-CSRF-Token"), "{}", r.message());
    let other = sign_in(&app, "default", "admin", PASSWORD).await;
    let wrong = Browser {
        cookie: b.cookie.clone(),
        csrf: other.csrf.clone(),
    };
    let r = wrong.call(&app, Method::DELETE, path, None, true).await;
    assert_eq!(r.code(), "csrf_token_invalid");
    let r = reqwest::Client::new()
        .delete(format!("{}{path}", app.base))
        .header(header::COOKIE, &b.cookie)
        .header("X-CSRF-Token", &b.csrf)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({"org": "default", "user": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "login CSRF is refused");
    assert_eq!(
        app.get(path).await.body["state"],
        "active",
        "nothing was deleted"
    );
    let r = b.call(&app, Method::DELETE, path, None, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn sign_out_and_a_new_password_end_sessions() {
    let app = spawn_app().await;
    set_password(&app, &app.token, "default", "admin", PASSWORD).await;
    let (a, b) = (
        sign_in(&app, "default", "admin", PASSWORD).await,
        sign_in(&app, "default", "admin", PASSWORD).await,
    );
    assert_eq!(
        a.call(&app, Method::DELETE, "/api/v1/session", None, true)
            .await
            .status,
        204
    );
    let r = a
        .call(&app, Method::GET, "/api/v1/session", None, false)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "unauthenticated"));
    assert!(r.message().contains("sign in again"), "{}", r.message());
    assert_eq!(
        b.call(&app, Method::GET, "/api/v1/session", None, false)
            .await
            .status,
        200
    );
    set_password(
        &app,
        &app.token,
        "default",
        "admin",
        "another long passphrase",
    )
    .await;
    assert_eq!(
        b.call(&app, Method::GET, "/api/v1/session", None, false)
            .await
            .status,
        401
    );
    let old = sign_in_raw(&app, "default", "admin", PASSWORD, &[]).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_and_wrong_credentials_all_look_alike() {
    let app = spawn_app().await;
    set_password(&app, &app.token, "default", "admin", PASSWORD).await;
    let mut messages = Vec::new();
    for (org, user) in [
        ("default", "admin"),
        ("default", "nobody"),
        ("nope", "admin"),
    ] {
        let r = sign_in_raw(&app, org, user, "wrong password!!", &[]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        messages.push(r.json::<Value>().await.unwrap()["error"]["message"].clone());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    for _ in 0..4 {
        sign_in_raw(&app, "default", "admin", "wrong password!!", &[]).await;
    }
    let r = sign_in_raw(&app, "default", "admin", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("wait"),
        "{body}"
    );
    let failed = app
        .get("/api/v1/orgs/default/audit?action=auth.failed")
        .await;
    assert!(failed.body["events"].as_array().unwrap().len() >= 5);
}

#[tokio::test]
async fn passwords_are_set_by_their_user_or_an_admin_and_other_orgs_are_not_found() {
    let app = spawn_app().await;
    let bob = app.org_with_owner("beta", "bob").await;
    let r = set_password(&app, &bob, "beta", "bob", "short").await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("at least 12"), "{}", r.message());
    assert_eq!(
        set_password(&app, &bob, "beta", "bob", PASSWORD)
            .await
            .status,
        204
    );
    // bob is no one in `default`: its users and secrets are not found, not forbidden.
    let r = set_password(&app, &bob, "default", "admin", PASSWORD).await;
    assert_eq!(r.status, 404, "{}", r.body);
    app.put_secret("OPS-1", "db", b"x").await;
    let b = sign_in(&app, "beta", "bob", PASSWORD).await;
    let r = b
        .call(
            &app,
            Method::GET,
            "/api/v1/orgs/default/secrets",
            None,
            false,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = b
        .call(
            &app,
            Method::GET,
            "/api/v1/orgs/default/search?q=db",
            None,
            false,
        )
        .await;
    assert_eq!(r.status, 404);
    // A member may not set another member's password.
    app.call(
        &bob,
        Method::POST,
        "/api/v1/orgs/beta/users",
        Some(json!({"name": "carol", "role": "member"})),
    )
    .await;
    let carol = app
        .call(
            &bob,
            Method::POST,
            "/api/v1/orgs/beta/tokens",
            Some(json!({"user": "carol"})),
        )
        .await;
    let carol = carol.body["token"].as_str().unwrap();
    assert_eq!(
        set_password(&app, carol, "beta", "bob", PASSWORD)
            .await
            .status,
        403
    );
    assert_eq!(
        set_password(&app, &bob, "beta", "carol", PASSWORD)
            .await
            .status,
        204
    );
}
