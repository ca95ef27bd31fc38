//! BYOK end to end against real KMS and STS APIs (a moto server started by the harness): the app
//! runs on port 0 with `[byok]` pointed at moto, and the tests drive it over HTTP like an org
//! admin would — enable, validate, revoke, restore, outage, throttling and one region down
//! (`kms_faults`, through the test support's fault proxy) — reading `/metrics` for KMS calls.
//!
//! moto facts these tests rely on (docs/aws.md): Decrypt keeps working with a disabled or
//! pending-deletion key, so suspension is observed through the health probe's DescribeKey;
//! DisableKey/EnableKey/ScheduleKeyDeletion take the bare key id, not the ARN.

#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../support/mod.rs"]
mod support;

mod denial;
mod enable;
mod kms_faults;
mod load;
mod revoke;
mod two_nodes;
mod validation;

use coffer_server::aws::AwsSettings;
use coffer_server::config::Config;
use helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use support::kms::{REGIONS, key_id, region_keys};
use support::moto::{Moto, unique};

/// Coffer's principal as printed in the setup documents (moto does not check it by default).
pub const PRINCIPAL: &str = "arn:aws:iam::123456789012:user/coffer-service";

/// An app with BYOK pointed at `moto`, an `eu` org `acme` with an owner, and one key per region.
pub struct Env {
    pub app: TestApp,
    /// The owner's token in `acme`.
    pub owner: String,
    pub org_id: String,
    /// Key ARNs in REGIONS order.
    pub keys: Vec<String>,
    /// KMS admin clients per region (to revoke keys).
    pub admin: Vec<aws_sdk_kms::Client>,
    pub role: String,
}

pub async fn env(moto: &Moto, tweak: impl FnOnce(&mut Config)) -> Env {
    let app = spawn_with(|c| {
        c.byok.principal_arn = Some(PRINCIPAL.into());
        c.byok.aws = AwsSettings {
            region: None,
            ..moto.settings(REGIONS[0])
        };
        c.keys.probe_interval = std::time::Duration::ZERO;
        tweak(c);
    })
    .await;
    let (org_id, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    let (keys, admin) = region_keys(&moto.settings(REGIONS[0])).await;
    let role = moto.create_role(&unique("org-role"), "{}").await;
    Env {
        app,
        owner,
        org_id,
        keys,
        admin,
        role,
    }
}

/// A PUT body enabling BYOK with `keys` as (region, ARN).
pub fn byok_body(role: &str, keys: &[(&str, &str)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(r, a)| json!({"region": r, "key_arn": a}))
        .collect();
    json!({"provider": "aws-kms", "role_arn": role, "keys": keys})
}

impl Env {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app.call(&self.owner, method, path, body).await
    }

    pub async fn keys_view(&self) -> Resp {
        self.call(Method::GET, "/api/v1/orgs/acme/keys", None).await
    }

    pub async fn put_keys(&self, body: Value) -> Resp {
        self.call(Method::PUT, "/api/v1/orgs/acme/keys", Some(body))
            .await
    }

    /// Enables BYOK with the env's two keys; panics unless 200.
    pub async fn enable(&self) -> Resp {
        let body = byok_body(
            &self.role,
            &[(REGIONS[0], &self.keys[0]), (REGIONS[1], &self.keys[1])],
        );
        let r = self.put_keys(body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    pub async fn put(&self, scope: &str, name: &str, value: &[u8]) -> Resp {
        self.app
            .put_secret_as(&self.owner, "acme", scope, name, value, json!({}))
            .await
    }

    pub async fn reveal(&self, scope: &str, name: &str) -> Resp {
        self.app.reveal_as(&self.owner, "acme", scope, name).await
    }

    /// KMS calls of `operation` so far (all orgs, regions, outcomes), from /metrics.
    pub async fn kms(&self, operation: &str) -> f64 {
        self.app
            .metric("coffer_kms_requests_total", &[("operation", operation)])
            .await
    }

    /// Events of `action` in acme's audit trail.
    pub async fn audit_count(&self, action: &str) -> usize {
        let r = self
            .call(
                Method::GET,
                &format!("/api/v1/orgs/acme/audit?action={action}&limit=1000"),
                None,
            )
            .await;
        r.body["events"].as_array().map_or(0, Vec::len)
    }

    pub async fn disable_key(&self, i: usize) {
        self.admin[i]
            .disable_key()
            .key_id(key_id(&self.keys[i]))
            .send()
            .await
            .unwrap();
    }

    pub async fn enable_key(&self, i: usize) {
        self.admin[i]
            .enable_key()
            .key_id(key_id(&self.keys[i]))
            .send()
            .await
            .unwrap();
    }
}
