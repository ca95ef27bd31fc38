//! The fake's own tests, both flavours: what Coffer's tests rely on it to do.

use super::{Flavor, JiraFake};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const CLIENT: &str = "coffer-client";
const SECRET: &str = "coffer-secret";
const REDIRECT: &str = "http://127.0.0.1:9/jira/callback";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// The authorize URL Coffer would build.
fn authorize(j: &JiraFake, state: &str, challenge: Option<&str>) -> String {
    let mut u = url::Url::parse(&j.authorize_url()).unwrap();
    {
        let mut q = u.query_pairs_mut();
        match j.flavor() {
            Flavor::Cloud => {
                q.append_pair("audience", "api.atlassian.com")
                    .append_pair("client_id", CLIENT)
                    .append_pair(
                        "scope",
                        "read:jira-work write:jira-work read:jira-user offline_access",
                    )
                    .append_pair("redirect_uri", REDIRECT)
                    .append_pair("state", state)
                    .append_pair("response_type", "code")
                    .append_pair("prompt", "consent");
            }
            Flavor::DataCenter => {
                q.append_pair("client_id", CLIENT)
                    .append_pair("redirect_uri", REDIRECT)
                    .append_pair("response_type", "code")
                    .append_pair("scope", "READ WRITE")
                    .append_pair("state", state);
            }
        }
        if let Some(c) = challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
    }
    u.into()
}

fn s256(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// POSTs to the token endpoint: JSON for Cloud (as Atlassian documents), form for DC.
async fn token_call(j: &JiraFake, params: &[(&str, &str)]) -> (u16, Value) {
    let req = http().post(j.token_url());
    let req = match j.flavor() {
        Flavor::Cloud => {
            let body: serde_json::Map<String, Value> = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect();
            req.header("content-type", "application/json")
                .body(Value::Object(body).to_string())
        }
        Flavor::DataCenter => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(params)),
    };
    let res = req.send().await.expect("token endpoint answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn exchange(j: &JiraFake, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut p = vec![
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        p.push(("code_verifier", v));
    }
    token_call(j, &p).await
}

