//! The audit copy in the org's own bucket: the background job that copies each signed
//! checkpoint, with the events it newly vouches for, into the bucket of every org with custom
//! storage — immutable under S3 Object Lock (COMPLIANCE mode, `audit.bucket_retention`) when the
//! bucket has it on — and the verification that compares the catalog with that copy
//! (`coffer audit verify --against-bucket`). The object format is `audit::copy`.
//!
//! Why: the catalog's own checks (hash chain, signed checkpoints) cannot see the newest
//! checkpoints deleted together with the events after an older one. A copy outside the catalog,
//! which the catalog's writers cannot delete, can: the verification names the first divergence
//! — a copy object missing (a gap in the numbers, or one the catalog records as copied), the
//! catalog truncated (the bucket holds events or checkpoints past its end), an event rewritten
//! (it differs from the copy at seq X), or a bucket object altered (it fails its own checks).
//!
//! The job is safe on many nodes: objects are written with `If-None-Match: *`, so each exists
//! once whoever wrote it (a 412 means another node did; the bytes are compared), and how far the
//! copy got is kept in the catalog (`AuditCopyCatalog`, only ever growing), so no node lists the
//! bucket to find where to resume. Before copying, each checkpoint is checked against its events
//! and its signature: what goes under a lock that cannot be lifted must be right. A failure is
//! logged once per org (again only when it changes) and retried at the next run; secret writes
//! never wait on it. Only the org's current bucket is written and verified; a bucket it used
//! before keeps the copies made while it was current.

use crate::audit::AuditRecord;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::copy::{self as format, MAX_OBJECT_BYTES};
use crate::aws::{Failure, classify};
use crate::blob::{BlobError, BlobKey, BlobStore, S3BlobStore};
use crate::catalog::{AuditFilter, OrgRecord};
use crate::domain::policy::{Action, Actor};
use crate::domain::{OrgId, OrgSlug, StorageId};
use crate::service::{Coffer, Error, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ObjectLockEnabled, ObjectLockMode};
use std::collections::HashMap;
use std::time::Duration;

/// Events read from the catalog per page while copying or comparing.
const EVENT_PAGE: u32 = 5_000;

/// The last copy failure logged for each org on this node (so each is logged once).
#[derive(Default)]
pub(in crate::service) struct CopyFailures(std::sync::Mutex<HashMap<OrgId, String>>);

/// Whether a bucket has Object Lock on, and its default retention rule if it has one.
pub(in crate::service) struct LockState {
    /// `ObjectLockEnabled` is `Enabled`.
    pub enabled: bool,
    /// The bucket's default retention (mode and period), which locks every new object.
    pub default_rule: Option<String>,
}

/// Reads `bucket`'s Object Lock configuration ("not found" is a bucket without it).
pub(in crate::service) async fn lock_state(
    store: &S3BlobStore,
) -> std::result::Result<LockState, Failure> {
    let answer = store
        .client()
        .get_object_lock_configuration()
        .bucket(store.bucket())
        .send()
        .await;
    match answer {
        Ok(out) => {
            let conf = out.object_lock_configuration();
            let enabled = conf
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| *e == ObjectLockEnabled::Enabled);
            let default_rule = conf
                .and_then(|c| c.rule())
                .and_then(|r| r.default_retention())
                .map(|d| {
                    let mode = d.mode().map_or("?", |m| m.as_str());
                    match (d.days(), d.years()) {
                        (Some(days), _) => format!("{mode} for {days} days"),
                        (_, Some(years)) => format!("{mode} for {years} years"),
                        _ => mode.to_owned(),
                    }
                });
            Ok(LockState {
                enabled,
                default_rule,
            })
        }
        Err(e) => match classify(&e) {
            Failure::Service { code, .. } if code == "ObjectLockConfigurationNotFoundError" => {
                Ok(LockState {
                    enabled: false,
                    default_rule: None,
                })
            }
            other => Err(other),
        },
    }
}

/// How a copy object's write went.
enum Written {
    /// This node wrote it.
    New,
    /// It was there already (another node wrote it, or an earlier run before its record).
    Existed,
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Service {
            status,
            code,
            message,
        } if *status == 403 || code == "AccessDenied" => format!(
            "access denied ({code} {message}); the bucket policy must allow s3:PutObject, \
             s3:PutObjectRetention, s3:GetObject, s3:ListBucket and \
             s3:GetBucketObjectLockConfiguration for Coffer (`coffer org storage setup` prints it)"
        ),
        Failure::Service {
            status,
            code,
            message,
        } => format!("{code} (HTTP {status}) {message}"),
        Failure::RoleDenied(m) => format!("assuming the role was denied: {m}"),
        Failure::Transient(m) => format!("the bucket did not answer: {m}"),
        Failure::Invalid(m) => m.clone(),
    }
}

