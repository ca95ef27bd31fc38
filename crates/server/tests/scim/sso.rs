//! Single sign-on meets SCIM, against a real OpenID provider (`coffer_server::testing::oidc`):
//! a person the org's SCIM created is the org directory's own, so the first sign-in of an
//! unlinked provider account whose `preferred_username` (lowercased) is their name links to
//! them — and only them: a member who joined by invitation, a person SCIM deactivated, and a
//! person another org's SCIM created are never matched by name (docs/sso.md, docs/scim.md).

use crate::browser::Browser;
use crate::{Backend, World};
use coffer_server::testing::oidc::{Client, Provider};
use reqwest::Method;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A whole browser sign-in to `org` as the provider's `login`: the session's user, or the
/// sentence that refused it.
async fn sign_in(w: &World, op: &Provider, org: &str, login: &str) -> Result<String, String> {
    let mut b = Browser::default();
    let start = b.get(&format!("{}/sso/{org}/login", w.app.base)).await;
    assert_eq!(start.status, 303, "{}", start.location);
    let callback = op.sign_in(&start.location, login).await;
    let end = b.get(&callback).await;
    assert_eq!(end.status, 303);
    if let Some(error) = end.error {
        return Err(error);
    }
    let end = end.location;
    assert_eq!(end, format!("/orgs/{org}"));
    let session = b.session().expect("a session").to_owned();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/session", w.app.base))
        .header("cookie", format!("coffer_session={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["org"], org, "{me}");
    Ok(me["user"].as_str().unwrap().to_owned())
}

async fn provision(w: &World, token: &str, body: Value) -> String {
    let r = w.scim(token, Method::POST, "/Users", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn set_sso(w: &World, owner: &str, org: &str, op: &Provider, create_people: bool) {
    let r = w
        .call(
            owner,
            Method::PUT,
            &format!("/api/v1/orgs/{org}/sso"),
            Some(json!({
                "issuer": op.issuer(), "client_id": "coffer", "client_secret": "s3cret-for-tests",
                "create_people": create_people,
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn sso_signs_in_only_the_people_scim_created(b: Backend) {
    let w = World::start_with(b, |c| c.sso.allow_loopback_issuers = true).await;
    let op = Provider::start(
        &Client {
            id: "coffer",
            secret: Some("s3cret-for-tests"),
            redirect_uris: vec![format!("{}/sso/callback", w.app.base)],
        },
        json!({"carol": {"preferred_username": "Carol@Acme.COM"}}),
        3600,
    );
    set_sso(&w, &w.aowner, "alpha", &op, false).await;
    let alpha = w.scim_token(&w.aowner, "alpha").await;
    provision(
        &w,
        &alpha,
        json!({"schemas": [USER], "userName": "alice@acme.com"}),
    )
    .await;
    provision(
        &w,
        &alpha,
        json!({"schemas": [USER], "userName": "carol@acme.com"}),
    )
    .await;
    let dora = provision(&w, &alpha, json!({"schemas": [USER], "userName": "dora"})).await;

    // The directory's own people: linked on their first sign-in, by name, lowercased.
    assert_eq!(
        sign_in(&w, &op, "alpha", "alice@acme.com").await,
        Ok("alice@acme.com".to_owned()),
        "{b:?}"
    );
    assert_eq!(
        sign_in(&w, &op, "alpha", "carol").await,
        Ok("carol@acme.com".to_owned()),
        "{b:?}"
    );
    assert_eq!(
        sign_in(&w, &op, "alpha", "alice@acme.com").await,
        Ok("alice@acme.com".to_owned()),
        "{b:?}: the second sign-in follows the link"
    );
    let links = w.events(&w.aowner, "alpha", "sso.link").await;
    assert_eq!(links.len(), 2, "{b:?}");
    assert_eq!(links[0]["details"]["via"], "scim");
    assert_eq!(links[0]["target"], "user:alice@acme.com");

    // A member who joined by invitation is never matched by name.
    let refused = sign_in(&w, &op, "alpha", "amember").await.unwrap_err();
    assert!(refused.contains("not linked"), "{b:?}: {refused}");
    // Nor is someone SCIM deactivated.
    let r = w
        .scim(
            &alpha,
            Method::PATCH,
            &format!("/Users/{dora}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}],
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(sign_in(&w, &op, "alpha", "dora").await.is_err(), "{b:?}");

    // Another org's directory: bravo's provider (the same one), even creating people, never
    // becomes the person alpha's SCIM created.
    set_sso(&w, &w.bowner, "bravo", &op, true).await;
    let refused = sign_in(&w, &op, "bravo", "alice@acme.com")
        .await
        .unwrap_err();
    assert!(refused.contains("already taken"), "{b:?}: {refused}");
    let bravo = w.scim_token(&w.bowner, "bravo").await;
    let r = w
        .scim(
            &bravo,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "alice@acme.com"})),
        )
        .await;
    assert_eq!(r.status, 409, "{b:?}: {}", r.body);
    assert_eq!(
        w.members(&w.bowner, "bravo").await,
        [
            ("badmin".into(), "admin".into()),
            ("bowner".into(), "owner".into())
        ],
        "{b:?}"
    );
    assert!(w.events(&w.bowner, "bravo", "sso.link").await.is_empty());
}

#[tokio::test]
async fn sso_signs_in_only_the_people_scim_created_sqlite() {
    sso_signs_in_only_the_people_scim_created(Backend::Sqlite).await;
}

#[tokio::test]
async fn sso_signs_in_only_the_people_scim_created_postgres() {
    sso_signs_in_only_the_people_scim_created(Backend::Postgres).await;
}
