//! Restoring a backup archive (layout: [`super`]) into an empty data directory, offline, and
//! proving the result is usable before calling it done.
//!
//! Steps: [`Restore::begin`] refuses a directory that is not empty (creating a missing one with
//! mode 0700, as `coffer serve` does) and makes a staging directory inside it,
//! [`STAGING_DIR`]; [`Restore::unpack`] reads the archive (already decrypted by the caller) into
//! it, refusing anything that is not the layout — the manifest first, no name outside it, every
//! file created new with mode 0600 and every directory 0700; [`Restore::verify`] opens the staged
//! catalog with the server's own code and checks it end to end; [`Restore::commit`] moves the
//! files into the directory. Dropped before commit, a restore removes everything it wrote (and the
//! directory, if it made it), so a failure leaves nothing that `coffer serve` could start on. A
//! restore killed part-way leaves only the staging directory, whose name says it is incomplete.
//!
//! What verification checks: the manifest agrees with the catalog (orgs, counts); the master key
//! — in the archive, or given with [`Restore::supply_master_key`] when the archive leaves it out
//! (the default) — unwraps every org-key version that has a local copy; every org's audit chain
//! verifies, and so do its signed checkpoints when their keys are local (a BYOK org's need its
//! KMS keys; `coffer audit verify` checks them on the restored server); every version whose
//! envelope belongs to the default store has one in the archive, whose header parses and carries
//! exactly the binding (org, secret, version, org-key version) and wrapped data key of its row.
//! Envelopes in an org's own bucket are not in the archive and are counted, not checked.

use super::{
    BLOBS_DIR, CATALOG_ENTRY, FORMAT, FORMAT_VERSION, MANIFEST_ENTRY, MASTER_KEY_ENTRY,
    MAX_ENVELOPE_BYTES, MAX_MANIFEST_BYTES, Manifest,
};
use crate::audit::checkpoint::{self, SigningKey};
use crate::blob::{BlobError, BlobKey, BlobStore, FsBlobStore};
use crate::catalog::sqlite::SqliteCatalog;
use crate::catalog::{Catalog, OrgRecord, SecretFilter, StorageCatalog, walk_audit_chain};
use crate::keys::{KeyContext, KeyProvider, LocalKeyProvider};
use coffer_envelope::{Binding, OrgKey};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The staging directory inside the target while a restore runs: its presence means the
/// directory is not a usable data directory yet.
pub const STAGING_DIR: &str = ".coffer-restore-incomplete";

/// The largest master key file accepted (the format is 37 bytes).
const MAX_MASTER_KEY_BYTES: u64 = 4096;
/// Why a restore failed. Each message says what failed; none carries key material.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The target directory holds something already.
    #[error("{path} is not empty: restore into a new or empty directory (nothing was written)")]
    TargetNotEmpty {
        /// The directory.
        path: String,
    },
    /// Reading or writing the target directory failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// The archive could not be read to its end (truncated, altered, or not decrypted).
    #[error("the backup could not be read: {0}")]
    Damaged(String),
    /// The archive is not a Coffer backup, or breaks its layout.
    #[error("not a Coffer backup: {0}")]
    NotABackup(String),
    /// The archive is of a layout version this coffer does not know.
    #[error(
        "the backup has format version {0}, but this coffer reads version {FORMAT_VERSION}: restore with the coffer that made it, or a newer one"
    )]
    UnsupportedVersion(u32),
    /// Something the manifest promises is not in the archive.
    #[error("the backup is incomplete: {0}")]
    Incomplete(String),
    /// The unpacked data failed a check.
    #[error("verification failed: {0}")]
    Verification(String),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> RestoreError {
    let what = what.into();
    move |source| RestoreError::Io { what, source }
}

