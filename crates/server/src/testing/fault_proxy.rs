//! A fault-injecting TCP proxy for tests: put it between Coffer and a peer (moto's S3 or KMS,
//! PostgreSQL) and change what the link does while traffic flows. No toxiproxy server is
//! installable here (no registry carries one), and the faults a test needs are few, so this is
//! a small tokio proxy instead.
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and forwards every connection to the peer;
//! [`FaultProxy::set`] switches the [`Fault`] for new connections *and* for bytes still flowing
//! on open ones (each chunk consults the current fault). TCP faults: added latency (fixed plus
//! jitter), a bandwidth cap, a blackhole (accepted, never answered), a reset after N bytes of the
//! peer's answer, and refused connections (accepted and reset at once, what a client sees of a
//! closed port behind a load balancer). HTTP faults answer every request with a scripted
//! response instead of forwarding it — an S3 `503 SlowDown`, a `500`, a KMS
//! `ThrottlingException`, to all requests or only to those whose head contains a text (one
//! region's SigV4 scope) — or forward it and cut the answer's body short. The proxy counts
//! connections and requests it saw, so a test can prove there was no retry storm.
//!
//! The HTTP faults look at the first request of each connection: they suit peers that close a
//! connection after each answer (moto does), or tests that switch faults between calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the link does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything untouched.
    Pass,
    /// Wait `fixed` plus up to `jitter` before forwarding each chunk, both ways.
    Latency {
        /// Always added.
        fixed: Duration,
        /// Added on top, uniformly at random.
        jitter: Duration,
    },
    /// At most this many bytes per second, each way.
    Bandwidth(u64),
    /// Accept and read, never forward or answer.
    Blackhole,
    /// Forward, then reset the connection once the peer's answer has passed this many bytes.
    ResetAfter(u64),
    /// Accept and reset at once.
    Refuse,
    /// Answer every request with this HTTP response, never reaching the peer.
    Respond(HttpAnswer),
    /// Answer with this response the requests whose head contains `needle` (e.g. the SigV4
    /// credential scope `/eu-central-1/kms/` of one region's KMS calls); forward the others.
    RespondWhen {
        /// Text to look for in the request head.
        needle: String,
        /// The answer to matching requests.
        answer: HttpAnswer,
    },
    /// Forward, but cut the peer's answer after its head plus this many body bytes, and close.
    TruncateBody(u64),
}

