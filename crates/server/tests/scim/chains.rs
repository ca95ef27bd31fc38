//! The tenancy of SCIM as an attacker tries it, in chains across two orgs on both catalogs:
//! bravo's SCIM token aimed at alpha's people and groups (never seen, never changed, never
//! created under their names), credentials of each kind where they do not belong, who may hold a
//! SCIM token at all, and what deactivation, reactivation and deletion do to a person's
//! credentials — plus what SCIM creates and how groups are named.

use crate::helpers::PASSWORD;
use crate::{Backend, World};
use reqwest::Method;
use serde_json::{Value, json};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn ops(ops: Value) -> Option<Value> {
    Some(json!({"schemas": [PATCH_OP], "Operations": ops}))
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn user_names(list: &Value) -> Vec<String> {
    let mut n: Vec<String> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["userName"].as_str().map(str::to_owned))
        .collect();
    n.sort();
    n
}

/// `(status, scimType)` of a SCIM answer.
fn scim_status(r: &crate::helpers::Resp) -> (u16, &str) {
    (r.status.as_u16(), r.body["scimType"].as_str().unwrap_or(""))
}

/// The groups of `org` as `owner` lists them: `(name, members)`.
async fn groups(w: &World, owner: &str, org: &str) -> Vec<(String, Vec<String>)> {
    let r = w
        .call(
            owner,
            Method::GET,
            &format!("/api/v1/orgs/{org}/groups"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// Bravo's SCIM token sees none of alpha's people or groups, changes none of them, and cannot
/// create a person under the name of one of them.
async fn another_orgs_scim_reaches_nothing(b: Backend) {
    let w = World::start(b).await;
    let alpha = w.scim_token(&w.aowner, "alpha").await;
    let bravo = w.scim_token(&w.bowner, "bravo").await;
    let aowner = w.user_id(&alpha, "aowner").await.unwrap();
    let amember = w.user_id(&alpha, "amember").await.unwrap();
    let g = w
        .scim(
            &alpha,
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Alpha Ops", "members": [{"value": amember}]})),
        )
        .await;
    assert_eq!(g.status, 201, "{b:?}: {}", g.body);
    let agroup = g.body["id"].as_str().unwrap().to_owned();
    let before_alpha_group = w
        .scim(&alpha, Method::GET, &format!("/Groups/{agroup}"), None)
        .await
        .body;

    // Lists and filters: only bravo's own.
    let users = w.scim(&bravo, Method::GET, "/Users", None).await;
    assert_eq!(users.status, 200, "{b:?}");
    assert_eq!(user_names(&users.body), ["badmin", "bowner"], "{b:?}");
    assert!(!ids(&users.body).contains(&amember));
    let found = w
        .scim(
            &bravo,
            Method::GET,
            "/Users?filter=userName%20eq%20%22aowner%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], 0, "{b:?}");
    let groups_b = w.scim(&bravo, Method::GET, "/Groups", None).await;
    assert_eq!(groups_b.body["totalResults"], 0, "{b:?}: {}", groups_b.body);
    let all = w
        .scim(
            &bravo,
            Method::POST,
            "/.search",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
        )
        .await;
    assert!(!ids(&all.body).contains(&agroup) && !ids(&all.body).contains(&aowner));

    // Every verb on alpha's people and group: not found, exactly like a missing one.
    for path in [
        format!("/Users/{aowner}"),
        format!("/Users/{amember}"),
        format!("/Groups/{agroup}"),
    ] {
        let body = if path.starts_with("/Users") {
            json!({"schemas": [USER], "userName": "x", "active": false})
        } else {
            json!({"schemas": [GROUP], "displayName": "Mine"})
        };
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(body)),
            (
                Method::PATCH,
                ops(json!([{"op": "replace", "path": "active", "value": false}])),
            ),
            (Method::DELETE, None),
        ] {
            let r = w.scim(&bravo, method.clone(), &path, body).await;
            assert_eq!(r.status, 404, "{b:?} {method} {path}: {}", r.body);
        }
    }

    // Creating a person named like alpha's owner, in any case: a conflict, and nothing changes.
    for name in ["aowner", "AOwner", "amember"] {
        let r = w
            .scim(
                &bravo,
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": name})),
            )
            .await;
        assert_eq!(
            scim_status(&r),
            (409, "uniqueness"),
            "{b:?} {name}: {}",
            r.body
        );
    }
    // Groups of bravo cannot hold alpha's people.
    let r = w
        .scim(
            &bravo,
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "Grab", "members": [{"value": amember}]}),
            ),
        )
        .await;
    assert_eq!(scim_status(&r), (400, "invalidValue"), "{b:?}: {}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );
    let mine = w
        .scim(
            &bravo,
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Mine"})),
        )
        .await;
    let mine = mine.body["id"].as_str().unwrap().to_owned();
    let r = w
        .scim(
            &bravo,
            Method::PATCH,
            &format!("/Groups/{mine}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": aowner}]}])),
        )
        .await;
    assert_eq!(scim_status(&r), (400, "invalidValue"), "{b:?}: {}", r.body);
    assert_eq!(
        groups(&w, &w.bowner, "bravo").await,
        [("mine".to_owned(), vec![])]
    );

    // Alpha is as it was.
    assert_eq!(
        w.members(&w.aowner, "alpha").await,
        [
            ("amember".into(), "member".into()),
            ("aowner".into(), "owner".into())
        ],
        "{b:?}"
    );
    assert_eq!(
        w.members(&w.bowner, "bravo").await,
        [
            ("badmin".into(), "admin".into()),
            ("bowner".into(), "owner".into())
        ],
        "{b:?}"
    );
    assert!(w.whoami(&w.aowner).await.is_some() && w.whoami(&w.amember).await.is_some());
    let after = w
        .scim(&alpha, Method::GET, &format!("/Groups/{agroup}"), None)
        .await
        .body;
    assert_eq!(after, before_alpha_group, "{b:?}");
    assert!(
        w.events(&w.aowner, "alpha", "member.add")
            .await
            .iter()
            .all(|e| !e["actor"].as_str().unwrap().starts_with("scim:")),
        "{b:?}: bravo's SCIM wrote in alpha's chain"
    );
}

