//! A KMS denial during an unwrap suspends the org at once (real KMS answers `DisabledException`
//! or `AccessDeniedException` where moto keeps decrypting, so this path is driven in-process by a
//! provider that denies on demand): the reveal answers "suspended" naming the region, cached keys
//! are dropped, the status is recorded once however many requests see the denial, and reads and
//! writes are refused from then on.

use async_trait::async_trait;
use coffer_envelope::{Key32, OrgKey};
use coffer_server::audit::AuditDraft;
use coffer_server::blob::MemoryBlobStore;
use coffer_server::catalog::sqlite::SqliteCatalog;
use coffer_server::catalog::{AuditFilter, Catalog, EnableByok, NewRegionKey};
use coffer_server::domain::*;
use coffer_server::keys::{
    KeyContext, KeyError, KeyProvider, Keyring, KeyringError, OrgKeyWrap, ProviderRouter,
};
use coffer_server::metrics::Metrics;
use coffer_server::service::{Coffer, Error, PutSecret, ServiceSettings};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/denier";

#[derive(Default)]
struct Denier {
    deny: AtomicBool,
    keys: Mutex<HashMap<(OrgId, u32), [u8; 32]>>,
}

#[async_trait]
impl KeyProvider for Denier {
    fn name(&self) -> &'static str {
        "aws-kms"
    }
    async fn wrap(&self, ctx: KeyContext, key: &OrgKey) -> Result<Vec<OrgKeyWrap>, KeyError> {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(key.expose());
        self.keys
            .lock()
            .unwrap()
            .insert((ctx.org, ctx.key_version), bytes);
        Ok(vec![OrgKeyWrap {
            provider: "aws-kms".into(),
            key_ref: ARN.into(),
            bytes: vec![1; 8],
        }])
    }
    async fn unwrap(&self, ctx: KeyContext, _: &[OrgKeyWrap]) -> Result<OrgKey, KeyError> {
        if self.deny.load(Ordering::SeqCst) {
            return Err(KeyError::Denied {
                key_ref: ARN.into(),
                reason: "KMS in eu-west-1: DisabledException: the key is disabled".into(),
            });
        }
        let k = self.keys.lock().unwrap()[&(ctx.org, ctx.key_version)];
        Ok(Key32::try_from_slice(&k).unwrap())
    }
}

struct Route(Arc<Denier>);

#[async_trait]
impl ProviderRouter for Route {
    async fn provider_for(&self, _: OrgId) -> Result<Arc<dyn KeyProvider>, KeyringError> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn a_kms_denial_during_unwrap_suspends_the_org_once() {
    let dir = tempfile::tempdir().unwrap();
    let catalog: Arc<dyn Catalog> = Arc::new(
        SqliteCatalog::open(&dir.path().join("c.db"), 2)
            .await
            .unwrap(),
    );
    let denier = Arc::new(Denier::default());
    let metrics = Arc::new(Metrics::default());
    let ttl = Duration::from_millis(100);
    let keyring = Keyring::routed(Arc::new(Route(denier.clone())), ttl, metrics.clone());
    let settings = ServiceSettings {
        max_secret_bytes: 1024,
        max_encryptions_per_key: 1 << 20,
        envelope_cache_bytes: 0,
    };
    let coffer = Coffer::new(
        catalog.clone(),
        Arc::new(MemoryBlobStore::default()),
        keyring,
        metrics,
        settings,
    );
    let token = coffer.bootstrap().await.unwrap().owner_token.unwrap();
    let actor = coffer
        .authenticate(Some(token.as_str()), None)
        .await
        .unwrap();
    let org = catalog
        .org_by_slug(&OrgSlug::parse("default").unwrap())
        .await
        .unwrap();
    let region = AwsRegion::parse("eu-west-1").unwrap();
    let change = EnableByok {
        org: org.id,
        role_arn: RoleArn::parse("arn:aws:iam::123456789012:role/r").unwrap(),
        keys: vec![NewRegionKey {
            region,
            key_arn: KmsKeyArn::parse(ARN).unwrap(),
            probe_ciphertext: vec![1],
        }],
        rewrapped: catalog.all_org_key_wraps(org.id).await.unwrap(),
        at: Timestamp::now(),
    };
    let audit = AuditDraft::new(
        org.id,
        None,
        "t",
        "org.byok_enable",
        "default",
        serde_json::json!({}),
    );
    catalog.enable_byok(change, audit).await.unwrap();
    let (scope, name) = (
        Scope::parse("OPS-1").unwrap(),
        SecretName::parse("db").unwrap(),
    );
    let put = PutSecret {
        scope: scope.clone(),
        name: name.clone(),
        value: b"v".to_vec().into(),
        kind: None,
        expect_version: None,
        expires_at: None,
        view_limit: None,
        restricted: None,
    };
    coffer.put_secret(&actor, &org.slug, put).await.unwrap();

    denier.deny.store(true, Ordering::SeqCst);
    tokio::time::sleep(ttl * 2).await; // the cached org key expires
    let reveals = (0..10).map(|_| coffer.reveal_secret(&actor, &org.slug, &scope, &name, None));
    let results = futures::future::join_all(reveals).await;
    for r in &results {
        match r {
            Err(Error::Suspended(m)) => {
                assert!(m.contains("eu-west-1") && m.contains("Disabled"), "{m}")
            }
            Err(other) => panic!("expected Suspended, got {other:?}"),
            Ok(_) => panic!("a denied key must not reveal"),
        }
    }
    let now = catalog.org_by_id(org.id).await.unwrap();
    assert_eq!(now.status, OrgStatus::Suspended);
    assert!(now.suspended_reason.unwrap().contains(ARN));
    let filter = AuditFilter {
        limit: 100,
        action: Some("org.suspend".into()),
        ..Default::default()
    };
    assert_eq!(
        catalog.audit_events(org.id, &filter).await.unwrap().len(),
        1
    );
    // Even with KMS answering again, the org stays suspended until a probe restores it.
    denier.deny.store(false, Ordering::SeqCst);
    let again = coffer
        .reveal_secret(&actor, &org.slug, &scope, &name, None)
        .await;
    assert!(
        matches!(again, Err(Error::Suspended(_))),
        "{:?}",
        again.err()
    );
}
