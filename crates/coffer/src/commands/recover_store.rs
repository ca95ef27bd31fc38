//! `coffer recover --bucket|--dir`: rebuilds an org's secrets from its store alone — the bucket
//! (or a directory holding `orgs/`) and the org's recovery kit, with no catalog and no server.
//!
//! The org's objects are `orgs/{org}/secrets/{secret}/v{n}-{hex}.cfr` (an envelope) and, beside
//! each, `….cfm` (its sealed manifest: scope, name, kind, writer; `coffer_server::manifest`).
//! From the listing alone it picks each secret's latest version (or every version with
//! `--all-versions`), opens the manifests to name them, then opens each envelope and writes its
//! value to `OUT/{scope}/{name}` (older versions `…@v{n}`). Nothing is believed that is not
//! authenticated: an envelope must open with the kit's key and its header must name the secret
//! and version its key says; a manifest must open with the kit's key as the manifest of exactly
//! that secret version (`coffer_server::manifest`), and its scope and name must parse. A
//! secret's latest value is its newest version with such a manifest; newer versions without one
//! (an upload never committed, a manifest lost) are written unnamed beside it, not hidden. A
//! version whose manifest is missing or refused goes to `OUT/_unnamed/{secret}` (no secret name
//! or scope key starts with `_`), and two secrets claiming one name keep it by who wrote last
//! (the other gets `…@{secret id}`). Every version found, and every problem — a refused
//! manifest, an object that could not be opened or written — is listed in `OUT/index.json`,
//! and makes the run exit 1 after writing everything else. Objects larger than a Coffer object
//! can be are skipped by their listed size, before any byte is read.
//!
//! The org keys come from [`KitKeys`]: the kit itself for an org on the deployment's master key,
//! KMS `Decrypt` with the caller's own AWS credentials for a BYOK org.

use super::backup::NewFile;
use crate::cli::RecoverArgs;
use crate::error::{CliError, Result};
use anyhow::anyhow;
use base64::Engine as _;
use bytes::Bytes;
use coffer_api::{KeyProviderKind, RecoveryKit};
use coffer_envelope::{Binding, Key32};
use coffer_server::aws::AwsSettings;
use coffer_server::blob::{BlobKey, BlobPrefix, BlobStore, FsBlobStore, S3BlobStore};
use coffer_server::domain::OrgId;
use coffer_server::keys::{AwsKmsProvider, KeyContext, KeyError, KeyProvider, OrgKeyWrap};
use coffer_server::manifest::{MAX_SEALED, Manifest};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;
use zeroize::Zeroizing;

/// The largest envelope read (the server's values are far smaller).
pub(super) const MAX_OBJECT: u64 = 1 << 30;

/// The org keys of a kit, by org-key version, unwrapped once each.
pub(super) struct KitKeys<'k> {
    kit: &'k RecoveryKit,
    kms_endpoint: Option<String>,
    kms: Option<AwsKmsProvider>,
    held: HashMap<u32, Key32>,
    /// Versions that could not be had, and why (asked once each).
    failed: HashMap<u32, String>,
}

