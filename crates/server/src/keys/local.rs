//! The `local` key provider: one 32-byte master key in a file, created on first start with mode
//! 0600 and refused if anyone but the owner can read it. Org keys are wrapped with AES-256-GCM
//! (coffer-envelope's versioned key wrap) bound to the [`KeyContext`].
//!
//! File format (versioned like every persisted byte format): `b"CFMK"`, a version byte `0x01`,
//! then the 32 key bytes — 37 bytes in all.

use super::{KeyContext, KeyError, KeyProvider, OpenKeyError, OrgKeyWrap};
use async_trait::async_trait;
use coffer_envelope::{Key32, OrgKey};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"CFMK";
const VERSION: u8 = 1;
const FILE_LEN: usize = 4 + 1 + 32;

/// Wraps org keys under a master key held in a local file.
pub struct LocalKeyProvider {
    master: Key32,
}

impl LocalKeyProvider {
    /// Loads the master key from `path`, creating it (mode 0600) if it does not exist.
    pub fn open(path: &Path) -> Result<Self, OpenKeyError> {
        let shown = path.display().to_string();
        let io = |source| OpenKeyError::Io {
            path: shown.clone(),
            source,
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                let master = Key32::generate();
                let mut bytes = Zeroizing::new(Vec::with_capacity(FILE_LEN));
                bytes.extend_from_slice(MAGIC);
                bytes.push(VERSION);
                bytes.extend_from_slice(master.expose());
                f.write_all(&bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
                if let Some(dir) = path.parent() {
                    std::fs::File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(io)?;
                }
                tracing::info!(path = %shown, "created a new local master key");
                Ok(Self { master })
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let mut f = std::fs::File::open(path).map_err(io)?;
                let mode = f.metadata().map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(OpenKeyError::LoosePermissions {
                        path: shown,
                        mode: mode & 0o777,
                    });
                }
                let mut bytes = Zeroizing::new(Vec::new());
                Read::by_ref(&mut f)
                    .take(FILE_LEN as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                let malformed = |reason| OpenKeyError::Malformed {
                    path: shown.clone(),
                    reason,
                };
                if bytes.len() != FILE_LEN {
                    return Err(malformed("wrong length"));
                }
                if &bytes[..4] != MAGIC {
                    return Err(malformed("bad magic"));
                }
                if bytes[4] != VERSION {
                    return Err(malformed("unsupported format version"));
                }
                let master =
                    Key32::try_from_slice(&bytes[5..]).map_err(|_| malformed("bad key"))?;
                Ok(Self { master })
            }
            Err(e) => Err(io(e)),
        }
    }
}

#[async_trait]
impl KeyProvider for LocalKeyProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn wrap(&self, ctx: KeyContext, key: &OrgKey) -> Result<Vec<OrgKeyWrap>, KeyError> {
        Ok(vec![OrgKeyWrap {
            provider: "local".into(),
            key_ref: "master".into(),
            bytes: coffer_envelope::wrap_key(&self.master, &ctx.aad(), key),
        }])
    }

    async fn unwrap(&self, ctx: KeyContext, wraps: &[OrgKeyWrap]) -> Result<OrgKey, KeyError> {
        let wrap = wraps
            .iter()
            .find(|w| w.provider == "local")
            .ok_or_else(|| {
                KeyError::NoUsableWrap("no copy wrapped by the local master key".into())
            })?;
        coffer_envelope::unwrap_key(&self.master, &ctx.aad(), &wrap.bytes)
            .map_err(|_| KeyError::Integrity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;

    #[tokio::test]
    async fn creates_private_key_file_and_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let p1 = LocalKeyProvider::open(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let ctx = KeyContext {
            org: OrgId::new(),
            key_version: 1,
        };
        let org_key = Key32::generate();
        let wraps = p1.wrap(ctx, &org_key).await.unwrap();
        let p2 = LocalKeyProvider::open(&path).unwrap();
        assert_eq!(
            p2.unwrap(ctx, &wraps).await.unwrap().expose(),
            org_key.expose()
        );
        let moved = KeyContext {
            key_version: 2,
            ..ctx
        };
        assert!(matches!(
            p2.unwrap(moved, &wraps).await,
            Err(KeyError::Integrity)
        ));
        let other_org = KeyContext {
            org: OrgId::new(),
            ..ctx
        };
        assert!(matches!(
            p2.unwrap(other_org, &wraps).await,
            Err(KeyError::Integrity)
        ));
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        LocalKeyProvider::open(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalKeyProvider::open(&path).err().expect("must refuse");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn refuses_a_malformed_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(b"short")
            .unwrap();
        assert!(matches!(
            LocalKeyProvider::open(&path),
            Err(OpenKeyError::Malformed { .. })
        ));
    }
}
