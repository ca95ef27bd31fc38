//! `coffer login` and `coffer logout`: single sign-on for the command line.
//!
//! Login is the loopback flow of RFC 8252: the command listens on a port of 127.0.0.1, sends the
//! browser to `{addr}/sso/{org}/login?cli_port=PORT&cli_challenge=CH` (CH = base64url SHA-256
//! of a random verifier only this process knows), and after the sign-in at the org's provider
//! Coffer sends the browser to `http://127.0.0.1:PORT/callback?code=…`. The code is exchanged,
//! with the verifier, at `POST /api/v1/sso/token` for a 12-hour personal token, which is stored
//! by [`credentials`] and never printed. The browser's tab then shows how it ended. When the
//! sign-in fails Coffer sends the browser to its own sign-in page with the reason, so nothing
//! comes back here: the wait ends with `--timeout`.
//!
//! Logout revokes the stored token on its server and removes the file — the file also when the
//! server cannot be reached or the token no longer works (and says so).

use crate::cli::{GlobalArgs, LoginArgs};
use crate::client::Client;
use crate::credentials::{self, Login, Secret};
use crate::error::{CliError, Result};
use crate::output;
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_api::{CliToken, CliTokenRequest};
use reqwest::Url;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use zeroize::{Zeroize as _, Zeroizing};

/// How long one connection to the loopback port may take to send its request or read the page.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head read from the browser.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// `coffer login`.
pub async fn login(global: &GlobalArgs, args: LoginArgs) -> Result<i32> {
    let path = credentials::path()?;
    let previous = credentials::load().unwrap_or_else(|e| {
        eprintln!("warning: {e}; a new login replaces it");
        None
    });
    let org = global
        .org
        .clone()
        .or_else(|| {
            previous
                .as_ref()
                .filter(|p| p.is_for(&global.addr))
                .map(|p| p.org.clone())
        })
        .unwrap_or_else(|| "default".to_owned());
    let ca = global.ca_cert.as_deref();
    let client = Client::new(&global.addr, None, ca)?;
    // Fail now, not after the timeout, when nothing answers at --addr.
    client.get_site(&["healthz"]).await?;

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("cannot listen on a port of 127.0.0.1 for the browser to come back to")?;
    let port = listener
        .local_addr()
        .context("cannot read the loopback port")?
        .port();
    let verifier = random_verifier();
    let url = client.site_url(
        &["sso", &org, "login"],
        &[
            ("cli_port", port.to_string()),
            ("cli_challenge", challenge_of(&verifier)),
        ],
    );
    eprintln!("Open this URL to sign in: {url}");
    if !args.no_browser {
        open_browser(url.as_str());
    }

    let Ok((code, mut browser)) = tokio::time::timeout(args.timeout, wait_for_code(listener)).await
    else {
        return Err(CliError::Other(anyhow::anyhow!(
            "no sign-in came back within {}: if the browser shows an error, fix what it says and run `coffer login` again (--timeout waits longer)",
            humantime::format_duration(args.timeout)
        )));
    };
    let outcome = exchange(&client, code, &verifier, ca).await;
    match &outcome {
        Ok(login) => {
            let text = format!(
                "Signed in to Coffer; you can close this tab. ({} in org {}; back to the terminal.)",
                login.user, login.org
            );
            respond(&mut browser, "200 OK", &page("Signed in to Coffer", &text)).await;
        }
        Err(e) => {
            let text = format!("{e}. Run `coffer login` again.");
            respond(
                &mut browser,
                "400 Bad Request",
                &page("Coffer sign-in failed", &text),
            )
            .await;
        }
    }
    let login = outcome?;

    // The replaced login's token is in no file any more: revoke it (best effort).
    if let Some(prev) = previous.filter(|p| !p.expired() && p.token_id != login.token_id) {
        revoke_quietly(&prev, ca).await;
    }
    if global.json {
        println!("{}", login.public_json());
    } else {
        eprintln!("The token is stored in {}.", path.display());
        println!(
            "Signed in to org {} as {} until {}",
            login.org,
            login.user,
            output::time(login.expires_at)
        );
    }
    Ok(0)
}

