//! One-time links and "send me a secret" requests, end to end: the CLI makes them, an outsider
//! uses them over plain HTTP with no credential (as a browser would; the Chromium run is in
//! tests/browser.rs), and attack chains across roles and two orgs are refused.

use crate::support::{self, Server};
use base64::Engine;
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What an outsider's browser does, without one.
struct Outsider {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    addr: String,
}

impl Outsider {
    fn new(addr: &str) -> Self {
        Self {
            rt: tokio::runtime::Runtime::new().unwrap(),
            http: reqwest::Client::new(),
            addr: addr.to_owned(),
        }
    }

    /// `METHOD /api/v1{path}` with no credential (a request's token, if given): status and JSON.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req = self
                .http
                .request(method, format!("{}/api/v1{path}", self.addr))
                .header("user-agent", "outsider-test/1.0");
            if let Some(t) = token {
                req = req.header("x-coffer-request-token", t);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null))
        })
    }

    /// Opens the link at `url` (`…/l/{id}#{key}`) as its page does — the open proof derived from
    /// the key, then the envelope opened with it: the value, or the status and error message.
    fn open(&self, url: &str) -> Result<String, (u16, String)> {
        let (path, key) = url.trim().split_once('#').unwrap();
        let id = path.rsplit('/').next().unwrap();
        let key = coffer_envelope::Key32::try_from_slice(&B64URL.decode(key).unwrap()).unwrap();
        let proof: String = coffer_envelope::link_open_proof(&key)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (status, body) = self.call(
            reqwest::Method::POST,
            &format!("/links/{id}/open"),
            Some(serde_json::json!({ "proof": proof })),
            None,
        );
        if status != 200 {
            return Err((
                status,
                body["error"]["message"].as_str().unwrap_or("").to_owned(),
            ));
        }
        let uuid = |f: &str| {
            *uuid::Uuid::parse_str(body[f].as_str().unwrap())
                .unwrap()
                .as_bytes()
        };
        let binding = coffer_envelope::Binding {
            org: uuid("org_id"),
            secret: uuid("secret_id"),
            version: body["version"].as_u64().unwrap() as u32,
            key_version: 1,
        };
        let envelope = B64.decode(body["envelope"].as_str().unwrap()).unwrap();
        let value = coffer_envelope::open(&key, &binding, &envelope, 1 << 20).unwrap();
        Ok(String::from_utf8(value.as_bytes().to_vec()).unwrap())
    }

    /// Seals `value` to the request at `url` (`…/r/{id}#{token}`) and sends it, as its page
    /// does: status and answer.
    fn fulfil(&self, url: &str, value: &str) -> (u16, Value) {
        let (path, token) = url.trim().split_once('#').unwrap();
        let id = path.rsplit('/').next().unwrap();
        let (status, r) = self.call(
            reqwest::Method::GET,
            &format!("/requests/{id}"),
            None,
            Some(token),
        );
        if status != 200 {
            return (status, r);
        }
        let public = B64.decode(r["public_key"].as_str().unwrap()).unwrap();
        let rid = uuid::Uuid::parse_str(id).unwrap();
        let sealed =
            coffer_envelope::seal_to_request(rid.as_bytes(), &public, value.as_bytes()).unwrap();
        self.fulfil_raw(id, token, &sealed)
    }

    fn fulfil_raw(&self, id: &str, token: &str, sealed: &[u8]) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/requests/{id}/fulfil"),
            Some(serde_json::json!({"sealed": B64.encode(sealed)})),
            Some(token),
        )
    }
}

fn start() -> Server {
    let port = support::free_port();
    let origin = format!("http://127.0.0.1:{port}");
    Server::start_on(
        port,
        &[
            ("COFFER_STORAGE__PUBLIC_ORIGIN", &origin),
            ("RUST_LOG", "debug"),
        ],
    )
}

fn as_token(s: &Server, token: &str, org: &str, args: &[&str], stdin: &[u8]) -> support::Run {
    let mut cmd = s.cmd_with_token(token);
    cmd.args(["--org", org]).args(args);
    support::run(&mut cmd, stdin)
}

