//! Talking to an org's OpenID provider: the HTTP client the `openidconnect` crate is handed, the
//! SSRF rules every URL it fetches must pass, and a short cache of discovery documents.
//!
//! An org owner chooses the issuer, and the provider's discovery document then chooses the token
//! and key URLs, so every one of them is tenant input. Each request therefore goes through
//! [`check_url`] (https only; http just for loopback when `sso.allow_loopback_issuers` is on, for
//! tests and local development; never a link-local or metadata address, in any spelling) and the
//! guarded resolver (a host *name* that resolves to such an address is refused at connect time).
//! Redirects are not followed (a provider has no reason to redirect a back-channel call, and a
//! redirect would skip these checks), no proxy is used (it would resolve names past the guard),
//! bodies are capped, every call has a deadline, and a failed connection says only that it
//! failed (the detail is logged). The authorization endpoint, where browsers are sent, passes
//! [`check_url`] too.
//!
//! Discovery documents (with their signing keys) are cached for [`METADATA_TTL`]; a failed ID
//! token check drops the entry, so a provider that rotated its keys is refetched on the next try.

use crate::aws::{GuardedResolver, is_forbidden};
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{HttpRequest, HttpResponse, IssuerUrl};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long a provider's discovery document and keys are reused.
pub const METADATA_TTL: Duration = Duration::from_secs(300);
/// The most a provider's answer may weigh.
const MAX_BODY: usize = 1 << 20;
/// Deadline of one call to the provider.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to the provider failed (the message names the URL's host, never a secret).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

/// Checks a URL Coffer is about to fetch from, or send a person to, on a tenant's behalf.
pub fn check_url(raw: &str, allow_loopback: bool) -> Result<url::Url, String> {
    check_tenant_url(
        raw,
        allow_loopback,
        "an OpenID provider there is only for tests and local development (sso.allow_loopback_issuers)",
    )
}

/// [`check_url`], saying `loopback_hint` when the URL is on this machine and that is not admitted.
pub fn check_tenant_url(
    raw: &str,
    allow_loopback: bool,
    loopback_hint: &str,
) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{raw:?} must not carry credentials"));
    }
    let host = url
        .host()
        .ok_or_else(|| format!("{raw:?} has no host"))?
        .to_owned();
    let ip = match &host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(*v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(*v6)),
        url::Host::Domain(_) => None,
    };
    if ip.is_some_and(is_forbidden) {
        return Err(format!(
            "{raw:?} is a link-local, metadata or unspecified address, which is never allowed"
        ));
    }
    let loopback = match (&host, ip) {
        (_, Some(ip)) => ip.is_loopback(),
        (url::Host::Domain(d), None) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    };
    match url.scheme() {
        "https" if !loopback || allow_loopback => Ok(url),
        "http" if loopback && allow_loopback => Ok(url),
        _ if loopback => Err(format!("{raw:?} is on this machine; {loopback_hint}")),
        _ => Err(format!("{raw:?} must use https")),
    }
}