/// A SCIM token works only at `/scim/v2`, and nothing else works there; only owners create and
/// revoke SCIM tokens, and a revoked one stops at once.
async fn credentials_stay_where_they_belong(b: Backend) {
    let w = World::start(b).await;
    let scim = w.scim_token(&w.aowner, "alpha").await;
    assert!(scim.starts_with("coffer_scim_") && scim.len() == "coffer_scim_".len() + 43);
    // A SCIM token at the API: refused, saying why.
    for path in [
        "/api/v1/whoami",
        "/api/v1/orgs/alpha/secrets",
        "/api/v1/orgs/alpha/users",
    ] {
        let r = w.call(&scim, Method::GET, path, None).await;
        assert_eq!(r.status, 401, "{b:?} {path}: {}", r.body);
        assert!(r.message().contains("SCIM token"), "{}", r.message());
    }
    // API tokens, the operator's, a session, or nothing at SCIM: refused.
    for token in [&w.aowner, &w.app.operator, &w.amember, &String::new()] {
        let r = w.scim(token, Method::GET, "/Users", None).await;
        assert_eq!(r.status, 401, "{b:?}: {}", r.body);
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(r.body["status"], "401");
    }
    let http = reqwest::Client::new();
    let signed = http
        .post(format!("{}/api/v1/session", w.app.base))
        .json(&json!({"org": "alpha", "user": "aowner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let cookie = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("coffer_session="))
        .expect("a session cookie");
    let r = http
        .get(format!("{}/scim/v2/Users", w.app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{b:?}: a session at SCIM");

    // Who may hold one: owners create and revoke, admins list, nobody reaches another org.
    let mint = |token: String, org: &'static str| {
        let w = &w;
        async move {
            w.call(
                &token,
                Method::POST,
                &format!("/api/v1/orgs/{org}/scim/tokens"),
                Some(json!({"name": "x"})),
            )
            .await
        }
    };
    assert_eq!(mint(w.badmin.clone(), "bravo").await.status, 403, "{b:?}");
    assert_eq!(mint(w.amember.clone(), "alpha").await.status, 403, "{b:?}");
    assert_eq!(mint(w.bowner.clone(), "alpha").await.status, 404, "{b:?}");
    assert_eq!(
        mint(w.app.operator.clone(), "alpha").await.status,
        404,
        "{b:?}"
    );
    let list = w
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/scim/tokens",
            None,
        )
        .await;
    assert_eq!(list.status, 200);
    let listed = &list.body["tokens"][0];
    let id = listed["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["name"], "idp");
    assert!(listed.get("token").is_none() && !list.body.to_string().contains(&scim));
    let bravo = w.scim_token(&w.bowner, "bravo").await;
    let blist = w
        .call(
            &w.badmin,
            Method::GET,
            "/api/v1/orgs/bravo/scim/tokens",
            None,
        )
        .await;
    assert_eq!(blist.status, 200, "admins see the list");
    let bid = blist.body["tokens"][0]["id"].as_str().unwrap().to_owned();
    let revoke = |token: String, org: &'static str, id: String| {
        let w = &w;
        async move {
            w.call(
                &token,
                Method::DELETE,
                &format!("/api/v1/orgs/{org}/scim/tokens/{id}"),
                None,
            )
            .await
        }
    };
    assert_eq!(
        revoke(w.badmin.clone(), "bravo", bid.clone()).await.status,
        403
    );
    assert_eq!(
        revoke(w.bowner.clone(), "alpha", id.clone()).await.status,
        404
    );
    assert_eq!(
        revoke(w.bowner.clone(), "bravo", id.clone()).await.status,
        404,
        "alpha's id in bravo"
    );
    assert_eq!(w.scim(&scim, Method::GET, "/Users", None).await.status, 200);
    // Revoked: the next request is refused (on every node: nothing is cached).
    assert_eq!(
        revoke(w.aowner.clone(), "alpha", id.clone()).await.status,
        204
    );
    let r = w.scim(&scim, Method::GET, "/Users", None).await;
    assert_eq!(r.status, 401, "{b:?}: {}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        revoke(w.aowner.clone(), "alpha", id.clone()).await.status,
        204,
        "again: no change"
    );
    assert_eq!(
        w.scim(&bravo, Method::GET, "/Users", None).await.status,
        200
    );
    assert_eq!(
        w.events(&w.aowner, "alpha", "scim.token_create")
            .await
            .len(),
        1
    );
    assert_eq!(
        w.events(&w.aowner, "alpha", "scim.token_revoke")
            .await
            .len(),
        1
    );
}

/// Deactivation is removal (the member's token stops at the next request, their groups go) and
/// they stay listed inactive; reactivation gives the membership back, not the credentials;
/// owners are out of reach; deleting ends the membership and the User.
async fn deactivation_is_removal(b: Backend) {
    let w = World::start(b).await;
    let scim = w.scim_token(&w.aowner, "alpha").await;
    let amember = w.user_id(&scim, "amember").await.unwrap();
    let aowner = w.user_id(&scim, "aowner").await.unwrap();
    let g = w
        .scim(
            &scim,
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "dba", "members": [{"value": amember}]}),
            ),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let grant = w
        .app
        .grant_as(&w.aowner, "alpha", "*", "group:dba", "read")
        .await;
    assert_eq!(grant.status, 201, "{}", grant.body);
    assert!(w.whoami(&w.amember).await.is_some());

    let off = w
        .scim(
            &scim,
            Method::PATCH,
            &format!("/Users/{amember}"),
            ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(off.status, 200, "{b:?}: {}", off.body);
    assert_eq!(off.body["active"], false);
    assert!(
        w.whoami(&w.amember).await.is_none(),
        "{b:?}: the token still works"
    );
    assert_eq!(
        w.members(&w.aowner, "alpha").await,
        [("aowner".into(), "owner".into())]
    );
    assert_eq!(
        groups(&w, &w.aowner, "alpha").await,
        [("dba".to_owned(), vec![])]
    );
    let listed = w
        .scim(
            &scim,
            Method::GET,
            "/Users?filter=active%20eq%20false",
            None,
        )
        .await;
    assert_eq!(ids(&listed.body), std::slice::from_ref(&amember), "{b:?}");
    let removed = w.events(&w.aowner, "alpha", "member.remove").await;
    let e = removed.last().unwrap();
    assert_eq!(e["target"], "amember");
    assert_eq!(e["actor"], "scim:idp");
    assert_eq!(
        (
            e["details"]["via"].as_str(),
            e["details"]["deactivated"].as_bool()
        ),
        (Some("scim"), Some(true))
    );
    // A deactivated person is not a group member either.
    let r = w
        .scim(
            &scim,
            Method::PATCH,
            &format!("/Groups/{}", g.body["id"].as_str().unwrap()),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": amember}]}])),
        )
        .await;
    assert_eq!(scim_status(&r), (400, "invalidValue"));

    // Back: a member again, with none of the old credentials.
    let on = w
        .scim(
            &scim,
            Method::PUT,
            &format!("/Users/{amember}"),
            Some(json!({"schemas": [USER], "userName": "AMember", "active": true})),
        )
        .await;
    assert_eq!(on.status, 200, "{b:?}: {}", on.body);
    assert_eq!(on.body["active"], true);
    assert!(
        w.members(&w.aowner, "alpha")
            .await
            .contains(&("amember".into(), "member".into()))
    );
    assert!(
        w.whoami(&w.amember).await.is_none(),
        "{b:?}: an old token came back"
    );
    // userName never changes.
    let r = w
        .scim(
            &scim,
            Method::PUT,
            &format!("/Users/{amember}"),
            Some(json!({"schemas": [USER], "userName": "someone-else"})),
        )
        .await;
    assert_eq!(scim_status(&r), (400, "mutability"));

    // The owner is out of reach, whatever the verb.
    for (method, body) in [
        (
            Method::PATCH,
            ops(json!([{"op": "replace", "path": "active", "value": false}])),
        ),
        (
            Method::PATCH,
            ops(json!([{"op": "replace", "path": "displayName", "value": "x"}])),
        ),
        (
            Method::PUT,
            Some(json!({"schemas": [USER], "userName": "aowner"})),
        ),
        (Method::DELETE, None),
    ] {
        let r = w
            .scim(&scim, method.clone(), &format!("/Users/{aowner}"), body)
            .await;
        assert_eq!(r.status, 403, "{b:?} {method}: {}", r.body);
        assert!(r.body["detail"].as_str().unwrap().contains("owner"));
    }
    assert!(w.whoami(&w.aowner).await.is_some());

    // Deleting: the membership ends and the User is gone.
    let del = w
        .scim(&scim, Method::DELETE, &format!("/Users/{amember}"), None)
        .await;
    assert_eq!(del.status, 204, "{}", del.body);
    let r = w
        .scim(&scim, Method::GET, &format!("/Users/{amember}"), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        w.members(&w.aowner, "alpha").await,
        [("aowner".into(), "owner".into())]
    );

    // An admin is within reach (the token acts as one); they come back as a member.
    let bravo = w.scim_token(&w.bowner, "bravo").await;
    let badmin = w.user_id(&bravo, "badmin").await.unwrap();
    let r = w
        .scim(
            &bravo,
            Method::PATCH,
            &format!("/Users/{badmin}"),
            ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(r.status, 200, "{b:?}: {}", r.body);
    assert!(w.whoami(&w.badmin).await.is_none());
}

/// What SCIM creates: new people only (case-insensitive names, no password), deactivated ones
/// if asked; groups named after their display names; filters and pages.
async fn scim_creates_new_people_and_named_groups(b: Backend) {
    let w = World::start(b).await;
    let scim = w.scim_token(&w.aowner, "alpha").await;
    let r = w
        .scim(
            &scim,
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER], "userName": "Carol@Acme.com", "externalId": "00u1",
                "displayName": "Carol C", "active": true,
                "name": {"givenName": "Carol"}, "emails": [{"value": "carol@acme.com"}],
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{b:?}: {}", r.body);
    let carol = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &r.body["userName"],
            &r.body["externalId"],
            &r.body["active"]
        ),
        (&json!("carol@acme.com"), &json!("00u1"), &json!(true))
    );
    assert!(
        r.body.get("name").is_none(),
        "what Coffer does not store is not echoed"
    );
    assert!(
        w.members(&w.aowner, "alpha")
            .await
            .contains(&("carol@acme.com".into(), "member".into()))
    );
    let added = w.events(&w.aowner, "alpha", "member.add").await;
    assert_eq!(added.last().unwrap()["details"]["created"], true);
    // No password: nobody signs in as carol except through the org's single sign-on.
    let signin = w
        .call(
            "",
            Method::POST,
            "/api/v1/session",
            Some(json!({"org": "alpha", "user": "carol@acme.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(signin.status, 401, "{}", signin.body);
    // Taken names, in any case, in any org.
    for (token, name) in [(&scim, "CAROL@acme.com"), (&scim, "bowner")] {
        let r = w
            .scim(
                token,
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": name})),
            )
            .await;
        assert_eq!(scim_status(&r), (409, "uniqueness"), "{name}");
    }
    let bravo = w.scim_token(&w.bowner, "bravo").await;
    let r = w
        .scim(
            &bravo,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "carol@acme.com"})),
        )
        .await;
    assert_eq!(scim_status(&r), (409, "uniqueness"));
    let r = w
        .scim(
            &scim,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "not a name"})),
        )
        .await;
    assert_eq!(scim_status(&r), (400, "invalidValue"));
    let r = w
        .scim(
            &scim,
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "dave", "active": false})),
        )
        .await;
    assert_eq!((r.status.as_u16(), &r.body["active"]), (201, &json!(false)));
    assert!(
        !w.members(&w.aowner, "alpha")
            .await
            .iter()
            .any(|(n, _)| n == "dave")
    );

    // Filters: eq and and, case as the schema says; anything else is refused with a sentence.
    let q = |f: &str| {
        format!(
            "/Users?filter={}",
            url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        )
    };
    for (filter, want) in [
        (r#"userName eq "CAROL@ACME.COM""#, vec![carol.clone()]),
        (
            r#"externalId eq "00u1" and active eq true"#,
            vec![carol.clone()],
        ),
        (r#"externalId eq "00U1""#, vec![]),
    ] {
        let r = w.scim(&scim, Method::GET, &q(filter), None).await;
        assert_eq!(ids(&r.body), want, "{filter}");
    }
    let r = w
        .scim(&scim, Method::GET, &q(r#"userName co "carol""#), None)
        .await;
    assert_eq!(scim_status(&r), (400, "invalidFilter"));
    assert!(r.body["detail"].as_str().unwrap().contains("`eq`"));
    let r = w
        .scim(&scim, Method::GET, "/Users?sortBy=userName", None)
        .await;
    assert_eq!(r.status, 400);
    // Pages: 4 Users (amember, aowner, carol, dave), two at a time.
    let page = w
        .scim(&scim, Method::GET, "/Users?startIndex=3&count=2", None)
        .await;
    assert_eq!(
        (
            &page.body["totalResults"],
            &page.body["startIndex"],
            &page.body["itemsPerPage"]
        ),
        (&json!(4), &json!(3), &json!(2))
    );
    let only = w
        .scim(
            &scim,
            Method::GET,
            &format!("/Users/{carol}?attributes=externalId"),
            None,
        )
        .await;
    assert_eq!(
        only.body,
        json!({"schemas": [USER], "id": carol, "externalId": "00u1"})
    );

    // Groups are named after their display names, made unique, renamed with them.
    let mk = |display: &'static str| {
        let (w, scim, carol) = (&w, &scim, carol.clone());
        async move {
            let r = w
                .scim(
                    scim,
                    Method::POST,
                    "/Groups",
                    Some(json!({"schemas": [GROUP], "displayName": display, "members": [{"value": carol, "display": "Carol"}]})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body
        }
    };
    let team = mk("Platform Team").await;
    let again = mk("platform team").await;
    assert_eq!(team["displayName"], "Platform Team");
    assert_eq!(team["members"][0]["value"], json!(carol));
    assert_eq!(
        groups(&w, &w.aowner, "alpha").await,
        [
            (
                "platform-team".to_owned(),
                vec!["user:carol@acme.com".to_owned()]
            ),
            (
                "platform-team-2".to_owned(),
                vec!["user:carol@acme.com".to_owned()]
            ),
        ]
    );
    let id = team["id"].as_str().unwrap();
    let r = w
        .scim(
            &scim,
            Method::PATCH,
            &format!("/Groups/{id}"),
            ops(json!([
                {"op": "replace", "path": "displayName", "value": "SRE"},
                {"op": "remove", "path": format!("members[value eq \"{carol}\"]")},
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "SRE");
    assert!(r.body.get("members").is_none());
    let names: Vec<String> = groups(&w, &w.aowner, "alpha")
        .await
        .into_iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(names, ["platform-team-2", "sre"]);
    let renamed = w.events(&w.aowner, "alpha", "group.rename").await;
    assert_eq!(renamed.len(), 1);
    assert_eq!(
        w.events(&w.aowner, "alpha", "group.member_remove")
            .await
            .len(),
        1
    );
    let r = w
        .scim(
            &scim,
            Method::GET,
            "/Groups?filter=displayName%20eq%20%22sre%22",
            None,
        )
        .await;
    assert_eq!(ids(&r.body), [id.to_owned()]);
    let del = w
        .scim(
            &scim,
            Method::DELETE,
            &format!("/Groups/{}", again["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(groups(&w, &w.aowner, "alpha").await.len(), 1);
}

#[tokio::test]
async fn another_orgs_scim_reaches_nothing_sqlite() {
    another_orgs_scim_reaches_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn another_orgs_scim_reaches_nothing_postgres() {
    another_orgs_scim_reaches_nothing(Backend::Postgres).await;
}

#[tokio::test]
async fn credentials_stay_where_they_belong_sqlite() {
    credentials_stay_where_they_belong(Backend::Sqlite).await;
}

#[tokio::test]
async fn credentials_stay_where_they_belong_postgres() {
    credentials_stay_where_they_belong(Backend::Postgres).await;
}

#[tokio::test]
async fn deactivation_is_removal_sqlite() {
    deactivation_is_removal(Backend::Sqlite).await;
}

#[tokio::test]
async fn deactivation_is_removal_postgres() {
    deactivation_is_removal(Backend::Postgres).await;
}

#[tokio::test]
async fn scim_creates_new_people_and_named_groups_sqlite() {
    scim_creates_new_people_and_named_groups(Backend::Sqlite).await;
}

#[tokio::test]
async fn scim_creates_new_people_and_named_groups_postgres() {
    scim_creates_new_people_and_named_groups(Backend::Postgres).await;
}