/// Exchanges the code for a token and stores it.
async fn exchange(
    client: &Client,
    code: Zeroizing<String>,
    verifier: &str,
    ca: Option<&Path>,
) -> Result<Login> {
    let mut req = CliTokenRequest {
        code: code.to_string(),
        verifier: verifier.to_owned(),
    };
    let sent = client.post(&["sso", "token"], &req).await;
    req.code.zeroize();
    req.verifier.zeroize();
    let t: CliToken = sent?.parse()?;
    let login = Login {
        addr: client.base_url().to_owned(),
        org: t.org,
        user: t.user,
        token: Secret::new(t.token),
        token_id: t.token_id,
        expires_at: t.expires_at,
    };
    if let Err(e) = credentials::save(&login) {
        // A token that cannot be kept must not stay valid.
        revoke_quietly(&login, ca).await;
        return Err(e);
    }
    Ok(login)
}

/// A random PKCE-style verifier: 32 bytes, base64url (43 characters).
fn random_verifier() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut bytes[..]).expect("the system CSPRNG works");
    Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// The challenge Coffer keeps for a verifier: base64url (no padding) of its SHA-256.
fn challenge_of(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Tries to open `url` in the desktop's browser; failures are silent (the URL is printed).
/// Also `coffer jira link`'s.
pub(super) fn open_browser(url: &str) {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(windows)]
    let mut cmd = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", windows)))]
    let mut cmd = std::process::Command::new("xdg-open");
    let _ = cmd
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Serves the loopback port until a `GET /callback?code=…` arrives; returns the code and the
/// connection, to answer once the exchange has ended. Every other request gets a 404 (favicon,
/// a browser's probes), each connection on its own task so a silent one blocks nothing.
async fn wait_for_code(listener: TcpListener) -> (Zeroizing<String>, TcpStream) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    loop {
        tokio::select! {
            found = rx.recv() => {
                if let Some(found) = found {
                    return found;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        if let Some(found) = triage(stream).await {
                            let _ = tx.send(found).await;
                        }
                    });
                }
                // E.g. out of file descriptors: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

/// Reads one request; the code and the connection if it is the callback, else answers it.
async fn triage(mut stream: TcpStream) -> Option<(Zeroizing<String>, TcpStream)> {
    let head = tokio::time::timeout(CONNECTION_TIMEOUT, read_head(&mut stream))
        .await
        .ok()
        .flatten()?;
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line).unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next());
    let url = target
        .filter(|t| t.starts_with('/') && method == "GET")
        .and_then(|t| Url::parse("http://127.0.0.1/").ok()?.join(t).ok());
    match url {
        Some(url) if url.path() == "/callback" => {
            let code = url
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| Zeroizing::new(v.into_owned()))
                .filter(|c| !c.is_empty());
            if code.is_none() {
                let text =
                    "This address expects a sign-in code from Coffer; run `coffer login` again.";
                respond(
                    &mut stream,
                    "400 Bad Request",
                    &page("No sign-in code", text),
                )
                .await;
            }
            code.map(|c| (c, stream))
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                &page("Not found", "Not found."),
            )
            .await;
            None
        }
    }
}

/// Reads a request head (up to the blank line), at most [`MAX_REQUEST_HEAD`] bytes.
async fn read_head(stream: &mut TcpStream) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; MAX_REQUEST_HEAD]);
    let mut len = 0;
    loop {
        let n = stream.read(&mut buf[len..]).await.ok()?;
        if n == 0 {
            return None;
        }
        len += n;
        let head = &buf[..len];
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            buf.truncate(len);
            return Some(buf);
        }
        if len == MAX_REQUEST_HEAD {
            return None;
        }
    }
}

/// Answers a request with an HTML page and closes the connection.
async fn respond(stream: &mut TcpStream, status: &str, html: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        html.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(html.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, write).await;
}

