//! SCIM 2.0 provisioning per org (docs/scim.md), black-box against the real app on port 0: the
//! real checker (`scim2-cli`'s `scim2 … test`, which runs every check of `scim2-tester` and
//! fails on anything short of success) against `/scim/v2`; the tenancy of SCIM as chains across
//! two orgs on the SQLite catalog and on PostgreSQL — one org's token never sees, changes or
//! creates the other's people or groups, credentials of one kind never work where the other's
//! do, only owners hold SCIM tokens, deactivation cuts credentials at once; and single sign-on
//! meeting the people SCIM created, against a real OpenID provider.

#[path = "../support/backend.rs"]
mod backend;
#[path = "../support/browser.rs"]
mod browser;
#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;

mod chains;
mod checker;
mod sso;

use backend::catalog;
pub use backend::{Backend, free_port};
use coffer_server::testing::pg::TestDb;
use helpers::{Resp, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

/// Org `alpha` (owner `aowner`, member `amember`) and org `bravo` (owner `bowner`, admin
/// `badmin`), every person seated through an invitation they accepted, on one catalog.
pub struct World {
    pub app: TestApp,
    /// Kept alive as long as the app.
    _db: Option<TestDb>,
    pub aowner: String,
    pub amember: String,
    pub bowner: String,
    pub badmin: String,
}

impl World {
    pub async fn start(backend: Backend) -> World {
        Self::start_with(backend, |_| {}).await
    }

    /// Like [`World::start`], with the config adjusted by `tweak` (after the catalog and the
    /// listen address are set).
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut coffer_server::config::Config),
    ) -> World {
        let (settings, db) = catalog(backend).await;
        let port = free_port();
        let app = spawn_with(move |c| {
            c.listen = format!("127.0.0.1:{port}");
            c.storage.public_origin = Some(format!("http://127.0.0.1:{port}"));
            if let Some(s) = settings {
                c.catalog = s;
            }
            tweak(c);
        })
        .await;
        let aowner = app.org_with_owner("alpha", "aowner").await;
        let amember = app.member_as(&aowner, "alpha", "amember", "member").await;
        let bowner = app.org_with_owner("bravo", "bowner").await;
        let badmin = app.member_as(&bowner, "bravo", "badmin", "admin").await;
        World {
            app,
            _db: db,
            aowner,
            amember,
            bowner,
            badmin,
        }
    }

    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app.call(token, method, path, body).await
    }

    /// `owner` creates a SCIM token for `org`; returns its value.
    pub async fn scim_token(&self, owner: &str, org: &str) -> String {
        let r = self
            .call(
                owner,
                Method::POST,
                &format!("/api/v1/orgs/{org}/scim/tokens"),
                Some(json!({"name": "idp"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// One SCIM request under `/scim/v2` with `token`, sent as `application/scim+json`.
    pub async fn scim(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/scim/v2{path}", self.app.base))
            .header("accept", "application/scim+json");
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        if status != 204 {
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            assert_eq!(ct, "application/scim+json", "{path}");
        }
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Who `token` is at `/api/v1`, or `None` if it does not authenticate.
    pub async fn whoami(&self, token: &str) -> Option<Value> {
        let r = self.call(token, Method::GET, "/api/v1/whoami", None).await;
        (r.status == 200).then_some(r.body)
    }

    /// The id of the person `name`, as `owner` of `org` sees them in its member list... which
    /// does not show ids, so: the User of `org` named `name`, through `org`'s SCIM `token`.
    pub async fn user_id(&self, token: &str, name: &str) -> Option<String> {
        let r = self
            .scim(
                token,
                Method::GET,
                &format!("/Users?filter=userName%20eq%20%22{name}%22"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["Resources"][0]["id"].as_str().map(str::to_owned)
    }

    /// `(name, role)` of every member of `org`, sorted, as `owner` sees them.
    pub async fn members(&self, owner: &str, org: &str) -> Vec<(String, String)> {
        let r = self
            .call(
                owner,
                Method::GET,
                &format!("/api/v1/orgs/{org}/users"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut m: Vec<_> = r.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["name"].as_str().unwrap().to_owned(),
                    u["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        m.sort();
        m
    }

    /// The events of `org` with `action`, as `owner` reads them.
    pub async fn events(&self, owner: &str, org: &str, action: &str) -> Vec<Value> {
        let r = self
            .call(
                owner,
                Method::GET,
                &format!("/api/v1/orgs/{org}/audit?action={action}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["events"].as_array().unwrap().clone()
    }
}