/// What a verified restore holds.
#[derive(Clone, Debug, Default)]
pub struct RestoreSummary {
    /// Orgs.
    pub orgs: u64,
    /// Live secrets (soft-deleted ones included).
    pub secrets: u64,
    /// Their versions.
    pub versions: u64,
    /// Envelopes checked in the restored blob store.
    pub blobs: u64,
    /// Audit events verified, over all orgs.
    pub audit_events: u64,
    /// Signed audit checkpoints verified.
    pub checkpoints: u64,
    /// Orgs with org-key versions wrapped only by their own KMS keys (BYOK): the restored
    /// server needs those keys to open their secrets.
    pub kms_orgs: Vec<String>,
    /// Orgs whose signed checkpoints were not checked, because a KMS-only org-key version
    /// signed some (`coffer audit verify` checks them on the restored server).
    pub unchecked_checkpoints: Vec<String>,
    /// Orgs with envelopes in their own buckets (not in the archive), with the buckets and how
    /// many versions are there.
    pub bucket_orgs: Vec<(String, Vec<String>, u64)>,
}

/// A restore in progress (see the module docs for the steps).
#[derive(Debug)]
pub struct Restore {
    target: PathBuf,
    staging: PathBuf,
    created_target: bool,
    committed: bool,
}

impl Restore {
    /// Checks that `target` is empty or missing, creates it (mode 0700) if missing, and makes
    /// the staging directory in it.
    pub fn begin(target: &Path) -> Result<Restore, RestoreError> {
        let shown = target.display().to_string();
        let created_target = match fs::read_dir(target) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(RestoreError::TargetNotEmpty { path: shown });
                }
                // `coffer serve` refuses a data directory others can reach.
                fs::set_permissions(target, fs::Permissions::from_mode(0o700))
                    .map_err(io_error(format!("making {shown} private (mode 0700)")))?;
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(target)
                    .map_err(io_error(format!("creating {shown}")))?;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(RestoreError::TargetNotEmpty { path: shown });
            }
            Err(e) => return Err(io_error(format!("reading {shown}"))(e)),
        };
        let restore = Restore {
            target: target.to_path_buf(),
            staging: target.join(STAGING_DIR),
            created_target,
            committed: false,
        };
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&restore.staging)
            .map_err(io_error(format!("creating {}", restore.staging.display())))?;
        Ok(restore)
    }

    /// The directory being restored into.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Reads the archive from `reader` into the staging directory; returns its manifest.
    pub fn unpack(&self, reader: impl Read) -> Result<Manifest, RestoreError> {
        let damaged = |e: io::Error| RestoreError::Damaged(e.to_string());
        let mut archive = tar::Archive::new(reader);
        let mut manifest: Option<Manifest> = None;
        let (mut catalog, mut master_key) = (false, false);
        let mut blobs = 0u64;
        let blob_root = self.staging.join(BLOBS_DIR);
        for entry in archive.entries().map_err(damaged)? {
            let mut entry = entry.map_err(damaged)?;
            let name = String::from_utf8(entry.path_bytes().into_owned())
                .map_err(|_| RestoreError::NotABackup("an entry's name is not UTF-8".into()))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(RestoreError::NotABackup(format!(
                    "the entry {name:?} is not a regular file"
                )));
            }
            let len = entry.size();
            let Some(found) = &manifest else {
                if name != MANIFEST_ENTRY || len > MAX_MANIFEST_BYTES {
                    return Err(RestoreError::NotABackup(format!(
                        "it does not start with {MANIFEST_ENTRY}"
                    )));
                }
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(damaged)?;
                manifest = Some(parse_manifest(&bytes)?);
                continue;
            };
            let target = match name.as_str() {
                CATALOG_ENTRY if !catalog => {
                    catalog = true;
                    self.staging.join(CATALOG_ENTRY)
                }
                MASTER_KEY_ENTRY if !master_key => {
                    if len > MAX_MASTER_KEY_BYTES {
                        return Err(RestoreError::NotABackup(format!(
                            "{MASTER_KEY_ENTRY} is {len} bytes long"
                        )));
                    }
                    master_key = true;
                    self.staging.join(MASTER_KEY_ENTRY)
                }
                other => {
                    let key = other
                        .strip_prefix(BLOBS_DIR)
                        .and_then(|rest| rest.strip_prefix('/'))
                        .and_then(BlobKey::parse)
                        .ok_or_else(|| {
                            RestoreError::NotABackup(format!("unexpected entry {other:?}"))
                        })?;
                    if len > MAX_ENVELOPE_BYTES {
                        return Err(RestoreError::NotABackup(format!(
                            "the envelope {key} is {len} bytes long"
                        )));
                    }
                    if blobs == found.blobs {
                        return Err(RestoreError::NotABackup(format!(
                            "it holds more envelopes than the {} its manifest lists",
                            found.blobs
                        )));
                    }
                    blobs += 1;
                    let path = blob_root.join(key.as_str());
                    let dir = path.parent().unwrap_or(&blob_root);
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(io_error(format!("creating {}", dir.display())))?;
                    path
                }
            };
            write_new(&target, &mut entry)?;
        }
        let Some(manifest) = manifest else {
            return Err(RestoreError::NotABackup("it is empty".into()));
        };
        if !catalog {
            return Err(RestoreError::Incomplete(format!(
                "{CATALOG_ENTRY} is missing"
            )));
        }
        if master_key != manifest.master_key {
            return Err(RestoreError::Incomplete(format!(
                "its manifest says {MASTER_KEY_ENTRY} is {}in it, and it is {}",
                if manifest.master_key { "" } else { "not " },
                if master_key { "" } else { "not" }
            )));
        }
        if blobs != manifest.blobs {
            return Err(RestoreError::Incomplete(format!(
                "it holds {blobs} envelopes, its manifest lists {}",
                manifest.blobs
            )));
        }
        sync_dir(&self.staging)?;
        Ok(manifest)
    }

    /// Puts the master key file `source` into the restore, for an archive that does not carry
    /// one (`keys.master_key_in_backups` off); verification then proves it is the right key.
    pub fn supply_master_key(&self, source: &Path) -> Result<(), RestoreError> {
        let shown = source.display().to_string();
        let mut file = fs::File::open(source).map_err(io_error(format!("opening {shown}")))?;
        let len = file
            .metadata()
            .map_err(io_error(format!("reading {shown}")))?
            .len();
        if len > MAX_MASTER_KEY_BYTES {
            return Err(RestoreError::NotABackup(format!(
                "{shown} is {len} bytes long: not a master key file"
            )));
        }
        write_new(&self.staging.join(MASTER_KEY_ENTRY), &mut file)
    }

    /// Opens the staged catalog, master key and envelopes with the server's own code and checks
    /// them (see the module docs) against each other and against `manifest`.
    pub async fn verify(&self, manifest: &Manifest) -> Result<RestoreSummary, RestoreError> {
        let catalog = SqliteCatalog::open(&self.staging.join(CATALOG_ENTRY), 2)
            .await
            .map_err(|e| {
                RestoreError::Verification(format!("the catalog cannot be opened: {e}"))
            })?;
        let result = verify(&catalog, &self.staging, manifest).await;
        // Closed before its files move: its threads are joined and its lock let go.
        drop(catalog);
        result
    }

    /// Moves the staged files into the target directory: the data directory is usable from now.
    pub fn commit(mut self) -> Result<(), RestoreError> {
        let lock = format!("{CATALOG_ENTRY}.lock");
        let mut names: Vec<_> = fs::read_dir(&self.staging)
            .map_err(io_error(format!("reading {}", self.staging.display())))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_error(format!("reading {}", self.staging.display())))?;
        // The catalog last: until it is in place the directory is no deployment at all.
        names.sort_by_key(|n| n.to_string_lossy().starts_with(CATALOG_ENTRY));
        for name in names {
            let from = self.staging.join(&name);
            if name.to_string_lossy() == lock {
                fs::remove_file(&from).map_err(io_error(format!("removing {}", from.display())))?;
                continue;
            }
            let to = self.target.join(&name);
            fs::rename(&from, &to).map_err(io_error(format!(
                "moving {} to {}",
                from.display(),
                to.display()
            )))?;
        }
        fs::remove_dir(&self.staging)
            .map_err(io_error(format!("removing {}", self.staging.display())))?;
        sync_dir(&self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let removed = if self.created_target {
            fs::remove_dir_all(&self.target)
        } else {
            fs::remove_dir_all(&self.staging)
        };
        if let Err(e) = removed
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.staging.display(), error = %e, "could not remove an incomplete restore");
        }
    }
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest, RestoreError> {
    #[derive(serde::Deserialize)]
    struct Head {
        format: String,
        version: u32,
    }
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|e| RestoreError::NotABackup(format!("its manifest does not parse: {e}")))?;
    if head.format != FORMAT {
        return Err(RestoreError::NotABackup(format!(
            "its manifest is of format {:?}",
            head.format
        )));
    }
    if head.version != FORMAT_VERSION {
        return Err(RestoreError::UnsupportedVersion(head.version));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| RestoreError::NotABackup(format!("its manifest does not parse: {e}")))
}