async fn refresh(j: &JiraFake, refresh_token: &str) -> (u16, Value) {
    token_call(
        j,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn get(url: &str, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = http()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the fake answers");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

async fn send(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.expect("the fake answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A fake with client, users alice (browses SEC and OPS) and bob (nothing), issues SEC-1, SEC-2,
/// OPS-1.
async fn world(flavor: Flavor) -> JiraFake {
    let j = JiraFake::start(flavor).await;
    j.register_client(CLIENT, SECRET, REDIRECT);
    j.add_user("alice");
    j.add_user("bob");
    j.add_project("SEC");
    j.add_project("OPS");
    j.add_issue("SEC-1");
    j.add_issue("SEC-2");
    j.add_issue("OPS-1");
    j.grant_browse("alice", "SEC");
    j.grant_browse("alice", "OPS");
    j
}

async fn oauth_dance(flavor: Flavor) {
    let j = world(flavor).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let back = j
        .consent(&authorize(&j, "st-1", Some(&s256(verifier))), "alice")
        .await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state"), "st-1");
    let code = param(&back, "code");

    let (status, t) = exchange(&j, &code, Some(verifier)).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["token_type"], "Bearer");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh1 = t["refresh_token"].as_str().unwrap().to_owned();

    // Codes are one-time.
    let (status, e) = exchange(&j, &code, Some(verifier)).await;
    let bad_grant = if flavor == Flavor::Cloud { 403 } else { 400 };
    assert_eq!(
        (status, e["error"].as_str()),
        (bad_grant, Some("invalid_grant"))
    );

    // The token works.
    let (status, _, me) = get(&format!("{}/myself", j.rest_base(2)), &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["active"], true);
    match flavor {
        Flavor::Cloud => {
            assert!(me["accountId"].as_str().unwrap().starts_with("557058:"));
            let (status, _, sites) = get(
                &format!("{}/oauth/token/accessible-resources", j.base()),
                &access,
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(sites[0]["id"], j.cloud_id());
            assert_eq!(sites[0]["url"], j.base());
            let (status, _, info) = get(&format!("{}/_edge/tenant_info", j.base()), "").await;
            assert_eq!(
                (status, info["cloudId"].as_str()),
                (200, Some(&*j.cloud_id()))
            );
        }
        Flavor::DataCenter => {
            assert_eq!(me["name"], "alice");
            let (status, _, info) = get(&format!("{}/rest/api/2/serverInfo", j.base()), "").await;
            assert_eq!(
                (status, info["deploymentType"].as_str()),
                (200, Some("Server"))
            );
        }
    }

    // Rotation: the refresh returns a new refresh token; the old one is refused.
    let (status, t2) = refresh(&j, &refresh1).await;
    assert_eq!(status, 200, "{t2}");
    let refresh2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    let (status, e) = refresh(&j, &refresh1).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (bad_grant, Some("invalid_grant"))
    );
    assert_eq!(j.tokens_issued("alice"), 2);

    // A wrong secret.
    let (status, e) = token_call(
        &j,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("client_secret", "wrong"),
            ("refresh_token", &refresh2),
        ],
    )
    .await;
    let bad_client = if flavor == Flavor::Cloud {
        "access_denied"
    } else {
        "invalid_client"
    };
    assert_eq!((status, e["error"].as_str()), (401, Some(bad_client)));

    // Expired access tokens answer 401; refresh still works.
    j.expire_access_tokens("alice");
    let (status, _, body) = get(&format!("{}/myself", j.rest_base(2)), &access).await;
    assert_eq!(status, 401);
    match flavor {
        Flavor::Cloud => assert_eq!(body, json!({"code": 401, "message": "Unauthorized"})),
        Flavor::DataCenter => assert_eq!(body["status-code"], 401),
    }
    let (status, t3) = refresh(&j, &refresh2).await;
    assert_eq!(status, 200);
    let access3 = t3["access_token"].as_str().unwrap().to_owned();
    let refresh3 = t3["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&format!("{}/myself", j.rest_base(2)), &access3).await.0,
        200
    );

    // Revoking the grant kills both.
    j.revoke_grant("alice");
    assert_eq!(
        get(&format!("{}/myself", j.rest_base(2)), &access3).await.0,
        401
    );
    let (status, e) = refresh(&j, &refresh3).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (bad_grant, Some("invalid_grant"))
    );

    // PKCE: a wrong verifier is refused.
    let back = j
        .consent(&authorize(&j, "st-2", Some(&s256(verifier))), "alice")
        .await;
    let (status, e) = exchange(
        &j,
        &param(&back, "code"),
        Some("another-verifier-another-verifier-0123456789"),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (bad_grant, Some("invalid_grant"))
    );
    // … and so is a missing one.
    let back = j
        .consent(&authorize(&j, "st-3", Some(&s256(verifier))), "alice")
        .await;
    assert_eq!(exchange(&j, &param(&back, "code"), None).await.0, bad_grant);

    // Expired codes.
    j.set_code_ttl(std::time::Duration::ZERO);
    let back = j.consent(&authorize(&j, "st-4", None), "alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(exchange(&j, &param(&back, "code"), None).await.0, bad_grant);

    // Refused authorize requests.
    assert!(j.try_consent(&authorize(&j, "s", None), "nobody").is_err());
    let wrong_redirect = authorize(&j, "s", None).replace("9%2Fjira", "9%2Fevil");
    assert!(j.try_consent(&wrong_redirect, "alice").is_err());
    // The authorize page itself answers 200 to the browser.
    let res = http().get(authorize(&j, "s", None)).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn cloud_oauth_dance() {
    oauth_dance(Flavor::Cloud).await;
}

#[tokio::test]
async fn dc_oauth_dance() {
    oauth_dance(Flavor::DataCenter).await;
}

#[tokio::test]
async fn cloud_without_offline_access_gets_no_refresh_token() {
    let j = world(Flavor::Cloud).await;
    let url = authorize(&j, "s", None).replace("+offline_access", "");
    let back = j.consent(&url, "alice").await;
    let (status, t) = exchange(&j, &param(&back, "code"), None).await;
    assert_eq!(status, 200);
    assert!(t.get("refresh_token").is_none(), "{t}");
    // Cloud's token endpoint takes form bodies too; DC's takes form only.
    let back = j.consent(&authorize(&j, "s", None), "alice").await;
    let res = http()
        .post(j.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("code", &param(&back, "code")),
            ("redirect_uri", REDIRECT),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
#[should_panic(expected = "response_type must be code")]
async fn consent_panics_on_a_malformed_authorize_url() {
    let j = world(Flavor::DataCenter).await;
    let url = authorize(&j, "s", None).replace("response_type=code", "response_type=token");
    j.consent(&url, "alice").await;
}

async fn permissions(flavor: Flavor) {
    let j = world(flavor).await;
    j.add_issue("SEC-3");
    j.restrict_issue("SEC-3", Some(&["bob"]));
    let alice = j.access_token("alice");
    let bob = j.access_token("bob");
    let rest = j.rest_base(2);
    let have = |v: &Value| v["permissions"]["BROWSE_PROJECTS"]["havePermission"].clone();

    // Allowed.
    let (status, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-1"),
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(have(&v), true);
    assert_eq!(v["permissions"]["BROWSE_PROJECTS"]["id"], "10");
    assert_eq!(v["permissions"]["BROWSE_PROJECTS"]["type"], "PROJECT");
    // Denied (no project browse).
    let (status, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-1"),
        &bob,
    )
    .await;
    assert_eq!((status, have(&v)), (200, json!(false)));
    // Restricted: alice browses SEC but is not in SEC-3's security level; bob is but does not
    // browse SEC.
    let (_, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-3"),
        &alice,
    )
    .await;
    assert_eq!(have(&v), false);
    j.grant_browse("bob", "SEC");
    let (_, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-3"),
        &bob,
    )
    .await;
    assert_eq!(have(&v), true);
    j.restrict_issue("SEC-3", None);
    let (_, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-3"),
        &alice,
    )
    .await;
    assert_eq!(have(&v), true);
    // issueId wins over issueKey.
    j.add_project("HID");
    let hidden = j.add_issue("HID-1");
    let (_, _, v) = get(
        &format!(
            "{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueId={hidden}&issueKey=SEC-1"
        ),
        &alice,
    )
    .await;
    assert_eq!(have(&v), false);
    let sec1 = j.st().issue("SEC-1").unwrap().id.clone();
    let (_, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueId={sec1}&issueKey=HID-1"),
        &alice,
    )
    .await;
    assert_eq!(have(&v), true);
    // Project context.
    let (_, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&projectKey=OPS"),
        &alice,
    )
    .await;
    assert_eq!(have(&v), true);
    // Missing issue, missing parameter.
    let (status, _, v) = get(
        &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS&issueKey=SEC-99"),
        &alice,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
    );
    let (status, _, v) = get(&format!("{rest}/mypermissions?issueKey=SEC-1"), &alice).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["errorMessages"][0],
        "The 'permissions' query parameter is required."
    );
    // Unauthenticated.
    assert_eq!(
        get(
            &format!("{rest}/mypermissions?permissions=BROWSE_PROJECTS"),
            "nope"
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn cloud_mypermissions() {
    permissions(Flavor::Cloud).await;
}

#[tokio::test]
async fn dc_mypermissions() {
    permissions(Flavor::DataCenter).await;
}

#[tokio::test]
async fn cloud_permissions_check() {
    let j = world(Flavor::Cloud).await;
    let sec = j.add_project("PRIV");
    let priv1 = j.add_issue("PRIV-1");
    let sec1 = j.add_issue("SEC-9");
    j.restrict_issue("SEC-9", Some(&["bob"]));
    let alice_id = j.add_user("alice");
    let bob_id = j.add_user("bob");
    let alice = j.access_token("alice");
    let url = format!("{}/permissions/check", j.rest_base(3));
    let sec_id = j.st().project_by_key("SEC").unwrap().id.clone();
    let (sec1_n, priv1_n): (u64, u64) = (sec1.parse().unwrap(), priv1.parse().unwrap());
    let issue1: u64 = j.st().issue("SEC-1").unwrap().id.parse().unwrap();
    let body = json!({"projectPermissions": [{
        "permissions": ["BROWSE_PROJECTS"],
        "issues": [issue1, sec1_n, priv1_n, 99999],
        "projects": [sec_id.parse::<u64>().unwrap(), sec.parse::<u64>().unwrap(), 99999],
    }]});
    let (status, v) = send(reqwest::Method::POST, &url, &alice, Some(body.clone())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["projectPermissions"],
        json!([{"permission": "BROWSE_PROJECTS", "issues": [issue1], "projects": [sec_id.parse::<u64>().unwrap()]}])
    );
    // Its own accountId is fine; someone else's needs Administer Jira.
    let mut mine = body.clone();
    mine["accountId"] = alice_id.into();
    assert_eq!(
        send(reqwest::Method::POST, &url, &alice, Some(mine))
            .await
            .0,
        200
    );
    let mut theirs = body;
    theirs["accountId"] = bob_id.into();
    assert_eq!(
        send(reqwest::Method::POST, &url, &alice, Some(theirs))
            .await
            .0,
        403
    );
    // At most 1000 issues.
    let many: Vec<u64> = (1..=1001).collect();
    let big = json!({"projectPermissions": [{"permissions": ["BROWSE_PROJECTS"], "issues": many}]});
    assert_eq!(
        send(reqwest::Method::POST, &url, &alice, Some(big)).await.0,
        400
    );
    // Not in Data Center.
    let dc = world(Flavor::DataCenter).await;
    let t = dc.access_token("alice");
    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{}/permissions/check", dc.rest_base(2)),
        &t,
        Some(json!({"projectPermissions": []})),
    )
    .await;
    assert_eq!(status, 404);
}

async fn issues_and_moves(flavor: Flavor) {
    let j = world(flavor).await;
    let alice = j.access_token("alice");
    let bob = j.access_token("bob");
    let rest = j.rest_base(2);
    let id = j.st().issue("SEC-1").unwrap().id.clone();

    let (status, _, v) = get(
        &format!("{rest}/issue/SEC-1?fields=summary,project"),
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["id"].as_str(), v["key"].as_str()),
        (Some(&*id), Some("SEC-1"))
    );
    assert_eq!(v["fields"]["project"]["key"], "SEC");
    assert_eq!(v["fields"]["summary"], "Issue SEC-1");
    assert!(v["fields"].get("status").is_none());
    // By id too; and fields=id leaves the fields out.
    let (status, _, v) = get(&format!("{rest}/issue/{id}?fields=id"), &alice).await;
    assert_eq!((status, v["fields"].clone()), (200, json!({})));
    // Invisible and missing look the same.
    let (s1, _, v1) = get(&format!("{rest}/issue/SEC-1"), &bob).await;
    let (s2, _, v2) = get(&format!("{rest}/issue/SEC-404"), &alice).await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(v1, v2);
    assert_eq!(
        v1["errorMessages"][0],
        "Issue does not exist or you do not have permission to see it."
    );

    // Moves: the old key resolves to the issue under its new key; the id stays.
    j.add_project("NEW");
    j.grant_browse("alice", "NEW");
    j.move_issue("SEC-1", "NEW-7");
    let (status, _, v) = get(&format!("{rest}/issue/SEC-1"), &alice).await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["id"].as_str(), v["key"].as_str()),
        (Some(&*id), Some("NEW-7"))
    );
    assert_eq!(v["fields"]["project"]["key"], "NEW");
    let ev = j.issue_moved_event("SEC-1", "NEW-7");
    assert_eq!(ev["webhookEvent"], "jira:issue_updated");
    assert_eq!(ev["issue_event_type_name"], "issue_moved");
    assert_eq!(ev["issue"]["key"], "NEW-7");
    let items = ev["changelog"]["items"].as_array().unwrap();
    let key_item = items.iter().find(|i| i["field"] == "Key").unwrap();
    assert_eq!(
        (
            key_item["fromString"].as_str(),
            key_item["toString"].as_str()
        ),
        (Some("SEC-1"), Some("NEW-7"))
    );
    let project_item = items.iter().find(|i| i["field"] == "project").unwrap();
    assert_eq!(project_item["toString"], "Project NEW");

    // Deletes.
    j.delete_issue("NEW-7");
    assert_eq!(get(&format!("{rest}/issue/SEC-1"), &alice).await.0, 404);
    assert_eq!(get(&format!("{rest}/issue/{id}"), &alice).await.0, 404);
    let ev = j.issue_deleted_event("NEW-7");
    assert_eq!(ev["webhookEvent"], "jira:issue_deleted");
    assert_eq!(
        (
            ev["issue"]["id"].as_str(),
            ev["issue"]["fields"]["project"]["key"].as_str()
        ),
        (Some(&*id), Some("NEW"))
    );
    j.delete_project("OPS");
    assert_eq!(get(&format!("{rest}/issue/OPS-1"), &alice).await.0, 404);
    let ev = j.project_deleted_event("OPS");
    assert_eq!(
        (ev["webhookEvent"].as_str(), ev["project"]["key"].as_str()),
        (Some("project_deleted"), Some("OPS"))
    );
}

#[tokio::test]
async fn cloud_issues_and_moves() {
    issues_and_moves(Flavor::Cloud).await;
}

#[tokio::test]
async fn dc_issues_and_moves() {
    issues_and_moves(Flavor::DataCenter).await;
}

#[tokio::test]
async fn cloud_wrong_cloud_id_and_site_url() {
    let j = world(Flavor::Cloud).await;
    let alice = j.access_token("alice");
    let wrong = format!(
        "{}/ex/jira/{}/rest/api/3/myself",
        j.base(),
        uuid::Uuid::new_v4()
    );
    assert_eq!(get(&wrong, &alice).await.0, 404);
    assert_eq!(
        get(&format!("{}/myself", j.rest_base(3)), &alice).await.0,
        200
    );
    // 3LO tokens do not work on the site URL.
    assert_eq!(
        get(&format!("{}/rest/api/3/myself", j.base()), &alice)
            .await
            .0,
        401
    );
}

async fn remote_links(flavor: Flavor) {
    let j = world(flavor).await;
    let alice = j.access_token("alice");
    let bob = j.access_token("bob");
    let rest = j.rest_base(2);
    let url = format!("{rest}/issue/SEC-2/remotelink");
    let link = |title: &str| {
        json!({
            "globalId": "coffer:issue=SEC-2",
            "application": {"type": "coffer", "name": "Coffer"},
            "relationship": "secrets",
            "object": {"url": "https://coffer.example/jira/SEC-2", "title": title, "summary": "Secrets for this issue",
                       "icon": {"url16x16": "https://coffer.example/icon.png", "title": "Coffer"}},
        })
    };
    let (status, v) = send(
        reqwest::Method::POST,
        &url,
        &alice,
        Some(link("Secrets (1)")),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].clone();
    assert!(
        v["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/issue/SEC-2/remotelink/{id}"))
    );
    let (status, v) = send(
        reqwest::Method::POST,
        &url,
        &alice,
        Some(link("Secrets (2)")),
    )
    .await;
    assert_eq!((status, v["id"].clone()), (200, id.clone()));
    let stored = j.remote_links("SEC-2");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["object"]["title"], "Secrets (2)");
    assert_eq!(stored[0]["globalId"], "coffer:issue=SEC-2");

    let (status, _, list) = get(&url, &alice).await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));
    let (status, _, one) = get(&format!("{url}?globalId=coffer%3Aissue%3DSEC-2"), &alice).await;
    assert_eq!((status, one["id"].clone()), (200, id.clone()));
    let (status, _, one) = get(&format!("{url}/{id}"), &alice).await;
    assert_eq!(
        (status, one["object"]["title"].as_str()),
        (200, Some("Secrets (2)"))
    );

    // Validation, visibility.
    let (status, v) = send(
        reqwest::Method::POST,
        &url,
        &alice,
        Some(json!({"object": {"url": "https://x"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(v["errors"].get("title").is_some(), "{v}");
    assert_eq!(
        send(reqwest::Method::POST, &url, &bob, Some(link("x")))
            .await
            .0,
        404
    );
    assert_eq!(get(&url, &bob).await.0, 404);

    // Delete by globalId.
    let del = format!("{url}?globalId=coffer%3Aissue%3DSEC-2");
    assert_eq!(send(reqwest::Method::DELETE, &del, &bob, None).await.0, 404);
    assert_eq!(
        send(reqwest::Method::DELETE, &del, &alice, None).await.0,
        204
    );
    assert_eq!(
        send(reqwest::Method::DELETE, &del, &alice, None).await.0,
        404
    );
    assert!(j.remote_links("SEC-2").is_empty());
    if flavor == Flavor::Cloud {
        let v3 = format!("{}/issue/SEC-2/remotelink", j.rest_base(3));
        assert_eq!(
            send(reqwest::Method::POST, &v3, &alice, Some(link("v3")))
                .await
                .0,
            201
        );
    }
}

#[tokio::test]
async fn cloud_remote_links() {
    remote_links(Flavor::Cloud).await;
}

#[tokio::test]
async fn dc_remote_links() {
    remote_links(Flavor::DataCenter).await;
}

async fn failures(flavor: Flavor) {
    let j = world(flavor).await;
    let alice = j.access_token("alice");
    let url = format!("{}/issue/SEC-1", j.rest_base(2));
    j.throttle(2, 7);
    for _ in 0..2 {
        let (status, h, _) = get(&url, &alice).await;
        assert_eq!(status, 429);
        assert_eq!(h["retry-after"], "7");
        match flavor {
            Flavor::Cloud => assert_eq!(h["ratelimit-reason"], "jira-burst-based"),
            Flavor::DataCenter => assert_eq!(h["x-ratelimit-remaining"], "0"),
        }
    }
    assert_eq!(get(&url, &alice).await.0, 200);

    j.set_down(true);
    let res = http().get(&url).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.text().await.unwrap().contains("503"));
    let (status, _) = token_call(&j, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, 503);
    j.set_down(false);
    assert_eq!(get(&url, &alice).await.0, 200);
    // Every request counted, failed ones included.
    assert_eq!(j.calls("/issue/SEC-1"), 5);
    assert_eq!(j.calls("/token"), 1);
}

#[tokio::test]
async fn cloud_throttle_and_down() {
    failures(Flavor::Cloud).await;
}

#[tokio::test]
async fn dc_throttle_and_down() {
    failures(Flavor::DataCenter).await;
}

#[tokio::test]
async fn stops_serving_on_drop() {
    let j = world(Flavor::DataCenter).await;
    let url = format!("{}/rest/api/2/serverInfo", j.base());
    let client = http();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    drop(j);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // Even the kept-alive connection of the same client is gone.
    assert!(client.get(&url).send().await.is_err());
}

#[test]
fn sign_webhook_matches_rfc_4231_case_2() {
    assert_eq!(
        JiraFake::sign_webhook("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[tokio::test]
async fn deliver_webhook_signs_the_bytes_sent() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, b: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((h, b));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let j = world(Flavor::DataCenter).await;
    let ev = j.issue_deleted_event("SEC-1");
    let res = JiraFake::deliver_webhook(&format!("http://{addr}/hook"), Some("s3cret"), &ev).await;
    assert_eq!(res.status(), 204);
    let (h, body) = rx.recv().await.unwrap();
    assert_eq!(
        h["x-hub-signature"].to_str().unwrap(),
        JiraFake::sign_webhook("s3cret", &body)
    );
    let got: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(got["issue"]["key"], "SEC-1");
    server.abort();
}
