//! Writing a backup archive (layout: [`super`]) as the body of `POST /api/v1/admin/backup`.
//!
//! The tar stream is built on a blocking thread with the `tar` crate (GNU headers, so blob keys
//! longer than 100 bytes keep their names) and handed to the response in 64 KiB chunks through a
//! small bounded channel: a slow client slows the writer instead of filling memory, and a client
//! that goes away ends it. The catalog snapshot is read from its file as it is sent; envelopes
//! are read from the store one at a time. Whatever the archive needs kept until it is written —
//! the snapshot file, and the hold on blob deletions ([`crate::blob::DeleteHold`]) — lives in
//! the [`BackupArchive`] and goes when the last byte is out or the stream is dropped. A failure
//! part-way ends the body with an error, so the client sees a broken transfer, never a short
//! archive that looks whole.

use super::{BLOBS_DIR, CATALOG_ENTRY, MANIFEST_ENTRY, MASTER_KEY_ENTRY, Manifest};
use crate::blob::{BlobStore, DeleteHold};
use crate::catalog::sqlite::backup::SnapshotBlob;
use bytes::Bytes;
use futures::Stream;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Bytes per chunk of the response body.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the writer thread and the response.
const CHUNKS_IN_FLIGHT: usize = 8;
/// A tar block.
const BLOCK: u64 = 512;
/// The longest name a GNU header holds without a long-name entry.
const SHORT_NAME: usize = 100;

/// A file that is removed when this is dropped (the catalog snapshot).
pub struct Scratch(PathBuf);

impl Scratch {
    /// Takes charge of `path`.
    pub fn new(path: PathBuf) -> Self {
        Self(path)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %e, "could not remove a backup's catalog snapshot");
        }
    }
}

/// Everything one archive is made of, ready to be streamed.
pub struct BackupArchive {
    manifest: Manifest,
    snapshot: Scratch,
    snapshot_len: u64,
    master_key: Option<Zeroizing<Vec<u8>>>,
    blobs: Vec<SnapshotBlob>,
    store: Arc<dyn BlobStore>,
    /// Kept, never read: dropping it lets the store's deletions go on.
    _hold: DeleteHold,
}

impl std::fmt::Debug for BackupArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the master key.
        f.debug_struct("BackupArchive")
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

impl BackupArchive {
    /// An archive of `manifest`, the snapshot file, the master key file's bytes (if given) and
    /// the envelopes `blobs` read from `store`, keeping `hold` until it is written.
    pub fn new(
        manifest: Manifest,
        snapshot: Scratch,
        master_key: Option<Zeroizing<Vec<u8>>>,
        blobs: Vec<SnapshotBlob>,
        store: Arc<dyn BlobStore>,
        hold: DeleteHold,
    ) -> io::Result<Self> {
        let snapshot_len = std::fs::metadata(snapshot.path())?.len();
        Ok(Self {
            manifest,
            snapshot,
            snapshot_len,
            master_key,
            blobs,
            store,
            _hold: hold,
        })
    }

    /// What the archive holds.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// How many bytes the stream will be (exact unless an envelope's length differs from what
    /// its version row says; for progress bars, not for `Content-Length`).
    pub fn expected_len(&self) -> u64 {
        let manifest = manifest_bytes(&self.manifest).len() as u64;
        let mut total = entry_len(MANIFEST_ENTRY, manifest)
            + entry_len(CATALOG_ENTRY, self.snapshot_len)
            + self
                .master_key
                .as_ref()
                .map_or(0, |k| entry_len(MASTER_KEY_ENTRY, k.len() as u64));
        for blob in &self.blobs {
            total += entry_len(&blob_entry(blob), blob.len);
        }
        total + 2 * BLOCK
    }

    /// The archive's bytes. Must be polled inside a tokio runtime.
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let failed = tx.clone();
            let mut out = ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            };
            let written = self.write(&mut out, &runtime).and_then(|()| out.flush());
            // The snapshot file and the hold on deletions go before the stream ends (the senders
            // are dropped after this), so a client that read the whole archive finds them gone.
            drop(self);
            if let Err(e) = written {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    tracing::warn!("backup: the client went away before the archive was complete");
                } else {
                    tracing::error!(error = %e, "backup: the archive could not be completed");
                    let _ = failed.blocking_send(Err(e));
                }
            }
        });
        futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }

    /// Writes the whole archive to `out`; reads envelopes on `runtime`.
    fn write(&self, out: impl Write, runtime: &tokio::runtime::Handle) -> io::Result<()> {
        let mut tar = tar::Builder::new(out);
        let manifest = manifest_bytes(&self.manifest);
        append(
            &mut tar,
            MANIFEST_ENTRY,
            manifest.len() as u64,
            &manifest[..],
        )?;
        let snapshot = std::fs::File::open(self.snapshot.path())?;
        append(
            &mut tar,
            CATALOG_ENTRY,
            self.snapshot_len,
            snapshot.take(self.snapshot_len),
        )?;
        if let Some(key) = &self.master_key {
            append(&mut tar, MASTER_KEY_ENTRY, key.len() as u64, &key[..])?;
        }
        for blob in &self.blobs {
            let bytes = runtime.block_on(self.store.get(&blob.key)).map_err(|e| {
                io::Error::other(format!(
                    "the envelope {} that the catalog snapshot references could not be read: {e}",
                    blob.key
                ))
            })?;
            append(&mut tar, &blob_entry(blob), bytes.len() as u64, &bytes[..])?;
        }
        tar.into_inner()?.flush()
    }
}

fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec_pretty(manifest).expect("a manifest serializes")
}

fn blob_entry(blob: &SnapshotBlob) -> String {
    format!("{BLOBS_DIR}/{}", blob.key.as_str())
}

/// Bytes one entry takes in the stream: its header, a GNU long-name entry when the name needs
/// one, and the data padded to whole blocks.
fn entry_len(name: &str, len: u64) -> u64 {
    let long_name = if name.len() > SHORT_NAME {
        BLOCK + (name.len() as u64 + 1).div_ceil(BLOCK) * BLOCK
    } else {
        0
    };
    BLOCK + long_name + len.div_ceil(BLOCK) * BLOCK
}

/// Appends one private regular file.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    len: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(len);
    header.set_mode(0o600);
    header.set_mtime(0);
    tar.append_data(&mut header, name, data)
}

/// Sends what is written through the channel in [`CHUNK`]-sized pieces; a closed channel (the
/// client went away) is a `BrokenPipe`.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobKey, HoldingBlobStore, MemoryBlobStore};
    use futures::StreamExt;

    fn manifest(blobs: u64) -> Manifest {
        Manifest {
            format: super::super::FORMAT.into(),
            version: super::super::FORMAT_VERSION,
            created_at: "2026-01-01T00:00:00Z".into(),
            coffer_version: "0.1.0".into(),
            catalog_schema: 12,
            orgs: Vec::new(),
            secrets: blobs,
            versions: blobs,
            blobs,
            master_key: true,
        }
    }

    #[tokio::test]
    async fn the_stream_is_the_expected_length_and_a_tar_of_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("snapshot.db");
        std::fs::write(&snapshot, vec![7u8; 3000]).unwrap();
        let store = Arc::new(HoldingBlobStore::new(Arc::new(MemoryBlobStore::default())));
        let mut blobs = Vec::new();
        for (i, len) in [0usize, 1, 511, 512, 70_000].into_iter().enumerate() {
            let key = BlobKey::parse(&format!(
                "orgs/0198c0de-0000-7000-8000-00000000000{i}/secrets/0198c0de-0000-7000-8000-000000000000/v1-0123456789abcdef0123456789abcdef.cfr"
            ))
            .unwrap();
            store
                .put_if_absent(&key, Bytes::from(vec![i as u8; len]))
                .await
                .unwrap();
            blobs.push(SnapshotBlob {
                key,
                len: len as u64,
            });
        }
        let archive = BackupArchive::new(
            manifest(blobs.len() as u64),
            Scratch::new(snapshot.clone()),
            Some(Zeroizing::new(b"CFMK\x01key".to_vec())),
            blobs.clone(),
            store.clone(),
            store.hold(),
        )
        .unwrap();
        let expected = archive.expected_len();
        let mut bytes = Vec::new();
        let mut stream = Box::pin(archive.into_stream());
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(bytes.len() as u64, expected);
        assert!(!snapshot.exists(), "the snapshot file outlived the archive");
        let from_prefix = |n: usize| super::super::manifest_from_prefix(&bytes[..n]).unwrap();
        assert_eq!(from_prefix(100), None);
        assert_eq!(from_prefix(600), None);
        assert_eq!(from_prefix(bytes.len()).unwrap().blobs, blobs.len() as u64);
        let mut names = Vec::new();
        let mut tar = tar::Archive::new(&bytes[..]);
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if let Some(key) = name.strip_prefix("blobs/") {
                let blob = blobs.iter().find(|b| b.key.as_str() == key).unwrap();
                assert_eq!(data.len() as u64, blob.len);
            }
            names.push(name);
        }
        assert_eq!(&names[..3], ["manifest.json", "catalog.db", "master.key"]);
        assert_eq!(names.len(), 3 + blobs.len());
    }

    #[tokio::test]
    async fn a_missing_envelope_breaks_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("snapshot.db");
        std::fs::write(&snapshot, b"db").unwrap();
        let store = Arc::new(HoldingBlobStore::new(Arc::new(MemoryBlobStore::default())));
        let blobs = vec![SnapshotBlob {
            key: BlobKey::parse("orgs/a/secrets/b/v1.cfr").unwrap(),
            len: 10,
        }];
        let archive = BackupArchive::new(
            manifest(1),
            Scratch::new(snapshot),
            None,
            blobs,
            store.clone(),
            store.hold(),
        )
        .unwrap();
        let items: Vec<_> = archive.into_stream().collect().await;
        let err = items.into_iter().find_map(Result::err).expect("an error");
        assert!(err.to_string().contains("orgs/a/secrets/b/v1.cfr"), "{err}");
    }
}
