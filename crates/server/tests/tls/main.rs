//! HTTPS served by Coffer itself (`[server.tls]`), with certificates the test makes (rcgen):
//! curl and a rustls client trust it through the test CA and refuse it without; plain HTTP on
//! the port gets a 400; the session cookie gets `Secure`; a reload (what SIGHUP does) gives new
//! connections the new certificate while a kept-alive connection goes on; files that cannot be
//! served stop start-up, and a reload from them keeps the old certificate; a handshake must
//! finish within `server.header_read_timeout`. (The CLI and a real SIGHUP to `coffer serve`:
//! crates/coffer/tests/cli_e2e/tls.rs.)

#[path = "../support/certs.rs"]
#[allow(dead_code)]
mod certs;
#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;

use certs::{Leaf, TestCa};
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;
use helpers::{TestApp, spawn_with};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use reqwest::header;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An app serving HTTPS with `leaf` (files in their own temp dir) and the CA that signed it.
struct TlsApp {
    app: TestApp,
    ca: TestCa,
    certs: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsApp {
    async fn start(tweak: impl FnOnce(&mut Config)) -> TlsApp {
        let ca = TestCa::new("Coffer Test CA");
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = ca.leaf("coffer test 1").write(certs.path());
        let (c, k) = (cert.clone(), key.clone());
        let app = spawn_with(move |config| {
            config.server.tls.cert_file = Some(c);
            config.server.tls.key_file = Some(k);
            tweak(config);
        })
        .await;
        TlsApp {
            app,
            ca,
            certs,
            cert,
            key,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.app.app.addr
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr())
    }

    /// A file in the certificates' directory holding the CA's certificate.
    fn ca_file(&self) -> PathBuf {
        self.ca.write(self.certs.path(), "ca.pem")
    }
}

async fn curl(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .await
        .expect("curl must be installed (scripts/test.sh installs it)")
}

/// A rustls client trusting only `ca_pem`, offering HTTP/1.1.
fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection to `addr` trusting `ca_pem`.
async fn connect(
    addr: SocketAddr,
    ca_pem: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(client_config(ca_pem))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

/// The certificate the server presented on `stream` (DER).
fn served_leaf(stream: &tokio_rustls::client::TlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// HTTP/1.1 over an established TLS connection; the connection lives as long as the sender.
async fn http1(stream: tokio_rustls::client::TlsStream<TcpStream>) -> SendRequest<String> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// `GET /healthz` on `sender`'s connection; its status and body.
async fn healthz(sender: &mut SendRequest<String>) -> (u16, String) {
    sender.ready().await.expect("the connection is still open");
    let req = hyper::Request::get("/healthz")
        .header(header::HOST, "127.0.0.1")
        .body(String::new())
        .unwrap();
    let res = sender.send_request(req).await.expect("answered");
    let status = res.status().as_u16();
    let body = axum::body::to_bytes(axum::body::Body::new(res.into_body()), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn curl_with_the_ca_gets_through_and_without_it_or_over_plain_http_does_not() {
    let t = TlsApp::start(|_| {}).await;
    let ca = t.ca_file();
    let ca = ca.to_str().unwrap();
    let port = t.addr().port();

    for url in [
        t.url("/healthz"),
        format!("https://localhost:{port}/healthz"),
    ] {
        let out = curl(&["--cacert", ca, &url]).await;
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok");
    }

    // Another CA, and the system's roots alone: curl refuses the certificate (exit 60).
    let other = TestCa::new("Some Other CA").write(t.certs.path(), "other-ca.pem");
    for args in [vec!["--cacert", other.to_str().unwrap()], vec![]] {
        let url = t.url("/healthz");
        let out = curl(&[&args[..], &[url.as_str()]].concat()).await;
        assert_eq!(out.status.code(), Some(60), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }

    // Plain HTTP to the HTTPS port: a 400 that says what to do, then the connection closes.
    let url = format!("http://127.0.0.1:{port}/healthz");
    let out = curl(&["-w", "\n%{http_code}", &url]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HTTPS port") && text.ends_with("\n400"),
        "{text}"
    );

    // reqwest (the CLI's client): the CA alone is trusted; another CA is refused.
    let trusting = |pem: &str| {
        reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let ok = trusting(&t.ca.pem).get(t.url("/healthz")).send().await;
    assert_eq!(ok.unwrap().text().await.unwrap(), "ok");
    let refused = trusting(&std::fs::read_to_string(&other).unwrap())
        .get(t.url("/healthz"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    t.app.app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_over_tls() {
    let t = TlsApp::start(|_| {}).await;
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(t.ca.pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let password = "a long enough passphrase";
    let set = client
        .put(t.url("/api/v1/me/password"))
        .bearer_auth(&t.app.token)
        .json(&json!({"password": password, "current_password": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    let signed = client
        .post(t.url("/api/v1/session"))
        .json(&json!({"org": "default", "user": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let cookie = signed.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("coffer_session=coffer_s_") && cookie.contains("; Secure"),
        "{cookie}"
    );
    t.app.app.stop().await;
}

#[tokio::test]
async fn a_reload_gives_new_connections_the_new_certificate_and_keeps_open_ones() {
    let t = TlsApp::start(|_| {}).await;
    let first = connect(t.addr(), &t.ca.pem).await.unwrap();
    let first_leaf = served_leaf(&first);
    let mut kept = http1(first).await;
    assert_eq!(healthz(&mut kept).await, (200, "ok".to_owned()));

    let second: Leaf = t.ca.leaf("coffer test 2");
    second.write_to(&t.cert, &t.key);
    let info = t
        .app
        .app
        .reload_tls()
        .expect("serves TLS")
        .expect("reloads");
    assert_eq!(info.subject, "CN=coffer test 2");
    assert_eq!(
        t.app.app.tls().unwrap().current().subject,
        "CN=coffer test 2"
    );

    // The kept-alive connection goes on (with the certificate it agreed on)…
    assert_eq!(healthz(&mut kept).await, (200, "ok".to_owned()));
    // …and a new one gets the new certificate.
    let fresh = connect(t.addr(), &t.ca.pem).await.unwrap();
    assert_eq!(served_leaf(&fresh), second.der);
    assert_ne!(first_leaf, second.der);
    assert_eq!(healthz(&mut http1(fresh).await).await.0, 200);

    // A reload from files that cannot be served keeps the certificate in use and says why.
    let third = t.ca.leaf("coffer test 3");
    std::fs::write(&t.key, &third.key_pem).unwrap(); // not the key of cert.pem
    let err = t.app.app.reload_tls().unwrap().unwrap_err();
    assert_eq!(err.setting, "server.tls.key_file");
    assert!(err.reason.contains("not the private key"), "{err}");
    assert!(!err.to_string().contains("PRIVATE KEY-----"), "{err}");
    std::fs::write(&t.cert, "not a certificate\n").unwrap();
    let err = t.app.app.reload_tls().unwrap().unwrap_err();
    assert_eq!(err.setting, "server.tls.cert_file");
    assert!(err.reason.contains("holds no certificate"), "{err}");
    third.write_to(&t.cert, &t.key);
    std::fs::set_permissions(&t.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = t.app.app.reload_tls().unwrap().unwrap_err();
    assert!(err.reason.contains("accessible by others"), "{err}");
    let still = connect(t.addr(), &t.ca.pem).await.unwrap();
    assert_eq!(served_leaf(&still), second.der);
    assert_eq!(healthz(&mut kept).await.0, 200);
    t.app.app.stop().await;
}

#[tokio::test]
async fn a_handshake_must_finish_within_the_header_read_timeout() {
    let t = TlsApp::start(|c| c.server.header_read_timeout = Duration::from_secs(1)).await;
    for opening in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        let mut tcp = TcpStream::connect(t.addr()).await.unwrap();
        tcp.write_all(opening).await.unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .expect("the server closes the connection");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }
    t.app.app.stop().await;
}

/// Start-up with `cert`/`key` (or a message why it was refused).
async fn start_with(cert: &Path, key: &Path) -> Result<RunningApp, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(
        None,
        Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    config.server.tls.cert_file = Some(cert.to_owned());
    config.server.tls.key_file = Some(key.to_owned());
    RunningApp::start(&config).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn start_up_refuses_files_it_cannot_serve() {
    let ca = TestCa::new("Coffer Test CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf("coffer test").write(dir.path());
    let other = ca.leaf("someone else");
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    std::fs::set_permissions(&other_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let missing = dir.path().join("missing.pem");
    // Readable by its owner only, so that as a key file it fails on its content, not its mode.
    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o600)).unwrap();

    let cases: [(&Path, &Path, &[&str]); 5] = [
        (
            &cert,
            &other_key,
            &["server.tls.key_file", "not the private key"],
        ),
        (
            &key,
            &key,
            &["server.tls.cert_file", "holds no certificate"],
        ),
        (
            &garbage,
            &key,
            &["server.tls.cert_file", "not a valid PEM file"],
        ),
        (
            &missing,
            &key,
            &["server.tls.cert_file", "missing.pem", "cannot read it"],
        ),
        (
            &cert,
            &cert,
            &["server.tls.key_file", "holds no private key"],
        ),
    ];
    for (c, k, expected) in cases {
        let err = start_with(c, k).await.err().expect("refused");
        assert!(err.starts_with("cannot serve HTTPS: "), "{err}");
        for e in expected {
            assert!(err.contains(e), "{e:?} in {err}");
        }
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o604)).unwrap();
    let err = start_with(&cert, &key).await.err().expect("refused");
    assert!(err.contains("accessible by others (mode 604)"), "{err}");
    // Group-readable is the usual `root:ssl-cert 0640` layout: allowed.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    start_with(&cert, &key).await.expect("starts").stop().await;
}
