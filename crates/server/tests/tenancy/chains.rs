//! The escalation chains found against the model where users were global names and roles were
//! per org, each replayed step by step as bravo's admin would try it, on both catalogs. Each step
//! that used to succeed is asserted refused, and the world is checked unchanged at the end.

use crate::helpers::PASSWORD;
use crate::world::{BACKENDS, Backend, World};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Chain 1: an org admin becomes the operator. Add the operator's account to bravo, mint a token
/// for it, use that to mint a token for alpha's owner, reveal alpha's secrets.
async fn admin_cannot_become_the_operator(b: Backend) {
    let w = World::start(b).await;
    let badmin = &w.badmin;
    let add = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/users",
            Some(json!({"name": "operator", "role": "member"})),
        )
        .await;
    assert_eq!(add.status, 403, "{b:?}: {}", add.body);
    let invite = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/invitations",
            Some(json!({"name": "operator", "role": "member"})),
        )
        .await;
    assert_eq!(
        (invite.status.as_u16(), invite.code()),
        (409, "operator_not_a_member"),
        "{b:?}"
    );
    for user in ["operator", "admin", "aowner"] {
        let mint = w
            .call(
                badmin,
                Method::POST,
                "/api/v1/orgs/bravo/tokens",
                Some(json!({"user": user})),
            )
            .await;
        assert_eq!(mint.status, 403, "{b:?} {user}: {}", mint.body);
    }
    for path in ["/api/v1/operator/tokens", "/api/v1/orgs/alpha/tokens"] {
        let mint = w.call(badmin, Method::POST, path, Some(json!({}))).await;
        assert!(
            matches!(mint.status.as_u16(), 403 | 404),
            "{b:?} {path}: {}",
            mint.body
        );
    }
    // Even the operator cannot be made a member by the operator, nor hold an org token.
    let op = &w.app.operator;
    let r = w
        .call(
            op,
            Method::POST,
            "/api/v1/orgs/bravo/users",
            Some(json!({"name": "operator", "role": "owner"})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "operator_not_a_member")
    );
    let who = w.whoami(badmin).await.unwrap();
    assert_eq!(
        (who["operator"].as_bool(), who["org"].as_str()),
        (Some(false), Some("bravo"))
    );
    w.assert_untouched(&format!("{b:?} chain 1")).await;
}

