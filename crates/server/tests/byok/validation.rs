//! Each way enabling BYOK can be refused — a missing region, an ARN in the wrong region, a
//! disabled key, a non-symmetric key, keys in another location, malformed ARNs, an org whose
//! location has no regions — names its step and fix and leaves the org exactly as it was.

use crate::enable::wraps;
use crate::*;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use support::kms::{create_key, kms_client};

#[tokio::test]
async fn each_validation_failure_names_its_step_and_leaves_the_org_unchanged() {
    let moto = Moto::shared();
    let e = env(moto, |_| {}).await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201);
    let before = wraps(&e).await;
    let us = kms_client(&moto.settings("us-east-1"), "us-east-1").await;
    let us_key = create_key(&us, KeyUsageType::EncryptDecrypt, KeySpec::SymmetricDefault).await;
    let rsa = create_key(&e.admin[1], KeyUsageType::SignVerify, KeySpec::Rsa2048).await;
    let disabled = create_key(
        &e.admin[1],
        KeyUsageType::EncryptDecrypt,
        KeySpec::SymmetricDefault,
    )
    .await;
    e.admin[1]
        .disable_key()
        .key_id(key_id(&disabled))
        .send()
        .await
        .unwrap();
    let (k0, k1) = (e.keys[0].as_str(), e.keys[1].as_str());
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            byok_body(&e.role, &[(REGIONS[0], k0)]),
            400,
            "invalid_input",
            "no key given for eu-west-1",
        ),
        (
            byok_body(&e.role, &[(REGIONS[0], k0), (REGIONS[1], k0)]),
            400,
            "invalid_input",
            "is in eu-central-1",
        ),
        (
            byok_body(&e.role, &[(REGIONS[0], k0), (REGIONS[1], &disabled)]),
            400,
            "byok_key_not_enabled",
            "Disabled",
        ),
        (
            byok_body(&e.role, &[(REGIONS[0], k0), (REGIONS[1], &rsa)]),
            400,
            "byok_key_unsuitable",
            "SYMMETRIC_DEFAULT",
        ),
        (
            byok_body(&e.role, &[(REGIONS[0], k0), ("us-east-1", &us_key)]),
            409,
            "location_immutable",
            "location `us`",
        ),
        (
            byok_body(
                "arn:aws:iam::123456789012:user/x",
                &[(REGIONS[0], k0), (REGIONS[1], k1)],
            ),
            400,
            "invalid_input",
            "role ARN",
        ),
        (
            byok_body(&e.role, &[(REGIONS[0], "alias/coffer"), (REGIONS[1], k1)]),
            400,
            "invalid_input",
            "KMS key ARN",
        ),
    ];
    for (body, status, code, says) in cases {
        let r = e.put_keys(body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{body}: {}",
            r.body
        );
        assert!(
            r.message().contains(says),
            "{says:?} not in {}",
            r.message()
        );
        let view = e.keys_view().await;
        assert_eq!(
            (
                view.body["provider"].as_str(),
                view.body["keys"].as_array().map(Vec::len)
            ),
            (Some("local"), Some(0))
        );
        assert_eq!(wraps(&e).await, before, "wraps unchanged after {code}");
    }
    assert_eq!(e.reveal("OPS-1", "db").await.status, 200);
    assert_eq!(e.audit_count("org.byok_enable").await, 0);

    // An org whose location has no regions cannot enable BYOK at all.
    let r = e
        .app
        .call(
            &e.app.operator,
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "plain"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = e
        .app
        .call(
            &e.app.token,
            Method::PUT,
            "/api/v1/orgs/default/keys",
            Some(byok_body(&e.role, &[(REGIONS[0], k0), (REGIONS[1], k1)])),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "byok_needs_location"),
        "{}",
        r.body
    );
    let r = e
        .app
        .call(
            &e.app.token,
            Method::GET,
            "/api/v1/orgs/default/keys/setup",
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = e
        .app
        .call(
            &e.app.operator,
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "mars", "location": "mars"})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_input"),
        "{}",
        r.body
    );
}
