//! Single sign-on from the command line against a real OpenID provider (panva's `oidc-provider`,
//! `coffer_server::testing::oidc`): an owner sets up the org's provider with `coffer org sso set`,
//! `coffer login --no-browser` prints the URL, and the test plays the browser — Coffer's start
//! (keeping its `coffer_sso` cookie), the provider's login and consent, Coffer's callback, and
//! finally the CLI's loopback port. The stored token then serves commands run without any token
//! until `coffer logout` revokes it.

use crate::support::{self, Server};
use coffer_server::testing::oidc::{Client, Provider};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const URL_PREFIX: &str = "Open this URL to sign in: ";

/// A server whose public origin (and so its SSO redirect URI) is its own address, admitting
/// the provider on 127.0.0.1.
fn sso_server() -> Server {
    let port = support::free_port();
    let origin = format!("http://127.0.0.1:{port}");
    Server::start_on(
        port,
        &[
            ("COFFER_SSO__ALLOW_LOOPBACK_ISSUERS", "true"),
            ("COFFER_STORAGE__PUBLIC_ORIGIN", &origin),
        ],
    )
}

/// A `coffer` command without any token, run in `elsewhere` (no coffer-data there), keeping its
/// login in `config`.
fn cli(s: &Server, config: &Path) -> Command {
    let mut cmd = s.cmd_without_token("elsewhere");
    cmd.env("COFFER_CONFIG_DIR", config);
    cmd
}

/// Kills the child if the test fails before it exits.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a finished `coffer login` printed.
struct LoginOutput {
    stdout: String,
    stderr: String,
}

/// Runs `coffer login --no-browser EXTRA…` and signs in as `person` at the provider like a
/// browser would; returns once the command has exited successfully.
fn login(
    s: &Server,
    config: &Path,
    provider: &Provider,
    person: &str,
    extra: &[&str],
) -> LoginOutput {
    let mut child = cli(s, config)
        .args(["--org", "acme", "login", "--no-browser", "--timeout", "60s"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning coffer login");
    let stderr = child.stderr.take().unwrap();
    let mut running = Running(Some(child));
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr_lines = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!("coffer login printed no URL ({e}); stderr: {stderr_lines:?}")
            });
        if let Some(url) = line.strip_prefix(URL_PREFIX) {
            let url = url.to_owned();
            stderr_lines.push(line);
            break url;
        }
        stderr_lines.push(line);
    };
    let start = format!("{}/sso/acme/login?cli_port=", s.addr);
    assert!(url.starts_with(&start), "{url}");
    assert!(url.contains("&cli_challenge="), "{url}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // Coffer's start: off to the provider, with the cookie binding the sign-in to "this
        // browser".
        let started = http.get(&url).send().await.unwrap();
        let (status, headers) = (started.status(), started.headers().clone());
        let body = started.text().await.unwrap_or_default();
        assert_eq!(status, 303, "the start: {headers:?} {body}");
        let authorize = headers["location"].to_str().unwrap().to_owned();
        assert!(
            authorize.starts_with(provider.issuer()),
            "the start went to {authorize} instead of the provider"
        );
        let cookie = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("coffer_sso="))
            .and_then(|v| v.split(';').next())
            .unwrap_or_else(|| panic!("no coffer_sso cookie: {headers:?}"))
            .to_owned();

        let callback = provider.sign_in(&authorize, person).await;
        assert!(
            callback.starts_with(&format!("{}/sso/callback?", s.addr)),
            "{callback}"
        );
        let back = http
            .get(&callback)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let (status, headers) = (back.status(), back.headers().clone());
        let body = back.text().await.unwrap_or_default();
        assert_eq!(status, 303, "the callback: {headers:?} {body}");
        let loopback = headers["location"].to_str().unwrap().to_owned();
        assert!(
            loopback.starts_with("http://127.0.0.1:") && loopback.contains("/callback?code="),
            "Coffer's callback sent the browser to {loopback} instead of the CLI"
        );

        // The CLI answers its port only once the code is exchanged.
        let favicon = loopback.split("/callback").next().unwrap().to_owned() + "/favicon.ico";
        assert_eq!(http.get(&favicon).send().await.unwrap().status(), 404);
        let page = http.get(&loopback).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Signed in to Coffer; you can close this tab"),
            "{html}"
        );
    });

    let child = running.0.take().unwrap();
    let out = child.wait_with_output().expect("waiting for coffer login");
    reader.join().unwrap();
    stderr_lines.extend(rx.try_iter());
    let output = LoginOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr_lines.join("\n"),
    };
    assert!(
        out.status.success(),
        "coffer login failed ({:?})\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        output.stdout,
        output.stderr
    );
    output
}

