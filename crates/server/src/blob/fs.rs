//! Filesystem blob store: one file per blob under a root directory, mirroring the key's path.
//!
//! Durability and atomicity come from the classic sequence: write a temp file in the target
//! directory → fsync it → `link(2)` it to the final name (atomic, and fails if the name exists,
//! which is exactly create-if-absent) → unlink the temp → fsync the directory so the new entry
//! itself survives a power cut. New directories are fsynced into their parents the same way.
//! All blocking filesystem work runs on the blocking pool, except reads of small envelopes
//! ([`read_small`]), which cost less than the hand-off.

use super::{BlobError, BlobKey, BlobMeta, BlobPrefix, BlobStore};
use async_trait::async_trait;
use bytes::Bytes;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Blobs as files under `root`.
pub struct FsBlobStore {
    root: PathBuf,
}

fn io_err(context: &str, e: std::io::Error) -> BlobError {
    tracing::warn!(error = %e, "fs blob store: {context}");
    match e.kind() {
        ErrorKind::PermissionDenied => BlobError::Refused(format!("{context}: {e}")),
        _ => BlobError::Unavailable(format!("{context}: {e}")),
    }
}

/// Envelopes up to this size are read on the calling task's thread.
const INLINE_READ_BYTES: u64 = 16 * 1024;

/// Reads the file at `path` here and now if it is at most [`INLINE_READ_BYTES`] (`None`: larger,
/// read it on the blocking pool). An envelope of a typical secret is ~1.2 KiB and sits in the
/// page cache: open + read + close take microseconds, less than handing the read to another
/// thread and back (docs/performance.md).
fn read_small(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > INLINE_READ_BYTES {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents below `root` (mode 0700), fsyncing each new entry.
fn ensure_dir(root: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| p.starts_with(root) && *p != dir) {
        ensure_dir(root, parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => fsync_dir(dir.parent().unwrap_or(root)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("OS random generator failed");
    hex::encode(b)
}

fn put_blocking(root: &Path, path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
    let dir = path.parent().unwrap_or(root);
    ensure_dir(root, dir).map_err(|e| io_err("creating directory", e))?;
    let tmp = dir.join(format!(".tmp-{}", random_suffix()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    match result {
        Ok(()) => fsync_dir(dir).map_err(|e| io_err("syncing directory", e)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(BlobError::AlreadyExists),
        Err(e) => Err(io_err("writing blob", e)),
    }
}

fn walk(
    dir: &Path,
    root: &Path,
    prefix: &BlobPrefix,
    out: &mut Vec<BlobMeta>,
) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk(&path, root, prefix, out)?;
        } else if ty.is_file() {
            let rel = path.strip_prefix(root).ok().and_then(|p| p.to_str());
            let Some(key) = rel.and_then(BlobKey::parse) else {
                continue;
            }; // temp files
            if prefix.matches(&key) {
                let meta = entry.metadata()?;
                let modified_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64);
                out.push(BlobMeta {
                    key,
                    size: meta.len(),
                    modified_ms,
                });
            }
        }
    }
    Ok(())
}

impl FsBlobStore {
    /// Opens (creating with mode 0700 if needed) a store rooted at `root`.
    pub async fn open(root: PathBuf) -> Result<Self, BlobError> {
        let r = root.clone();
        tokio::task::spawn_blocking(move || {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(&r)
        })
        .await
        .expect("blocking task panicked")
        .map_err(|e| io_err("creating blob root", e))?;
        Ok(Self { root })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    fn backend(&self) -> &'static str {
        "fs"
    }

    async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<(), BlobError> {
        let (root, path) = (self.root.clone(), self.path(key));
        tokio::task::spawn_blocking(move || put_blocking(&root, &path, &bytes))
            .await
            .expect("blocking task panicked")
    }

    async fn get(&self, key: &BlobKey) -> Result<Bytes, BlobError> {
        let path = self.path(key);
        let read = match read_small(&path) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => tokio::fs::read(path).await,
            Err(e) => Err(e),
        };
        match read {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(e) => Err(io_err("reading blob", e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("deleting blob", e)),
        }
    }

    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobMeta>, BlobError> {
        let root = self.root.clone();
        let prefix = prefix.clone();
        tokio::task::spawn_blocking(move || {
            // Walk only the deepest directory the prefix fully names.
            let start = match prefix.as_str().rfind('/') {
                Some(i) => root.join(&prefix.as_str()[..i]),
                None => root.clone(),
            };
            let mut out = Vec::new();
            walk(&start, &root, &prefix, &mut out).map_err(|e| io_err("listing blobs", e))?;
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
        .expect("blocking task panicked")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
        super::super::conformance::run_all(&store).await;
    }

    #[tokio::test]
    async fn files_are_private_and_no_temp_files_remain() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path().to_path_buf()).await.unwrap();
        let key = BlobKey::parse("orgs/x/secrets/y/v1.cfr").unwrap();
        store
            .put_if_absent(&key, Bytes::from_static(b"abc"))
            .await
            .unwrap();
        let mode = fs::metadata(dir.path().join(key.as_str()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "blob readable by others: {mode:o}");
        let names: Vec<_> = fs::read_dir(dir.path().join("orgs/x/secrets/y"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("v1.cfr")]);
    }
}
