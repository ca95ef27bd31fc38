//! Sending one delivery: the SSRF rules a webhook URL must pass, the HTTP client that enforces
//! them at connect time, and the signature.
//!
//! An org admin chooses the URL and Coffer POSTs to it on a schedule, so it is tenant input like
//! an OpenID issuer and gets the same treatment (`service::sso::provider`): [`check_url`] on add
//! and again before every attempt (no control characters; https only; http just for loopback
//! when `webhooks.allow_loopback` is on; never a link-local or metadata address; and — unless
//! `webhooks.allow_private_networks` — only globally routable unicast addresses), and a resolver
//! that refuses a host *name* resolving to any address the rules refuse. Both ask one predicate,
//! [`refused`], which looks through every IPv6 form that carries an IPv4 address (mapped,
//! compatible, NAT64, 6to4, Teredo) and judges that IPv4 address too, so no spelling of an
//! inside address gets past. Redirects are not followed (a 3xx is a failed
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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// What an address is to the rules, from worst to best.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// Globally routable unicast: always allowed.
    Public,
    /// Private, shared, reserved, documentation, benchmarking or multicast: allowed only with
    /// `webhooks.allow_private_networks`.
    Private,
    /// This machine: allowed only with `webhooks.allow_loopback`.
    Loopback,
    /// Link-local, metadata, unspecified or broadcast: never.
    Forbidden,
}

/// `v4` in `net/len`.
fn in_v4(v4: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(v4) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// `v6` in `net/len`.
fn in_v6(v6: Ipv6Addr, net: Ipv6Addr, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(v6) & mask == u128::from(net) & mask
}

/// The IPv4 ranges that are not globally routable unicast (RFC 6890 and its successors), beyond
/// the loopback and what [`is_forbidden`] refuses anyway.
const NOT_PUBLIC_V4: [([u8; 4], u32); 14] = [
    ([0, 0, 0, 0], 8),          // "this network"
    ([10, 0, 0, 0], 8),         // private
    ([100, 64, 0, 0], 10),      // shared (carrier-grade NAT)
    ([169, 254, 0, 0], 16),     // link-local
    ([172, 16, 0, 0], 12),      // private
    ([192, 0, 0, 0], 24),       // IETF protocol assignments
    ([192, 0, 2, 0], 24),       // documentation
    ([192, 168, 0, 0], 16),     // private
    ([198, 18, 0, 0], 15),      // benchmarking
    ([198, 51, 100, 0], 24),    // documentation
    ([203, 0, 113, 0], 24),     // documentation
    ([224, 0, 0, 0], 4),        // multicast
    ([240, 0, 0, 0], 4),        // reserved
    ([255, 255, 255, 255], 32), // broadcast
];

fn reach_v4(v4: Ipv4Addr) -> Reach {
    if is_forbidden(IpAddr::V4(v4)) {
        Reach::Forbidden
    } else if v4.is_loopback() {
        Reach::Loopback
    } else if NOT_PUBLIC_V4.iter().any(|(net, len)| in_v4(v4, *net, *len)) {
        Reach::Private
    } else {
        Reach::Public
    }
}

/// The IPv4 addresses an IPv6 address carries, and whether the IPv6 form itself is local-use
/// (so never better than private, whatever it carries).
fn embedded_v4(v6: Ipv6Addr) -> Option<(Vec<Ipv4Addr>, bool)> {
    let low = Ipv4Addr::from((u128::from(v6) & 0xffff_ffff) as u32);
    let s = v6.segments();
    if let Some(v4) = v6.to_ipv4_mapped() {
        // ::ffff:a.b.c.d — a dual-stack socket connects to a.b.c.d itself.
        Some((vec![v4], false))
    } else if s[..6] == [0; 6] {
        // ::a.b.c.d, IPv4-compatible (deprecated; not routed as such anywhere).
        Some((vec![low], true))
    } else if in_v6(v6, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        // 64:ff9b::a.b.c.d, NAT64's well-known prefix: a translator reaches a.b.c.d.
        Some((vec![low], false))
    } else if in_v6(v6, Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48) {
        // 64:ff9b:1::/48, NAT64 for local use (RFC 8215), taken as carrying its last 32 bits.
        Some((vec![low], true))
    } else if s[0] == 0x2002 {
        // 2002:aabb:ccdd::/48, 6to4: a relay reaches aa.bb.cc.dd.
        Some((
            vec![Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2]))],
            false,
        ))
    } else if s[0] == 0x2001 && s[1] == 0 {
        // 2001:0:SSSS:SSSS:…:CCCC:CCCC, Teredo: server S, client C (its bits inverted).
        let server = Ipv4Addr::from((u32::from(s[2]) << 16) | u32::from(s[3]));
        let client = Ipv4Addr::from(!u32::from(low));
        Some((vec![server, client], false))
    } else {
        None
    }
}

