//! A thin wrapper over `reqwest` that speaks `/api/v1`: builds URLs from path segments (each one
//! percent-encoded, so a scope or name can never change the route), adds the bearer token, and
//! turns `{"error": {...}}` answers and connection failures into [`CliError`]s.
//!
//! Response bodies are kept in [`Zeroizing`] buffers because reveal answers carry secret values
//! (best effort: reqwest's own transport buffers are not ours to wipe).

use crate::error::{CliError, Result};
use anyhow::Context as _;
use coffer_api::{API_PREFIX, ErrorBody};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use zeroize::Zeroizing;

/// Where `coffer serve` writes the first owner's token by default, relative to the cwd.
pub const DEFAULT_TOKEN_FILE: &str = "coffer-data/admin.token";
/// Where `coffer serve` writes the operator's token by default, relative to the cwd.
pub const OPERATOR_TOKEN_FILE: &str = "coffer-data/operator.token";

/// A bearer token. Its `Debug` never shows the value and its memory is wiped on drop.
#[derive(Clone)]
pub struct ApiToken(Zeroizing<String>);

impl ApiToken {
    /// Reads a token file `coffer serve` writes ([`DEFAULT_TOKEN_FILE`],
    /// [`OPERATOR_TOKEN_FILE`]), if it exists.
    pub fn from_file(file: &str) -> Result<Option<ApiToken>> {
        let path = Path::new(file);
        if !path.exists() {
            return Ok(None);
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?,
        );
        Ok(text.parse().ok())
    }
}

impl FromStr for ApiToken {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the token is empty".into());
        }
        Ok(ApiToken(Zeroizing::new(s.to_owned())))
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([REDACTED])")
    }
}

/// A connection to one Coffer server.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    addr: String,
    token: Option<ApiToken>,
    /// Whether `token` is the stored one of `coffer login` (for the hint of a 401).
    login_token: bool,
}

/// A response body (possibly empty), wiped on drop.
pub struct Body(Zeroizing<Vec<u8>>);

impl Body {
    /// The raw bytes (still wiped on drop).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses the body as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        let bytes: &[u8] = if self.0.is_empty() { b"null" } else { &self.0 };
        serde_json::from_slice(bytes)
            .context(
                "the server's answer is not what this coffer version expects (version mismatch?)",
            )
            .map_err(CliError::from)
    }

    /// Prints the body as pretty JSON on stdout (for `--json`); prints nothing for an empty body.
    pub fn print_json(&self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let value: serde_json::Value = self.parse()?;
        let text =
            Zeroizing::new(serde_json::to_string_pretty(&value).context("re-encoding JSON")?);
        println!("{}", text.as_str());
        Ok(())
    }
}

