//! Groups, grants and shares as an attacker tries them (docs/access.md), on both catalogs: who
//! can reveal what follows grants and shares exactly, a secret nobody may see is a 404 and never
//! a name in a list, a restricted secret is out of an admin's reach until they share it (which
//! the audit trail shows), nobody grants or shares above their own access, removing a member
//! takes their access with them, and nothing of one org's access reaches the other.

use crate::world::{BACKENDS, Backend, World};
use reqwest::Method;
use serde_json::{Value, json};

impl World {
    async fn put(&self, token: &str, org: &str, scope: &str, name: &str, extra: Value) -> u16 {
        self.app
            .put_secret_as(token, org, scope, name, b"v", extra)
            .await
            .status
            .as_u16()
    }

    async fn reveal_status(&self, token: &str, org: &str, scope: &str, name: &str) -> u16 {
        self.app
            .reveal_as(token, org, scope, name)
            .await
            .status
            .as_u16()
    }

    /// The names `token` sees listing `query` in `org`.
    async fn names(&self, token: &str, org: &str, query: &str) -> Vec<String> {
        let r = self
            .call(
                token,
                Method::GET,
                &format!("/api/v1/orgs/{org}/secrets{query}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
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
            .collect()
    }

    async fn grant(
        &self,
        token: &str,
        org: &str,
        scope: &str,
        to: &str,
        level: &str,
    ) -> (u16, Value) {
        let r = self.app.grant_as(token, org, scope, to, level).await;
        (r.status.as_u16(), r.body)
    }

    async fn share(
        &self,
        token: &str,
        org: &str,
        secret: &str,
        with: &str,
        level: &str,
    ) -> (u16, Value) {
        let r = self
            .call(
                token,
                Method::PUT,
                &format!("/api/v1/orgs/{org}/secrets/{secret}/shares"),
                Some(json!({"with": with, "level": level})),
            )
            .await;
        (r.status.as_u16(), r.body)
    }

    async fn group(&self, token: &str, org: &str, name: &str, members: &[&str]) {
        let r = self
            .call(
                token,
                Method::POST,
                &format!("/api/v1/orgs/{org}/groups"),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        for m in members {
            let r = self
                .call(
                    token,
                    Method::PUT,
                    &format!("/api/v1/orgs/{org}/groups/{name}/members/{m}"),
                    None,
                )
                .await;
            assert_eq!(r.status, 204, "{m}: {}", r.body);
        }
    }

    /// The `(action, target)` of alpha's audit events after `seq`.
    async fn alpha_events(&self) -> Vec<(String, String)> {
        let r = self
            .call(
                &self.aowner,
                Method::GET,
                "/api/v1/orgs/alpha/audit?limit=1000",
                None,
            )
            .await;
        r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().into(),
                    e["target"].as_str().unwrap().into(),
                )
            })
            .collect()
    }
}

