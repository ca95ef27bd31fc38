//! The connect-time half of the SSRF guard: the DNS resolver of every S3 client Coffer builds.
//! [`check_endpoint`](super::check_endpoint) can only judge what a URL says; a tenant's host
//! *name* may resolve (now, or after a DNS change) to a metadata or link-local address. This
//! resolver looks the name up like the system would and refuses the whole answer if any address
//! in it is one that [`is_forbidden`](super::endpoint::is_forbidden) names, so a request can never
//! be signed and sent there, whatever the name.

use super::endpoint::is_forbidden;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use std::net::IpAddr;

/// System DNS, minus forbidden addresses.
#[derive(Clone, Debug)]
pub struct GuardedResolver;

impl GuardedResolver {
    pub(crate) async fn lookup(name: &str) -> Result<Vec<IpAddr>, String> {
        let found: Vec<IpAddr> = tokio::net::lookup_host((name, 0))
            .await
            .map_err(|e| format!("resolving {name}: {e}"))?
            .map(|a| a.ip())
            .collect();
        match found.iter().find(|ip| is_forbidden(**ip)) {
            Some(bad) => Err(format!(
                "{name} resolves to {bad}, a link-local or metadata address: refused"
            )),
            None => Ok(found),
        }
    }
}

impl ResolveDns for GuardedResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move { Self::lookup(name).await.map_err(ResolveDnsError::new) })
    }
}

/// The HTTPS client (rustls on aws-lc-rs, as the SDK's default) with [`GuardedResolver`].
pub fn guarded_http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .build_with_resolver(GuardedResolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metadata_answers_are_refused_and_others_pass() {
        for bad in ["169.254.169.254", "fe80::1", "0.0.0.0"] {
            let err = GuardedResolver::lookup(bad).await.unwrap_err();
            assert!(err.to_string().contains("refused"), "{bad}: {err}");
        }
        let ok = GuardedResolver::lookup("localhost").await.unwrap();
        assert!(ok.iter().all(|ip| ip.is_loopback()), "{ok:?}");
    }
}