#[test]
fn a_link_opens_exactly_its_views_and_neither_value_nor_key_is_kept() {
    let s = start();
    let out = Outsider::new(&s.addr);
    let value = format!("db-pass-{}", uuid::Uuid::new_v4().simple());
    s.run_stdin(&["secret", "put", "OPS-1", "db"], value.as_bytes())
        .ok();
    let made = s
        .run(&[
            "secret",
            "link",
            "OPS-1",
            "db",
            "--views",
            "2",
            "--expires",
            "1h",
        ])
        .ok();
    let url = made.stdout().trim().to_owned();
    assert!(url.starts_with(&format!("{}/l/", s.addr)), "{url}");
    assert!(
        made.stderr().contains("opens 2 time(s)"),
        "{}",
        made.stderr()
    );
    assert_eq!(out.open(&url).unwrap(), value);
    assert_eq!(out.open(&url).unwrap(), value);
    let (status, msg) = out.open(&url).unwrap_err();
    assert_eq!(status, 410);
    assert!(msg.contains("already been viewed"), "{msg}");
    let listed = s.run(&["link", "list"]).ok().stdout();
    assert!(
        listed.contains("OPS-1/db") && listed.contains("2/2") && listed.contains("used_up"),
        "{listed}"
    );

    // Revoked: refused at once. A new version of the secret does not change a link's copy.
    let second = s.run(&["secret", "link", "OPS-1", "db"]).ok().stdout();
    s.run_stdin(&["secret", "put", "OPS-1", "db"], b"rotated")
        .ok();
    assert_eq!(
        out.open(&second).unwrap(),
        value,
        "the copy is of the version linked"
    );
    assert_eq!(
        out.open(&second).unwrap_err().0,
        410,
        "one view is the default"
    );
    let third = s.run(&["secret", "link", "OPS-1", "db"]).ok().stdout();
    let id = third
        .trim()
        .split_once('#')
        .unwrap()
        .0
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let revoked = s.run(&["link", "revoke", &id]).ok().stdout();
    assert!(revoked.contains("revoked link"), "{revoked}");
    let (status, msg) = out.open(third.trim()).unwrap_err();
    assert_eq!(status, 410);
    assert!(msg.contains("revoked"), "{msg}");

    // Deleted: refused; restored: opens; destroyed: gone.
    let fourth = s.run(&["secret", "link", "OPS-1", "db"]).ok().stdout();
    s.run(&["secret", "rm", "OPS-1", "db"]).ok();
    assert_eq!(out.open(fourth.trim()).unwrap_err().0, 410);
    s.run(&["secret", "restore", "OPS-1", "db"]).ok();
    assert_eq!(out.open(fourth.trim()).unwrap(), "rotated");
    let fifth = s.run(&["secret", "link", "OPS-1", "db"]).ok().stdout();
    s.run(&["secret", "destroy", "OPS-1", "db", "--yes"]).ok();
    assert_eq!(out.open(fifth.trim()).unwrap_err().0, 404);

    // A view-limited secret gets no link; nonsense options are refused before anything.
    s.run_stdin(
        &["secret", "put", "OPS-1", "once", "--view-limit", "1"],
        b"v",
    )
    .ok();
    let refused = s.run(&["secret", "link", "OPS-1", "once"]).expect_code(1);
    assert!(
        refused.stderr().contains("view limit"),
        "{}",
        refused.stderr()
    );
    let kept = s.run(&["secret", "get", "OPS-1", "once"]).ok().stdout();
    assert_eq!(kept, "v", "refusing the link used none of its views");
    s.run_stdin(&["secret", "put", "OPS-1", "plain"], b"p").ok();
    let refused = s
        .run(&["secret", "link", "OPS-1", "plain", "--views", "0"])
        .expect_code(2);
    assert!(
        refused.stderr().contains("0 is not in 1..=100"),
        "{}",
        refused.stderr()
    );
    let refused = s
        .run(&["secret", "link", "OPS-1", "plain", "--expires", "31d"])
        .expect_code(2);
    assert!(
        refused.stderr().contains("give 1m to 30d"),
        "{}",
        refused.stderr()
    );
    let reveals = s
        .run(&[
            "audit",
            "list",
            "--action",
            "secret.reveal",
            "--secret",
            "OPS-1/plain",
        ])
        .ok()
        .stdout();
    assert!(
        !reveals.contains("secret.reveal"),
        "refused before revealing: {reveals}"
    );

    // Links made with a token die with it; the id alone (from the audit trail) opens nothing.
    let (status, minted) = out.rt.block_on(async {
        let res = out
            .http
            .post(format!("{}/api/v1/orgs/default/tokens", s.addr))
            .bearer_auth(&s.token)
            .json(&serde_json::json!({"name": "laptop"}))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 201, "{minted}");
    let laptop = minted["token"].as_str().unwrap().to_owned();
    let via_laptop = support::run(
        s.cmd_with_token(&laptop)
            .args(["secret", "link", "OPS-1", "plain"]),
        b"",
    )
    .ok()
    .stdout();
    let token_id = minted["info"]["id"].as_str().unwrap();
    s.run(&["token", "revoke", token_id]).ok();
    let (status, msg) = out.open(via_laptop.trim()).unwrap_err();
    assert_eq!(status, 410);
    assert!(msg.contains("revoked"), "{msg}");
    let wrong_key = format!(
        "{}#{}",
        via_laptop.trim().split_once('#').unwrap().0,
        B64URL.encode([9; 32])
    );
    assert_eq!(out.open(&wrong_key).unwrap_err().0, 404);

    // Every open is audited with its source; the value and the keys are nowhere on disk or in
    // the logs.
    let audit = s
        .run(&["audit", "list", "--action", "link.open"])
        .ok()
        .stdout();
    assert!(audit.contains("outsider-test/1.0"), "{audit}");
    let mut needles = vec![value.clone()];
    for u in [&url, &second, &third, &fourth, &fifth, &via_laptop] {
        needles.push(u.trim().split_once('#').unwrap().1.to_owned());
    }
    let log = s.log();
    for n in &needles {
        assert!(!log.contains(n.as_str()), "the log holds {n}");
    }
    for (path, bytes) in files_under(&s.data_dir()) {
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{} holds {n}",
                path.display()
            );
        }
    }
}

fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

#[test]
fn links_and_requests_stay_with_their_owner_their_role_and_their_org() {
    let s = start();
    let out = Outsider::new(&s.addr);
    let alpha = s.org_with_owner("alpha", &["--location", "eu"], "alice");
    let beta = s.org_with_owner("beta", &["--location", "eu"], "bob");
    let carol = s.invite_and_accept(
        &alpha,
        "alpha",
        "carol",
        "member",
        "carol's long passphrase",
    );
    let dave = s.invite_and_accept(&alpha, "alpha", "dave", "admin", "dave's long passphrase");
    let erin = s.invite_and_accept(&alpha, "alpha", "erin", "auditor", "erin's long passphrase");
    as_token(
        &s,
        &alpha,
        "alpha",
        &["secret", "put", "OPS-2", "db"],
        b"alpha-db",
    )
    .ok();
    let url = as_token(&s, &alpha, "alpha", &["secret", "link", "OPS-2", "db"], b"")
        .ok()
        .stdout();
    let id = url
        .trim()
        .split_once('#')
        .unwrap()
        .0
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    // Another org's owner: the link does not exist, in their org or in alice's.
    for org in ["beta", "alpha"] {
        let r = as_token(&s, &beta, org, &["link", "revoke", &id], b"").expect_code(1);
        assert!(
            r.stderr().contains("not found") || r.stderr().contains("no link"),
            "{}",
            r.stderr()
        );
    }
    let listed = as_token(&s, &beta, "beta", &["link", "list"], b"")
        .ok()
        .stdout();
    assert!(!listed.contains(&id), "{listed}");
    // A member sees and revokes only their own; an admin sees and revokes everyone's.
    let listed = as_token(&s, &carol, "alpha", &["link", "list"], b"")
        .ok()
        .stdout();
    assert!(!listed.contains(&id), "{listed}");
    as_token(&s, &carol, "alpha", &["link", "revoke", &id], b"").expect_code(1);
    let listed = as_token(&s, &dave, "alpha", &["link", "list"], b"")
        .ok()
        .stdout();
    assert!(listed.contains(&id), "{listed}");
    // An auditor may not share outside the org; a member without access to a restricted secret
    // cannot link it (it does not exist for them).
    let r = as_token(&s, &erin, "alpha", &["secret", "link", "OPS-2", "db"], b"").expect_code(1);
    assert!(r.stderr().contains("cannot reveal"), "{}", r.stderr());
    // The server refuses the auditor before looking at what was sent.
    let refused = out.rt.block_on(async {
        out.http
            .post(format!("{}/api/v1/orgs/alpha/secrets/OPS-2/db/links", s.addr))
            .bearer_auth(&erin)
            .json(&serde_json::json!({"envelope": "AAAA", "open_hash": "0".repeat(64), "expires_in_seconds": 3600, "max_views": 1}))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(refused.status().as_u16(), 403);
    let msg = out.rt.block_on(refused.text()).unwrap();
    assert!(msg.contains("auditor"), "{msg}");
    as_token(
        &s,
        &alpha,
        "alpha",
        &["secret", "put", "OPS-2", "private", "--restricted"],
        b"p",
    )
    .ok();
    let r = as_token(
        &s,
        &carol,
        "alpha",
        &["secret", "link", "OPS-2", "private"],
        b"",
    )
    .expect_code(1);
    assert!(
        r.stderr().contains("not found") || r.stderr().contains("no secret"),
        "{}",
        r.stderr()
    );
    as_token(&s, &dave, "alpha", &["link", "revoke", &id], b"").ok();
    assert_eq!(out.open(url.trim()).unwrap_err().0, 410);

    // A request works once, as the requester (who may write there); a tampered value changes
    // nothing.
    as_token(
        &s,
        &alpha,
        "alpha",
        &["grant", "add", "OPS-2", "user:carol", "--level", "write"],
        b"",
    )
    .ok();
    let ask = as_token(
        &s,
        &carol,
        "alpha",
        &[
            "secret",
            "request",
            "OPS-2",
            "vendor-key",
            "--note",
            "the sandbox key",
        ],
        b"",
    )
    .ok()
    .stdout();
    let (ask_path, ask_token) = ask.trim().split_once('#').unwrap();
    let rid = ask_path.rsplit('/').next().unwrap().to_owned();
    let (status, body) = out.fulfil_raw(&rid, ask_token, &[1; 120]);
    assert_eq!(status, 400, "{body}");
    // Its id is in the audit trail, which an auditor reads; the id alone answers nothing.
    let audit = as_token(
        &s,
        &erin,
        "alpha",
        &["audit", "list", "--action", "request.create"],
        b"",
    )
    .ok()
    .stdout();
    assert!(audit.contains(&rid), "{audit}");
    assert!(!audit.contains(ask_token), "{audit}");
    for token in [None, Some("A".repeat(43))] {
        let (status, _) = out.call(
            reqwest::Method::GET,
            &format!("/requests/{rid}"),
            None,
            token.as_deref(),
        );
        assert_eq!(status, 404);
        let (status, _) = out.fulfil_raw(&rid, token.as_deref().unwrap_or(""), &[1; 120]);
        assert_eq!(status, 404);
    }
    let (status, body) = out.fulfil(ask.trim(), "from-the-vendor");
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 1);
    let (status, body) = out.fulfil(ask.trim(), "a second try");
    assert_eq!(status, 410, "{body}");
    let got = as_token(
        &s,
        &carol,
        "alpha",
        &["secret", "get", "OPS-2", "vendor-key"],
        b"",
    )
    .ok()
    .stdout();
    assert_eq!(got, "from-the-vendor");
    let history = as_token(
        &s,
        &alpha,
        "alpha",
        &["secret", "history", "OPS-2", "vendor-key"],
        b"",
    )
    .ok()
    .stdout();
    assert!(
        history.contains("carol"),
        "written as the requester: {history}"
    );
    // Other orgs cannot see or withdraw it.
    let r = as_token(&s, &beta, "beta", &["request", "revoke", &rid], b"").expect_code(1);
    assert!(r.stderr().contains("no request"), "{}", r.stderr());

    // A requester who leaves the org gets nothing: the outsider is told, nothing is stored.
    let pending = as_token(
        &s,
        &carol,
        "alpha",
        &["secret", "request", "OPS-2", "after-leaving"],
        b"",
    )
    .ok()
    .stdout();
    as_token(&s, &alpha, "alpha", &["user", "rm", "carol"], b"").ok();
    let (status, body) = out.fulfil(pending.trim(), "too late");
    assert_eq!(status, 410, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("withdrawn"),
        "removing a member withdraws their requests: {body}"
    );
    let r = as_token(
        &s,
        &alpha,
        "alpha",
        &["secret", "get", "OPS-2", "after-leaving"],
        b"",
    )
    .expect_code(1);
    assert!(
        r.stderr().contains("not found") || r.stderr().contains("no secret"),
        "{}",
        r.stderr()
    );
    // Withdrawn requests take nothing.
    let withdrawn = as_token(
        &s,
        &alpha,
        "alpha",
        &["secret", "request", "OPS-2", "withdrawn"],
        b"",
    )
    .ok()
    .stdout();
    let wid = withdrawn
        .trim()
        .split_once('#')
        .unwrap()
        .0
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    as_token(&s, &alpha, "alpha", &["request", "revoke", &wid], b"").ok();
    let (status, _) = out.fulfil(withdrawn.trim(), "x");
    assert_eq!(status, 410);
    let listed = as_token(&s, &alpha, "alpha", &["request", "list"], b"")
        .ok()
        .stdout();
    assert!(
        listed.contains("revoked") && listed.contains("fulfilled (v1)"),
        "{listed}"
    );
    // Unknown and malformed ids.
    assert_eq!(
        out.open(&format!(
            "{}/l/{}#{}",
            s.addr,
            uuid::Uuid::new_v4(),
            B64URL.encode([0; 32])
        ))
        .unwrap_err()
        .0,
        404
    );
    assert_eq!(
        out.call(reqwest::Method::GET, "/links/not-a-uuid", None, None)
            .0,
        400
    );
}