/// The resolver of the provider client: the system's, minus link-local and metadata answers.
struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let ips = GuardedResolver::lookup(&name).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A client for calls to tenant-chosen hosts (OpenID providers, Jira sites): no redirects, no
/// proxy (it would resolve names past the guard), the guarded resolver, and `timeout` for the
/// connection and the whole call.
pub(crate) fn guarded_http(timeout: Duration, agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(Arc::new(Resolver))
        .user_agent(format!("{agent}/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with rustls builds")
}

/// The provider client and the discovery cache.
pub struct Providers {
    http: reqwest::Client,
    allow_loopback: bool,
    metadata: moka::future::Cache<String, Arc<CoreProviderMetadata>>,
}

impl Providers {
    /// A client that follows the rules in the module docs.
    pub fn new(allow_loopback: bool) -> Self {
        let http = guarded_http(CALL_TIMEOUT, "coffer");
        Self {
            http,
            allow_loopback,
            metadata: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(METADATA_TTL)
                .build(),
        }
    }

    /// Whether loopback issuers are admitted.
    pub fn allow_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// One call to the provider.
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, CallError> {
        let url = req.uri().to_string();
        check_url(&url, self.allow_loopback).map_err(CallError)?;
        let host = req.uri().host().unwrap_or("the provider").to_owned();
        let (parts, body) = req.into_parts();
        let mut res = self
            .http
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                // The detail (refused, reset, TLS, timeout) stays in the log: shown to the
                // owner who typed the URL, it would map the network behind Coffer.
                tracing::info!(%host, error = %without_url(&e), "an OpenID provider call failed");
                CallError(format!("calling {host} failed"))
            })?;
        let mut builder = axum::http::Response::builder().status(res.status());
        for (k, v) in res.headers() {
            builder = builder.header(k, v);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| CallError(format!("reading {host}'s answer: {}", without_url(&e))))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CallError(format!(
                    "{host}'s answer is larger than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| CallError(format!("{host}'s answer: {e}")))
    }

    /// The provider's discovery document and keys (cached), checked to name `issuer` itself.
    pub async fn metadata(&self, issuer: &str) -> Result<Arc<CoreProviderMetadata>, String> {
        check_url(issuer, self.allow_loopback)?;
        // As written, not as `url` normalizes it: the document must name exactly this issuer.
        let issuer_url =
            IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("{issuer:?}: {e}"))?;
        self.metadata
            .try_get_with(issuer.to_owned(), async {
                CoreProviderMetadata::discover_async(issuer_url, self)
                    .await
                    .map(Arc::new)
                    .map_err(|e| discovery_error(issuer, &e))
            })
            .await
            .map_err(|e: Arc<String>| e.as_ref().clone())
    }

    /// Drops the cached document of `issuer` (its keys may have rotated).
    pub async fn forget(&self, issuer: &str) {
        self.metadata.invalidate(issuer).await;
    }
}

/// `openidconnect`'s HTTP client: [`Providers::send`], as a boxed `Send` future so the flows
/// that await it stay `Send`.
impl<'c> openidconnect::AsyncHttpClient<'c> for Providers {
    type Error = CallError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, CallError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A reqwest error's text without the URL (which the caller names by host).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut e = std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_else(|| e.to_string());
    if e.is_empty() {
        e = "the connection failed".into();
    }
    e
}

fn discovery_error<E: std::error::Error>(
    issuer: &str,
    e: &openidconnect::DiscoveryError<E>,
) -> String {
    use openidconnect::DiscoveryError as D;
    match e {
        D::Request(inner) => format!("the OpenID provider {issuer} could not be reached: {inner}"),
        D::Response(status, _, _) => format!(
            "the OpenID provider {issuer} answered {status} for its discovery document ({issuer}/.well-known/openid-configuration); check the issuer URL"
        ),
        D::Parse(_) => format!(
            "the OpenID provider {issuer} sent a discovery document Coffer cannot read; check the issuer URL"
        ),
        D::Validation(m) => format!(
            "the OpenID provider's discovery document does not match {issuer}: {m}; give the issuer URL exactly as the provider names itself"
        ),
        other => format!("discovering the OpenID provider {issuer} failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_must_be_https_and_never_metadata() {
        assert!(check_url("https://id.example.com", false).is_ok());
        assert!(check_url("https://id.example.com/realms/acme", false).is_ok());
        for bad in [
            "http://id.example.com",
            "http://127.0.0.1:9000",
            "https://169.254.169.254/",
            "https://[fe80::1]/",
            "https://user:pw@id.example.com",
            "ftp://id.example.com",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000", true).is_ok());
        assert!(check_url("http://localhost:9000", true).is_ok());
        assert!(check_url("http://169.254.169.254", true).is_err());
        assert!(check_url("http://10.0.0.5", true).is_err());
    }
}