/// Creates `path` (mode 0600, never over an existing file) with what `from` yields, and syncs
/// it. A failure to read is the archive's; a failure to write is the directory's.
fn write_new(path: &Path, from: &mut impl Read) -> Result<(), RestoreError> {
    let shown = path.display().to_string();
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => {
                RestoreError::NotABackup(format!("{shown} appears twice in it"))
            }
            _ => io_error(format!("creating {shown}"))(e),
        })?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RestoreError::Damaged(e.to_string())),
        };
        file.write_all(&buf[..n])
            .map_err(io_error(format!("writing {shown}")))?;
    }
    file.sync_all()
        .map_err(io_error(format!("writing {shown}")))
}

fn sync_dir(dir: &Path) -> Result<(), RestoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!("syncing {}", dir.display())))
}

async fn verify(
    catalog: &SqliteCatalog,
    staging: &Path,
    manifest: &Manifest,
) -> Result<RestoreSummary, RestoreError> {
    let fail = |m: String| RestoreError::Verification(m);
    let catalog_err = |e| fail(format!("reading the catalog: {e}"));
    // The file is in the archive (unpack checked), so this never creates a key.
    let provider =
        LocalKeyProvider::open(&staging.join(MASTER_KEY_ENTRY)).map_err(|e| fail(e.to_string()))?;
    let store = FsBlobStore::open(staging.join(BLOBS_DIR))
        .await
        .map_err(|e| fail(format!("opening the envelopes: {e}")))?;
    let orgs = catalog.list_orgs().await.map_err(catalog_err)?;
    let in_catalog: BTreeSet<&str> = orgs.iter().map(|o| o.slug.as_str()).collect();
    let in_manifest: BTreeSet<&str> = manifest.orgs.iter().map(|o| o.slug.as_str()).collect();
    if in_catalog != in_manifest {
        return Err(fail(format!(
            "the catalog's orgs ({}) are not the manifest's ({})",
            in_catalog.into_iter().collect::<Vec<_>>().join(", "),
            in_manifest.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut summary = RestoreSummary {
        orgs: orgs.len() as u64,
        ..Default::default()
    };
    for org in &orgs {
        let keys = org_keys(catalog, &provider, org).await?;
        if keys.values().any(Option::is_none) {
            summary.kms_orgs.push(org.slug.to_string());
        }
        verify_audit(catalog, org, &keys, &mut summary).await?;
        verify_secrets(catalog, &store, org, &mut summary).await?;
    }
    for (what, restored, listed) in [
        ("secrets", summary.secrets, manifest.secrets),
        ("versions", summary.versions, manifest.versions),
        ("envelopes", summary.blobs, manifest.blobs),
    ] {
        if restored != listed {
            return Err(fail(format!(
                "the catalog references {restored} {what}, the manifest lists {listed}"
            )));
        }
    }
    Ok(summary)
}

/// Every org-key version of `org` that has a local copy, unwrapped with the archive's master
/// key; `None` for versions wrapped only by KMS keys.
async fn org_keys(
    catalog: &SqliteCatalog,
    provider: &LocalKeyProvider,
    org: &OrgRecord,
) -> Result<HashMap<u32, Option<OrgKey>>, RestoreError> {
    let mut keys = HashMap::new();
    for version in 1..=org.key_version {
        let wraps = catalog
            .org_key_wraps(org.id, version)
            .await
            .map_err(|e| RestoreError::Verification(format!("reading the catalog: {e}")))?;
        if !wraps.iter().any(|w| w.provider == provider.name()) {
            keys.insert(version, None);
            continue;
        }
        let ctx = KeyContext {
            org: org.id,
            key_version: version,
        };
        let key = provider.unwrap(ctx, &wraps).await.map_err(|_| {
            RestoreError::Verification(format!(
                "org `{}`: the master key in the backup cannot unwrap org-key version {version}",
                org.slug
            ))
        })?;
        keys.insert(version, Some(key));
    }
    Ok(keys)
}

async fn verify_audit(
    catalog: &SqliteCatalog,
    org: &OrgRecord,
    keys: &HashMap<u32, Option<OrgKey>>,
    summary: &mut RestoreSummary,
) -> Result<(), RestoreError> {
    let fail = |m: String| RestoreError::Verification(format!("org `{}`: {m}", org.slug));
    let stored = catalog
        .audit_checkpoints(org.id)
        .await
        .map_err(|e| fail(format!("reading its checkpoints: {e}")))?;
    let wanted: HashSet<u64> = stored.iter().map(|c| c.seq).collect();
    let (chain, hashes) = walk_audit_chain(catalog, org.id, &wanted)
        .await
        .map_err(|e| fail(format!("reading its audit events: {e}")))?;
    if let Some((seq, why)) = chain.failure {
        return Err(fail(format!("audit event {seq}: {why}")));
    }
    summary.audit_events += chain.events;
    let public: HashMap<u32, [u8; 32]> = keys
        .iter()
        .filter_map(|(v, k)| {
            k.as_ref()
                .map(|k| (*v, SigningKey::derive(k, org.id, *v).public_key()))
        })
        .collect();
    if stored.iter().any(|c| !public.contains_key(&c.key_version)) {
        summary.unchecked_checkpoints.push(org.slug.to_string());
        return Ok(());
    }
    checkpoint::check_run(
        &stored,
        chain.events,
        |seq| hashes.get(&seq).copied(),
        |v| public.get(&v).copied(),
    )
    .map_err(fail)?;
    summary.checkpoints += stored.len() as u64;
    Ok(())
}

async fn verify_secrets(
    catalog: &SqliteCatalog,
    store: &FsBlobStore,
    org: &OrgRecord,
    summary: &mut RestoreSummary,
) -> Result<(), RestoreError> {
    let fail = |m: String| RestoreError::Verification(format!("org `{}`: {m}", org.slug));
    let filter = SecretFilter {
        include_deleted: true,
        limit: u32::MAX,
        ..Default::default()
    };
    let secrets = catalog
        .list_secrets(org.id, &filter)
        .await
        .map_err(|e| fail(format!("reading its secrets: {e}")))?;
    let mut in_buckets = 0;
    for secret in &secrets {
        let what = format!("{}/{}", secret.scope, secret.name);
        let versions = catalog
            .versions(secret.id)
            .await
            .map_err(|e| fail(format!("reading the versions of {what}: {e}")))?;
        for v in &versions {
            summary.versions += 1;
            if v.storage.is_some() {
                in_buckets += 1;
                continue;
            }
            let at = format!("version {} of {what} (envelope {})", v.version, v.blob_key);
            let bytes = store.get(&v.blob_key).await.map_err(|e| match e {
                BlobError::NotFound => fail(format!("{at}: the envelope is not in the backup")),
                other => fail(format!("{at}: {other}")),
            })?;
            let envelope = coffer_envelope::parse(&bytes, MAX_ENVELOPE_BYTES as usize)
                .map_err(|e| fail(format!("{at}: the envelope does not parse: {e}")))?;
            let expected = Binding {
                org: org.id.to_bytes(),
                secret: secret.id.to_bytes(),
                version: v.version,
                key_version: v.key_version,
            };
            if let Some(field) = envelope.binding.first_mismatch(&expected) {
                return Err(fail(format!(
                    "{at}: the envelope is bound to another {field}"
                )));
            }
            if envelope.wrapped_key.to_bytes()[..] != v.wrapped_key[..] {
                return Err(fail(format!(
                    "{at}: the envelope's wrapped data key is not the catalog's"
                )));
            }
            summary.blobs += 1;
        }
    }
    summary.secrets += secrets.len() as u64;
    if in_buckets > 0 {
        let buckets = catalog
            .storage_locations()
            .await
            .map_err(|e| fail(format!("reading its storage: {e}")))?
            .into_iter()
            .filter(|l| l.org == org.id)
            .map(|l| l.bucket.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        summary
            .bucket_orgs
            .push((org.slug.to_string(), buckets, in_buckets));
    }
    Ok(())
}
