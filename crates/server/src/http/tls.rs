//! HTTPS served by Coffer itself (`[server.tls]`): the certificate chain and private key (PEM)
//! loaded with rustls on the aws-lc-rs provider, and reloaded on SIGHUP.
//!
//! The certificate in use sits behind a resolver that every new handshake asks, so a reload swaps
//! it for the handshakes that follow while open connections go on with the one they agreed on.
//! A reload that fails (a file missing, unreadable, not PEM, a key that is not the certificate's)
//! keeps the old certificate and says why; start-up with such files is refused.
//!
//! The private key file is refused when others may read it (group access is allowed, for the
//! usual `root:ssl-cert 0640` layout); its bytes are wiped once loaded and never logged.

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use zeroize::Zeroizing;

/// The two files of `[server.tls]`, resolved against the data directory.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate, then the chain up to (not including) the root (PEM).
    pub cert: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the TLS files cannot be used: the setting and file at fault, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{setting} {path}: {reason}", path = path.display())]
pub struct TlsError {
    /// `server.tls.cert_file` or `server.tls.key_file`.
    pub setting: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong (never key material).
    pub reason: String,
}

const CERT_SETTING: &str = "server.tls.cert_file";
const KEY_SETTING: &str = "server.tls.key_file";

/// What the log says about a certificate: its subject, serial and validity.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// The subject's distinguished name (RFC 4514), e.g. `CN=coffer.example.com`.
    pub subject: String,
    /// The serial number (hex).
    pub serial: String,
    /// When it expires.
    pub not_after: time::OffsetDateTime,
    /// When it became valid.
    pub not_before: time::OffsetDateTime,
}

impl CertInfo {
    fn of(der: &[u8]) -> Result<CertInfo, String> {
        use x509_cert::der::Decode as _;
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = cert.tbs_certificate();
        let at = |t: x509_cert::time::Time| {
            let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
            time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
        };
        Ok(CertInfo {
            subject: tbs.subject().to_string(),
            serial: tbs.serial_number().to_string(),
            not_after: at(tbs.validity().not_after),
            not_before: at(tbs.validity().not_before),
        })
    }

    fn expiry(&self) -> String {
        self.not_after
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| self.not_after.to_string())
    }

    /// Warns when the certificate is expired or not yet valid (served all the same: clients
    /// decide, and refusing to start would not bring a valid one).
    fn warn_if_outside_validity(&self, path: &Path) {
        let now = time::OffsetDateTime::now_utc();
        if now > self.not_after {
            tracing::warn!(file = %path.display(), subject = %self.subject, expired = %self.expiry(),
                "the TLS certificate has expired; clients will refuse it");
        } else if now < self.not_before {
            tracing::warn!(file = %path.display(), subject = %self.subject,
                "the TLS certificate is not valid yet; clients will refuse it");
        }
    }
}

impl fmt::Display for CertInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (serial {}, expires {})",
            self.subject,
            self.serial,
            self.expiry()
        )
    }
}

/// The certificate new handshakes get.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl Current {
    fn get(&self) -> Arc<CertifiedKey> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The server's TLS: the rustls configuration new connections are accepted with, and the files
/// it reloads from.
pub struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<Current>,
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Loads the certificate and key; refuses files that do not parse, a key that is not the
    /// certificate's, and a key file others may read.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (key, info) = load_pair(&files, &provider)?;
        let current = Arc::new(Current(RwLock::new(key)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError {
                setting: CERT_SETTING,
                path: files.cert.clone(),
                reason: format!("no TLS version available: {e}"),
            })?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // Coffer speaks HTTP/1.1 only (hyper's http1 server).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        tracing::info!(cert = %info, file = %files.cert.display(), "serving HTTPS");
        info.warn_if_outside_validity(&files.cert);
        Ok(Tls {
            files,
            provider,
            current,
            config: Arc::new(config),
        })
    }

    /// The acceptor for new connections (it asks for the current certificate on each handshake).
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> CertInfo {
        let key = self.current.get();
        key.end_entity_cert()
            .ok()
            .and_then(|c| CertInfo::of(c).ok())
            .expect("a loaded certificate parsed when it was loaded")
    }

    /// Reads both files again (SIGHUP). On success new handshakes get the new certificate (logged
    /// at info); on failure the old one stays and the reason is logged as a warning. Connections
    /// already open are not touched either way.
    pub fn reload(&self) -> Result<CertInfo, TlsError> {
        match load_pair(&self.files, &self.provider) {
            Ok((key, info)) => {
                self.current.set(key);
                tracing::info!(cert = %info, file = %self.files.cert.display(),
                    "reloaded the TLS certificate; new connections get it");
                info.warn_if_outside_validity(&self.files.cert);
                Ok(info)
            }
            Err(e) => {
                tracing::warn!(setting = e.setting, file = %e.path.display(), reason = %e.reason,
                    "could not reload the TLS certificate; still serving the previous one");
                Err(e)
            }
        }
    }
}

fn load_pair(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<(Arc<CertifiedKey>, CertInfo), TlsError> {
    let cert_err = |reason: String| TlsError {
        setting: CERT_SETTING,
        path: files.cert.clone(),
        reason,
    };
    let key_err = |reason: String| TlsError {
        setting: KEY_SETTING,
        path: files.key.clone(),
        reason,
    };

    let pem = std::fs::read(&files.cert).map_err(|e| cert_err(format!("cannot read it: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("not a valid PEM file: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(cert_err(
            "holds no certificate: expected PEM `-----BEGIN CERTIFICATE-----` blocks, the server's certificate first, then its chain".into(),
        ));
    };
    let info = CertInfo::of(leaf)
        .map_err(|e| cert_err(format!("its first certificate does not parse: {e}")))?;

    let key_pem = read_private(&files.key).map_err(key_err)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        key_err(match e {
            pem::Error::NoItemsFound => "holds no private key: expected a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block".into(),
            e => format!("not a valid PEM private key: {e}"),
        })
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_err(format!("the private key cannot be used: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(key_err(format!(
                "this is not the private key of the certificate in {CERT_SETTING} {} (their public keys differ)",
                files.cert.display()
            )));
        }
        Err(e) => {
            return Err(cert_err(format!(
                "its first certificate cannot be used: {e}"
            )));
        }
    }
    Ok((Arc::new(certified), info))
}

/// Reads the key file, refusing it when others may access it (like the master key, which also
/// refuses group access).
fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mode = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?
        .permissions()
        .mode();
    if mode & 0o007 != 0 {
        return Err(format!(
            "it is accessible by others (mode {:o}); run `chmod o= {}` (0600 or 0640) and try again",
            mode & 0o777,
            path.display()
        ));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(bytes)
}