impl Client {
    /// A client for the server at `addr` (e.g. `http://127.0.0.1:8420`), trusting the CA
    /// certificates in `ca_cert` (PEM; `--ca-cert` / `COFFER_CA_CERT`) besides the system's.
    pub fn new(addr: &str, token: Option<ApiToken>, ca_cert: Option<&Path>) -> Result<Client> {
        let base = Url::parse(addr)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid --addr {addr:?}: expected a URL like http://127.0.0.1:8420"
                ))
            })?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("coffer-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(file) = ca_cert {
            builder = builder.tls_certs_merge(ca_certificates(file)?);
        }
        let http = builder.build().context("cannot set up the HTTP client")?;
        Ok(Client {
            http,
            base,
            addr: addr.trim_end_matches('/').to_owned(),
            token,
            login_token: false,
        })
    }

    /// Marks the token as the one `coffer login` stored.
    pub fn with_login_token(mut self) -> Client {
        self.login_token = true;
        self
    }

    /// The server's base URL, as given (`--addr`).
    pub fn base_url(&self) -> &str {
        &self.addr
    }

    /// Whether the client sends a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The URL of `/api/v1/<segments…>` with `query` appended (empty values are left out).
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let api: Vec<&str> = API_PREFIX.split('/').filter(|s| !s.is_empty()).collect();
        self.join(&api, segments, query)
    }

    /// The URL of `/<segments…>` outside the API (the browser's pages, `/healthz`), with
    /// `query` appended (empty values are left out).
    pub fn site_url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        self.join(&[], segments, query)
    }

    fn join(&self, prefix: &[&str], segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have a path");
            path.pop_if_empty();
            path.extend(prefix);
            path.extend(segments);
        }
        let query: Vec<_> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// `GET`.
    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Body> {
        self.send(Method::GET, self.url(segments, query), None::<&()>)
            .await
    }

    /// `GET` of a path outside the API (e.g. `/healthz`).
    pub async fn get_site(&self, segments: &[&str]) -> Result<Body> {
        self.send(Method::GET, self.site_url(segments, &[]), None::<&()>)
            .await
    }

    /// `POST` with a JSON body.
    pub async fn post<B: Serialize>(&self, segments: &[&str], body: &B) -> Result<Body> {
        self.send(Method::POST, self.url(segments, &[]), Some(body))
            .await
    }

    /// `POST` without a body (actions such as reveal, restore, rotate).
    pub async fn post_empty(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Body> {
        self.send(Method::POST, self.url(segments, query), None::<&()>)
            .await
    }

    /// `PUT` with a JSON body.
    pub async fn put<B: Serialize>(&self, segments: &[&str], body: &B) -> Result<Body> {
        self.send(Method::PUT, self.url(segments, &[]), Some(body))
            .await
    }

    /// `PUT` without a body (setting something named by the path).
    pub async fn put_empty(&self, segments: &[&str]) -> Result<Body> {
        self.send(Method::PUT, self.url(segments, &[]), None::<&()>)
            .await
    }

    /// `DELETE`.
    pub async fn delete(&self, segments: &[&str]) -> Result<Body> {
        self.send(Method::DELETE, self.url(segments, &[]), None::<&()>)
            .await
    }

    /// `PUT`s an envelope (ciphertext only) to an upload grant's `put_url`: a presigned URL,
    /// sent without the token, or a path under `/api/v1` on this server, sent with it.
    pub async fn put_envelope(
        &self,
        put_url: &str,
        presigned: bool,
        envelope: Vec<u8>,
    ) -> Result<()> {
        let unusable =
            || CliError::Other(anyhow::anyhow!("the server granted an unusable upload URL"));
        let url = if presigned {
            Url::parse(put_url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(unusable)?
        } else {
            let rest = put_url
                .strip_prefix(API_PREFIX)
                .and_then(|r| r.strip_prefix('/'))
                .ok_or_else(unusable)?;
            self.url(&rest.split('/').collect::<Vec<_>>(), &[])
        };
        let mut req = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(envelope);
        if let Some(token) = self.token.as_ref().filter(|_| !presigned) {
            req = req.bearer_auth(token.0.as_str());
        }
        self.finish(req).await.map(drop)
    }

    async fn send<B: Serialize>(&self, method: Method, url: Url, body: Option<&B>) -> Result<Body> {
        let mut req = self.http.request(method, url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.0.as_str());
        }
        if let Some(body) = body {
            // The encoded body is handed to reqwest, which owns (and does not wipe) it.
            let json = serde_json::to_vec(body).context("encoding the request")?;
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json);
        }
        self.finish(req).await
    }

    /// Sends `req` and turns a non-2xx answer into Coffer's error (or the raw status).
    async fn finish(&self, req: reqwest::RequestBuilder) -> Result<Body> {
        let mut resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let mut bytes = Zeroizing::new(Vec::new());
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(Body(bytes));
        }
        Err(self.error_of(status, &bytes))
    }

    /// Coffer's error for a non-2xx answer with body `bytes` (or the raw status).
    fn error_of(&self, status: reqwest::StatusCode, bytes: &[u8]) -> CliError {
        if let Ok(err) = serde_json::from_slice::<ErrorBody>(bytes) {
            return CliError::Api {
                status: status.as_u16(),
                code: err.error.code,
                message: err.error.message,
                sent_token: self.token.is_some(),
                login_token: self.login_token,
            };
        }
        let text = String::from_utf8_lossy(bytes);
        let body: String = text.trim().chars().take(200).collect();
        CliError::Http {
            status: status.to_string(),
            body,
        }
    }

    /// `POST` without a body whose successful answer is read as a stream by the caller (a
    /// backup): no overall timeout, so a long transfer is not cut; the caller bounds each read.
    pub async fn post_for_stream(&self, segments: &[&str]) -> Result<reqwest::Response> {
        let mut req = self
            .http
            .post(self.url(segments, &[]))
            .timeout(Duration::from_secs(7 * 24 * 3600));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.0.as_str());
        }
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        Err(self.error_of(status, &bytes))
    }

    /// The transport error of a failed read of a streamed answer, said like any other.
    pub fn stream_error(&self, e: reqwest::Error) -> CliError {
        self.transport_error(e)
    }

    fn transport_error(&self, e: reqwest::Error) -> CliError {
        if let Some(tls) = tls_failure(&e) {
            return CliError::Other(anyhow::anyhow!(
                "TLS with Coffer at {} failed: {tls}",
                self.addr
            ));
        }
        if e.is_connect() {
            CliError::Unreachable {
                addr: self.addr.clone(),
            }
        } else if e.is_timeout() {
            CliError::Other(anyhow::anyhow!(
                "timed out talking to Coffer at {}",
                self.addr
            ))
        } else {
            let e = e.without_url();
            CliError::Other(anyhow::anyhow!(
                "request to Coffer at {} failed: {e}",
                self.addr
            ))
        }
    }
}

