//! Serving the router: an accept loop of HTTP/1 connections (hyper), as `axum::serve` runs it,
//! plus the one thing `axum::serve` cannot be told — a timer, so that a client must deliver each
//! request's headers within `server.header_read_timeout`. hyper starts that clock whenever a
//! connection waits for a request's head, including between requests on a kept-alive
//! connection, so it cuts both a slowloris (headers a byte at a time) and an idle connection.
//! A slow *body* is cut by the request timeout in [`super::guard_and_measure`].
//!
//! With `[server.tls]` each accepted connection is first a TLS handshake (rustls, see
//! [`super::tls`]), which must also complete within `server.header_read_timeout`; the requests
//! of such a connection carry [`TlsConnection`], so the session cookie gets `Secure`.
//!
//! Shutdown is graceful: stop accepting, let each connection finish the request it is serving,
//! then return once every connection has closed. (A handshake still under way is dropped.)

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// Marks the requests of a connection Coffer terminated TLS on itself (`[server.tls]`); see
/// [`super::web::OverTls`].
#[derive(Clone, Copy, Debug)]
pub struct TlsConnection;

/// Serves `app` on `listener` until `shutdown` resolves, then drains the open connections. With
/// `tls`, each connection is a TLS one: its handshake must complete within `header_read_timeout`
/// too, and its requests carry [`TlsConnection`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(());
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: pause
                    // rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(acceptor) = tls else {
                serve_connection(stream, peer, app, header_read_timeout, false, stop).await;
                drop(open);
                return;
            };
            let handshake =
                tokio::time::timeout(header_read_timeout, handshake(acceptor, stream, peer));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Some(stream)) => stream,
                    Ok(None) => return,
                    Err(_) => {
                        tracing::debug!(%peer, "closed a connection that did not finish its TLS handshake in time");
                        return;
                    }
                },
                _ = stop.changed() => return,
            };
            serve_connection(stream, peer, app, header_read_timeout, true, stop).await;
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    drop(open_rx);
    open_tx.closed().await;
}

/// The TLS handshake of a new connection. A client that speaks plain HTTP to the TLS port (its
/// first byte is not a TLS handshake record's) gets a plain 400 saying so, then the connection
/// is closed.
async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    mut stream: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    const TLS_HANDSHAKE_RECORD: u8 = 0x16;
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first[0] != TLS_HANDSHAKE_RECORD => {
            tracing::debug!(%peer, "refused plain HTTP on the HTTPS port");
            let body = "This is Coffer's HTTPS port: use https://\n";
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
            return None;
        }
        Ok(1) => {}
        _ => return None,
    }
    match acceptor.accept(stream).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
    }
}

/// One HTTP/1 connection until it ends, or until `stop` and then its request in flight ends.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    header_read_timeout: Duration,
    over_tls: bool,
    mut stop: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = app.map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if over_tls {
            req.extensions_mut().insert(TlsConnection);
        }
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_end(peer, result),
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            log_end(peer, conn.await);
        }
    }
}

fn log_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        if e.is_timeout() {
            tracing::debug!(%peer, "closed a connection that sent no request head in time");
        } else {
            tracing::trace!(%peer, error = %e, "connection ended with an error");
        }
    }
}
