//! Single sign-on against a real OpenID provider (panva's `oidc-provider`, started on a free port
//! by `coffer_server::testing::oidc`), with the test playing the person's browser over HTTP:
//! sign-in that creates a member and syncs groups, one-time and browser-bound callbacks, linking
//! by the person only, required SSO and the operator's break-glass, the CLI's code exchange, a
//! nonce that does not match, and — as an attacker works, in chains across two orgs — one org's
//! provider trying to become a person of another org (docs/sso.md, docs/threat-model.md).

#[path = "../support/backend.rs"]
mod backend;
#[path = "../support/browser.rs"]
mod browser;
#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;

use backend::{Backend, catalog, free_port};
use browser::Browser;
use coffer_server::testing::oidc::{Client, Provider};
use coffer_server::testing::pg::TestDb;
use helpers::{PASSWORD, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

const CLIENT_SECRET: &str = "client-secret-7f3a9c";

struct World {
    app: TestApp,
    op: Provider,
    _db: Option<TestDb>,
    /// Owner of `alpha`.
    aowner: String,
    /// Owner of `bravo`.
    bowner: String,
}

impl World {
    async fn start(backend: Backend) -> World {
        let (settings, db) = catalog(backend).await;
        let port = free_port();
        let origin = format!("http://127.0.0.1:{port}");
        let op = Provider::start(
            &Client {
                id: "coffer",
                secret: Some(CLIENT_SECRET),
                redirect_uris: vec![format!("{origin}/sso/callback")],
            },
            json!({"alice": {"groups": ["dba", "not-a-coffer-group"]}, "bob": {"groups": []}}),
            3600,
        );
        let app = spawn_with(move |c| {
            c.listen = format!("127.0.0.1:{port}");
            c.storage.public_origin = Some(origin);
            c.sso.allow_loopback_issuers = true;
            if let Some(s) = settings {
                c.catalog = s;
            }
        })
        .await;
        let aowner = app.org_with_owner("alpha", "aowner").await;
        let bowner = app.org_with_owner("bravo", "bowner").await;
        World {
            app,
            op,
            _db: db,
            aowner,
            bowner,
        }
    }

    async fn set_sso(&self, token: &str, org: &str, body: Value) -> helpers::Resp {
        self.app
            .call(
                token,
                Method::PUT,
                &format!("/api/v1/orgs/{org}/sso"),
                Some(body),
            )
            .await
    }

    fn settings(&self, create_people: bool) -> Value {
        json!({
            "issuer": self.op.issuer(),
            "client_id": "coffer",
            "client_secret": CLIENT_SECRET,
            "groups_claim": "groups",
            "create_people": create_people,
        })
    }
}

/// Starts at Coffer's `path`, signs in at the provider as `login`, and returns the callback URL
/// the provider sends the browser back to (not yet visited).
async fn through_provider(w: &World, b: &mut Browser, path: &str, login: &str) -> String {
    let start = b.get(&format!("{}{path}", w.app.base)).await;
    assert_eq!(start.status, 303, "{path}: {}", start.location);
    assert!(
        start.location.starts_with(w.op.issuer()),
        "{path} went to {}",
        start.location
    );
    w.op.sign_in(&start.location, login).await
}

/// A whole browser sign-in to `org` as `login`: the session, or the sentence that refused it.
async fn sign_in(w: &World, b: &mut Browser, org: &str, login: &str) -> Result<String, String> {
    let cb = through_provider(w, b, &format!("/sso/{org}/login"), login).await;
    let end = b.get(&cb).await;
    assert_eq!(end.status, 303);
    if let Some(e) = end.error {
        return Err(e);
    }
    assert_eq!(end.location, format!("/orgs/{org}"));
    Ok(b.session().expect("a session cookie").to_owned())
}

/// `GET /api/v1/session` with a session cookie.
async fn whoami(w: &World, session: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/session", w.app.base))
        .header("cookie", format!("coffer_session={session}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    json!({"status": status, "body": body})
}

async fn password_sign_in(w: &World, org: &str, user: &str) -> helpers::Resp {
    w.app
        .call(
            "",
            Method::POST,
            "/api/v1/session",
            Some(json!({"org": org, "user": user, "password": PASSWORD})),
        )
        .await
}

/// A browser signed in to alpha with `user`'s password.
async fn password_session(w: &World, user: &str) -> Browser {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", w.app.base))
        .json(&json!({"org": "alpha", "user": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (k, v) = cookie.split(';').next().unwrap().split_once('=').unwrap();
    let mut b = Browser::default();
    b.jar.insert(k.into(), v.into());
    b
}

async fn group_members(w: &World, token: &str, org: &str, group: &str) -> Vec<String> {
    let r = w
        .app
        .call(
            token,
            Method::GET,
            &format!("/api/v1/orgs/{org}/groups"),
            None,
        )
        .await;
    r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .map(|g| {
            g["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn first_sign_in_creates_a_member_and_syncs_groups(backend: Backend) {
    let w = World::start(backend).await;
    let r = w.set_sso(&w.aowner, "alpha", w.settings(true)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["client_secret_set"], true);
    assert!(!r.body.to_string().contains(CLIENT_SECRET), "{}", r.body);
    assert_eq!(
        r.body["redirect_uri"],
        format!("{}/sso/callback", w.app.base)
    );
    let g = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/groups",
            Some(json!({"name": "dba"})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);

    let mut b = Browser::default();
    let session = sign_in(&w, &mut b, "alpha", "alice").await.unwrap();
    let me = whoami(&w, &session).await;
    assert_eq!(me["status"], 200, "{me}");
    assert_eq!(me["body"]["user"], "alice");
    assert_eq!(me["body"]["org"], "alpha");
    assert_eq!(me["body"]["role"], "member");
    assert_eq!(
        group_members(&w, &w.aowner, "alpha", "dba").await,
        ["user:alice"]
    );

    // The second sign-in finds the same person (linked), not a new one.
    let mut again = Browser::default();
    let s2 = sign_in(&w, &mut again, "alpha", "alice").await.unwrap();
    assert_eq!(whoami(&w, &s2).await["body"]["user"], "alice");

    // The provider's claims decide group membership at each sign-in.
    let g = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/groups",
            Some(json!({"name": "ops"})),
        )
        .await;
    assert_eq!(g.status, 201);
    let add = w
        .app
        .call(
            &w.aowner,
            Method::PUT,
            "/api/v1/orgs/alpha/groups/ops/members/user:alice",
            None,
        )
        .await;
    assert!(add.status.is_success(), "{}", add.body);
    sign_in(&w, &mut Browser::default(), "alpha", "alice")
        .await
        .unwrap();
    assert!(
        group_members(&w, &w.aowner, "alpha", "ops")
            .await
            .is_empty()
    );
    assert_eq!(
        group_members(&w, &w.aowner, "alpha", "dba").await,
        ["user:alice"]
    );

    // Audit: the creation and the sessions, marked as single sign-on.
    let audit = w
        .app
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/audit?limit=200",
            None,
        )
        .await;
    let text = audit.body.to_string();
    assert!(
        text.contains("sso.set") && text.contains("\"via\":\"sso\""),
        "{text}"
    );

    // The client secret is sealed: not in any file of the data directory.
    if w._db.is_none() {
        for f in helpers::files_under(&w.app.data_dir()) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                !bytes
                    .windows(CLIENT_SECRET.len())
                    .any(|x| x == CLIENT_SECRET.as_bytes()),
                "{} holds the client secret",
                f.display()
            );
        }
    }
}

#[tokio::test]
async fn first_sign_in_creates_a_member_and_syncs_groups_sqlite() {
    first_sign_in_creates_a_member_and_syncs_groups(Backend::Sqlite).await;
}

#[tokio::test]
async fn first_sign_in_creates_a_member_and_syncs_groups_postgres() {
    first_sign_in_creates_a_member_and_syncs_groups(Backend::Postgres).await;
}

/// Another org's provider tries to become alpha's people: by name (its `preferred_username` is
/// alpha's owner), by settings (bravo's owner at alpha's endpoint), by a callback carried to
/// another browser. Each is refused and alpha is untouched.
async fn another_orgs_provider_never_becomes_our_people(backend: Backend) {
    let w = World::start(backend).await;
    assert_eq!(
        w.set_sso(&w.aowner, "alpha", w.settings(false))
            .await
            .status,
        200
    );
    // bravo's owner sets up the same provider, creating people.
    assert_eq!(
        w.set_sso(&w.bowner, "bravo", w.settings(true)).await.status,
        200
    );

    // bravo's provider says "aowner": that name is alpha's owner, so nobody is created or adopted.
    let err = sign_in(&w, &mut Browser::default(), "bravo", "aowner")
        .await
        .unwrap_err();
    assert!(err.contains("already taken"), "{err}");
    // And signing in to alpha as "aowner" at the provider finds no link: refused, not adopted.
    let err = sign_in(&w, &mut Browser::default(), "alpha", "aowner")
        .await
        .unwrap_err();
    assert!(err.contains("not linked"), "{err}");

    // A person bravo's provider created is bravo's only.
    let mut b = Browser::default();
    let s = sign_in(&w, &mut b, "bravo", "alice").await.unwrap();
    let me = whoami(&w, &s).await;
    assert_eq!(me["body"]["org"], "bravo");
    let listed = w
        .app
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/users", None)
        .await;
    assert!(
        !listed.body.to_string().contains("alice"),
        "{}",
        listed.body
    );
    let cross = reqwest::Client::new()
        .get(format!("{}/api/v1/orgs/alpha/secrets", w.app.base))
        .header("cookie", format!("coffer_session={s}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 404);
    // alpha's provider does not know this person either.
    let err = sign_in(&w, &mut Browser::default(), "alpha", "alice")
        .await
        .unwrap_err();
    assert!(err.contains("not linked"), "{err}");

    // bravo's owner cannot see or change alpha's single sign-on: alpha's is not found.
    for (m, body) in [
        (Method::GET, None),
        (Method::PUT, Some(w.settings(true))),
        (Method::DELETE, None),
    ] {
        let r = w
            .app
            .call(&w.bowner, m, "/api/v1/orgs/alpha/sso", body)
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let still = w
        .app
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/sso", None)
        .await;
    assert_eq!(still.body["create_people"], false);

    // A callback taken to another browser (login CSRF) is refused, and used up.
    let mut attacker = Browser::default();
    let cb = through_provider(&w, &mut attacker, "/sso/bravo/login", "alice").await;
    let mut victim = Browser::default();
    let hop = victim.get(&cb).await;
    let err = hop.error.clone().unwrap();
    assert!(err.contains("another browser"), "{err}");
    assert!(victim.session().is_none());
    let replay = attacker.get(&cb).await;
    let err = replay.error.clone().unwrap();
    assert!(err.contains("already used"), "{err}");
}

#[tokio::test]
async fn another_orgs_provider_never_becomes_our_people_sqlite() {
    another_orgs_provider_never_becomes_our_people(Backend::Sqlite).await;
}

#[tokio::test]
async fn another_orgs_provider_never_becomes_our_people_postgres() {
    another_orgs_provider_never_becomes_our_people(Backend::Postgres).await;
}

/// Linking is done by the person, signed in; a link started by someone else and finished in
/// another browser links nobody. Required SSO refuses passwords until the operator's
/// break-glass; removing a member ends their SSO session and forgets their link.
#[tokio::test]
async fn linking_required_sso_and_removal() {
    let w = World::start(Backend::Sqlite).await;
    let bob = w.app.member_as(&w.aowner, "alpha", "bob", "member").await;
    let _mallory = w
        .app
        .member_as(&w.aowner, "alpha", "mallory", "member")
        .await;
    assert_eq!(
        w.set_sso(&w.aowner, "alpha", w.settings(false))
            .await
            .status,
        200
    );

    let err = sign_in(&w, &mut Browser::default(), "alpha", "bob")
        .await
        .unwrap_err();
    assert!(err.contains("not linked"), "{err}");

    // Linking needs a session: without one, back to the sign-in page.
    let mut anon = Browser::default();
    let hop = anon.get(&format!("{}/sso/alpha/link", w.app.base)).await;
    assert!(hop.error.clone().unwrap().contains("sign in first"));

    // mallory starts a link and pushes the provider step onto bob's browser: refused.
    let mut mb = password_session(&w, "mallory").await;
    let cb = through_provider(&w, &mut mb, "/sso/alpha/link", "bob").await;
    let mut bobs_browser = Browser::default();
    let hop = bobs_browser.get(&cb).await;
    assert!(hop.error.clone().unwrap().contains("another browser"));
    let err = sign_in(&w, &mut Browser::default(), "alpha", "bob")
        .await
        .unwrap_err();
    assert!(
        err.contains("not linked"),
        "bob's provider account must not be mallory's: {err}"
    );

    // bob links his own account.
    let mut bb = password_session(&w, "bob").await;
    let cb = through_provider(&w, &mut bb, "/sso/alpha/link", "bob").await;
    let hop = bb.get(&cb).await;
    assert_eq!(hop.location, "/account?org=alpha&sso=linked");
    let s = sign_in(&w, &mut Browser::default(), "alpha", "bob")
        .await
        .unwrap();
    assert_eq!(whoami(&w, &s).await["body"]["user"], "bob");
    // The same provider account cannot be linked to mallory as well.
    let mut mb2 = mb.clone();
    let cb = through_provider(&w, &mut mb2, "/sso/alpha/link", "bob").await;
    let hop = mb2.get(&cb).await;
    assert!(hop.error.clone().unwrap().contains("already linked"));

    // Required SSO: passwords refused for the org's people, tokens still work.
    let mut req = w.settings(false);
    req["require_sso"] = true.into();
    req.as_object_mut().unwrap().remove("client_secret");
    let r = w.set_sso(&w.aowner, "alpha", req).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["client_secret_set"]),
        (200, &json!(true))
    );
    for user in ["bob", "aowner"] {
        let r = password_sign_in(&w, "alpha", user).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.message().contains("single sign-on"), "{}", r.body);
    }
    assert_eq!(
        w.app
            .call(&bob, Method::GET, "/api/v1/whoami", None)
            .await
            .status,
        200
    );
    // Break-glass: the operator removes the provider; passwords work again.
    let r = w
        .app
        .call(
            &w.app.operator,
            Method::DELETE,
            "/api/v1/orgs/alpha/sso",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(password_sign_in(&w, "alpha", "aowner").await.status, 200);
    // The operator cannot set a provider (that would let it choose who signs in as whom).
    let r = w.set_sso(&w.app.operator, "alpha", w.settings(true)).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // Removing bob ends his SSO session on the next request and forgets his link.
    assert_eq!(
        w.set_sso(&w.aowner, "alpha", w.settings(false))
            .await
            .status,
        200
    );
    let mut bb = password_session(&w, "bob").await;
    let cb = through_provider(&w, &mut bb, "/sso/alpha/link", "bob").await;
    assert_eq!(bb.get(&cb).await.location, "/account?org=alpha&sso=linked");
    let s = sign_in(&w, &mut Browser::default(), "alpha", "bob")
        .await
        .unwrap();
    let r = w
        .app
        .call(
            &w.aowner,
            Method::DELETE,
            "/api/v1/orgs/alpha/users/bob",
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(whoami(&w, &s).await["status"], 401);
    let err = sign_in(&w, &mut Browser::default(), "alpha", "bob")
        .await
        .unwrap_err();
    assert!(err.contains("not linked"), "{err}");
}

/// A person single sign-on created has no password, and no session of theirs can set a first
/// one (the org's provider would then reach every org of theirs); the operator's reset can.
#[tokio::test]
async fn sso_people_get_a_first_password_only_from_the_operator() {
    let w = World::start(Backend::Sqlite).await;
    assert_eq!(
        w.set_sso(&w.aowner, "alpha", w.settings(true)).await.status,
        200
    );
    let s = sign_in(&w, &mut Browser::default(), "alpha", "alice")
        .await
        .unwrap();
    let csrf = whoami(&w, &s).await["body"]["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/me/password", w.app.base))
        .header("cookie", format!("coffer_session={s}"))
        .header("x-csrf-token", csrf)
        .json(&json!({"password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("operator"), "{body}");
    let r = password_sign_in(&w, "alpha", "alice").await;
    assert_eq!(r.status, 401);

    // The chain that would get round it: alpha's owner removes the provider (forgetting alice's
    // link) and then uses a credential single sign-on gave alice. Removing the provider revokes
    // those credentials, and alice stays marked as once linked.
    let s2 = sign_in(&w, &mut Browser::default(), "alpha", "alice")
        .await
        .unwrap();
    let r = w
        .app
        .call(&w.aowner, Method::DELETE, "/api/v1/orgs/alpha/sso", None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(whoami(&w, &s2).await["status"], 401);
    assert_eq!(whoami(&w, &s).await["status"], 401);
}

/// `coffer login`'s exchange: the code is one-time and needs the verifier the CLI kept.
#[tokio::test]
async fn the_cli_code_is_one_time_and_needs_its_verifier() {
    use base64::Engine;
    let w = World::start(Backend::Sqlite).await;
    assert_eq!(
        w.set_sso(&w.aowner, "alpha", w.settings(true)).await.status,
        200
    );
    let verifier = "v".repeat(43);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()),
    );
    let login = async |port: u16| {
        let mut b = Browser::default();
        let cb = through_provider(
            &w,
            &mut b,
            &format!("/sso/alpha/login?cli_port={port}&cli_challenge={challenge}"),
            "alice",
        )
        .await;
        let hop = b.get(&cb).await;
        let prefix = format!("http://127.0.0.1:{port}/callback?code=");
        assert!(hop.location.starts_with(&prefix), "{}", hop.location);
        hop.location[prefix.len()..].to_owned()
    };
    let exchange = async |code: &str, verifier: &str| {
        w.app
            .call(
                "",
                Method::POST,
                "/api/v1/sso/token",
                Some(json!({"code": code, "verifier": verifier})),
            )
            .await
    };
    // A wrong verifier uses the code up.
    let code = login(40001).await;
    assert_eq!(exchange(&code, &"w".repeat(43)).await.status, 401);
    assert_eq!(exchange(&code, &verifier).await.status, 401);
    // The right one gets a 12-hour personal token, once.
    let code = login(40002).await;
    let r = exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["user"].as_str(), r.body["org"].as_str()),
        (Some("alice"), Some("alpha"))
    );
    let token = r.body["token"].as_str().unwrap().to_owned();
    let me = w
        .app
        .call(&token, Method::GET, "/api/v1/whoami", None)
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(exchange(&code, &verifier).await.status, 401);
    // A sign-in code from the browser flow is not an exchange code.
    let mut b = Browser::default();
    let cb = through_provider(&w, &mut b, "/sso/alpha/login", "alice").await;
    let state = url::Url::parse(&cb)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(exchange(&state, &verifier).await.status, 401);
}

/// The ID token must answer this sign-in (nonce), and the issuer must be exactly the provider's.
#[tokio::test]
async fn a_mismatched_nonce_and_a_wrong_issuer_are_refused() {
    let w = World::start(Backend::Sqlite).await;
    assert_eq!(
        w.set_sso(&w.aowner, "alpha", w.settings(true)).await.status,
        200
    );
    let mut b = Browser::default();
    let start = b.get(&format!("{}/sso/alpha/login", w.app.base)).await;
    let mut url = url::Url::parse(&start.location).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "forged-nonce".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let cb = w.op.sign_in(url.as_str(), "alice").await;
    let hop = b.get(&cb).await;
    let err = hop.error.clone().unwrap();
    assert!(err.contains("nonce"), "{err}");
    assert!(b.session().is_none());

    // Saving checks the issuer against the provider's own word, and the SSRF rules.
    let port = w.op.issuer().rsplit(':').next().unwrap();
    for (issuer, why) in [
        (format!("http://localhost:{port}"), "does not match"),
        ("http://169.254.169.254".to_owned(), "never allowed"),
        ("http://10.1.2.3".to_owned(), "https"),
        ("https://127.0.0.1:1".to_owned(), "could not be reached"),
    ] {
        let r = w
            .set_sso(
                &w.aowner,
                "alpha",
                json!({"issuer": issuer, "client_id": "coffer"}),
            )
            .await;
        assert_eq!(r.status, 400, "{issuer}: {}", r.body);
        assert_eq!(r.code(), "sso_provider_unusable");
        assert!(r.message().contains(why), "{issuer}: {}", r.message());
    }
    // A new client id (or issuer) needs the secret again: the stored one goes only where it was
    // given for.
    let r = w
        .set_sso(
            &w.aowner,
            "alpha",
            json!({"issuer": w.op.issuer(), "client_id": "someone-else"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.message().contains("client secret again"),
        "{}",
        r.message()
    );

    // Another site cannot start a sign-in in a visitor's browser.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/sso/alpha/login", w.app.base))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/login?sso=failed");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("own%20pages"), "{cookie}");

    // RFC 9207: an answer naming another issuer is refused.
    let mut b = Browser::default();
    let cb = through_provider(&w, &mut b, "/sso/alpha/login", "alice").await;
    let mut forged = url::Url::parse(&cb).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert!(
        cb.contains("iss="),
        "oidc-provider names itself (RFC 9207): {cb}"
    );
    forged
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("iss", "https://evil.example");
    let hop = b.get(forged.as_str()).await;
    let err = hop.error.unwrap();
    assert!(err.contains("another provider"), "{err}");

    // Nothing changed.
    let r = w
        .app
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/sso", None)
        .await;
    assert_eq!(r.body["issuer"], w.op.issuer());
    // Admins see the settings; members do not; only owners change them.
    let admin = w.app.member_as(&w.aowner, "alpha", "adele", "admin").await;
    let member = w.app.member_as(&w.aowner, "alpha", "mo", "member").await;
    assert_eq!(
        w.app
            .call(&admin, Method::GET, "/api/v1/orgs/alpha/sso", None)
            .await
            .status,
        200
    );
    assert_eq!(
        w.app
            .call(&member, Method::GET, "/api/v1/orgs/alpha/sso", None)
            .await
            .status,
        403
    );
    assert_eq!(
        w.set_sso(&admin, "alpha", w.settings(true)).await.status,
        403
    );
}
