//! A real OpenID provider for the single sign-on tests: panva's `oidc-provider` (OpenID
//! certified), run by Node from `crates/server/tests/oidc_provider` (`npm ci` there first;
//! `scripts/test.sh` does) on a free port, and [`Provider::sign_in`], which plays the person's
//! browser through its development login and consent forms over plain HTTP, keeping the
//! provider's cookies as a browser would.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running provider; stopped on drop.
pub struct Provider {
    child: Child,
    issuer: String,
}

/// The relying party the provider knows.
pub struct Client<'a> {
    /// Client id.
    pub id: &'a str,
    /// Client secret (`None`: a public client).
    pub secret: Option<&'a str>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Provider {
    /// Starts a provider for `client` whose people have the extra claims in `accounts`
    /// (`{"alice": {"groups": ["dba"]}}`; everyone signs in with any password, and gets `sub`
    /// and `preferred_username` = the login name and `email_verified`). `id_token_ttl` in seconds.
    pub fn start(client: &Client<'_>, accounts: serde_json::Value, id_token_ttl: u64) -> Provider {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc_provider");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run `npm ci` in {} (scripts/test.sh does)",
            dir.display()
        );
        let port = free_port();
        let mut c =
            serde_json::json!({"client_id": client.id, "redirect_uris": client.redirect_uris});
        if let Some(s) = client.secret {
            c["client_secret"] = s.into();
        }
        let mut child = Command::new("node")
            .arg("op.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("OP_CLIENT", c.to_string())
            .env("OP_ACCOUNTS", accounts.to_string())
            .env("OP_ID_TOKEN_TTL", id_token_ttl.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let out = child.stdout.take().expect("piped stdout");
        let mut out = BufReader::new(out);
        let mut line = String::new();
        out.read_line(&mut line)
            .expect("the provider prints a line");
        assert_eq!(line.trim(), "listening", "the provider did not start");
        // Keep reading what it prints: a closed pipe would kill it at its next log line.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Provider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Its issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Plays the browser from `authorize_url` (the provider's, from Coffer's redirect) through
    /// the provider's login (as `login`) and consent forms, and returns the URL the provider
    /// finally sends the browser to outside itself (Coffer's callback, with `code` and `state`).
    pub async fn sign_in(&self, authorize_url: &str, login: &str) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let mut jar: BTreeMap<String, String> = BTreeMap::new();
        let mut next = (
            reqwest::Method::GET,
            authorize_url.to_owned(),
            None::<String>,
        );
        for _ in 0..12 {
            let (method, url, form) = next.clone();
            if !url.starts_with(&self.issuer) {
                return url;
            }
            let cookies = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut req = http.request(method, &url).header("cookie", cookies);
            if let Some(f) = form {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(f);
            }
            let res = req.send().await.expect("the provider answers");
            for c in res.headers().get_all("set-cookie") {
                let c = c.to_str().unwrap_or_default();
                if let Some((k, v)) = c.split(';').next().and_then(|kv| kv.split_once('=')) {
                    jar.insert(k.trim().to_owned(), v.to_owned());
                }
            }
            if res.status().is_redirection() {
                let loc = res.headers()["location"].to_str().unwrap().to_owned();
                let abs = if loc.starts_with('/') {
                    format!("{}{loc}", self.issuer)
                } else {
                    loc
                };
                next = (reqwest::Method::GET, abs, None);
                continue;
            }
            let status = res.status();
            let html = res.text().await.unwrap_or_default();
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("no form in the provider's page ({status}): {html}"))
                .to_owned();
            let prompt = html
                .split("name=\"prompt\" value=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("consent")
                .to_owned();
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("prompt", &prompt)
                .append_pair("login", login)
                .append_pair("password", "any")
                .finish();
            next = (reqwest::Method::POST, action, Some(body));
        }
        panic!("the provider's sign-in did not end");
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