impl<'k> KitKeys<'k> {
    pub(super) fn new(kit: &'k RecoveryKit, kms_endpoint: Option<String>) -> Self {
        Self {
            kit,
            kms_endpoint,
            kms: None,
            held: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// The org key of `version`, or why it cannot be had (a version the kit does not hold, KMS
    /// refusing or out of reach): a problem of the objects sealed under it, not of the run.
    pub(super) async fn get(&mut self, version: u32) -> std::result::Result<&Key32, String> {
        if let Some(why) = self.failed.get(&version) {
            return Err(why.clone());
        }
        if !self.held.contains_key(&version) {
            match self.fetch(version).await {
                Ok(key) => {
                    self.held.insert(version, key);
                }
                Err(e) => {
                    let why = e.to_string();
                    self.failed.insert(version, why.clone());
                    return Err(why);
                }
            }
        }
        Ok(&self.held[&version])
    }

    async fn fetch(&mut self, version: u32) -> Result<Key32> {
        let kit = self.kit;
        let Some(entry) = kit.org_keys.iter().find(|k| k.version == version) else {
            let held: Vec<String> = kit.org_keys.iter().map(|k| k.version.to_string()).collect();
            return Err(anyhow!(
                "the envelope was sealed under org-key version {version}, which the kit of org `{}` does not hold (it has {}): take a new kit",
                kit.slug,
                held.join(", ")
            )
            .into());
        };
        if kit.root_key == KeyProviderKind::Local {
            let text = entry
                .key
                .as_deref()
                .ok_or_else(|| anyhow!("the kit's org-key version {version} has no key"))?;
            let raw = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| anyhow!("the kit's org-key version {version} is not base64"))?,
            );
            return Key32::try_from_slice(&raw)
                .map_err(|e| anyhow!("the kit's org-key version {version}: {e}").into());
        }
        let mut wraps = Vec::new();
        for w in &entry.wraps {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&w.wrapped)
                .map_err(|_| {
                    anyhow!(
                        "the kit's wrap of org-key version {version} in {} is not base64",
                        w.region
                    )
                })?;
            wraps.push(OrgKeyWrap {
                provider: w.provider.clone(),
                key_ref: w.key_arn.clone(),
                bytes,
            });
        }
        if self.kms.is_none() {
            let mut arns: Vec<String> = Vec::new();
            for w in kit.org_keys.iter().flat_map(|k| &k.wraps) {
                if !arns.contains(&w.key_arn) {
                    arns.push(w.key_arn.clone());
                }
            }
            let settings = AwsSettings {
                endpoint: self.kms_endpoint.clone(),
                ..AwsSettings::default()
            };
            self.kms = Some(
                AwsKmsProvider::for_recovery(&settings, &arns)
                    .await
                    .map_err(|e| anyhow!("cannot set up AWS KMS: {e}"))?,
            );
        }
        let kms = self.kms.as_ref().expect("set above");
        let ctx = KeyContext {
            org: OrgId::from_uuid(kit.org_id),
            key_version: version,
        };
        // Each region's wrap in turn: unlike the server, which suspends the org when a key is
        // refused, recovery takes whichever region still answers.
        let mut failures = Vec::new();
        for (wrap, region) in wraps.iter().zip(entry.wraps.iter().map(|w| &w.region)) {
            match kms.unwrap(ctx, std::slice::from_ref(wrap)).await {
                Ok(key) => return Ok(key),
                Err(e) => failures.push(format!(
                    "{region}: {}",
                    match e {
                        KeyError::Denied { .. } => "KMS refused (your AWS credentials must be allowed kms:Decrypt on the org's key, and the key must be enabled)".to_owned(),
                        KeyError::Unavailable(m) => format!("KMS could not be reached ({m}); retry"),
                        KeyError::Integrity => "KMS says the wrap does not belong to this org and key version (the kit was altered)".to_owned(),
                        other => other.to_string(),
                    }
                )),
            }
        }
        Err(CliError::Other(anyhow!(
            "unwrapping org-key version {version} of org `{}` with its KMS keys failed in every region: {}",
            kit.slug,
            failures.join("; ")
        )))
    }
}

/// One version found in the store.
struct Found {
    secret: uuid::Uuid,
    version: u32,
    envelope: BlobKey,
    size: u64,
    manifest: Option<(BlobKey, u64)>,
}

/// A line of `index.json`.
#[derive(Serialize)]
struct IndexEntry {
    secret_id: uuid::Uuid,
    version: u32,
    latest: bool,
    object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<coffer_api::SecretKind>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    written_at: Option<time::OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    written_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[derive(Serialize)]
struct Index<'a> {
    format: &'static str,
    org_id: uuid::Uuid,
    org: &'a str,
    source: String,
    versions: Vec<IndexEntry>,
}

/// `orgs/{org}/secrets/{secret}/v{n}-{hex}.cfr` → (secret, n).
fn parse_envelope_key(org: uuid::Uuid, key: &BlobKey) -> Option<(uuid::Uuid, u32)> {
    let rest = key.as_str().strip_prefix(&format!("orgs/{org}/secrets/"))?;
    let (secret, file) = rest.split_once('/')?;
    let stem = file.strip_suffix(".cfr")?;
    let n = stem.strip_prefix('v')?;
    let n = n.split_once('-').map_or(n, |(n, _)| n);
    Some((secret.parse().ok()?, n.parse().ok()?))
}