fn stored(config: &Path) -> Value {
    let text = std::fs::read_to_string(config.join("credentials.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `GET /api/v1/whoami` with `token`: the status the server answers.
fn whoami_status(s: &Server, token: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/api/v1/whoami", s.addr))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[test]
fn login_through_the_orgs_provider_serves_commands_until_logout() {
    let s = sso_server();
    let owner = s.org_with_owner("acme", &[], "olivia");
    let provider = Provider::start(
        &Client {
            id: "coffer-acme",
            secret: Some("provider-client-secret"),
            redirect_uris: vec![format!("{}/sso/callback", s.addr)],
        },
        serde_json::json!({}),
        3600,
    );
    let as_owner = |args: &[&str], stdin: &[u8]| {
        support::run(
            s.cmd_with_token(&owner).args(["--org", "acme"]).args(args),
            stdin,
        )
    };

    // The owner sets the provider up; the secret comes on stdin and is never shown again.
    let set = as_owner(
        &[
            "org",
            "sso",
            "set",
            "--issuer",
            provider.issuer(),
            "--client-id",
            "coffer-acme",
            "--client-secret-stdin",
            "--create-people",
        ],
        b"provider-client-secret\n",
    )
    .ok();
    let out = set.stdout();
    assert!(
        out.contains("single sign-on is set up for org acme"),
        "{out}"
    );
    assert!(
        out.contains(&format!("issuer:         {}", provider.issuer())),
        "{out}"
    );
    assert!(out.contains("client secret:  set"), "{out}");
    assert!(out.contains("create people:  yes"), "{out}");
    assert!(out.contains("require sso:    no"), "{out}");
    assert!(
        out.contains(&format!("redirect URI:   {}/sso/callback", s.addr)),
        "{out}"
    );
    assert!(out.contains("by olivia"), "{out}");
    assert!(
        !out.contains("provider-client-secret") && !set.stderr().contains("provider-client-secret")
    );
    let shown: Value = serde_json::from_str(
        &as_owner(&["--json", "org", "sso", "show"], b"")
            .ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(shown["client_secret_set"], true, "{shown}");
    assert_eq!(shown["create_people"], true, "{shown}");
    assert_eq!(shown["client_id"], "coffer-acme", "{shown}");
    assert!(!shown.to_string().contains("provider-client-secret"));

    // alice signs in for the first time: SSO creates her as a member of acme.
    std::fs::create_dir(s.scratch("elsewhere")).unwrap();
    let config = s.scratch("config");
    let first = login(&s, &config, &provider, "alice", &[]);
    assert!(
        first
            .stdout
            .starts_with("Signed in to org acme as alice until "),
        "{}",
        first.stdout
    );
    let file = config.join("credentials.json");
    support::assert_mode_0600(&file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the config directory has mode {mode:o}");
    }
    let record = stored(&config);
    let token = record["token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    assert_eq!(record["addr"], s.addr.as_str(), "{record:?}");
    assert_eq!(record["org"], "acme");
    assert_eq!(record["user"], "alice");
    let token_id = record["token_id"].as_str().unwrap().to_owned();
    assert!(
        !first.stdout.contains(&token) && !first.stderr.contains(&token),
        "the token leaked into the output"
    );

    // No COFFER_TOKEN, no coffer-data: the stored login is used, and its org is the default.
    let who = support::run(cli(&s, &config).arg("whoami"), b"")
        .ok()
        .stdout();
    assert!(
        who.contains("alice (person) in org acme (role member") && who.contains(&token_id),
        "{who}"
    );
    let org = support::run(cli(&s, &config).args(["org", "show"]), b"")
        .ok()
        .stdout();
    assert!(org.contains("slug:         acme"), "{org}");
    // Another --org than the login's does not get its token.
    let other =
        support::run(cli(&s, &config).args(["--org", "default", "whoami"]), b"").expect_code(1);
    assert!(
        other.stderr().contains("no token was sent"),
        "{}",
        other.stderr()
    );

    // A second login (here with --json) replaces the first and revokes its token.
    let second = login(&s, &config, &provider, "alice", &["--json"]);
    let printed: Value = serde_json::from_str(&second.stdout).unwrap();
    let record = stored(&config);
    let token2 = record["token"].as_str().unwrap().to_owned();
    assert_ne!(token2, token);
    assert!(printed.get("token").is_none(), "{printed}");
    for key in ["addr", "org", "user", "token_id", "expires_at"] {
        assert_eq!(printed[key], record[key], "{key}: {printed}");
    }
    assert!(!second.stdout.contains(&token2) && !second.stderr.contains(&token2));
    assert_eq!(
        whoami_status(&s, &token),
        401,
        "the replaced login's token still works"
    );
    assert_eq!(whoami_status(&s, &token2), 200);

    // Logout revokes the token on the server and removes the file; a second one is a no-op.
    let out = support::run(cli(&s, &config).arg("logout"), b"").ok();
    assert!(
        out.stdout().contains("Signed out of org acme at")
            && out.stdout().contains("the token is revoked"),
        "{}",
        out.stdout()
    );
    assert!(!out.stdout().contains(&token2) && !out.stderr().contains(&token2));
    assert!(!file.exists());
    let bad = support::run(s.cmd_with_token(&token2).arg("whoami"), b"").expect_code(1);
    assert!(
        bad.stderr().contains("hint: check COFFER_TOKEN"),
        "{}",
        bad.stderr()
    );
    assert_eq!(whoami_status(&s, &token2), 401);
    let again = support::run(cli(&s, &config).arg("logout"), b"").ok();
    assert_eq!(again.stdout().trim(), "not signed in");
    let none = support::run(cli(&s, &config).arg("whoami"), b"").expect_code(1);
    assert!(
        none.stderr().contains("no token was sent"),
        "{}",
        none.stderr()
    );

    // A public client, then single sign-on removed.
    let public = as_owner(
        &[
            "org",
            "sso",
            "set",
            "--issuer",
            provider.issuer(),
            "--client-id",
            "coffer-acme",
            "--public-client",
        ],
        b"",
    )
    .ok();
    assert!(
        public
            .stdout()
            .contains("client secret:  none (public client"),
        "{}",
        public.stdout()
    );
    assert!(
        public.stdout().contains("create people:  no"),
        "{}",
        public.stdout()
    );
    as_owner(&["org", "sso", "disable"], b"").ok();
    let gone = as_owner(&["org", "sso", "show"], b"").expect_code(1);
    assert!(gone.stderr().contains("not_found"), "{}", gone.stderr());
}

#[test]
fn a_login_nobody_finishes_times_out_with_a_clear_message() {
    let s = Server::start();
    std::fs::create_dir(s.scratch("elsewhere")).unwrap();
    let config = s.scratch("config");
    let started = std::time::Instant::now();
    let out = support::run(
        cli(&s, &config).args(["login", "--no-browser", "--timeout", "2s"]),
        b"",
    )
    .expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = out.stderr();
    assert!(err.contains(URL_PREFIX), "{err}");
    assert!(
        err.contains("error: no sign-in came back within 2s")
            && err.contains("run `coffer login` again"),
        "{err}"
    );
    assert!(out.stdout().is_empty());
    assert!(!config.join("credentials.json").exists());
}

#[test]
fn org_sso_set_refuses_an_unusable_provider() {
    let s = sso_server();
    // Nothing listens there: the discovery document cannot be fetched, nothing is stored.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let out = support::run(
        s.cmd().args([
            "org",
            "sso",
            "set",
            "--issuer",
            &dead,
            "--client-id",
            "x",
            "--public-client",
        ]),
        b"",
    )
    .expect_code(1);
    assert!(
        out.stderr().contains("sso_provider_unusable"),
        "{}",
        out.stderr()
    );
    let show = s.run(&["org", "sso", "show"]).expect_code(1);
    assert!(show.stderr().contains("not_found"), "{}", show.stderr());
    // An empty secret on stdin is refused before anything is sent.
    let empty = s
        .run_stdin(
            &[
                "org",
                "sso",
                "set",
                "--issuer",
                &dead,
                "--client-id",
                "x",
                "--client-secret-stdin",
            ],
            b"\n",
        )
        .expect_code(2);
    assert!(
        empty.stderr().contains("--public-client"),
        "{}",
        empty.stderr()
    );
}
