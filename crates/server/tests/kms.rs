//! The `aws-kms` key provider against real KMS and STS APIs (a moto server started by the
//! harness): wraps per region bound to their context, region failover, what DescribeKey reports
//! for revoked keys, and that an unreachable KMS is `Unavailable`, never `Denied`.
//!
//! moto (5.2.5) facts these tests pin down, because the BYOK flows depend on them: Decrypt and
//! Encrypt still succeed with a disabled or pending-deletion key (revocation must be detected
//! with DescribeKey); DescribeKey omits `KeyUsage` unless it was given at creation; a wrong
//! encryption context is `InvalidCiphertextException`.

mod support;

use coffer_envelope::Key32;
use coffer_server::aws::AwsSettings;
use coffer_server::domain::OrgId;
use coffer_server::keys::{
    AwsKmsProvider, ByokSettings, KeyContext, KeyError, KeyProvider, KeyState,
};
use support::kms::{
    REGIONS, SETUP_ACTIONS, base, byok, coffer_identity_with_role, create_key, key_id, region_keys,
};
use support::moto::{ACCOUNT, Moto};

fn ctx() -> KeyContext {
    KeyContext {
        org: OrgId::new(),
        key_version: 1,
    }
}

#[tokio::test]
async fn wraps_once_per_region_and_round_trips() {
    let b = byok(Moto::shared()).await;
    let (ctx, key) = (ctx(), Key32::generate());
    let wraps = b.provider.wrap(ctx, &key).await.unwrap();
    assert_eq!(wraps.len(), 2);
    for (w, arn) in wraps.iter().zip(&b.keys) {
        assert_eq!((w.provider.as_str(), &w.key_ref), ("aws-kms", arn));
        assert!(
            !w.bytes.windows(32).any(|s| s == key.expose()),
            "wrap holds plaintext"
        );
    }
    let back = b.provider.unwrap(ctx, &wraps).await.unwrap();
    assert_eq!(back.expose(), key.expose());
    b.provider.probe(ctx.org).await.unwrap();
    let debug = format!("{:?} {:?}", b.provider, wraps[0].key_ref);
    assert!(!debug.contains(&hex::encode(key.expose())), "{debug}");
}

#[tokio::test]
async fn a_wrap_moved_to_another_org_or_version_does_not_unwrap() {
    let b = byok(Moto::shared()).await;
    let ctx = ctx();
    let wraps = b.provider.wrap(ctx, &Key32::generate()).await.unwrap();
    let other_org = KeyContext {
        org: OrgId::new(),
        ..ctx
    };
    let other_version = KeyContext {
        key_version: 2,
        ..ctx
    };
    for moved in [other_org, other_version] {
        let r = b.provider.unwrap(moved, &wraps).await;
        assert!(matches!(r, Err(KeyError::Integrity)), "{r:?}");
    }
}

#[tokio::test]
async fn region_two_serves_when_region_one_wrap_is_missing_or_corrupt() {
    let b = byok(Moto::shared()).await;
    let (ctx, key) = (ctx(), Key32::generate());
    let wraps = b.provider.wrap(ctx, &key).await.unwrap();
    let only_second = vec![wraps[1].clone()];
    assert_eq!(
        b.provider.unwrap(ctx, &only_second).await.unwrap().expose(),
        key.expose()
    );
    let mut corrupt = wraps.clone();
    let last = corrupt[0].bytes.len() - 1;
    corrupt[0].bytes[last] ^= 1;
    assert_eq!(
        b.provider.unwrap(ctx, &corrupt).await.unwrap().expose(),
        key.expose()
    );
    let last = corrupt[1].bytes.len() - 1;
    corrupt[1].bytes[last] ^= 1;
    let r = b.provider.unwrap(ctx, &corrupt).await;
    assert!(matches!(r, Err(KeyError::Integrity)), "{r:?}");
    let r = b.provider.unwrap(ctx, &[]).await;
    assert!(matches!(r, Err(KeyError::NoUsableWrap(_))), "{r:?}");
}

#[tokio::test]
async fn disabled_and_pending_deletion_keys_show_in_describe() {
    let b = byok(Moto::shared()).await;
    let health = b.provider.describe().await;
    assert!(
        health
            .iter()
            .all(|h| h.state == KeyState::Enabled && h.usable),
        "{health:?}"
    );
    assert_eq!(health[1].region, REGIONS[1]);
    let (ctx, key) = (ctx(), Key32::generate());
    let wraps = b.provider.wrap(ctx, &key).await.unwrap();

    b.admin[0]
        .disable_key()
        .key_id(key_id(&b.keys[0]))
        .send()
        .await
        .unwrap();
    let health = b.provider.describe().await;
    assert_eq!(health[0].state, KeyState::Disabled);
    assert!(!health[0].usable && health[0].problem.is_some());
    assert!(health[1].usable);
    // moto (5.2.5) keeps decrypting with a disabled key, where real KMS answers
    // DisabledException (Denied); so the health check above is what must catch revocation. If
    // this starts failing, moto has changed: update DESIGN.md and docs/aws.md.
    let r = b.provider.unwrap(ctx, &wraps).await;
    assert!(r.is_ok(), "moto decrypts with a disabled key: {r:?}");

    b.admin[0]
        .enable_key()
        .key_id(key_id(&b.keys[0]))
        .send()
        .await
        .unwrap();
    assert!(
        b.provider.describe().await[0].usable,
        "re-enabled key is usable again"
    );

    b.admin[1]
        .schedule_key_deletion()
        .key_id(key_id(&b.keys[1]))
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let health = b.provider.describe().await;
    assert_eq!(health[1].state, KeyState::PendingDeletion);
    assert!(!health[1].usable);
}

