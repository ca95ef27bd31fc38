//! HTTP plumbing of the load generator: one keep-alive hyper 1 client connection per [`Conn`]
//! (an http1 handshake over a TCP socket with `TCP_NODELAY`, reused for every request, one in
//! flight), the requests Coffer's API expects ([`Api`]), and reading counters out of the
//! Prometheus text of `GET /metrics`. Kept apart from the scheduling in `load` so the closed- and
//! open-loop drivers send requests exactly the same way.

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::pin::Pin;
use tokio::net::TcpStream;

/// A request as the load generator sends it.
pub type Req = Request<Full<Bytes>>;

/// One keep-alive client connection, driven by whichever task sends on it: [`Conn::send`] polls
/// hyper's connection future beside the request, so an exchange wakes one task, not two (a
/// spawned driver task per connection is woken for every write and read and wakes the sender in
/// turn; with a separate pacer thread it made the generator cost 47–58 µs of CPU per paced
/// request, docs/performance.md). Between requests nothing polls the connection; the next
/// `send` catches up, and finds a connection the server closed meanwhile. Dropping it closes the
/// socket, so a server's graceful shutdown never waits on the benchmark.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    connection: Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
}

impl Conn {
    /// Connects and performs the HTTP/1.1 handshake.
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        Ok(Self {
            sender,
            connection: Box::pin(connection),
        })
    }

    /// Sends one request and reads the whole response body.
    pub async fn send(&mut self, req: Req) -> Result<(StatusCode, Bytes)> {
        let Self { sender, connection } = self;
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(req).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        tokio::select! {
            biased;
            answer = exchange => answer,
            closed = connection.as_mut() => match closed {
                Ok(()) => bail!("the server closed the connection"),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Sends one request and fails unless the status is 2xx.
    pub async fn expect_ok(&mut self, req: Req) -> Result<Bytes> {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body) = self.send(req).await?;
        if !status.is_success() {
            bail!("{what}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }
}

/// Builds the requests of Coffer's API for one bearer token, in org `default`.
#[derive(Clone)]
pub struct Api {
    auth: HeaderValue,
    json: HeaderValue,
    host: HeaderValue,
    put_body: Bytes,
}

/// Size of every secret value the benchmark writes.
pub const VALUE_BYTES: usize = 1024;

/// A printable 1 KiB value (kind `password` must be UTF-8), different per `seed`.
fn value(seed: u64) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..VALUE_BYTES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize]
        })
        .collect()
}

impl Api {
    /// Requests authenticated with `token`.
    pub fn new(token: &str) -> Result<Self> {
        let value = base64::engine::general_purpose::STANDARD.encode(value(42));
        let put_body = serde_json::to_vec(&serde_json::json!({ "value": value }))?;
        Ok(Self {
            auth: HeaderValue::from_str(&format!("Bearer {token}"))
                .context("token is not a valid header value")?,
            json: HeaderValue::from_static("application/json"),
            host: HeaderValue::from_static("127.0.0.1"),
            put_body: Bytes::from(put_body),
        })
    }

    fn request(&self, method: Method, path: &str, body: Option<Bytes>) -> Req {
        let mut req = Request::new(Full::new(body.clone().unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = path.parse().expect("benchmark paths are valid URIs");
        let headers = req.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(AUTHORIZATION, self.auth.clone());
        if body.is_some() {
            headers.insert(CONTENT_TYPE, self.json.clone());
        }
        req
    }

    /// `POST …/secrets/{scope}/{name}/reveal`.
    pub fn reveal(&self, scope: &str, name: &str) -> Req {
        self.request(
            Method::POST,
            &format!("/api/v1/orgs/default/secrets/{scope}/{name}/reveal"),
            None,
        )
    }

    /// `GET …/secrets?issue={issue}`.
    pub fn list(&self, issue: &str) -> Req {
        self.request(
            Method::GET,
            &format!("/api/v1/orgs/default/secrets?issue={issue}"),
            None,
        )
    }

    /// `PUT …/secrets/{scope}/{name}` with a 1 KiB value (the same value each time: every write
    /// still gets a fresh data key and its own envelope).
    pub fn put(&self, scope: &str, name: &str) -> Req {
        self.request(
            Method::PUT,
            &format!("/api/v1/orgs/default/secrets/{scope}/{name}"),
            Some(self.put_body.clone()),
        )
    }

    /// `GET …/audit/verify`: checks org `default`'s whole audit chain.
    pub fn audit_verify(&self) -> Req {
        self.request(Method::GET, "/api/v1/orgs/default/audit/verify", None)
    }

    /// `GET /metrics` (no authentication needed, sent anyway).
    pub fn metrics(&self) -> Req {
        self.request(Method::GET, "/metrics", None)
    }
}

/// `GET /` with no authentication: what the baseline serves.
pub fn plain_get() -> Req {
    let mut req = Request::new(Full::new(Bytes::new()));
    req.headers_mut()
        .insert(HOST, HeaderValue::from_static("127.0.0.1"));
    req
}

/// Sum of a Prometheus counter over every label set whose labels contain all of `labels`
/// (e.g. `[("operation", "unwrap")]`; empty: every label set).
pub fn counter_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (label_text, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once('}')?,
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            let wanted = labels
                .iter()
                .all(|(k, v)| label_text.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
            wanted
                .then(|| value.split_whitespace().next()?.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_counters_by_label() {
        let text = "# HELP x\n\
            coffer_key_provider_requests_total{org=\"a\",provider=\"local\",operation=\"unwrap\",outcome=\"ok\"} 3\n\
            coffer_key_provider_requests_total{org=\"b\",provider=\"local\",operation=\"wrap\",outcome=\"ok\"} 2\n\
            coffer_key_provider_requests_total_other 7\n";
        let name = "coffer_key_provider_requests_total";
        assert_eq!(counter_sum(text, name, &[]), 5.0);
        assert_eq!(counter_sum(text, name, &[("operation", "wrap")]), 2.0);
        assert_eq!(counter_sum(text, name, &[("operation", "rotate")]), 0.0);
    }

    #[test]
    fn values_are_printable_and_sized() {
        let v = value(7);
        assert_eq!(v.len(), VALUE_BYTES);
        assert!(v.iter().all(u8::is_ascii_alphanumeric));
        assert_ne!(v, value(8));
    }
}
