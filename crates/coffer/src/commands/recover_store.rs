//! `coffer recover --bucket|--dir`: rebuilds an org's secrets from its store alone — the bucket
//! (or a directory holding `orgs/`) and the org's recovery kit, with no catalog and no server.
//!
//! The org's objects are `orgs/{org}/secrets/{secret}/v{n}-{hex}.cfr` (an envelope) and, beside
//! each, `….cfm` (its sealed manifest: scope, name, kind, writer; `coffer_server::manifest`).
//! From the listing alone it picks each secret's latest version (or every version with
//! `--all-versions`), opens the manifests to name them, then opens each envelope and writes its
//! value to `OUT/{scope}/{name}` (older versions `…@v{n}`). Nothing is believed that is not
//! authenticated: an envelope must open with the kit's key and its header must name the secret
//! and version its key says; a manifest must open with the kit's key and name exactly the
//! envelope beside it. A version whose manifest is missing or fails goes to
//! `OUT/_unnamed/{secret}` (no secret name or scope key starts with `_`), and two secrets
//! claiming one name keep it by who wrote last (the other gets `…@{secret id}`). Every
//! version found, and every object that could not be opened, is listed in `OUT/index.json`.
//!
//! The org keys come from [`KitKeys`]: the kit itself for an org on the deployment's master key,
//! KMS `Decrypt` with the caller's own AWS credentials for a BYOK org.

use super::backup::NewFile;
use crate::cli::RecoverArgs;
use crate::error::{CliError, Result};
use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use bytes::Bytes;
use coffer_api::{KeyProviderKind, RecoveryKit};
use coffer_envelope::Key32;
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
}

impl<'k> KitKeys<'k> {
    pub(super) fn new(kit: &'k RecoveryKit, kms_endpoint: Option<String>) -> Self {
        Self {
            kit,
            kms_endpoint,
            kms: None,
            held: HashMap::new(),
        }
    }