/// Writes one copy object, never over an existing one; locked until `retain_until` (seconds
/// since the epoch) when given. A checksum goes with every write: S3 requires one on writes
/// that set a retention, and it guards the others too.
async fn put_copy(
    store: &S3BlobStore,
    key: &BlobKey,
    body: Vec<u8>,
    retain_until: Option<i64>,
) -> std::result::Result<Written, String> {
    let object = store.object_key(key);
    let mut req = store
        .client()
        .put_object()
        .bucket(store.bucket())
        .key(&object)
        .if_none_match("*")
        .content_type("application/json")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body));
    if let Some(until) = retain_until {
        req = req
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(until));
    }
    match req.send().await {
        Ok(_) => Ok(Written::New),
        Err(e) => match classify(&e) {
            Failure::Service { status, code, .. }
                if status == 412 || code == "PreconditionFailed" =>
            {
                Ok(Written::Existed)
            }
            other => Err(format!(
                "writing s3://{}/{object}: {}",
                store.bucket(),
                describe(&other)
            )),
        },
    }
}

/// The result of comparing the catalog with the org's bucket copy.
#[derive(Clone, Debug)]
pub struct BucketCheck {
    /// `s3://bucket/prefix` of the org's current storage.
    pub location: String,
    /// Whether the bucket has Object Lock on (copies in it are locked).
    pub object_lock: bool,
    /// Copy objects checked.
    pub objects: u64,
    /// Events those objects hold.
    pub events: u64,
    /// The highest checkpoint the catalog records as copied to this bucket.
    pub copied_through: u64,
    /// The catalog's newest checkpoint.
    pub catalog_checkpoints: u64,
    /// The first divergence, in a sentence.
    pub problem: Option<String>,
}

impl Coffer {
    /// Events `after`+1..=`through` of `org` from the catalog, in order (fewer if it has fewer).
    async fn audit_range(&self, org: OrgId, after: u64, through: u64) -> Result<Vec<AuditRecord>> {
        let mut out = Vec::new();
        let mut from = after;
        while from < through {
            let filter = AuditFilter {
                after_seq: from,
                limit: EVENT_PAGE.min((through - from).try_into().unwrap_or(u32::MAX)),
                ..Default::default()
            };
            let page = self
                .catalog
                .audit_events(org, &filter)
                .await
                .map_err(|e| Error::catalog(e, || "audit".into()))?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            out.extend(page.into_iter().filter(|e| e.seq <= through));
            if last <= from {
                break;
            }
            from = last;
        }
        Ok(out)
    }

    async fn checkpoint_key(
        &self,
        org: OrgId,
        version: u32,
        keys: &mut HashMap<u32, [u8; 32]>,
    ) -> Result<[u8; 32]> {
        if let Some(k) = keys.get(&version) {
            return Ok(*k);
        }
        let k = self.signing_key(org, version).await?.public_key();
        keys.insert(version, k);
        Ok(k)
    }

