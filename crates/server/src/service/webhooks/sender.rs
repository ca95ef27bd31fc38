//! Sending one delivery: the SSRF rules a webhook URL must pass, the HTTP client that enforces
//! them at connect time, and the signature.
//!
//! An org admin chooses the URL and Coffer POSTs to it on a schedule, so it is tenant input like
//! an OpenID issuer and gets the same treatment (`service::sso::provider`): [`check_url`] on add
//! and again before every attempt (https only; http just for loopback when
//! `webhooks.allow_loopback` is on; never a link-local or metadata address, nor — unless
//! `webhooks.allow_private_networks` — a private one), and a resolver that refuses a host *name*
//! resolving to any address the rules refuse. Redirects are not followed (a 3xx is a failed
//! attempt: following one would skip these checks), no proxy is used (it would resolve names past
//! the guard), every attempt has a deadline, the answer's body is never read, and a failed
//! connection is reported to the org only as failed — what failed (refused, reset, TLS, timeout)
//! would map the network behind Coffer, so it goes to the log with the host, never the path
//! (webhook URLs often carry a credential).
//!
//! The signature is `Coffer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<raw body>"`, keyed with the webhook's secret exactly as it was shown (`whsec_…`, as
//! bytes): docs/webhooks.md says how a receiver checks it.

use crate::aws::{GuardedResolver, is_forbidden};
use aws_lc_rs::hmac;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Which addresses a webhook may point at, beyond the public internet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlRules {
    /// This machine (`webhooks.allow_loopback`; plain http only here).
    pub allow_loopback: bool,
    /// Private networks (`webhooks.allow_private_networks`).
    pub allow_private: bool,
}