    /// The org key of `version`.
    pub(super) async fn get(&mut self, version: u32) -> Result<&Key32> {
        if !self.held.contains_key(&version) {
            let key = self.fetch(version).await?;
            self.held.insert(version, key);
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
    manifest: Option<BlobKey>,
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

/// Creates `out` (0700), or accepts it if it is an empty directory.
fn make_out_dir(out: &Path) -> Result<()> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::Usage(format!(
                    "{} is not empty: coffer recover writes into a new or empty directory",
                    out.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .mode(0o700)
            .create(out)
            .with_context(|| format!("cannot create {}", out.display()))
            .map_err(Into::into),
        Err(e) => Err(anyhow!("cannot use {}: {e}", out.display()).into()),
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut out = NewFile::create(path)?;
    let mut file = out.take_file();
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    out.keep();
    Ok(())
}

async fn read(
    store: &dyn BlobStore,
    key: &BlobKey,
    max: u64,
) -> std::result::Result<Bytes, String> {
    let bytes = store
        .get(key)
        .await
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("it is over {max} bytes: not a Coffer object"));
    }
    Ok(bytes)
}

/// Opens and checks the manifest of `f`; `Err` says why it cannot name the version.
async fn name_of(
    store: &dyn BlobStore,
    keys: &mut KitKeys<'_>,
    org: uuid::Uuid,
    f: &Found,
) -> Result<std::result::Result<(Manifest, u32), String>> {
    let Some(mkey) = &f.manifest else {
        return Ok(Err(
            "no manifest beside it (written before manifests existed, or lost)".into(),
        ));
    };
    let sealed = match read(store, mkey, MAX_SEALED as u64).await {
        Ok(b) => b,
        Err(e) => return Ok(Err(format!("its manifest: {e}"))),
    };
    let (sealed_org, key_version) = match Manifest::sealed_under(&sealed) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if sealed_org.as_uuid() != org {
        return Ok(Err(format!(
            "its manifest is sealed by another org ({sealed_org})"
        )));
    }
    let key = keys.get(key_version).await?;
    let manifest = match Manifest::open(&sealed, key) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if manifest.object != f.envelope.as_str()
        || manifest.secret_id.as_uuid() != f.secret
        || manifest.secret_version != f.version
    {
        return Ok(Err(format!(
            "its manifest describes {} (secret {} version {}), not this envelope",
            manifest.object, manifest.secret_id, manifest.secret_version
        )));
    }
    Ok(Ok((manifest, key_version)))
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
    let mut by_secret: BTreeMap<uuid::Uuid, Vec<Found>> = BTreeMap::new();
    let mut manifests = std::collections::HashSet::new();
    for meta in &listed {
        if meta.key.envelope_of_manifest().is_some() {
            manifests.insert(meta.key.clone());
        }
    }
    let mut index = Vec::new();
    for meta in listed {
        if meta.key.envelope_of_manifest().is_some() {
            continue;
        }
        let Some((secret, version)) = parse_envelope_key(org, &meta.key) else {
            continue; // not an envelope (a temporary or foreign object)
        };
        let manifest = meta.key.manifest_key().filter(|m| manifests.contains(m));
        by_secret.entry(secret).or_default().push(Found {
            secret,
            version,
            envelope: meta.key,
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
    // Which versions to write, named.
    let mut chosen = Vec::new();
    for (_, mut versions) in by_secret {
        versions.sort_by_key(|f| f.version);
        let latest = versions.last().map(|f| f.version).expect("non-empty");
        for f in versions {
            let is_latest = f.version == latest;
            if !is_latest && !args.all_versions {
                index.push(entry(
                    &f,
                    false,
                    None,
                    Some("older version: not written (use --all-versions)".into()),
                ));
                continue;
            }
            let named = name_of(store.as_ref(), &mut keys, org, &f).await?;
            chosen.push((f, is_latest, named));
        }
    }
    // Who keeps a name two secrets claim: the one written last.
    let mut owner: HashMap<(String, String), (time::OffsetDateTime, uuid::Uuid)> = HashMap::new();
    for (f, latest, named) in &chosen {
        if let (true, Ok((m, _))) = (latest, named) {
            let slot = owner
                .entry((m.scope.clone(), m.name.clone()))
                .or_insert((m.written_at, f.secret));
            if m.written_at > slot.0 {
                *slot = (m.written_at, f.secret);
            }
        }
    }
    let (mut written, mut unnamed, mut failed) = (0u64, 0u64, 0u64);
    for (f, latest, named) in chosen {
        let bytes = match read(store.as_ref(), &f.envelope, MAX_OBJECT).await {
            Ok(b) => Zeroizing::new(b.to_vec()),
            Err(e) => {
                failed += 1;
                index.push(entry(&f, latest, named.ok().map(|n| n.0), Some(e)));
                continue;
            }
        };
        let opened = open_envelope(&bytes, org, &f, &mut keys).await?;
        let (plain, key_version) = match opened {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                index.push(entry(&f, latest, named.ok().map(|n| n.0), Some(e)));
                continue;
            }
        };
        let (relative, manifest, problem) = match named {
            Ok((m, _)) => {
                let base = if owner
                    .get(&(m.scope.clone(), m.name.clone()))
                    .is_some_and(|o| o.1 == f.secret)
                {
                    format!("{}/{}", m.scope, m.name)
                } else {
                    format!("{}/{}@{}", m.scope, m.name, f.secret)
                };
                (base, Some(m), None)
            }
            Err(why) => {
                unnamed += 1;
                (format!("_unnamed/{}", f.secret), None, Some(why))
            }
        };
        let relative = if latest {
            relative
        } else {
            format!("{relative}@v{}", f.version)
        };
        write_new(&out.join(&relative), plain.as_bytes())?;
        written += 1;
        let mut e = entry(&f, latest, manifest, problem);
        e.file = Some(relative);
        e.key_version = Some(key_version);
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
    write_new(&out.join("index.json"), &json)?;
    eprintln!(
        "recovered {written} value(s) of org `{}` from {source} into {}{}{}; index.json lists every version found",
        kit.slug,
        out.display(),
        if unnamed > 0 {
            format!("; {unnamed} without a usable manifest are in _unnamed/")
        } else {
            String::new()
        },
        if failed > 0 {
            format!("; {failed} object(s) could NOT be opened (see `problem` in index.json)")
        } else {
            String::new()
        },
    );
    Ok(if failed > 0 { 1 } else { 0 })
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

/// Opens the envelope `bytes` of `f`: `Ok(Err(why))` when it is not what its key says or does not
/// open; `Err` only when the kit's keys cannot be had at all.
async fn open_envelope(
    bytes: &[u8],
    org: uuid::Uuid,
    f: &Found,
    keys: &mut KitKeys<'_>,
) -> Result<std::result::Result<(coffer_envelope::Plaintext, u32), String>> {
    let envelope = match coffer_envelope::parse(bytes, bytes.len()) {
        Ok(e) => e,
        Err(e) => return Ok(Err(format!("not a Coffer envelope: {e}"))),
    };
    let b = envelope.binding;
    if uuid::Uuid::from_bytes(b.org) != org
        || uuid::Uuid::from_bytes(b.secret) != f.secret
        || b.version != f.version
    {
        return Ok(Err(format!(
            "its header names org {} secret {} version {}, not what its key says",
            uuid::Uuid::from_bytes(b.org),
            uuid::Uuid::from_bytes(b.secret),
            b.version
        )));
    }
    let key = keys.get(b.key_version).await?;
    Ok(coffer_envelope::open(key, &b, bytes, bytes.len())
        .map(|p| (p, b.key_version))
        .map_err(|e| {
            format!(
                "does not open with the kit's org key version {}: {e} (altered, or not sealed by this org)",
                b.key_version
            )
        }))
}
