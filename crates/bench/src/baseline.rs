//! The baseline: a trivial hyper 1 server (fixed 3-byte body, keep-alive, `TCP_NODELAY`) on
//! 127.0.0.1:0, run on the same runtime as Coffer and driven by the same load generator, so
//! "ratio to baseline" divides out this machine, this kernel's loopback and the generator itself.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running baseline server; dropping it stops accepting (open connections end when the
/// benchmark closes them).
pub struct Baseline {
    /// Where it listens.
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
}

/// Binds and starts serving on the current runtime.
pub async fn start() -> std::io::Result<Baseline> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accept = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
                    .await;
            });
        }
    });
    Ok(Baseline { addr, accept })
}