/// A scripted HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl HttpAnswer {
    /// S3's `503 SlowDown`.
    pub fn s3_slow_down() -> Self {
        Self {
            status: 503,
            reason: "Slow Down",
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                   <Message>Please reduce your request rate.</Message></Error>"
                .into(),
        }
    }
    /// S3's `500 InternalError`.
    pub fn s3_internal_error() -> Self {
        Self {
            status: 500,
            reason: "Internal Server Error",
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
                   <Message>We encountered an internal error. Please try again.</Message></Error>"
                .into(),
        }
    }
    /// KMS's `ThrottlingException` (JSON protocol, HTTP 400).
    pub fn kms_throttling() -> Self {
        Self {
            status: 400,
            reason: "Bad Request",
            content_type: "application/x-amz-json-1.1",
            body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.status,
            self.reason,
            self.content_type,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// A running proxy; stops accepting when dropped (open connections end with their peers).
pub struct FaultProxy {
    addr: std::net::SocketAddr,
    fault: Arc<Mutex<Fault>>,
    counters: Arc<Counters>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`host:port`), passing traffic untouched.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let counters = Arc::new(Counters::default());
        let upstream = upstream.to_owned();
        let (f, c) = (fault.clone(), counters.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.connections.fetch_add(1, Ordering::Relaxed);
                let (f, c, upstream) = (f.clone(), c.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, f, c).await;
                });
            }
        });
        Self {
            addr,
            fault,
            counters,
            accept,
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`: an endpoint URL for an HTTP peer.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the fault, for new connections and for what still flows on open ones.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().expect("poisoned") = fault;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::Relaxed)
    }

    /// HTTP requests seen so far (in [`Fault::Respond`] mode, where the proxy reads them; in
    /// the other modes a request is counted per request head that passes from the client).
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }
}

fn current(fault: &Mutex<Fault>) -> Fault {
    fault.lock().expect("poisoned").clone()
}

/// Resets `stream` (RST, not FIN): a zero linger, then closed.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    fault: Arc<Mutex<Fault>>,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    match current(&fault) {
        Fault::Refuse => {
            reset(client);
            return Ok(());
        }
        Fault::Blackhole => {
            let mut sink = [0u8; 8192];
            while client.read(&mut sink).await? > 0 {}
            return Ok(());
        }
        Fault::Respond(answer) => {
            let head = read_head(&mut client).await?;
            return answer_with(client, &head, &answer, &counters).await;
        }
        Fault::RespondWhen { needle, answer } => {
            let head = read_head(&mut client).await?;
            if String::from_utf8_lossy(&head).contains(&needle) {
                return answer_with(client, &head, &answer, &counters).await;
            }
            // Not a match: the head already read goes first, then the connection is piped.
            let mut server = TcpStream::connect(upstream).await?;
            server.write_all(&head).await?;
            return pipe(client, server, fault, counters).await;
        }
        _ => {}
    }
    let server = TcpStream::connect(upstream).await?;
    pipe(client, server, fault, counters).await
}

/// Consumes the request whose head is `head` (its body by Content-Length) and answers `answer`.
async fn answer_with(
    mut client: TcpStream,
    head: &[u8],
    answer: &HttpAnswer,
    counters: &Counters,
) -> std::io::Result<()> {
    if head.is_empty() {
        return Ok(());
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut rest = content_length(head);
    let mut buf = [0u8; 8192];
    while rest > 0 {
        let n = client.read(&mut buf[..rest.min(8192)]).await?;
        if n == 0 {
            break;
        }
        rest -= n;
    }
    client.write_all(&answer.bytes()).await?;
    client.shutdown().await
}

/// Forwards both ways, applying the fault current at each chunk.
async fn pipe(
    client: TcpStream,
    server: TcpStream,
    fault: Arc<Mutex<Fault>>,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = {
        let (fault, counters) = (fault.clone(), counters.clone());
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = cr.read(&mut buf).await?;
                if n == 0 {
                    let _ = sw.shutdown().await;
                    return Ok::<_, std::io::Error>(());
                }
                counters
                    .requests
                    .fetch_add(count_heads(&buf[..n]), Ordering::Relaxed);
                delay(&current(&fault), n).await;
                if current(&fault) == Fault::Blackhole {
                    continue;
                }
                sw.write_all(&buf[..n]).await?;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut passed: u64 = 0;
        let mut body_sent: Option<u64> = None;
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                let _ = cw.shutdown().await;
                return Ok::<_, std::io::Error>(None);
            }
            let f = current(&fault);
            delay(&f, n).await;
            match f {
                Fault::Blackhole => continue,
                Fault::ResetAfter(limit) => {
                    let allowed = limit.saturating_sub(passed).min(n as u64) as usize;
                    cw.write_all(&buf[..allowed]).await?;
                    passed += allowed as u64;
                    if passed >= limit {
                        return Ok(Some(cw));
                    }
                }
                Fault::TruncateBody(limit) => {
                    let chunk = &buf[..n];
                    let start = match (body_sent, find_head_end(chunk)) {
                        (Some(_), _) => 0,
                        (None, Some(end)) => {
                            body_sent = Some(0);
                            end
                        }
                        (None, None) => {
                            cw.write_all(chunk).await?; // still in the head
                            continue;
                        }
                    };
                    let sent = body_sent.unwrap_or(0);
                    let body = (n - start).min(limit.saturating_sub(sent) as usize);
                    cw.write_all(&chunk[..start + body]).await?;
                    body_sent = Some(sent + body as u64);
                    if sent + body as u64 >= limit {
                        let _ = cw.shutdown().await;
                        return Ok(None);
                    }
                }
                _ => {
                    cw.write_all(&buf[..n]).await?;
                    passed += n as u64;
                }
            }
        }
    };
    tokio::pin!(up);
    tokio::pin!(down);
    let cut = tokio::select! {
        u = &mut up => {
            u?;
            down.await?
        }
        d = &mut down => d?,
    };
    if let Some(cw) = cut {
        // ResetAfter: the client's socket closes with a reset once both halves are dropped.
        let _ = cw.as_ref().set_zero_linger();
    }
    Ok(())
}

/// Waits what `fault` adds before `n` bytes pass.
async fn delay(fault: &Fault, n: usize) {
    match fault {
        Fault::Latency { fixed, jitter } => {
            let extra = if jitter.is_zero() {
                Duration::ZERO
            } else {
                jitter.mul_f64(rand_unit())
            };
            tokio::time::sleep(*fixed + extra).await;
        }
        Fault::Bandwidth(per_sec) if *per_sec > 0 => {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / *per_sec as f64)).await;
        }
        _ => {}
    }
}

fn rand_unit() -> f64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    let bits = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Request heads starting in `chunk` (a method at a line start followed by ` /`), an estimate
/// good enough to count requests on a pass-through connection.
fn count_heads(chunk: &[u8]) -> u64 {
    const METHODS: [&[u8]; 6] = [
        b"GET /",
        b"PUT /",
        b"POST /",
        b"HEAD /",
        b"DELETE /",
        b"PATCH /",
    ];
    (0..chunk.len())
        .filter(|&i| i == 0 || (i >= 2 && &chunk[i - 2..i] == b"\r\n"))
        .filter(|&i| METHODS.iter().any(|m| chunk[i..].starts_with(m)))
        .count() as u64
}

/// Reads one request head (through the blank line); empty if the client closed first.
async fn read_head(client: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while find_head_end(&head).is_none() {
        if client.read(&mut byte).await? == 0 {
            return Ok(Vec::new());
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            break;
        }
    }
    Ok(head)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}