async fn open_store(kit: &RecoveryKit, args: &RecoverArgs) -> Result<(Box<dyn BlobStore>, String)> {
    if let Some(dir) = &args.dir {
        if !dir.join("orgs").is_dir() {
            return Err(CliError::Usage(format!(
                "{} holds no `orgs/` directory: give the directory that holds it (DATA_DIR/blobs, or the prefix directory of a copy of the bucket)",
                dir.display()
            )));
        }
        let store = FsBlobStore::open(dir.clone())
            .await
            .map_err(|e| anyhow!("cannot read {}: {e}", dir.display()))?;
        return Ok((Box::new(store), dir.display().to_string()));
    }
    let bucket = args.bucket.clone().expect("clap requires one source");
    let same = kit.storage.bucket.as_deref() == Some(bucket.as_str());
    let from_kit = |v: &Option<String>, k: &Option<String>| {
        v.clone().or_else(|| same.then(|| k.clone()).flatten())
    };
    let endpoint = from_kit(&args.endpoint, &kit.storage.endpoint);
    let settings = AwsSettings {
        region: from_kit(&args.region, &kit.storage.region),
        force_path_style: endpoint.is_some(),
        endpoint,
        ..AwsSettings::default()
    };
    let prefix = from_kit(&args.prefix, &kit.storage.prefix);
    let store = S3BlobStore::open(&settings, bucket.clone(), prefix.as_deref())
        .await
        .map_err(|e| anyhow!("cannot set up S3 for bucket {bucket}: {e}"))?;
    let shown = match &prefix {
        Some(p) => format!("s3://{bucket}/{}", p.trim_matches('/')),
        None => format!("s3://{bucket}"),
    };
    Ok((Box::new(store), shown))
}

/// Creates `out` with mode 0700; refuses anything that exists, so no one else's directory (or
/// a link planted there) receives plaintext.
fn make_out_dir(out: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => CliError::Usage(format!(
                "{} exists: coffer recover writes into a new directory it creates (mode 0700); name one that does not exist",
                out.display()
            )),
            _ => CliError::Other(anyhow!("cannot create {}: {e}", out.display())),
        })
}

fn write_new(path: &Path, bytes: &[u8]) -> std::result::Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut out = NewFile::create(path).map_err(|e| e.to_string())?;
    let mut file = out.take_file();
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    out.keep();
    Ok(())
}

/// Reads an object the listing said is `size` bytes, refusing more than `max` before reading.
async fn read(
    store: &dyn BlobStore,
    key: &BlobKey,
    size: u64,
    max: u64,
) -> std::result::Result<Bytes, String> {
    if size > max {
        return Err(format!(
            "it is {size} bytes, over {max}: not a Coffer object"
        ));
    }
    let bytes = store
        .get(key)
        .await
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("it is over {max} bytes: not a Coffer object"));
    }
    Ok(bytes)
}

/// What naming a version found.
enum Naming {
    /// Its manifest.
    Named(Manifest),
    /// It has no manifest (written before manifests existed, an upload never committed).
    Unnamed(String),
    /// Its manifest is there but is not its own: altered, moved, another org's.
    Refused(String),
    /// Its manifest could not be opened for want of the org key (see [`KitKeys::get`]).
    NoKey(String),
}

/// Opens and checks the manifest of `f`.
async fn name_of(
    store: &dyn BlobStore,
    keys: &mut KitKeys<'_>,
    org: uuid::Uuid,
    f: &Found,
) -> Naming {
    let Some((mkey, size)) = &f.manifest else {
        return Naming::Unnamed(
            "no manifest beside it (written before manifests existed, an upload never committed, or deleted)".into(),
        );
    };
    let sealed = match read(store, mkey, *size, MAX_SEALED as u64).await {
        Ok(b) => b,
        Err(e) => return Naming::Refused(format!("its manifest: {e}")),
    };
    let key_version = match Manifest::sealed_under(&sealed) {
        Ok((_, v)) => v,
        Err(e) => return Naming::Refused(e.to_string()),
    };
    let key = match keys.get(key_version).await {
        Ok(k) => k,
        Err(e) => return Naming::NoKey(format!("its manifest: {e}")),
    };
    // The value's binding as the object key states it; the manifest must be that version's.
    let value = Binding {
        org: *org.as_bytes(),
        secret: *f.secret.as_bytes(),
        version: f.version,
        key_version: 0,
    };
    match Manifest::open(&sealed, &value, key) {
        Ok(m) => Naming::Named(m),
        Err(e) => Naming::Refused(e.to_string()),
    }
}

/// Counts of a run.
#[derive(Default)]
struct Tally {
    written: u64,
    unnamed: u64,
    refused: u64,
    failed: u64,
}