/// The CA certificates of `file` (PEM, one or more), for `--ca-cert` / `COFFER_CA_CERT`.
fn ca_certificates(file: &Path) -> Result<Vec<reqwest::Certificate>> {
    let shown = file.display();
    let pem = std::fs::read(file).with_context(|| {
        format!("cannot read the CA certificate file {shown} (--ca-cert, COFFER_CA_CERT)")
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        anyhow::anyhow!(
            "the CA certificate file {shown} (--ca-cert, COFFER_CA_CERT) is not PEM: {}",
            e.without_url()
        )
    })?;
    if certs.is_empty() {
        return Err(CliError::Other(anyhow::anyhow!(
            "the CA certificate file {shown} (--ca-cert, COFFER_CA_CERT) holds no certificate: expected PEM `-----BEGIN CERTIFICATE-----` blocks"
        )));
    }
    Ok(certs)
}

/// What went wrong in a failed TLS handshake, said for the person at the terminal, if `e` is one.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    use rustls::{CertificateError, Error as Tls};
    /// The rustls error in `err`'s chain. (An `io::Error`'s `source` skips the error it wraps,
    /// which is where tokio-rustls puts rustls's, so that one is looked into by hand.)
    fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Tls> {
        if let Some(tls) = err.downcast_ref::<Tls>() {
            return Some(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| find(inner))
        {
            return Some(inner);
        }
        find(err.source()?)
    }
    Some(match find(e)? {
        Tls::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is not signed by a CA this machine trusts; if a private CA signed it, pass that CA's certificate with --ca-cert FILE or COFFER_CA_CERT=FILE".to_owned()
        }
        Tls::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "its certificate is not for this host name; use the name (or address) the certificate was issued for in --addr".to_owned(),
        Tls::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "its certificate has expired".to_owned(),
        Tls::InvalidMessage(_) => {
            "the server did not answer in TLS; if it serves plain HTTP, use an http:// address".to_owned()
        }
        other @ Tls::InvalidCertificate(_) => format!(
            "{other}; the server's certificate was refused (docs/deployment.md, \"HTTPS\", says what Coffer needs of it)"
        ),
        other => format!("{other}"),
    })
}