/// A minimal page.
fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\"><h1>{t}</h1><p>{p}</p></body></html>\n",
        t = escape(title),
        p = escape(text)
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Revokes a stored login's token on its server (trusting the CA of `--ca-cert`, if any).
async fn revoke(login: &Login, ca: Option<&Path>) -> Result<()> {
    let client = Client::new(&login.addr, Some(login.api_token()?), ca)?;
    let id = login.token_id.to_string();
    client
        .delete(&["orgs", &login.org, "tokens", &id])
        .await
        .map(drop)
}

/// [`revoke`] as a best effort that never holds the command up for long.
async fn revoke_quietly(login: &Login, ca: Option<&Path>) {
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, revoke(login, ca)).await;
}

/// `coffer logout`.
pub async fn logout(global: &GlobalArgs) -> Result<i32> {
    let json = global.json;
    let path = credentials::path()?;
    let report = |signed_in: bool, token: &str| {
        if json {
            println!(
                "{}",
                serde_json::json!({"was_signed_in": signed_in, "token": token})
            );
        }
    };
    let login = match credentials::load() {
        Ok(Some(login)) => login,
        Ok(None) => {
            report(false, "none");
            if !json {
                println!("not signed in");
            }
            return Ok(0);
        }
        Err(e) => {
            eprintln!("warning: {e}");
            credentials::remove()?;
            report(true, "unknown");
            if !json {
                println!("removed the unreadable {}", path.display());
            }
            return Ok(0);
        }
    };
    let revoked = if login.expired() {
        Ok("expired")
    } else {
        match revoke(&login, global.ca_cert.as_deref()).await {
            Ok(()) => Ok("revoked"),
            Err(CliError::Api {
                status: 401 | 404, ..
            }) => Ok("already_invalid"),
            Err(e) => Err(e),
        }
    };
    credentials::remove()?;
    let at = format!("org {} at {}", login.org, login.addr);
    match revoked {
        Ok(token) => {
            report(true, token);
            if !json {
                let why = match token {
                    "revoked" => "the token is revoked".to_owned(),
                    "expired" => {
                        format!("the token had expired ({})", output::time(login.expires_at))
                    }
                    _ => "the token no longer worked (revoked, or no longer a member)".to_owned(),
                };
                println!(
                    "Signed out of {at} ({}): {why}; removed {}",
                    login.user,
                    path.display()
                );
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("warning: could not revoke the token of {at}: {e}");
            eprintln!(
                "warning: it keeps working until {} unless an admin of the org revokes token {} (`coffer token revoke {}`)",
                output::time(login.expires_at),
                login.token_id,
                login.token_id
            );
            report(true, "not_revoked");
            if !json {
                println!("removed {}", path.display());
            }
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_and_challenge_have_the_servers_shape() {
        let v = random_verifier();
        assert_eq!(v.len(), 43);
        assert_ne!(*v, *random_verifier());
        let c = challenge_of(&v);
        assert_eq!(c.len(), 43);
        assert_eq!(c, coffer_server::service::sso::flow::challenge_of(&v));
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pages_escape_what_they_show() {
        let p = page("t", "<script>&\"'");
        assert!(p.contains("&lt;script&gt;&amp;&quot;&#39;"), "{p}");
    }

    #[tokio::test]
    async fn the_loopback_port_answers_the_callback_only() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let waiting = tokio::spawn(wait_for_code(listener));
        let get = |path: &'static str| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            s
        };
        // A connection that never speaks blocks nothing.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut answer = String::new();
        get("/favicon.ico")
            .await
            .read_to_string(&mut answer)
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        let mut answer = String::new();
        get("/callback")
            .await
            .read_to_string(&mut answer)
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let mut pending = get("/callback?code=abc%2Bd&x=1").await;
        let (code, mut stream) = waiting.await.unwrap();
        assert_eq!(code.as_str(), "abc+d");
        respond(&mut stream, "200 OK", &page("Signed in to Coffer", "ok")).await;
        let mut answer = String::new();
        pending.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.contains("Signed in to Coffer"), "{answer}");
    }
}