/// A group share reaches exactly the group: a `dba` member reveals, a member outside gets a 404
/// and never sees the name; a grant reaches its scope and nothing else.
async fn shares_and_grants_reach_exactly_their_people(b: Backend) {
    let w = World::start(b).await;
    let (aowner, amember) = (&w.aowner, &w.amember);
    let carol = &w.app.member_as(aowner, "alpha", "carol", "member").await;
    // amember has no grant: alpha's secret does not exist for them.
    assert_eq!(
        w.reveal_status(amember, "alpha", "ALPHA-1", "db").await,
        404,
        "{b:?}"
    );
    assert!(w.names(amember, "alpha", "").await.is_empty(), "{b:?}");
    assert_eq!(
        w.put(amember, "alpha", "ALPHA-1", "new", json!({})).await,
        403,
        "{b:?}"
    );

    w.group(aowner, "alpha", "dba", &["user:carol"]).await;
    let (s, body) = w
        .share(aowner, "alpha", "ALPHA-1/db", "group:dba", "read")
        .await;
    assert_eq!(s, 200, "{b:?}: {body}");
    assert_eq!(
        w.reveal_status(carol, "alpha", "ALPHA-1", "db").await,
        200,
        "{b:?}"
    );
    assert_eq!(w.names(carol, "alpha", "").await, ["ALPHA-1/db"], "{b:?}");
    assert_eq!(
        w.put(carol, "alpha", "ALPHA-1", "db", json!({})).await,
        403,
        "{b:?}: read is not write"
    );
    assert_eq!(
        w.reveal_status(amember, "alpha", "ALPHA-1", "db").await,
        404,
        "{b:?}"
    );
    for q in ["", "?issue=ALPHA-1", "?project=ALPHA", "?prefix=d"] {
        assert!(
            w.names(amember, "alpha", q).await.is_empty(),
            "{b:?} {q}: the name leaks"
        );
    }

    // A grant on one issue: write there, nothing on the next issue or on another project.
    w.put(aowner, "alpha", "ALPHA-2", "other", json!({})).await;
    w.put(aowner, "alpha", "BETA-1", "far", json!({})).await;
    let (s, body) = w
        .grant(aowner, "alpha", "ALPHA-1", "user:amember", "write")
        .await;
    assert_eq!(s, 201, "{b:?}: {body}");
    assert_eq!(
        w.reveal_status(amember, "alpha", "ALPHA-1", "db").await,
        200,
        "{b:?}"
    );
    assert_eq!(
        w.put(amember, "alpha", "ALPHA-1", "new", json!({})).await,
        201,
        "{b:?}"
    );
    assert_eq!(
        w.reveal_status(amember, "alpha", "ALPHA-2", "other").await,
        404,
        "{b:?}"
    );
    assert_eq!(
        w.put(amember, "alpha", "ALPHA-2", "mine", json!({})).await,
        403,
        "{b:?}"
    );
    let mut seen = w.names(amember, "alpha", "").await;
    seen.sort();
    assert_eq!(seen, ["ALPHA-1/db", "ALPHA-1/new"], "{b:?}");

    // Who can see it, and why.
    let r = w
        .call(
            aowner,
            Method::GET,
            "/api/v1/orgs/alpha/secrets/ALPHA-1/db/access",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{b:?}: {}", r.body);
    let why = |p: &str| -> Vec<String> {
        r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["principal"] == p)
            .map(|e| serde_json::from_value(e["because"].clone()).unwrap())
            .unwrap_or_default()
    };
    assert_eq!(why("user:carol"), ["share read via group:dba"], "{b:?}");
    assert_eq!(why("user:amember"), ["grant ALPHA-1 write"], "{b:?}");
    assert_eq!(why("user:aowner"), ["role owner"], "{b:?}");
    // A member without manage may not ask.
    let r = w
        .call(
            amember,
            Method::GET,
            "/api/v1/orgs/alpha/secrets/ALPHA-1/db/access",
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{b:?}: {}", r.body);

    // Leaving the group takes the share's access away at once.
    let r = w
        .call(
            aowner,
            Method::DELETE,
            "/api/v1/orgs/alpha/groups/dba/members/user:carol",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{b:?}");
    assert_eq!(
        w.reveal_status(carol, "alpha", "ALPHA-1", "db").await,
        404,
        "{b:?}"
    );
    let events = w.alpha_events().await;
    for action in [
        "group.create",
        "group.member_add",
        "secret.share",
        "grant.create",
        "group.member_remove",
    ] {
        assert!(
            events.iter().any(|(a, _)| a == action),
            "{b:?}: no {action} event"
        );
    }
}

/// A restricted secret: invisible to an admin without a share, in lists and by name; the admin
/// may share it with themselves, and that is in the audit trail before they can reveal it.
async fn restricted_secrets_escape_roles_and_grants(b: Backend) {
    let w = World::start(b).await;
    let aowner = &w.aowner;
    let aadmin = &w.app.member_as(aowner, "alpha", "aadmin", "admin").await;
    let dave = &w.app.member_as(aowner, "alpha", "dave", "member").await;
    let (s, body) = w.grant(aowner, "alpha", "*", "user:dave", "manage").await;
    assert_eq!(s, 201, "{b:?}: {body}");
    // dave creates it restricted: only dave (manage, by the creator's share) reaches it.
    assert_eq!(
        w.put(dave, "alpha", "OPS-1", "root", json!({"restricted": true}))
            .await,
        201,
        "{b:?}"
    );
    assert_eq!(
        w.reveal_status(dave, "alpha", "OPS-1", "root").await,
        200,
        "{b:?}"
    );
    for who in [aowner, aadmin] {
        assert_eq!(
            w.reveal_status(who, "alpha", "OPS-1", "root").await,
            404,
            "{b:?}"
        );
        assert!(
            !w.names(who, "alpha", "")
                .await
                .contains(&"OPS-1/root".to_owned()),
            "{b:?}"
        );
        let r = w
            .call(
                who,
                Method::GET,
                "/api/v1/orgs/alpha/secrets/OPS-1/root/versions",
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{b:?}");
        let r = w
            .call(
                who,
                Method::POST,
                "/api/v1/orgs/alpha/secrets/OPS-1/root/destroy",
                None,
            )
            .await;
        assert_eq!(
            r.status, 404,
            "{b:?}: an admin cannot destroy what it cannot see"
        );
    }
    // An org-wide manage grant does not reach it either.
    let edna = &w.app.member_as(aowner, "alpha", "edna", "member").await;
    w.grant(aowner, "alpha", "*", "user:edna", "manage").await;
    assert_eq!(
        w.reveal_status(edna, "alpha", "OPS-1", "root").await,
        404,
        "{b:?}"
    );
    // Writing over it (or un-restricting it by a write) is refused without a share.
    assert_eq!(
        w.put(edna, "alpha", "OPS-1", "root", json!({})).await,
        404,
        "{b:?}"
    );
    assert_eq!(
        w.put(dave, "alpha", "OPS-1", "root", json!({"restricted": false}))
            .await,
        400,
        "{b:?}"
    );
    // The admin shares it with themselves: allowed, and recorded before any reveal.
    let (s, body) = w
        .share(aadmin, "alpha", "OPS-1/root", "user:aadmin", "read")
        .await;
    assert_eq!(s, 200, "{b:?}: {body}");
    assert_eq!(
        w.reveal_status(aadmin, "alpha", "OPS-1", "root").await,
        200,
        "{b:?}"
    );
    let events = w.alpha_events().await;
    let share = events
        .iter()
        .position(|(a, t)| a == "secret.share" && t == "OPS-1/root");
    let reveal = events
        .iter()
        .rposition(|(a, t)| a == "secret.reveal" && t == "OPS-1/root");
    assert!(share.is_some() && share < reveal, "{b:?}: {events:?}");
    // Restricting needs someone to keep manage; lifting it brings roles and grants back.
    let r = w
        .call(
            dave,
            Method::PUT,
            "/api/v1/orgs/alpha/secrets/OPS-1/root/restricted",
            Some(json!({"restricted": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{b:?}: {}", r.body);
    assert_eq!(
        w.reveal_status(edna, "alpha", "OPS-1", "root").await,
        200,
        "{b:?}"
    );
}

/// Nobody grants or shares above their own access; managers manage their scope only.
async fn nobody_grants_above_their_own_access(b: Backend) {
    let w = World::start(b).await;
    let aowner = &w.aowner;
    let mgr = &w.app.member_as(aowner, "alpha", "mgr", "member").await;
    let _x = &w.app.member_as(aowner, "alpha", "xavier", "member").await;
    w.grant(aowner, "alpha", "OPS", "user:mgr", "manage").await;
    w.grant(aowner, "alpha", "ALPHA-1", "user:mgr", "read")
        .await;
    // Within OPS: any level up to manage, on OPS or an issue of it.
    assert_eq!(
        w.grant(mgr, "alpha", "OPS-7", "user:xavier", "write")
            .await
            .0,
        201,
        "{b:?}"
    );
    assert_eq!(
        w.grant(mgr, "alpha", "OPS", "user:xavier", "manage")
            .await
            .0,
        201,
        "{b:?}"
    );
    // Outside it, or on the whole org: refused.
    for (scope, level) in [
        ("*", "read"),
        ("ALPHA", "read"),
        ("ALPHA-1", "read"),
        ("OTHER-1", "read"),
    ] {
        let (s, body) = w.grant(mgr, "alpha", scope, "user:xavier", level).await;
        assert_eq!(s, 403, "{b:?} {scope}: {body}");
    }
    // Sharing a secret it only reads: refused; sharing above its right: refused.
    let (s, _) = w
        .share(mgr, "alpha", "ALPHA-1/db", "user:xavier", "read")
        .await;
    assert_eq!(s, 403, "{b:?}");
    w.put(aowner, "alpha", "OPS-2", "k", json!({})).await;
    assert_eq!(
        w.share(mgr, "alpha", "OPS-2/k", "user:xavier", "manage")
            .await
            .0,
        200,
        "{b:?}"
    );
    // A member without manage grants nothing, and the grant list is admins'.
    let (s, _) = w
        .grant(&w.amember, "alpha", "OPS", "user:amember", "read")
        .await;
    assert_eq!(s, 403, "{b:?}");
    let r = w
        .call(mgr, Method::GET, "/api/v1/orgs/alpha/grants", None)
        .await;
    assert_eq!(r.status, 403, "{b:?}");
    // Unknown people and groups are named; a share again changes its level (no duplicate).
    let (s, body) = w
        .share(aowner, "alpha", "OPS-2/k", "user:nobody", "read")
        .await;
    assert_eq!(s, 404, "{b:?}");
    assert!(body.to_string().contains("user:nobody"), "{b:?}: {body}");
    let (s, body) = w
        .share(aowner, "alpha", "OPS-2/k", "group:ghosts", "read")
        .await;
    assert_eq!(s, 404, "{b:?}");
    assert!(body.to_string().contains("ghosts"), "{b:?}: {body}");
    assert_eq!(
        w.share(aowner, "alpha", "OPS-2/k", "user:xavier", "read")
            .await
            .0,
        200
    );
    let (_, body) = w
        .share(aowner, "alpha", "OPS-2/k", "user:xavier", "write")
        .await;
    let xs: Vec<&Value> = body["shares"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["principal"] == "user:xavier")
        .collect();
    assert_eq!(xs.len(), 1, "{b:?}: {body}");
    assert_eq!(xs[0]["level"], "write", "{b:?}");
}

/// Removing a member cuts their token at once and forgets their grants, shares and groups, so
/// being invited back starts from nothing.
async fn removal_takes_access_with_it(b: Backend) {
    let w = World::start(b).await;
    let aowner = &w.aowner;
    let fred = w.app.member_as(aowner, "alpha", "fred", "member").await;
    // fred is in bravo too, so he can accept a new invitation to alpha signed in as himself.
    let code = w.app.invite_as(&w.bowner, "bravo", "fred", "member").await;
    let r = w.app.accept(Some(&fred), &code, None).await;
    assert_eq!(r.status, 201, "{b:?}: {}", r.body);
    let fred_in_bravo = r.body["token"]["token"].as_str().unwrap().to_owned();
    w.group(aowner, "alpha", "ops", &["user:fred"]).await;
    w.grant(aowner, "alpha", "ALPHA", "user:fred", "write")
        .await;
    w.share(aowner, "alpha", "ALPHA-1/db", "user:fred", "read")
        .await;
    assert_eq!(
        w.reveal_status(&fred, "alpha", "ALPHA-1", "db").await,
        200,
        "{b:?}"
    );
    let r = w
        .call(
            aowner,
            Method::DELETE,
            "/api/v1/orgs/alpha/users/fred",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{b:?}: {}", r.body);
    assert_eq!(
        w.reveal_status(&fred, "alpha", "ALPHA-1", "db").await,
        401,
        "{b:?}"
    );
    // Back by invitation: nothing of before.
    let code = w.app.invite_as(aowner, "alpha", "fred", "member").await;
    let r = w.app.accept(Some(&fred_in_bravo), &code, None).await;
    assert_eq!(r.status, 201, "{b:?}: {}", r.body);
    let fred2 = r.body["token"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        w.reveal_status(&fred2, "alpha", "ALPHA-1", "db").await,
        404,
        "{b:?}"
    );
    let groups = w
        .call(aowner, Method::GET, "/api/v1/orgs/alpha/groups", None)
        .await;
    assert_eq!(groups.body["groups"][0]["members"], json!([]), "{b:?}");
    let grants = w
        .call(aowner, Method::GET, "/api/v1/orgs/alpha/grants", None)
        .await;
    assert!(
        !grants.body.to_string().contains("user:fred"),
        "{b:?}: {}",
        grants.body
    );
}

/// Nothing of alpha's access is reachable from bravo: alpha's people, groups and secrets are
/// not in bravo, whatever bravo's admin names.
async fn nothing_crosses_orgs(b: Backend) {
    let w = World::start(b).await;
    let badmin = &w.badmin;
    w.group(&w.aowner, "alpha", "dba", &["user:amember"]).await;
    w.group(badmin, "bravo", "dba", &[]).await;
    let attempts: [(Method, &str, Value); 6] = [
        (
            Method::POST,
            "/api/v1/orgs/bravo/grants",
            json!({"scope": "*", "to": "user:amember", "level": "manage"}),
        ),
        (
            Method::PUT,
            "/api/v1/orgs/bravo/groups/dba/members/user:aowner",
            Value::Null,
        ),
        (
            Method::PUT,
            "/api/v1/orgs/alpha/secrets/ALPHA-1/db/shares",
            json!({"with": "user:badmin", "level": "read"}),
        ),
        (
            Method::POST,
            "/api/v1/orgs/alpha/grants",
            json!({"scope": "*", "to": "user:badmin", "level": "read"}),
        ),
        (
            Method::PUT,
            "/api/v1/orgs/alpha/groups/dba/members/user:badmin",
            Value::Null,
        ),
        (
            Method::GET,
            "/api/v1/orgs/alpha/secrets/ALPHA-1/db/access",
            Value::Null,
        ),
    ];
    for (method, path, body) in attempts {
        let body = (!body.is_null()).then_some(body);
        let r = w.call(badmin, method.clone(), path, body).await;
        assert_eq!(r.status, 404, "{b:?} {method} {path}: {}", r.body);
    }
    // bravo's `dba` is bravo's: a share to it in bravo gives nothing in alpha.
    w.put(badmin, "bravo", "BRAVO-1", "k", json!({})).await;
    assert_eq!(
        w.share(badmin, "bravo", "BRAVO-1/k", "group:dba", "read")
            .await
            .0,
        200,
        "{b:?}"
    );
    assert_eq!(
        w.reveal_status(&w.amember, "alpha", "ALPHA-1", "db").await,
        404,
        "{b:?}"
    );
    w.assert_untouched(&format!("{b:?} after bravo's attempts"))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn access_shares_and_grants_reach_exactly_their_people() {
    for b in BACKENDS {
        shares_and_grants_reach_exactly_their_people(b).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_restricted_secrets_escape_roles_and_grants() {
    for b in BACKENDS {
        restricted_secrets_escape_roles_and_grants(b).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_nobody_grants_above_their_own_access() {
    for b in BACKENDS {
        nobody_grants_above_their_own_access(b).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_removal_takes_access_with_it() {
    for b in BACKENDS {
        removal_takes_access_with_it(b).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_never_crosses_orgs() {
    for b in BACKENDS {
        nothing_crosses_orgs(b).await;
    }
}
