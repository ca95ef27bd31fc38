//! `POST /api/v1/orgs/{org}/recovery-kit` through HTTP: the kit of a local org is its org keys
//! (each one opens the org's envelopes), answered with `Cache-Control: no-store` and recorded as
//! `org.recovery_kit`; the current password is required and checked; people without a password
//! are refused. Who may take one at all is the policy table (`domain::policy`) and the CLI's
//! end-to-end test (crates/coffer/tests/cli_e2e/recovery.rs), which also opens envelopes with it.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_local_orgs_kit_holds_every_org_key_version_and_is_never_cached() {
    let t = spawn_app().await;
    let olive = t.org_with_owner("acme", "olive").await;
    let kit = "/api/v1/orgs/acme/recovery-kit";
    t.call(&olive, Method::POST, "/api/v1/orgs/acme/keys/rotate", None)
        .await;

    let r = t.call(&olive, Method::POST, kit, Some(json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "current_password_required");
    let r = t
        .call(
            &olive,
            Method::POST,
            kit,
            Some(json!({"current_password": "not the password"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "current_password_wrong");
    // The bootstrap owner of `default` has no password yet: refused, with what to do.
    let r = t
        .call(
            &t.token,
            Method::POST,
            "/api/v1/orgs/default/recovery-kit",
            Some(json!({"current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.message().contains("coffer passwd"), "{}", r.body);

    let answer = reqwest::Client::new()
        .post(format!("{}{kit}", t.base))
        .bearer_auth(&olive)
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["format"], "coffer-recovery-kit");
    assert_eq!(body["version"], 1);
    assert_eq!(body["slug"], "acme");
    assert_eq!(body["root_key"], "local");
    assert_eq!(body["storage"], json!({"kind": "default"}));
    let keys = body["org_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(k["version"], i + 1);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(k["key"].as_str().unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
        assert!(k.get("wraps").is_none());
    }
    assert_ne!(keys[0]["key"], keys[1]["key"]);

    let events = t
        .call(
            &olive,
            Method::GET,
            "/api/v1/orgs/acme/audit?action=org.recovery_kit",
            None,
        )
        .await;
    let events = events.body["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        1,
        "only the kit that was handed out: {events:?}"
    );
    assert_eq!(events[0]["details"]["key_versions"], json!([1, 2]));
    // The operator does not see the org's kit at all.
    let r = t
        .call(
            &t.operator,
            Method::POST,
            kit,
            Some(json!({"current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}
