//! The world every tenancy test starts from, on either catalog: org `alpha` (owner `aowner`,
//! member `amember`, a secret `ALPHA-1/db`) and org `bravo` (owner `bowner`, admin `badmin` —
//! the attacker), every person seated through an invitation they accepted with a password.

pub use crate::backend::Backend;
use crate::backend::catalog;
use crate::helpers::*;
use coffer_server::testing::pg::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// An app and the people in it.
pub struct World {
    pub app: TestApp,
    /// Kept alive as long as the app (dropped after it).
    _db: Option<TestDb>,
    pub aowner: String,
    pub amember: String,
    pub bowner: String,
    pub badmin: String,
}

/// The secret in alpha.
pub const ALPHA_SECRET: &str = "alpha's secret value";

impl World {
    pub async fn start(backend: Backend) -> World {
        let (settings, db) = catalog(backend).await;
        let app = spawn_with(move |c| {
            if let Some(s) = settings {
                c.catalog = s;
            }
        })
        .await;
        let aowner = app.org_with_owner("alpha", "aowner").await;
        let amember = app.member_as(&aowner, "alpha", "amember", "member").await;
        let bowner = app.org_with_owner("bravo", "bowner").await;
        let badmin = app.member_as(&bowner, "bravo", "badmin", "admin").await;
        let r = app
            .put_secret_as(
                &aowner,
                "alpha",
                "ALPHA-1",
                "db",
                ALPHA_SECRET.as_bytes(),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
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

    /// Who `token` is, or `None` if it does not authenticate.
    pub async fn whoami(&self, token: &str) -> Option<Value> {
        let r = self.call(token, Method::GET, "/api/v1/whoami", None).await;
        (r.status == 200).then_some(r.body)
    }

    /// `(name, kind, role)` of every member of `org`, sorted, as its owner `owner` sees them.
    pub async fn members(&self, owner: &str, org: &str) -> Vec<(String, String, String)> {
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
                let s = |k: &str| u[k].as_str().unwrap().to_owned();
                (s("name"), s("kind"), s("role"))
            })
            .collect();
        m.sort();
        m
    }

    /// Panics unless alpha is exactly as the world made it (its people, their working tokens,
    /// its secret, and no event in its chain by anyone but its own people), and bravo has no
    /// owner but bowner. `context` names the step.
    pub async fn assert_untouched(&self, context: &str) {
        let alpha = self.members(&self.aowner, "alpha").await;
        assert_eq!(
            alpha,
            [
                ("amember".into(), "person".into(), "member".into()),
                ("aowner".into(), "person".into(), "owner".into())
            ],
            "{context}: alpha's members changed"
        );
        assert!(
            self.whoami(&self.amember).await.is_some(),
            "{context}: amember's token was revoked"
        );
        let r = self
            .app
            .reveal_as(&self.aowner, "alpha", "ALPHA-1", "db")
            .await;
        assert_eq!(r.status, 200, "{context}: {}", r.body);
        assert_eq!(
            B64.decode(r.body["value"].as_str().unwrap()).unwrap(),
            ALPHA_SECRET.as_bytes(),
            "{context}: alpha's secret changed"
        );
        let audit = self
            .call(
                &self.aowner,
                Method::GET,
                "/api/v1/orgs/alpha/audit?limit=1000",
                None,
            )
            .await;
        for e in audit.body["events"].as_array().unwrap() {
            let actor = e["actor"].as_str().unwrap();
            assert!(
                ["aowner", "amember", "operator", "anonymous"].contains(&actor),
                "{context}: {actor} acted in alpha: {e}"
            );
        }
        let owners: Vec<_> = self
            .members(&self.bowner, "bravo")
            .await
            .into_iter()
            .filter(|(_, _, role)| role == "owner")
            .map(|(name, _, _)| name)
            .collect();
        assert_eq!(owners, ["bowner"], "{context}: bravo got another owner");
    }
}