/// The IPv6 ranges inside 2000::/3 (global unicast) that are not globally routable.
const NOT_PUBLIC_V6: [(Ipv6Addr, u32); 4] = [
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48),     // benchmarking
    (Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28),  // ORCHID (deprecated)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),     // documentation
];

fn reach_v6(v6: Ipv6Addr) -> Reach {
    if is_forbidden(IpAddr::V6(v6)) {
        return Reach::Forbidden;
    }
    if v6.is_loopback() {
        return Reach::Loopback;
    }
    if let Some((carried, local_use)) = embedded_v4(v6) {
        let worst = carried
            .into_iter()
            .map(reach_v4)
            .max()
            .unwrap_or(Reach::Private);
        return if local_use {
            worst.max(Reach::Private)
        } else {
            worst
        };
    }
    // Only 2000::/3 is global unicast: ::/8 (but ::1 and the forms above), 100::/64 (discard),
    // fc00::/7 (unique local), fe80::/10 (link-local, forbidden above), fec0::/10 (site-local),
    // ff00::/8 (multicast) and everything else unassigned are not.
    let global = in_v6(v6, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        && !NOT_PUBLIC_V6.iter().any(|(net, len)| in_v6(v6, *net, *len));
    if global {
        Reach::Public
    } else {
        Reach::Private
    }
}

fn reach(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    reach(ip) == Reach::Loopback
}

/// Why an address is refused under `rules`, if it is. [`check_url`] asks it of an address in a
/// URL, and the client's resolver of every address a name resolves to, at connect time.
fn refused(ip: IpAddr, rules: UrlRules) -> Option<&'static str> {
    match reach(ip) {
        Reach::Forbidden => {
            Some("a link-local, metadata or unspecified address, which is never allowed")
        }
        Reach::Loopback if !rules.allow_loopback => Some(
            "on this machine, which webhooks may only be for tests and local development (webhooks.allow_loopback)",
        ),
        Reach::Private if !rules.allow_private => Some(
            "a private, reserved or otherwise not publicly routable address, which webhooks may not point at unless the deployment allows it (webhooks.allow_private_networks)",
        ),
        _ => None,
    }
}

