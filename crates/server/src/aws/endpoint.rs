//! The SSRF guard for tenant-supplied S3 endpoints: a pure function, so it is cheap to test
//! exhaustively and can run before anything is saved.
//!
//! An org admin may point Coffer at an S3-compatible store, which would otherwise let a tenant
//! make Coffer's servers send signed requests anywhere, including the instance metadata service
//! (credentials) or internal hosts. So: AWS's own S3 endpoint names are always allowed (https,
//! default port); anything else only when the operator sets `allow_custom`; link-local and
//! metadata addresses, in any spelling the URL parser normalises (decimal, hex, IPv4-mapped or
//! NAT64 IPv6), and non-http(s) schemes are refused even then. Host *names* are not resolved here:
//! a DNS name that resolves to a metadata address is stopped at connect time by the resolver in
//! [`super::dns_guard`], which every S3 client uses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Names of metadata services that resolve to link-local addresses inside clouds.
const METADATA_NAMES: &[&str] = &[
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.google.internal",
];

/// Checks a tenant-supplied S3 endpoint URL. `allow_custom` admits hosts other than AWS's S3
/// endpoints (including loopback, which tests use); the error says what was refused and why.
pub fn check_endpoint(endpoint: &str, allow_custom: bool) -> Result<(), String> {
    let url =
        Url::parse(endpoint).map_err(|e| format!("endpoint {endpoint:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!(
            "endpoint scheme {:?} is not allowed: use https",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("endpoint must not contain credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("endpoint must not have a query or fragment".into());
    }
    let custom_disabled = |what: &str| {
        format!(
            "endpoint {what} is not an AWS S3 endpoint, and custom endpoints are disabled \
             (the operator can set storage.allow_custom_endpoints = true)"
        )
    };
    match url.host() {
        None => Err("endpoint has no host".into()),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), allow_custom, &custom_disabled),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), allow_custom, &custom_disabled),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_NAMES.contains(&name.as_str()) {
                return Err(format!("endpoint host {name} is a metadata service"));
            }
            if is_aws_s3_host(&name) {
                if url.scheme() != "https" {
                    return Err("AWS S3 endpoints must use https".into());
                }
                if url.port().is_some_and(|p| p != 443) {
                    return Err("AWS S3 endpoints use the default https port".into());
                }
                if url.path() != "/" {
                    return Err("AWS S3 endpoints have no path".into());
                }
                return Ok(());
            }
            if allow_custom {
                Ok(())
            } else {
                Err(custom_disabled(&name))
            }
        }
    }
}

/// Cloud metadata and platform services outside link-local: Alibaba Cloud's metadata service,
/// Azure's platform endpoint (WireServer), and AWS's IPv6 metadata and DNS addresses.
const METADATA_ADDRESSES: [IpAddr; 4] = [
    IpAddr::V4(std::net::Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(std::net::Ipv4Addr::new(168, 63, 129, 16)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

/// Link-local (which holds most cloud metadata services), the other metadata addresses
/// ([`METADATA_ADDRESSES`]), or unspecified: never a legitimate place to send signed requests, in
/// any spelling.
pub(crate) fn is_forbidden(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) if v6.is_loopback() => None,
        IpAddr::V6(v6) => v6.to_ipv4().or_else(|| nat64(v6)),
    };
    if METADATA_ADDRESSES.contains(&ip)
        || v4.is_some_and(|v4| METADATA_ADDRESSES.contains(&IpAddr::V4(v4)))
    {
        return true;
    }
    match (ip, v4) {
        (_, Some(v4)) => v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast(),
        (IpAddr::V6(v6), None) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80 // fe80::/10
                || v6.is_unspecified()
        }
        (IpAddr::V4(_), None) => unreachable!("an IPv4 address is its own IPv4 form"),
    }
}

fn check_ip(
    ip: IpAddr,
    allow_custom: bool,
    disabled: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    if is_forbidden(ip) {
        return Err(format!(
            "endpoint address {ip} is link-local, a metadata address or unspecified, and is never allowed"
        ));
    }
    if allow_custom {
        Ok(())
    } else {
        Err(disabled(&ip.to_string()))
    }
}