/// Whether `ip` is in a private or shared range: 10/8, 172.16/12, 192.168/16, 100.64/10, or
/// fc00::/7 (and their IPv4-mapped IPv6 spellings).
fn is_private(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    match (ip, v4) {
        (_, Some(v4)) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        (IpAddr::V6(v6), None) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        (IpAddr::V4(_), None) => false,
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Why an address is refused under `rules`, if it is.
fn refused(ip: IpAddr, rules: UrlRules) -> Option<&'static str> {
    if is_forbidden(ip) {
        Some("a link-local, metadata or unspecified address, which is never allowed")
    } else if is_loopback(ip) && !rules.allow_loopback {
        Some(
            "on this machine, which webhooks may only be for tests and local development (webhooks.allow_loopback)",
        )
    } else if is_private(ip) && !rules.allow_private {
        Some(
            "a private network address, which webhooks may not point at unless the deployment allows it (webhooks.allow_private_networks)",
        )
    } else {
        None
    }
}

/// Checks a webhook URL: the rules of [`crate::service::sso::provider::check_url`] (https only,
/// no credentials, never link-local or metadata addresses; plain http only for loopback), and
/// those of `rules` for loopback and private addresses. The message names what is wrong.
pub fn check_url(raw: &str, rules: UrlRules) -> Result<url::Url, String> {
    let parsed = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    };
    let localhost =
        matches!(parsed.host(), Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost"));
    if (localhost || ip.is_some_and(is_loopback)) && !rules.allow_loopback {
        return Err(format!(
            "{raw:?} is on this machine; webhooks there are only for tests and local development (webhooks.allow_loopback)"
        ));
    }
    let url = crate::service::sso::provider::check_url(raw, rules.allow_loopback)?;
    if let Some(why) = ip.and_then(|ip| refused(ip, rules)) {
        return Err(format!("{raw:?} is {why}"));
    }
    Ok(url)
}

/// The resolver of the webhook client: the guarded system resolver (no link-local or metadata
/// answers), minus what `rules` refuse.
struct Resolver(UrlRules);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        let rules = self.0;
        Box::pin(async move {
            let ips = GuardedResolver::lookup(&name).await?;
            if let Some((ip, why)) = ips
                .iter()
                .find_map(|ip| refused(*ip, rules).map(|w| (ip, w)))
            {
                return Err(format!("{name} resolves to {ip}, {why}").into());
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The headers of one attempt besides the signature.
pub struct Attempt<'a> {
    /// `Coffer-Event-Id`.
    pub event_id: &'a str,
    /// `Coffer-Event-Type`.
    pub event: &'a str,
    /// `Coffer-Delivery-Id`.
    pub delivery: String,
    /// `Coffer-Webhook-Id`.
    pub webhook: String,
    /// `Coffer-Delivery-Attempt` (from 1).
    pub number: u32,
}

/// The webhook HTTP client.
pub struct Sender {
    http: reqwest::Client,
    rules: UrlRules,
}

impl Sender {
    /// A client that follows the rules in the module docs, giving each attempt `timeout`.
    pub fn new(rules: UrlRules, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past the guarded resolver.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(Resolver(rules)))
            .user_agent(concat!("coffer-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with rustls builds");
        Self { http, rules }
    }

    /// The rules URLs are held to.
    pub fn rules(&self) -> UrlRules {
        self.rules
    }

    /// POSTs `body` to `url`, signed with `secret`; the receiver's status, or why no answer came
    /// (a sentence the org may see: it never says what the network did).
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        attempt: Attempt<'_>,
        body: String,
    ) -> Result<u16, String> {
        let url = check_url(url, self.rules)?;
        let host = url.host_str().unwrap_or("the receiver").to_owned();
        let t = crate::domain::Timestamp::now().millis() / 1000;
        let res = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Coffer-Event-Id", attempt.event_id)
            .header("Coffer-Event-Type", attempt.event)
            .header("Coffer-Delivery-Id", attempt.delivery)
            .header("Coffer-Webhook-Id", attempt.webhook)
            .header("Coffer-Delivery-Attempt", attempt.number.to_string())
            .header("Coffer-Signature", signature(secret, t, body.as_bytes()))
            .body(body)
            .send()
            .await;
        match res {
            // The body is never read: dropping the answer closes the connection.
            Ok(res) => Ok(res.status().as_u16()),
            Err(e) => {
                let timeout = e.is_timeout();
                tracing::info!(%host, error = %without_url(&e), "a webhook delivery attempt failed");
                Err(if timeout {
                    format!("calling {host} took longer than webhooks.timeout")
                } else {
                    format!("calling {host} failed")
                })
            }
        }
    }
}

/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={t},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// A reqwest error's text without the URL (whose path may be a credential).
fn without_url(e: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(e);
    let mut text = String::new();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    if text.is_empty() {
        "the connection failed".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TESTS: UrlRules = UrlRules {
        allow_loopback: true,
        allow_private: false,
    };

    #[test]
    fn urls_must_be_https_public_and_never_metadata() {
        let strict = UrlRules::default();
        assert!(check_url("https://hooks.example.com/coffer?x=1", strict).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "https://169.254.169.254/latest",
            "http://169.254.169.254/latest",
            "https://[fe80::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://10.0.0.5/hook",
            "https://192.168.1.1/hook",
            "https://100.64.0.1/hook",
            "https://[fd00::1]/hook",
            "https://127.0.0.1/hook",
            "http://localhost:9000/hook",
            "https://user:pw@hooks.example.com/",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
        let err = check_url("https://10.1.2.3/x", strict).unwrap_err();
        assert!(err.contains("allow_private_networks"), "{err}");
        let err = check_url("http://127.0.0.1:9/x", strict).unwrap_err();
        assert!(err.contains("webhooks.allow_loopback"), "{err}");
        assert!(check_url("http://127.0.0.1:9/x", TESTS).is_ok());
        assert!(check_url("http://localhost:9/x", TESTS).is_ok());
        assert!(check_url("http://hooks.example.com/x", TESTS).is_err());
        assert!(check_url("http://169.254.169.254/x", TESTS).is_err());
        let private = UrlRules {
            allow_loopback: false,
            allow_private: true,
        };
        assert!(check_url("https://10.1.2.3/x", private).is_ok());
        assert!(check_url("https://169.254.169.254/x", private).is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_refused() {
        use reqwest::dns::Resolve;
        let strict = Resolver(UrlRules::default());
        let name = |s: &str| s.parse::<reqwest::dns::Name>().unwrap();
        let err = match strict.resolve(name("localhost")).await {
            Ok(_) => panic!("localhost resolved under strict rules"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("allow_loopback"), "{err}");
        assert!(Resolver(TESTS).resolve(name("localhost")).await.is_ok());
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_time_and_body() {
        // The vector docs/webhooks.md gives, computed there with Python's hmac and openssl.
        let sig = signature("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"whsec_test");
        let want = hmac::sign(&key, b"1700000000.{\"a\":1}");
        assert_eq!(
            sig,
            format!("t=1700000000,v1={}", hex::encode(want.as_ref()))
        );
        assert_ne!(sig, signature("whsec_other", 1_700_000_000, b"{\"a\":1}"));
        assert_ne!(sig, signature("whsec_test", 1_700_000_001, b"{\"a\":1}"));
    }
}