/// Chain 2: an org admin takes over another org's owner. Add alpha's owner to bravo, set their
/// password through bravo, sign in to alpha with it and reveal alpha's secrets.
async fn admin_cannot_take_over_another_orgs_owner(b: Backend) {
    let w = World::start(b).await;
    let badmin = &w.badmin;
    // Adding by name is the operator's alone; inviting the name works, but only aowner, signed
    // in as aowner, can accept it.
    let add = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/users",
            Some(json!({"name": "aowner", "role": "member"})),
        )
        .await;
    assert_eq!(add.status, 403, "{b:?}: {}", add.body);
    let code = w.app.invite_as(badmin, "bravo", "aowner", "admin").await;
    let unsigned = w
        .app
        .accept(None, &code, Some("the attacker's passphrase"))
        .await;
    assert_eq!(
        unsigned.status,
        StatusCode::UNAUTHORIZED,
        "{b:?}: {}",
        unsigned.body
    );
    let as_attacker = w.app.accept(Some(badmin), &code, None).await;
    assert_eq!(
        as_attacker.status,
        StatusCode::FORBIDDEN,
        "{b:?}: {}",
        as_attacker.body
    );
    // No endpoint sets another person's password; /me/password is one's own.
    let set = w
        .call(
            badmin,
            Method::PUT,
            "/api/v1/orgs/bravo/users/aowner/password",
            Some(json!({"password": "the attacker's passphrase"})),
        )
        .await;
    assert_eq!(set.status, 404, "{b:?}: {}", set.body);
    let reset = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/users/aowner/reset",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        reset.status, 403,
        "{b:?}: resets are the operator's: {}",
        reset.body
    );
    let own = w
        .call(
            badmin,
            Method::PUT,
            "/api/v1/me/password",
            Some(json!({"password": "the attacker's passphrase", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(own.status, 204, "{b:?}: {}", own.body);
    let signin = reqwest::Client::new()
        .post(format!("{}/api/v1/session", w.app.base))
        .json(&json!({"org": "alpha", "user": "aowner", "password": "the attacker's passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), StatusCode::UNAUTHORIZED, "{b:?}");
    let signin = reqwest::Client::new()
        .post(format!("{}/api/v1/session", w.app.base))
        .json(&json!({"org": "alpha", "user": "aowner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        signin.status(),
        StatusCode::OK,
        "{b:?}: aowner's own password still works"
    );
    // Had aowner accepted (signed in as aowner), they would be in bravo — with their own
    // credentials, and nothing of alpha in bravo's hands.
    let joined = w.app.accept(Some(&w.aowner), &code, None).await;
    assert_eq!(joined.status, 201, "{b:?}: {}", joined.body);
    let r = w
        .call(
            badmin,
            Method::PUT,
            "/api/v1/orgs/bravo/users/aowner",
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(r.status, 403, "{b:?}: admins never grant owner: {}", r.body);
    let r = w
        .call(
            badmin,
            Method::DELETE,
            "/api/v1/orgs/bravo/users/aowner",
            None,
        )
        .await;
    assert_eq!(
        r.status, 204,
        "{b:?}: removing from bravo is bravo's business: {}",
        r.body
    );
    assert!(
        w.whoami(&w.aowner).await.is_some(),
        "{b:?}: aowner's alpha token survives"
    );
    w.assert_untouched(&format!("{b:?} chain 2")).await;
}

/// Chain 3: an admin acts as owner. Mint a token for bravo's owner, then rotate keys, change
/// storage, make oneself owner.
async fn admin_cannot_act_as_owner(b: Backend) {
    let w = World::start(b).await;
    let badmin = &w.badmin;
    let mint = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/tokens",
            Some(json!({"user": "bowner"})),
        )
        .await;
    assert_eq!(mint.status, 403, "{b:?}: {}", mint.body);
    // Service accounts are never owners; one at the admin's own role acts at that role.
    let owner_sa = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/service-accounts",
            Some(json!({"name": "boss", "role": "owner"})),
        )
        .await;
    assert_eq!(
        (owner_sa.status.as_u16(), owner_sa.code()),
        (409, "service_account_role"),
        "{b:?}: {}",
        owner_sa.body
    );
    let sa = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/service-accounts",
            Some(json!({"name": "ci", "role": "admin"})),
        )
        .await;
    assert_eq!(sa.status, 201, "{b:?}: {}", sa.body);
    let t = w
        .call(
            badmin,
            Method::POST,
            "/api/v1/orgs/bravo/tokens",
            Some(json!({"service_account": "ci"})),
        )
        .await;
    assert_eq!(t.status, 201, "{b:?}: {}", t.body);
    let ci = t.body["token"].as_str().unwrap().to_owned();
    for token in [badmin.as_str(), ci.as_str()] {
        for (method, path, body) in [
            (Method::POST, "/api/v1/orgs/bravo/keys/rotate", None),
            (
                Method::PUT,
                "/api/v1/orgs/bravo/users/badmin",
                Some(json!({"role": "owner"})),
            ),
            (
                Method::PUT,
                "/api/v1/orgs/bravo/users/bowner",
                Some(json!({"role": "member"})),
            ),
            (Method::DELETE, "/api/v1/orgs/bravo/users/bowner", None),
            (
                Method::POST,
                "/api/v1/orgs/bravo/invitations",
                Some(json!({"name": "mallory", "role": "owner"})),
            ),
            (
                Method::PUT,
                "/api/v1/orgs/bravo/service-accounts/ci",
                Some(json!({"role": "owner"})),
            ),
            (Method::DELETE, "/api/v1/orgs/bravo/storage", None),
        ] {
            let r = w.call(token, method.clone(), path, body).await;
            assert!(
                matches!(r.status.as_u16(), 403 | 409),
                "{b:?} {method} {path}: {} {}",
                r.status,
                r.body
            );
        }
    }
    // A service account manages no people and mints no tokens, not even its own.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/orgs/bravo/invitations",
            json!({"name": "mallory", "role": "member"}),
        ),
        (Method::POST, "/api/v1/orgs/bravo/tokens", json!({})),
        (
            Method::POST,
            "/api/v1/orgs/bravo/service-accounts",
            json!({"name": "ci2", "role": "member"}),
        ),
    ] {
        let r = w.call(&ci, method, path, Some(body)).await;
        assert_eq!(r.status, 403, "{b:?} {path}: {}", r.body);
    }
    // bowner's token keeps working: an admin cannot revoke an owner's credentials either.
    let tokens = w
        .call(&w.bowner, Method::GET, "/api/v1/orgs/bravo/tokens", None)
        .await;
    let bowners = tokens.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "bowner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = w
        .call(
            badmin,
            Method::DELETE,
            &format!("/api/v1/orgs/bravo/tokens/{bowners}"),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{b:?}: {}", r.body);
    assert!(w.whoami(&w.bowner).await.is_some());
    w.assert_untouched(&format!("{b:?} chain 3")).await;
}

/// Removing a member cuts their credentials in that org at once; a re-invitation does not bring
/// an old token back; the operator's reset revokes everything and its code works once.
async fn removal_and_reset_end_credentials(b: Backend) {
    let w = World::start(b).await;
    let carol = w.app.member_as(&w.bowner, "bravo", "carol", "member").await;
    assert!(w.whoami(&carol).await.is_some());
    let r = w
        .call(
            &w.badmin,
            Method::DELETE,
            "/api/v1/orgs/bravo/users/carol",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{b:?}: {}", r.body);
    assert!(
        w.whoami(&carol).await.is_none(),
        "{b:?}: the next request is refused"
    );
    let code = w.app.invite_as(&w.badmin, "bravo", "carol", "member").await;
    let back = w.app.accept(Some(&carol), &code, None).await;
    assert_eq!(
        back.status, 401,
        "{b:?}: the old token is dead: {}",
        back.body
    );
    // The operator resets carol: a code she redeems for a new password and token.
    let reset = w
        .call(
            &w.app.operator,
            Method::POST,
            "/api/v1/users/carol/reset",
            Some(json!({})),
        )
        .await;
    assert_eq!(reset.status, 201, "{b:?}: {}", reset.body);
    let rcode = reset.body["code"].as_str().unwrap().to_owned();
    let redeem = |org: Option<&str>| {
        let app = &w.app;
        let rcode = rcode.clone();
        let org = org.map(str::to_owned);
        async move {
            reqwest::Client::new()
                .post(format!("{}/api/v1/credentials/redeem", app.base))
                .json(&json!({"code": rcode, "password": "carol's new passphrase", "org": org}))
                .send()
                .await
                .unwrap()
        }
    };
    // carol is in no org now: a token for bravo is refused, and nothing is used up.
    assert_eq!(redeem(Some("bravo")).await.status(), StatusCode::NOT_FOUND);
    let ok = redeem(None).await;
    assert_eq!(ok.status(), StatusCode::OK, "{b:?}");
    assert_eq!(redeem(None).await.status(), StatusCode::GONE, "{b:?}: once");
    let back = w.app.accept(None, &code, None).await;
    assert_eq!(
        back.status, 401,
        "{b:?}: carol exists; she accepts signed in"
    );
    w.assert_untouched(&format!("{b:?} removal")).await;
}

#[tokio::test]
async fn chain_1_an_admin_never_becomes_the_operator() {
    for b in BACKENDS {
        admin_cannot_become_the_operator(b).await;
    }
}

#[tokio::test]
async fn chain_2_an_admin_never_takes_over_another_orgs_owner() {
    for b in BACKENDS {
        admin_cannot_take_over_another_orgs_owner(b).await;
    }
}

#[tokio::test]
async fn chain_3_an_admin_never_acts_as_owner() {
    for b in BACKENDS {
        admin_cannot_act_as_owner(b).await;
    }
}

#[tokio::test]
async fn removal_and_reset_end_credentials_at_once() {
    for b in BACKENDS {
        removal_and_reset_end_credentials(b).await;
    }
}