/// `coffer recover --bucket|--dir`.
pub(super) async fn rebuild(kit: &RecoveryKit, args: &RecoverArgs) -> Result<i32> {
    let out = args
        .out
        .clone()
        .expect("clap requires --out with --bucket or --dir");
    let (store, source) = open_store(kit, args).await?;
    let org = kit.org_id;
    let prefix = BlobPrefix::parse(&format!("orgs/{org}/secrets/")).expect("ids are safe");
    let listed = store.list(&prefix).await.map_err(|e| {
        anyhow!("cannot list {source}: {e} (check the bucket, its region and your AWS credentials)")
    })?;
    let manifests: HashMap<BlobKey, u64> = listed
        .iter()
        .filter(|m| m.key.envelope_of_manifest().is_some())
        .map(|m| (m.key.clone(), m.size))
        .collect();
    let mut by_secret: BTreeMap<uuid::Uuid, Vec<Found>> = BTreeMap::new();
    for meta in listed {
        let Some((secret, version)) = parse_envelope_key(org, &meta.key) else {
            continue; // a manifest, or not Coffer's
        };
        let manifest = meta
            .key
            .manifest_key()
            .and_then(|m| manifests.get(&m).map(|size| (m, *size)));
        by_secret.entry(secret).or_default().push(Found {
            secret,
            version,
            envelope: meta.key,
            size: meta.size,
            manifest,
        });
    }
    if by_secret.is_empty() {
        return Err(anyhow!(
            "{source} holds no envelope of org `{}` ({org}) under orgs/{org}/secrets/: check the bucket, prefix or directory",
            kit.slug
        )
        .into());
    }
    make_out_dir(&out)?;
    let mut keys = KitKeys::new(kit, args.kms_endpoint.clone());
    let mut index = Vec::new();
    let mut tally = Tally::default();
    // Per secret, newest first: the newest version whose manifest is its own is the secret's
    // latest named value; anything newer (never acknowledged, or its manifest lost) is written
    // unnamed beside it rather than hidden; older versions only with --all-versions.
    let mut chosen: Vec<(Found, bool, Naming)> = Vec::new();
    for (_, mut versions) in by_secret {
        versions.sort_by_key(|f| std::cmp::Reverse(f.version));
        let mut named_latest = false;
        let highest = versions[0].version;
        for f in versions {
            if named_latest && !args.all_versions {
                index.push(entry(
                    &f,
                    false,
                    None,
                    Some("older version: not written (use --all-versions)".into()),
                ));
                continue;
            }
            let naming = name_of(store.as_ref(), &mut keys, org, &f).await;
            let latest = match naming {
                Naming::Named(_) if !named_latest => {
                    named_latest = true;
                    true
                }
                _ => !named_latest && f.version == highest,
            };
            chosen.push((f, latest, naming));
        }
    }
    // Who keeps a scope/name two secrets claim: the one written last.
    let mut owner: HashMap<(String, String), (time::OffsetDateTime, uuid::Uuid)> = HashMap::new();
    for (f, latest, naming) in &chosen {
        if let (true, Naming::Named(m)) = (latest, naming) {
            let slot = owner
                .entry((m.scope.clone(), m.name.clone()))
                .or_insert((m.written_at, f.secret));
            if m.written_at > slot.0 {
                *slot = (m.written_at, f.secret);
            }
        }
    }
    let mut used = std::collections::HashSet::new();
    for (f, latest, naming) in chosen {
        let (manifest, problem, base) = match naming {
            Naming::Named(m) => {
                let mine = owner
                    .get(&(m.scope.clone(), m.name.clone()))
                    .is_some_and(|o| o.1 == f.secret);
                let base = match mine || !latest {
                    true => format!("{}/{}", m.scope, m.name),
                    false => format!("{}/{}@{}", m.scope, m.name, f.secret),
                };
                (Some(m), None, base)
            }
            Naming::Unnamed(why) => (None, Some(why), format!("_unnamed/{}", f.secret)),
            Naming::Refused(why) => {
                tally.refused += 1;
                (None, Some(why), format!("_unnamed/{}", f.secret))
            }
            Naming::NoKey(why) => (None, Some(why), format!("_unnamed/{}", f.secret)),
        };
        let bytes = match read(store.as_ref(), &f.envelope, f.size, MAX_OBJECT).await {
            Ok(b) => Zeroizing::new(b.to_vec()),
            Err(e) => {
                tally.failed += 1;
                index.push(entry(&f, latest, manifest, Some(e)));
                continue;
            }
        };
        let (plain, key_version) = match open_envelope(&bytes, org, &f, &mut keys).await {
            Ok(v) => v,
            Err(e) => {
                tally.failed += 1;
                index.push(entry(&f, latest, manifest, Some(e)));
                continue;
            }
        };
        let mut relative = match latest {
            true => base,
            false => format!("{base}@v{}", f.version),
        };
        if !used.insert(relative.clone()) {
            // Two objects of one version (a copy left by a crash or a lost race): both kept.
            let stem = f.envelope.as_str().rsplit('/').next().unwrap_or_default();
            relative = format!("{relative}@{}", stem.trim_end_matches(".cfr"));
            used.insert(relative.clone());
        }
        let mut e = entry(&f, latest, manifest, problem);
        e.key_version = Some(key_version);
        match write_new(&out.join(&relative), plain.as_bytes()) {
            Ok(()) => {
                if e.name.is_none() {
                    tally.unnamed += 1;
                }
                tally.written += 1;
                e.file = Some(relative);
            }
            Err(why) => {
                tally.failed += 1;
                e.problem = Some(why);
            }
        }
        index.push(e);
    }
    index.sort_by_key(|a| (a.secret_id, a.version));
    let doc = Index {
        format: "coffer-recovery-index",
        org_id: org,
        org: &kit.slug,
        source: source.clone(),
        versions: index,
    };
    let json = serde_json::to_vec_pretty(&doc).map_err(anyhow::Error::from)?;
    write_new(&out.join("index.json"), &json).map_err(|e| anyhow!(e))?;
    let mut summary = format!(
        "recovered {} value(s) of org `{}` from {source} into {}",
        tally.written,
        kit.slug,
        out.display()
    );
    if tally.unnamed > 0 {
        summary += &format!(
            "; {} without a usable manifest are in _unnamed/",
            tally.unnamed
        );
    }
    if tally.refused > 0 {
        summary += &format!(
            "; {} manifest(s) were REFUSED (altered, moved or not this org's: the store was tampered with)",
            tally.refused
        );
    }
    if tally.failed > 0 {
        summary += &format!(
            "; {} object(s) could NOT be opened or written",
            tally.failed
        );
    }
    for (version, why) in &keys.failed {
        eprintln!("org-key version {version}: {why}");
    }
    eprintln!("{summary}; index.json lists every version found and each problem");
    Ok(if tally.failed + tally.refused > 0 {
        1
    } else {
        0
    })
}