/// The IPv4 address embedded in a NAT64 well-known-prefix address (`64:ff9b::/96`).
fn nat64(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| {
        let o = v6.octets();
        Ipv4Addr::new(o[12], o[13], o[14], o[15])
    })
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() <= 2
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `[BUCKET.]s3[-fips|-REGION][.dualstack][.REGION].amazonaws.com[.cn]`, scanned from the right
/// so bucket names containing `s3` labels still parse.
fn is_aws_s3_host(host: &str) -> bool {
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let labels: Vec<&str> = rest.split('.').collect();
    (0..labels.len()).rev().any(|i| {
        let service = labels[i];
        let legacy_region = service.strip_prefix("s3-").is_some_and(is_region);
        let service_ok = matches!(service, "s3" | "s3-fips" | "s3-external-1") || legacy_region;
        let tail = &labels[i + 1..];
        let tail_ok = match tail {
            [] => true,
            [r] => !legacy_region && is_region(r),
            ["dualstack", r] => !legacy_region && is_region(r),
            _ => false,
        };
        service_ok && tail_ok && labels[..i].iter().all(|l| is_dns_label(l))
    })
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn aws_endpoints_are_allowed_without_custom() {
        for ok in [
            "https://s3.amazonaws.com",
            "https://s3.eu-central-1.amazonaws.com",
            "https://s3.eu-central-1.amazonaws.com/",
            "https://s3-eu-west-1.amazonaws.com",
            "https://s3.dualstack.us-east-1.amazonaws.com",
            "https://s3-fips.us-gov-west-1.amazonaws.com",
            "https://s3-fips.dualstack.us-east-2.amazonaws.com",
            "https://my-bucket.s3.eu-central-1.amazonaws.com",
            "https://my.s3.bucket.s3.us-west-2.amazonaws.com",
            "https://my-bucket.s3.amazonaws.com:443",
            "https://s3.cn-north-1.amazonaws.com.cn",
            "https://S3.EU-CENTRAL-1.AMAZONAWS.COM.",
        ] {
            assert_eq!(check_endpoint(ok, false), Ok(()), "{ok}");
        }
    }

    #[test]
    fn lookalikes_and_other_hosts_need_custom() {
        for bad in [
            "https://s3.eu-central-1.amazonaws.com.evil.example",
            "https://evil.example/s3.amazonaws.com",
            "https://ec2.eu-central-1.amazonaws.com",
            "https://s3.eu-central-1.evil.amazonaws.com",
            "https://s3.not_a_region.amazonaws.com",
            "http://s3.eu-central-1.amazonaws.com",
            "https://s3.eu-central-1.amazonaws.com:8443",
            "https://s3.eu-central-1.amazonaws.com/other",
            "https://minio.internal.example:9000",
            "http://127.0.0.1:5000",
            "http://localhost:5000",
            "http://[::1]:5000",
        ] {
            assert!(check_endpoint(bad, false).is_err(), "{bad}");
        }
        for ok in [
            "https://minio.internal.example:9000",
            "http://127.0.0.1:5000",
            "http://localhost:5000",
            "http://[::1]:5000",
        ] {
            assert_eq!(check_endpoint(ok, true), Ok(()), "{ok}");
        }
    }

    #[test]
    fn metadata_link_local_and_odd_schemes_are_always_refused() {
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.170.2",
            "http://2852039166",          // 169.254.169.254 as one decimal number
            "http://0xa9.0xfe.0xa9.0xfe", // hex
            "http://0251.0376.0251.0376", // octal
            "http://[fd00:ec2::254]",
            "http://[fd00:ec2::23]",
            "http://100.100.100.200/latest/meta-data/",
            "http://[::ffff:100.100.100.200]",
            "http://168.63.129.16",
            "http://[fe80::1]",
            "http://[febf::1]",
            "http://[::ffff:169.254.169.254]",
            "http://[64:ff9b::a9fe:a9fe]",
            "http://0.0.0.0:9000",
            "http://instance-data",
            "http://metadata.google.internal",
            "file:///etc/passwd",
            "ftp://s3.amazonaws.com",
            "gopher://127.0.0.1:70",
            "https://user:pass@s3.amazonaws.com",
            "https://s3.amazonaws.com/?x=1",
            "not a url",
        ] {
            let err = check_endpoint(bad, true).expect_err(bad);
            assert!(!err.is_empty());
        }
    }
}
