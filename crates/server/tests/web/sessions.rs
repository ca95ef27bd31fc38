//! Sessions: cookie flags, CSRF, revocation, the rate limit, tenancy.

use super::*;

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_the_session_works_on_the_api() {
    let app = spawn_app().await;
    assert_eq!(
        set_password(&app, &app.token, PASSWORD, None).await.status,
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
    set_password(&app, &app.token, PASSWORD, None).await;
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
    set_password(&app, &app.token, PASSWORD, None).await;
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
    let r = set_password(&app, &app.token, "another long passphrase", None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "current_password_required")
    );
    let r = set_password(
        &app,
        &app.token,
        "another long passphrase",
        Some("not it at all"),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "current_password_wrong")
    );
    assert_eq!(
        b.call(&app, Method::GET, "/api/v1/session", None, false)
            .await
            .status,
        200,
        "a refused change changes nothing"
    );
    let r = set_password(&app, &app.token, "another long passphrase", Some(PASSWORD)).await;
    assert_eq!(r.status, 204, "{}", r.body);
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
async fn repeated_failures_are_rate_limited_per_account_and_source_and_all_look_alike() {
    let app = spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".to_owned().try_into().unwrap()];
        // Only the test's own flush writes summaries (a background one would split the count).
        c.audit.failure_summary_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    set_password(&app, &app.token, PASSWORD, None).await;
    let from = |ip: &'static str| [("X-Forwarded-For", ip)];
    let mut messages = Vec::new();
    for (org, user) in [
        ("default", "admin"),
        ("default", "nobody"),
        ("nope", "admin"),
    ] {
        let r = sign_in_raw(&app, org, user, "wrong password!!", &from("198.51.100.1")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        messages.push(r.json::<Value>().await.unwrap()["error"]["message"].clone());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    // 60 guesses at once from one source: no more than the pair's budget gets to the hash.
    let stranger = from("203.0.113.9");
    let guesses =
        (0..60).map(|_| sign_in_raw(&app, "default", "admin", "wrong password!!", &stranger));
    let answers = futures::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        checked, 5,
        "the attempt is reserved before the hash is checked"
    );
    let r = sign_in_raw(&app, "default", "admin", PASSWORD, &from("203.0.113.9")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "that pair waits");
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("wait"),
        "{body}"
    );
    // The stranger locked out only themselves: the owner signs in from their own address.
    let r = sign_in_raw(&app, "default", "admin", PASSWORD, &from("192.0.2.44")).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the account is not locked for its owner"
    );
    // Failures are summarised into the chain, not appended one by one.
    app.flush_failed_auth().await;
    let failed = app
        .get("/api/v1/orgs/default/audit?action=auth.failed")
        .await;
    let events = failed.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", failed.body);
    assert_eq!(events[0]["details"]["count"], 2 + 5, "{}", failed.body);
    assert_eq!(events[0]["details"]["reason"], "sign_in_failed");
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let app = spawn_app().await;
    set_password(&app, &app.token, PASSWORD, None).await;
    // Each guess claims another address; without trusted proxies they all count as the peer's.
    for i in 0..5 {
        let ip = format!("198.51.100.{i}");
        let r = sign_in_raw(
            &app,
            "default",
            "admin",
            "wrong password!!",
            &[("X-Forwarded-For", &ip)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = sign_in_raw(
        &app,
        "default",
        "admin",
        PASSWORD,
        &[("X-Forwarded-For", "192.0.2.1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_audit_flood_is_bounded_and_fields_are_capped() {
    // Only the test's own flush writes summaries: on a loaded machine the 400 failures can
    // outlast the background interval, and each flush is its own (bounded) pair of events.
    let app = spawn_with(|c| {
        c.audit.failure_summary_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let before = app.get("/api/v1/orgs/default/audit/verify").await.body["events"]
        .as_u64()
        .unwrap();
    let huge = "u".repeat(200_000);
    for _ in 0..200 {
        let r = sign_in_raw(&app, "default", &huge, "wrong password!!", &[]).await;
        assert!(
            matches!(r.status().as_u16(), 401 | 429 | 413),
            "{}",
            r.status()
        );
    }
    for _ in 0..200 {
        let r = reqwest::get(format!("{}/api/v1/orgs/default/secrets", app.base))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    app.flush_failed_auth().await;
    let events = app.get("/api/v1/orgs/default/audit?limit=1000").await;
    let after = events.body["events"].as_array().unwrap().len() as u64;
    assert!(
        after - before <= 2,
        "400 failures, {} events",
        after - before
    );
    let text = events.body.to_string();
    assert!(
        text.len() < 20_000,
        "no field carries the 200 KB name: {} bytes",
        text.len()
    );
    let v = app.get("/api/v1/orgs/default/audit/verify").await;
    assert_eq!(v.body["ok"], true);
}

#[tokio::test]
async fn passwords_are_their_owners_and_other_orgs_are_not_found() {
    let app = spawn_app().await;
    let bob = app.org_with_owner("beta", "bob").await;
    // bob chose PASSWORD (the helpers' one) when accepting; changing it needs it.
    let r = set_password(&app, &bob, "short", Some(helpers::PASSWORD)).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("at least 12"), "{}", r.message());
    assert_eq!(
        set_password(&app, &bob, PASSWORD, Some(helpers::PASSWORD))
            .await
            .status,
        204
    );
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
    // Nobody sets another person's password: there is no such endpoint, and /me is oneself.
    let carol = app.member_as(&bob, "beta", "carol", "member").await;
    let r = app
        .call(
            &bob,
            Method::PUT,
            "/api/v1/orgs/beta/users/carol/password",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = set_password(
        &app,
        &carol,
        "carol's own passphrase",
        Some(helpers::PASSWORD),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        sign_in_raw(&app, "beta", "bob", PASSWORD, &[])
            .await
            .status(),
        StatusCode::OK,
        "bob's password is untouched"
    );
}