    /// Copies `org`'s checkpoints not yet in `storage`'s bucket; returns how many objects this
    /// node wrote.
    async fn copy_audit_to(&self, org: &OrgRecord, storage: StorageId) -> Result<usize> {
        let catalog = |e| Error::catalog(e, || "audit copy".into());
        let copied = self
            .catalog
            .audit_copied(org.id, storage)
            .await
            .map_err(catalog)?;
        let checkpoints = self
            .catalog
            .audit_checkpoints(org.id)
            .await
            .map_err(catalog)?;
        if checkpoints.last().is_none_or(|c| c.n <= copied) {
            return Ok(0);
        }
        let store = self.stores.bucket(self.catalog.as_ref(), storage).await?;
        // A bucket whose policy predates the audit copy may not let Coffer read the setting:
        // copy unlocked then (validation warns about it) rather than not at all.
        let lock = match lock_state(&store).await {
            Ok(l) => l,
            Err(f @ Failure::Transient(_)) => {
                return Err(Error::Unavailable(format!(
                    "reading the bucket's Object Lock setting: {}",
                    describe(&f)
                )));
            }
            Err(f) => {
                tracing::debug!(org = %org.slug, failure = ?f, "the bucket's Object Lock setting is unreadable; copying unlocked");
                LockState {
                    enabled: false,
                    default_rule: None,
                }
            }
        };
        let retention = self
            .stores
            .settings()
            .audit_retention
            .max(Duration::from_secs(86_400));
        let mut keys = HashMap::new();
        let mut written = 0;
        let mut prev: Option<&Checkpoint> = None;
        for c in &checkpoints {
            if c.n <= copied {
                prev = Some(c);
                continue;
            }
            let after = prev.map_or(0, |p| p.seq);
            let events = self.audit_range(org.id, after, c.seq).await?;
            let public = self
                .checkpoint_key(org.id, c.key_version, &mut keys)
                .await?;
            format::check_segment(c, &events, prev, &public).map_err(|why| Error::Conflict {
                code: "audit_copy_refused",
                message: format!(
                    "checkpoint {} is not copied to the org's bucket because the catalog does not \
                     verify ({why}); run `coffer audit verify` and `coffer audit verify \
                     --against-bucket` to see what changed",
                    c.n
                ),
            })?;
            let key = format::object_key(org.id, c.n);
            let body = format::encode(c, &events);
            let until = lock.enabled.then(|| {
                time::OffsetDateTime::now_utc().unix_timestamp()
                    + i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2)
            });
            match put_copy(&store, &key, body.clone(), until)
                .await
                .map_err(Error::Unavailable)?
            {
                Written::New => written += 1,
                Written::Existed => {
                    let there = store.get(&key).await.map_err(|e| {
                        Error::Unavailable(format!("reading back {}: {e}", store.object_key(&key)))
                    })?;
                    if there != body {
                        return Err(Error::Conflict {
                            code: "audit_copy_differs",
                            message: format!(
                                "s3://{}/{} already holds a different copy of checkpoint {}; \
                                 run `coffer audit verify --against-bucket`",
                                store.bucket(),
                                store.object_key(&key),
                                c.n
                            ),
                        });
                    }
                }
            }
            self.catalog
                .record_audit_copied(org.id, storage, c.n)
                .await
                .map_err(catalog)?;
            prev = Some(c);
        }
        Ok(written)
    }

    /// The background job: copies every org's new checkpoints to its own bucket. Returns how
    /// many objects this node wrote; an org that fails is logged (once) and retried next run.
    pub async fn copy_audit_all(&self) -> Result<usize> {
        let orgs = self
            .catalog
            .list_orgs()
            .await
            .map_err(|e| Error::catalog(e, || "orgs".into()))?;
        let mut written = 0;
        for org in &orgs {
            let Some(storage) = org.storage else { continue };
            let outcome = self.copy_audit_to(org, storage).await;
            let mut failures = self.audit_copy_failures.0.lock().expect("poisoned");
            match outcome {
                Ok(n) => {
                    written += n;
                    if failures.remove(&org.id).is_some() {
                        tracing::info!(org = %org.slug, "the audit copy to the org's bucket works again");
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    if failures.get(&org.id) != Some(&message) {
                        tracing::warn!(org = %org.slug, error = %message, "could not copy the audit trail to the org's bucket; retrying every audit.bucket_copy_interval");
                        failures.insert(org.id, message);
                    }
                }
            }
        }
        Ok(written)
    }

    /// Compares the org's catalog (chain and checkpoints) with the copy in its current bucket,
    /// checking each copy object on its own first; names the first divergence.
    pub async fn verify_audit_bucket(&self, actor: &Actor, slug: &OrgSlug) -> Result<BucketCheck> {
        let org = self.org_for(actor, slug, Action::ReadAudit).await?;
        let catalog = |e| Error::catalog(e, || "audit".into());
        let Some(storage) = org.storage else {
            return Err(Error::Conflict {
                code: "no_custom_storage",
                message: format!(
                    "org `{slug}` keeps its envelopes in the deployment's default store, so it has \
                     no audit copy: the copy is written to an org's own bucket \
                     (`coffer org storage set`)"
                ),
            });
        };
        let location = self
            .catalog
            .storage_location(storage)
            .await
            .map_err(catalog)?;
        let store = self.stores.bucket(self.catalog.as_ref(), storage).await?;
        let object_lock = lock_state(&store).await.is_ok_and(|l| l.enabled);
        let copied_through = self
            .catalog
            .audit_copied(org.id, storage)
            .await
            .map_err(catalog)?;
        let checkpoints = self
            .catalog
            .audit_checkpoints(org.id)
            .await
            .map_err(catalog)?;
        let chain_end = self
            .catalog
            .audit_head(org.id)
            .await
            .map_err(catalog)?
            .map_or(0, |(seq, _)| seq);
        let listed = store
            .list(&format::prefix(org.id))
            .await
            .map_err(|e| Error::Unavailable(format!("listing the org's audit copies: {e}")))?;
        let mut numbered: Vec<(u64, BlobKey)> = listed
            .into_iter()
            .filter_map(|m| format::number_of(org.id, &m.key).map(|n| (n, m.key)))
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        let mut check = BucketCheck {
            location: match &location.prefix {
                Some(p) => format!("s3://{}/{p}", location.bucket),
                None => format!("s3://{}", location.bucket),
            },
            object_lock,
            objects: 0,
            events: 0,
            copied_through,
            catalog_checkpoints: checkpoints.last().map_or(0, |c| c.n),
            problem: None,
        };
        let mut keys = HashMap::new();
        let mut prev: Option<Checkpoint> = None;
        for (n, key) in &numbered {
            let object = format!("s3://{}/{}", store.bucket(), store.object_key(key));
            let expected = prev.as_ref().map_or(1, |p| p.n + 1);
            if *n != expected {
                check.problem = Some(format!(
                    "missing object: the copy of checkpoint {expected} ({}) is not in the bucket, \
                     but checkpoint {n}'s is: it was deleted",
                    format::object_key(org.id, expected).as_str()
                ));
                return Ok(check);
            }
            let bytes = match store.get(key).await {
                Ok(b) if b.len() <= MAX_OBJECT_BYTES => b,
                Ok(b) => {
                    check.problem = Some(format!(
                        "bucket object altered: {object} is {} bytes, larger than any copy",
                        b.len()
                    ));
                    return Ok(check);
                }
                Err(BlobError::NotFound) => {
                    check.problem = Some(format!(
                        "missing object: {object} was listed but cannot be read: it was deleted"
                    ));
                    return Ok(check);
                }
                Err(e) => {
                    return Err(Error::Unavailable(format!("reading {object}: {e}")));
                }
            };
            let (c, events) = match format::decode(org.id, &bytes) {
                Ok(parsed) => parsed,
                Err(why) => {
                    check.problem = Some(format!("bucket object altered: {object}: {why}"));
                    return Ok(check);
                }
            };
            let public = self
                .checkpoint_key(org.id, c.key_version, &mut keys)
                .await?;
            if let Err(why) = format::check_segment(&c, &events, prev.as_ref(), &public) {
                check.problem = Some(format!("bucket object altered: {object}: {why}"));
                return Ok(check);
            }
            // The copy is sound: now the catalog must hold exactly the same.
            let after = prev.as_ref().map_or(0, |p| p.seq);
            let ours = self.audit_range(org.id, after, c.seq).await?;
            for (i, copy) in events.iter().enumerate() {
                match ours.get(i) {
                    Some(e) if e.seq == copy.seq && e == copy => {}
                    Some(e) if e.seq == copy.seq => {
                        check.problem = Some(format!(
                            "event rewritten: event {} in the catalog differs from the bucket copy \
                             of checkpoint {} ({}): it was changed after it was copied",
                            copy.seq,
                            c.n,
                            differences(e, copy)
                        ));
                        return Ok(check);
                    }
                    Some(e) => {
                        check.problem = Some(format!(
                            "event deleted: event {} of the bucket copy (checkpoint {}, {object}) \
                             is not in the catalog, where event {} comes next",
                            copy.seq, c.n, e.seq
                        ));
                        return Ok(check);
                    }
                    None => {
                        check.problem = Some(format!(
                            "catalog truncated: events {}..={} are in the bucket copy (checkpoint \
                             {}, {object}) but not in the catalog, whose chain ends at event \
                             {chain_end}; the bucket holds copies through checkpoint {}",
                            copy.seq,
                            c.seq,
                            c.n,
                            numbered.last().map_or(0, |(n, _)| *n)
                        ));
                        return Ok(check);
                    }
                }
            }
            match checkpoints.iter().find(|k| k.n == c.n) {
                Some(k) if *k == c => {}
                Some(_) => {
                    check.problem = Some(format!(
                        "checkpoint replaced: checkpoint {} in the catalog differs from its bucket \
                         copy {object}",
                        c.n
                    ));
                    return Ok(check);
                }
                None => {
                    check.problem = Some(format!(
                        "catalog truncated: checkpoint {} (event {}, signed {}) is in the bucket \
                         ({object}) but the catalog's checkpoints end at {}",
                        c.n, c.seq, c.at, check.catalog_checkpoints
                    ));
                    return Ok(check);
                }
            }
            check.objects += 1;
            check.events += events.len() as u64;
            prev = Some(c);
        }
        let highest = prev.as_ref().map_or(0, |p| p.n);
        if highest < copied_through {
            check.problem = Some(format!(
                "missing object: the copies of checkpoints {}..={copied_through} are not in the \
                 bucket, though Coffer wrote them (the catalog records copies through \
                 {copied_through}): they were deleted",
                highest + 1
            ));
        }
        Ok(check)
    }
}

/// Which fields of two versions of one event differ, in words.
fn differences(catalog: &AuditRecord, copy: &AuditRecord) -> String {
    let mut d = Vec::new();
    if catalog.at != copy.at {
        d.push("time");
    }
    if catalog.actor_id != copy.actor_id || catalog.actor != copy.actor {
        d.push("actor");
    }
    if catalog.action != copy.action {
        d.push("action");
    }
    if catalog.target != copy.target {
        d.push("target");
    }
    if catalog.details != copy.details {
        d.push("details");
    }
    if catalog.hash != copy.hash || catalog.prev_hash != copy.prev_hash {
        d.push("hash");
    }
    format!("{} differ", d.join(", "))
}
