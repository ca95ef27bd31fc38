//! Enabling BYOK: on a new org and on one in use (every secret still readable, no blob
//! re-encrypted, every org-key version re-wrapped per region, local wraps gone), and BYOK being
//! impossible to turn off. Validation failures are in `validation.rs`.

use crate::*;
use coffer_server::domain::OrgId;
use std::collections::BTreeMap;

pub(crate) fn blobs(app: &TestApp) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    files_under(&app.data_dir().join("blobs"))
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect()
}

pub(crate) async fn wraps(e: &Env) -> Vec<(u32, Vec<String>)> {
    let org = OrgId::from_uuid(e.org_id.parse().unwrap());
    let all = e.app.app.coffer().catalog().all_org_key_wraps(org).await;
    all.unwrap()
        .into_iter()
        .map(|(v, ws)| {
            (
                v,
                ws.into_iter()
                    .map(|w| w.provider + " " + &w.key_ref)
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn enable_on_a_new_org_then_both_regions_report_healthy() {
    let e = env(Moto::shared(), |_| {}).await;
    let setup = e
        .call(Method::GET, "/api/v1/orgs/acme/keys/setup", None)
        .await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let before = e.keys_view().await;
    assert_eq!(before.body["provider"], "local");
    assert_eq!(setup.body["external_id"], before.body["external_id"]);
    assert_eq!(setup.body["regions"], json!(REGIONS));
    assert_eq!(
        setup.body["trust_policy"]["Statement"][0]["Principal"]["AWS"],
        PRINCIPAL
    );

    let r = e.enable().await;
    assert_eq!(r.body["provider"], "aws-kms");
    assert_eq!(r.body["role_arn"], e.role.as_str());
    let regions: Vec<_> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["region"].clone())
        .collect();
    assert_eq!(regions, [REGIONS[0], REGIONS[1]]);
    let checked = e
        .call(Method::POST, "/api/v1/orgs/acme/keys/check", None)
        .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    for k in checked.body["keys"].as_array().unwrap() {
        assert_eq!(
            (
                k["last_probe"]["state"].as_str(),
                k["last_probe"]["ok"].as_bool()
            ),
            (Some("enabled"), Some(true)),
            "{k}"
        );
    }
    assert_eq!(checked.body["status"], "active");
    let calls = checked.body["kms_calls"].as_array().unwrap();
    let count = |op: &str| {
        calls
            .iter()
            .find(|c| c["operation"] == op)
            .map(|c| c["count"].clone())
    };
    // Enabling: DescribeKey, probe encrypt+decrypt, one wrap per region; the check: DescribeKey
    // and a decrypt of the stored probe per region.
    assert_eq!(count("describe_key"), Some(json!(4)), "{calls:?}");
    assert_eq!(count("probe_encrypt"), Some(json!(2)), "{calls:?}");
    assert_eq!(count("probe_decrypt"), Some(json!(4)), "{calls:?}");
    assert_eq!(count("encrypt"), Some(json!(2)), "{calls:?}");
    assert_eq!(
        wraps(&e).await,
        [(1, e.keys.iter().map(|k| format!("aws-kms {k}")).collect())]
    );
    assert_eq!(e.put("OPS-1", "db", b"v1").await.status, 201);
    assert_eq!(e.reveal("OPS-1", "db").await.status, 200);
    let listed = e
        .app
        .call(&e.app.operator, Method::GET, "/api/v1/admin/byok", None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["orgs"][0]["org"], "acme");
    assert_eq!(e.audit_count("org.byok_enable").await, 1);
    // The operator's token sees another org's keys as missing; an org owner cannot list all.
    let other = e
        .app
        .call(&e.app.operator, Method::GET, "/api/v1/orgs/acme/keys", None)
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    let member = e
        .app
        .call(&e.owner, Method::GET, "/api/v1/admin/byok", None)
        .await;
    assert_eq!(member.status, 403);
}

#[tokio::test]
async fn enable_on_an_org_in_use_rewraps_every_key_version_and_reencrypts_nothing() {
    let ttl = std::time::Duration::from_millis(300);
    let e = env(Moto::shared(), |c| c.keys.key_cache_ttl = ttl).await;
    for i in 0..5 {
        assert_eq!(
            e.put("OPS-1", &format!("s{i}"), format!("value {i}").as_bytes())
                .await
                .status,
            201
        );
    }
    let r = e
        .call(
            Method::POST,
            "/api/v1/orgs/acme/keys/rotate",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for i in 0..5 {
        assert_eq!(
            e.put("OPS-1", &format!("s{i}"), format!("new {i}").as_bytes())
                .await
                .status,
            200
        );
    }
    let stored = blobs(&e.app);
    assert_eq!(
        stored.len(),
        20,
        "10 versions: an envelope and a manifest each"
    );
    let encrypts = e.kms("encrypt").await;
    e.enable().await;
    assert_eq!(
        e.kms("encrypt").await - encrypts,
        4.0,
        "2 key versions x 2 regions"
    );
    assert_eq!(
        blobs(&e.app),
        stored,
        "no blob was re-encrypted or rewritten"
    );
    let all = wraps(&e).await;
    assert_eq!(all.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1, 2]);
    assert!(
        all.iter()
            .all(|(_, ws)| ws.len() == 2 && ws.iter().all(|w| w.starts_with("aws-kms "))),
        "{all:?}"
    );
    tokio::time::sleep(ttl * 2).await; // cached org keys expire: reveals now go through KMS
    let decrypts = e.kms("decrypt").await;
    for i in 0..5 {
        let r = e.reveal("OPS-1", &format!("s{i}")).await;
        assert_eq!(
            B64.decode(r.body["value"].as_str().unwrap()).unwrap(),
            format!("new {i}").as_bytes()
        );
        let old = e
            .call(
                Method::POST,
                &format!("/api/v1/orgs/acme/secrets/OPS-1/s{i}/reveal?version=1"),
                None,
            )
            .await;
        assert_eq!(
            B64.decode(old.body["value"].as_str().unwrap()).unwrap(),
            format!("value {i}").as_bytes()
        );
    }
    assert!(
        e.kms("decrypt").await - decrypts >= 2.0,
        "both key versions were unwrapped by KMS"
    );
    // Rotation after enabling wraps the new version under both region keys.
    let r = e
        .call(
            Method::POST,
            "/api/v1/orgs/acme/keys/rotate",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        wraps(&e).await[2]
            .1
            .iter()
            .all(|w| w.starts_with("aws-kms "))
    );
}

#[tokio::test]
async fn turning_byok_off_is_refused_with_the_reason() {
    let e = env(Moto::shared(), |_| {}).await;
    let r = e.call(Method::DELETE, "/api/v1/orgs/acme/keys", None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["provider"].as_str()),
        (200, Some("local")),
        "already local: nothing to do"
    );
    e.enable().await;
    let r = e.call(Method::DELETE, "/api/v1/orgs/acme/keys", None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "byok_irreversible"),
        "{}",
        r.body
    );
    assert!(
        r.message().contains("cannot be turned off"),
        "{}",
        r.message()
    );
    let r = e.put_keys(json!({"provider": "local"})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "byok_irreversible"));
    assert_eq!(e.keys_view().await.body["provider"], "aws-kms");
    assert_eq!(e.put("OPS-1", "db", b"still works").await.status, 201);
}

#[tokio::test]
async fn keys_can_be_replaced_by_others_in_the_same_regions() {
    let ttl = std::time::Duration::from_millis(200);
    let e = env(Moto::shared(), |c| c.keys.key_cache_ttl = ttl).await;
    e.enable().await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201);
    let since = e.keys_view().await.body["byok_since"].clone();
    let (new_keys, _) = region_keys(&Moto::shared().settings(REGIONS[0])).await;
    let body = byok_body(
        &e.role,
        &[(REGIONS[0], &new_keys[0]), (REGIONS[1], &new_keys[1])],
    );
    let r = e.put_keys(body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["keys"][1]["key_arn"], new_keys[1].as_str());
    assert_eq!(r.body["byok_since"], since, "still the first enable time");
    let expected: Vec<String> = new_keys.iter().map(|k| format!("aws-kms {k}")).collect();
    assert_eq!(
        wraps(&e).await,
        [(1, expected)],
        "the old keys wrap nothing any more"
    );
    tokio::time::sleep(ttl * 2).await;
    let r = e.reveal("OPS-1", "db").await;
    assert_eq!(r.status, 200, "unwrapped with the new keys: {}", r.body);
    assert_eq!(e.audit_count("org.byok_enable").await, 2);
}