/// Checks a webhook URL: no control characters (the parser would drop some silently), the rules
/// of [`crate::service::sso::provider::check_url`] (https only, no credentials, never
/// link-local or metadata addresses; plain http only for loopback), and those of `rules` for
/// loopback and non-public addresses. The message names what is wrong.
pub fn check_url(raw: &str, rules: UrlRules) -> Result<url::Url, String> {
    if raw.chars().any(char::is_control) {
        return Err(format!("{raw:?} contains control characters"));
    }
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

/// The webhook HTTP client (a clone shares its connections).
#[derive(Clone)]
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

    /// `v4` in each IPv6 spelling that carries an IPv4 address.
    fn spellings(v4: Ipv4Addr) -> Vec<(&'static str, Ipv6Addr)> {
        let n = u32::from(v4);
        let (hi, lo) = ((n >> 16) as u16, n as u16);
        let (nhi, nlo) = ((!n >> 16) as u16, !n as u16);
        vec![
            ("mapped", v4.to_ipv6_mapped()),
            ("compatible", v4.to_ipv6_compatible()),
            ("NAT64", Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo)),
            (
                "NAT64 local use",
                Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, hi, lo),
            ),
            ("6to4", Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1)),
            // A public Teredo server (192.0.32.10 is not special) and `v4` as the client.
            (
                "Teredo",
                Ipv6Addr::new(0x2001, 0, 0xc000, 0x200a, 0, 0x63bf, nhi, nlo),
            ),
        ]
    }

    #[test]
    fn every_ipv6_spelling_of_an_inside_ipv4_address_is_judged_as_that_address() {
        let strict = UrlRules::default();
        let loopback_ok = TESTS;
        let private_ok = UrlRules {
            allow_loopback: false,
            allow_private: true,
        };
        let inside: [(&str, Ipv4Addr, Reach); 18] = [
            ("this network", Ipv4Addr::new(0, 1, 2, 3), Reach::Private),
            ("private 10/8", Ipv4Addr::new(10, 0, 0, 1), Reach::Private),
            ("shared", Ipv4Addr::new(100, 64, 0, 1), Reach::Private),
            ("loopback", Ipv4Addr::new(127, 0, 0, 1), Reach::Loopback),
            ("loopback /8", Ipv4Addr::new(127, 9, 9, 9), Reach::Loopback),
            (
                "link-local",
                Ipv4Addr::new(169, 254, 169, 254),
                Reach::Forbidden,
            ),
            (
                "private 172.16/12",
                Ipv4Addr::new(172, 31, 255, 1),
                Reach::Private,
            ),
            (
                "protocol assignments",
                Ipv4Addr::new(192, 0, 0, 9),
                Reach::Private,
            ),
            (
                "documentation 1",
                Ipv4Addr::new(192, 0, 2, 1),
                Reach::Private,
            ),
            (
                "private 192.168/16",
                Ipv4Addr::new(192, 168, 1, 1),
                Reach::Private,
            ),
            ("benchmarking", Ipv4Addr::new(198, 19, 0, 1), Reach::Private),
            (
                "documentation 2",
                Ipv4Addr::new(198, 51, 100, 1),
                Reach::Private,
            ),
            (
                "documentation 3",
                Ipv4Addr::new(203, 0, 113, 1),
                Reach::Private,
            ),
            ("multicast", Ipv4Addr::new(224, 0, 0, 251), Reach::Private),
            ("reserved", Ipv4Addr::new(240, 0, 0, 1), Reach::Private),
            ("broadcast", Ipv4Addr::BROADCAST, Reach::Forbidden),
            (
                "metadata (Alibaba)",
                Ipv4Addr::new(100, 100, 100, 200),
                Reach::Forbidden,
            ),
            ("unspecified", Ipv4Addr::UNSPECIFIED, Reach::Forbidden),
        ];
        for (what, v4, want) in inside {
            assert_eq!(reach(IpAddr::V4(v4)), want, "{what} {v4}");
            for (form, v6) in spellings(v4) {
                let ip = IpAddr::V6(v6);
                let got = reach(ip);
                assert!(
                    got >= want.max(Reach::Private),
                    "{what} as {form} {v6}: {got:?}"
                );
                assert!(refused(ip, strict).is_some(), "{what} as {form} {v6}");
                let url = format!("https://[{v6}]/hook");
                assert!(check_url(&url, strict).is_err(), "{what} as {form}: {url}");
                match want {
                    Reach::Forbidden => {
                        for rules in [loopback_ok, private_ok] {
                            assert!(refused(ip, rules).is_some(), "{what} as {form} {v6}");
                        }
                    }
                    Reach::Loopback => {
                        assert_eq!(got, Reach::Loopback, "{what} as {form} {v6}");
                        assert!(refused(ip, private_ok).is_some(), "{what} as {form} {v6}");
                    }
                    _ => assert!(refused(ip, loopback_ok).is_some(), "{what} as {form} {v6}"),
                }
            }
        }
        // A public IPv4 address is public in the spellings that route to it, and never better
        // than private in the local-use ones.
        let public = Ipv4Addr::new(8, 8, 8, 8);
        assert_eq!(reach(IpAddr::V4(public)), Reach::Public);
        for (form, v6) in spellings(public) {
            let want = if matches!(form, "compatible" | "NAT64 local use") {
                Reach::Private
            } else {
                Reach::Public
            };
            assert_eq!(reach(IpAddr::V6(v6)), want, "{form} {v6}");
        }
        // A Teredo address with an inside server is refused too.
        let bad_server = Ipv6Addr::new(0x2001, 0, 0x0a00, 0x0001, 0, 0, 0xf7f7, 0xf7f7);
        assert!(refused(IpAddr::V6(bad_server), strict).is_some());
    }

    #[test]
    fn only_globally_routable_ipv6_passes_strict_rules() {
        let strict = UrlRules::default();
        for (ip, want) in [
            ("::", Reach::Forbidden),
            ("::1", Reach::Loopback),
            ("fc00::1", Reach::Private),
            ("fd12:3456::1", Reach::Private),
            ("fe80::1", Reach::Forbidden),
            ("fec0::1", Reach::Private),
            ("ff02::1", Reach::Private),
            ("ff0e::1", Reach::Private),
            ("2001:db8::1", Reach::Private),
            ("100::1", Reach::Private),
            ("::ffff:0:a00:1", Reach::Private),
            ("2001:2::1", Reach::Private),
            ("3fff::1", Reach::Private),
            ("fd00:ec2::254", Reach::Forbidden),
            ("2606:4700:4700::1111", Reach::Public),
            ("2a00:1450:4001:80b::200e", Reach::Public),
        ] {
            let v6: Ipv6Addr = ip.parse().unwrap();
            assert_eq!(reach(IpAddr::V6(v6)), want, "{ip}");
            assert_eq!(
                refused(IpAddr::V6(v6), strict).is_none(),
                want == Reach::Public,
                "{ip}"
            );
        }
        assert!(check_url("https://[2606:4700:4700::1111]/hook", strict).is_ok());
        assert!(check_url("https://[::ffff:8.8.8.8]/hook", strict).is_ok());
        assert!(check_url("https://8.8.8.8/hook", strict).is_ok());
        for bad in [
            "https://[::ffff:10.0.0.1]/",
            "https://[::10.0.0.1]/",
            "https://[64:ff9b::10.0.0.1]/",
            "https://[64:ff9b:1::10.0.0.1]/",
            "https://[2002:a00:1::1]/",
            "https://[2001:0:c000:200a::f5ff:fffe]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::127.0.0.1]/",
            "https://[2002:7f00:1::1]/",
            "https://[64:ff9b::169.254.169.254]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://192.0.2.10/",
            "https://224.0.0.1/",
            "https://[ff02::1]/",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_with_control_characters_are_refused() {
        for bad in [
            "https://hooks.example.com/a\nb",
            "https://hooks.example.com/a\tb",
            "https://hooks.example.com/\u{1b}[31m",
            "\u{0}https://hooks.example.com/",
            "https://hooks.example.com/a\u{7f}",
            "https://hooks.example.com/\u{85}",
        ] {
            let err = check_url(bad, UrlRules::default()).unwrap_err();
            assert!(err.contains("control characters"), "{bad:?}: {err}");
        }
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
        // The resolver asks the same predicate as the URL check: an answer in any spelling of
        // an inside address is refused (the system resolver answers a literal with itself).
        for (inside, words) in [
            ("10.0.0.1", "allow_private_networks"),
            ("::ffff:10.0.0.1", "allow_private_networks"),
            ("64:ff9b::a00:1", "allow_private_networks"),
            ("2002:7f00:1::1", "allow_loopback"),
            ("::ffff:169.254.169.254", "metadata"),
        ] {
            let err = match strict.resolve(name(inside)).await {
                Ok(_) => panic!("{inside} resolved under strict rules"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(words), "{inside}: {err}");
        }
        assert!(strict.resolve(name("8.8.8.8")).await.is_ok());
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