#[tokio::test]
async fn missing_keys_are_denied_and_unfit_keys_unusable() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let moto = Moto::shared();
    let b = byok(moto).await;
    let (ctx, key) = (ctx(), Key32::generate());
    let mut wraps = b.provider.wrap(ctx, &key).await.unwrap();
    // A key that does not exist (deleted, or a typo) in region one: Denied, no failover.
    let gone = format!(
        "arn:aws:kms:{}:{ACCOUNT}:key/{}",
        REGIONS[0],
        uuid::Uuid::new_v4()
    );
    let settings = ByokSettings {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/whatever"),
        external_id: "ext-123".into(),
        key_arns: vec![gone.clone(), b.keys[1].clone()],
    };
    let p = AwsKmsProvider::open(&base(moto), &settings).await.unwrap();
    wraps[0].key_ref = gone.clone();
    match p.unwrap(ctx, &wraps).await {
        Err(KeyError::Denied { key_ref, reason }) => {
            assert_eq!(key_ref, gone);
            assert!(reason.contains("NotFoundException"), "{reason}");
        }
        other => panic!("expected Denied, got {other:?}"),
    }
    assert_eq!(p.describe().await[0].state, KeyState::NotFound);
    assert!(matches!(
        p.probe(ctx.org).await,
        Err(KeyError::Denied { .. })
    ));

    let signing = create_key(&b.admin[0], KeyUsageType::SignVerify, KeySpec::Rsa2048).await;
    let settings = ByokSettings {
        key_arns: vec![signing],
        ..settings
    };
    let p = AwsKmsProvider::open(&base(moto), &settings).await.unwrap();
    let h = &p.describe().await[0];
    assert_eq!(h.state, KeyState::Enabled);
    assert!(
        !h.usable && h.problem.as_deref().unwrap().contains("SYMMETRIC_DEFAULT"),
        "{h:?}"
    );
}

#[tokio::test]
async fn an_unreachable_kms_is_unavailable_never_denied() {
    let moto = Moto::start();
    let b = byok(&moto).await;
    let ctx = ctx();
    let wraps = b.provider.wrap(ctx, &Key32::generate()).await.unwrap();
    moto.stop();
    let r = b.provider.unwrap(ctx, &wraps).await;
    match r {
        Err(KeyError::Unavailable(m)) => {
            assert!(m.contains(REGIONS[0]) && m.contains(REGIONS[1]), "{m}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        b.provider.wrap(ctx, &Key32::generate()).await,
        Err(KeyError::Unavailable(_))
    ));
    assert!(matches!(
        b.provider.probe(ctx.org).await,
        Err(KeyError::Unavailable(_))
    ));
    let health = b.provider.describe().await;
    assert!(
        health
            .iter()
            .all(|h| h.state == KeyState::Unreachable && !h.usable),
        "{health:?}"
    );
}

#[tokio::test]
async fn bad_key_lists_are_refused_when_opening() {
    let moto = Moto::shared();
    let open = |key_arns: Vec<&str>| {
        let s = ByokSettings {
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/r"),
            external_id: "ext-123".into(),
            key_arns: key_arns.into_iter().map(String::from).collect(),
        };
        async move { AwsKmsProvider::open(&base(moto), &s).await.map(|_| ()) }
    };
    let k = "arn:aws:kms:eu-west-1:123456789012:key/a";
    for (arns, says) in [
        (vec![], "at least one"),
        (vec![k, k], "one per region"),
        (vec!["alias/x"], "not a KMS key ARN"),
    ] {
        let err = open(arns).await.unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[tokio::test]
async fn the_org_role_is_assumed_with_its_external_id() {
    // moto's auth mode checks signatures, IAM policies and trust policies after the setup calls.
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_ACTIONS)]);
    let (coffer, role_arn) = coffer_identity_with_role(&moto, "ext-right").await;
    let keys_by = AwsSettings {
        region: Some(REGIONS[0].into()),
        ..coffer.clone()
    };
    let (keys, admin) = region_keys(&keys_by).await;
    let byok = ByokSettings {
        role_arn,
        external_id: "ext-right".into(),
        key_arns: keys,
    };
    let (ctx, key) = (ctx(), Key32::generate());
    // Coffer's own identity may not use the keys; only the assumed role can.
    let direct = admin[0]
        .encrypt()
        .key_id(&byok.key_arns[0])
        .plaintext(aws_sdk_kms::primitives::Blob::new(vec![0u8; 32]))
        .send()
        .await;
    assert!(direct.is_err(), "Coffer's user must not encrypt directly");
    let right = AwsKmsProvider::open(&coffer, &byok).await.unwrap();
    let wraps = right.wrap(ctx, &key).await.unwrap();
    assert_eq!(
        right.unwrap(ctx, &wraps).await.unwrap().expose(),
        key.expose()
    );

    let wrong = ByokSettings {
        external_id: "ext-wrong".into(),
        ..byok
    };
    let wrong = AwsKmsProvider::open(&coffer, &wrong).await.unwrap();
    match wrong.unwrap(ctx, &wraps).await {
        Err(KeyError::Denied { reason, .. }) => assert!(
            reason.contains("sts:AssumeRole on arn:aws:iam::"),
            "{reason}"
        ),
        other => panic!("a refused AssumeRole must be Denied, got {other:?}"),
    }
    assert_eq!(wrong.describe().await[0].state, KeyState::AccessDenied);
}