fn entry(f: &Found, latest: bool, m: Option<Manifest>, problem: Option<String>) -> IndexEntry {
    IndexEntry {
        secret_id: f.secret,
        version: f.version,
        latest,
        object: f.envelope.as_str().to_owned(),
        scope: m.as_ref().map(|m| m.scope.clone()),
        name: m.as_ref().map(|m| m.name.clone()),
        kind: m.as_ref().map(|m| m.kind),
        written_at: m.as_ref().map(|m| m.written_at),
        written_by: m.as_ref().map(|m| m.written_by.clone()),
        key_version: None,
        file: None,
        problem,
    }
}

/// Opens the envelope `bytes` of `f`; `Err` says why it is not what its key says or does not
/// open.
async fn open_envelope(
    bytes: &[u8],
    org: uuid::Uuid,
    f: &Found,
    keys: &mut KitKeys<'_>,
) -> std::result::Result<(coffer_envelope::Plaintext, u32), String> {
    let envelope = coffer_envelope::parse(bytes, bytes.len())
        .map_err(|e| format!("not a Coffer envelope: {e}"))?;
    let b = envelope.binding;
    if uuid::Uuid::from_bytes(b.org) != org
        || uuid::Uuid::from_bytes(b.secret) != f.secret
        || b.version != f.version
    {
        return Err(format!(
            "its header names org {} secret {} version {}, not what its key says",
            uuid::Uuid::from_bytes(b.org),
            uuid::Uuid::from_bytes(b.secret),
            b.version
        ));
    }
    let key = keys.get(b.key_version).await?;
    coffer_envelope::open(key, &b, bytes, bytes.len())
        .map(|p| (p, b.key_version))
        .map_err(|e| {
            format!(
                "does not open with the kit's org key version {}: {e} (altered, or not sealed by this org)",
                b.key_version
            )
        })
}
