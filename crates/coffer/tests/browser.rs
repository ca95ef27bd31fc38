//! The web UI in a real browser: starts the real `coffer serve` (BYOK pointed at a moto server),
//! prepares an org with the CLI as an admin would, then runs `tests/browser/run.mjs`, which
//! drives Debian's chromium headless through playwright-core — sign in, issue page, reveal and
//! copy, history, delete/restore, search, a CSRF-less post refused, audit filters, enabling BYOK
//! in the keys page and the suspension banner after the key is disabled in moto, the operator's
//! BYOK overview, members (an invitation link accepted in the browser, a role change, a service
//! account and its token, a removal), secrets sealed in the browser (uploaded to Coffer, then presigned straight to
//! the org's moto bucket) and revealed through the CLI, and the storage form against moto buckets (the validation sentence, a residency
//! mismatch refused). Screenshots of every page land in `target/browser-artifacts/`.
//!
//! Single sign-on has a test of its own (scenario `sso`) against a real OpenID provider (panva's
//! `oidc-provider`, `coffer_server::testing::oidc`, `npm ci` in `crates/server/tests/oidc_provider`):
//! a person signs in through it and is created with their groups, the owner's settings page,
//! linking an account, passwords refused once the org requires single sign-on, and removal.
//!
//! Never skipped: without chromium (`apt-get install -y chromium`, which scripts/test.sh does)
//! or node the test fails saying so. `npm ci` installs playwright-core from the lockfile when
//! `tests/browser/node_modules` is missing.

/// The moto harness of the server's AWS tests (KMS, STS, IAM), shared rather than copied.
#[path = "../../server/tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;
#[allow(dead_code)]
mod support;

use coffer_server::testing::oidc::{Client, Provider};
use moto::{Moto, unique};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Server;

const REGIONS: [&str; 2] = ["eu-central-1", "eu-west-1"];
const PASSWORD: &str = "correct horse battery staple";
const ADMIN_PASSWORD: &str = "operator passphrase 42";

fn chromium() -> String {
    let path = std::env::var("COFFER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).is_file(),
        "chromium is missing at {path}: scripts/test.sh installs it (apt-get install -y chromium), \
         or set COFFER_CHROMIUM to a Chromium binary"
    );
    path
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `npm ci` from the lockfile when playwright-core is not installed yet.
fn ensure_playwright() {
    let dir = browser_dir();
    if dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("npm is needed for the browser tests ({e}); scripts/test.sh installs Node.js")
        });
    assert!(
        out.status.success(),
        "npm ci in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Screenshots go to `<target>/browser-artifacts/<name>`.
fn artifacts(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("browser-artifacts")
        .join(name)
}

/// Creates `bucket` in `region` on moto (which accepts unsigned requests).
async fn create_bucket(moto: &Moto, bucket: &str, region: &str) {
    let body = if region == "us-east-1" {
        String::new()
    } else {
        format!(
            "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        )
    };
    let r = reqwest::Client::new()
        .put(format!("{}/{bucket}", moto.endpoint()))
        .body(body)
        .send()
        .await
        .expect("S3 request to moto");
    assert!(
        r.status().is_success(),
        "CreateBucket {bucket}: {}",
        r.status()
    );
}

fn server_for(moto: &Moto) -> Server {
    Server::start_with_env(&[
        (
            "COFFER_BYOK__PRINCIPAL_ARN",
            "arn:aws:iam::123456789012:user/coffer",
        ),
        ("COFFER_BYOK__AWS__ENDPOINT", moto.endpoint()),
        ("COFFER_BYOK__AWS__CREDENTIALS__KIND", "static"),
        ("COFFER_BYOK__AWS__CREDENTIALS__ACCESS_KEY_ID", "test"),
        ("COFFER_BYOK__AWS__CREDENTIALS__SECRET_ACCESS_KEY", "test"),
        ("COFFER_STORAGE__AWS__ENDPOINT", moto.endpoint()),
        ("COFFER_STORAGE__AWS__CREDENTIALS__KIND", "static"),
        ("COFFER_STORAGE__AWS__CREDENTIALS__ACCESS_KEY_ID", "test"),
        (
            "COFFER_STORAGE__AWS__CREDENTIALS__SECRET_ACCESS_KEY",
            "test",
        ),
        ("COFFER_KEYS__KEY_CACHE_TTL", "300ms"),
        ("COFFER_KEYS__PROBE_INTERVAL", "200ms"),
    ])
}

/// Runs `run.mjs` against the server at `addr` with `scenarios` and the given environment;
/// panics with its output on failure, else returns its stdout.
fn run_browser(addr: &str, scenarios: &str, shots: &str, vars: &[(&str, &str)]) -> String {
    // A fresh folder per run, so no screenshot from an earlier run is mistaken for this one's.
    let _ = std::fs::remove_dir_all(artifacts(shots));
    let out = Command::new("node")
        .arg(browser_dir().join("run.mjs"))
        .current_dir(browser_dir())
        .env("COFFER_URL", addr)
        .env("CHROMIUM", chromium())
        .env("SCENARIOS", scenarios)
        .env("ARTIFACTS", artifacts(shots))
        .envs(vars.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!("node is needed for the browser tests ({e}); scripts/test.sh installs it")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("browser scenarios passed"),
        "the browser run failed (screenshots in {}):\n{stdout}\n{stderr}",
        artifacts(shots).display()
    );
    stdout.into_owned()
}

#[test]
fn a_person_uses_the_web_ui_in_chromium() {
    let chromium = chromium();
    assert!(!chromium.is_empty());
    ensure_playwright();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    let s = server_for(&moto);
    // The operator creates the org with alice as its first owner; alice accepts with the CLI.
    // Passwords come from stdin (or a no-echo prompt), never argv; too short ones are refused
    // and leave the invitation usable.
    let code = s
        .run_as_operator(&[
            "org",
            "create",
            "acme",
            "--location",
            "eu",
            "--owner",
            "alice",
        ])
        .ok()
        .stdout();
    let accept = |stdin: &[u8]| {
        support::run(
            s.cmd_without_token(".")
                .args(["invite", "accept", code.trim()]),
            stdin,
        )
    };
    let short = accept(b"short\n").expect_code(1);
    assert!(short.stderr().contains("at least 12"), "{}", short.stderr());
    let alice = accept(format!("{PASSWORD}\n").as_bytes()).ok().stdout();
    let as_alice = |args: &[&str], stdin: &[u8]| {
        support::run(s.cmd_with_token(alice.trim()).args(args), stdin)
    };
    // The operator signs in to the web UI with a password of its own.
    let set = support::run(
        s.cmd_with_token(&s.operator).arg("passwd"),
        format!("{ADMIN_PASSWORD}\n").as_bytes(),
    )
    .ok();
    assert!(
        set.stdout().contains("password changed"),
        "{}",
        set.stdout()
    );
    // A CLI-stored secret with two versions, for reveal and history in the browser.
    for v in ["from-the-cli-1", "from-the-cli-2"] {
        as_alice(
            &["--org", "acme", "secret", "put", "OPS-7", "cli-secret"],
            v.as_bytes(),
        )
        .ok();
    }
    // carol, a member with no grant: she sees only what the access scenario shares with her.
    let carol_code = as_alice(
        &[
            "--org", "acme", "user", "invite", "carol", "--role", "member",
        ],
        b"",
    )
    .ok()
    .stdout();
    support::run(
        s.cmd_without_token(".")
            .args(["invite", "accept", carol_code.trim()]),
        format!("{PASSWORD}\n").as_bytes(),
    )
    .ok();
    let keys: Vec<String> = REGIONS
        .iter()
        .map(|r| {
            let out = rt.block_on(moto.kms(r, "CreateKey", json!({})));
            out["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
        })
        .collect();
    let role = rt.block_on(moto.create_role(&unique("acme-web"), "{}"));
    let (bucket_eu, bucket_us) = (unique("acme-eu"), unique("acme-us"));
    rt.block_on(create_bucket(&moto, &bucket_eu, "eu-central-1"));
    rt.block_on(create_bucket(&moto, &bucket_us, "us-east-1"));
    run_browser(
        &s.addr,
        "core,members,access,upload_default,storage,upload_bucket",
        "core",
        &[
            ("ORG", "acme"),
            ("USER", "alice"),
            ("PASSWORD", PASSWORD),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("OPERATOR", "operator"),
            ("MOTO_URL", moto.endpoint()),
            ("ROLE_ARN", &role),
            ("KEY_ARNS", &keys.join(",")),
            ("BUCKET_EU", &bucket_eu),
            ("BUCKET_US", &bucket_us),
        ],
    );
    // What the browser did is what the CLI sees.
    let shown = as_alice(&["--org", "acme", "org", "keys", "show", "acme"], b"")
        .ok()
        .stdout();
    assert!(shown.contains("aws-kms"), "{shown}");
    let got = as_alice(
        &["--org", "acme", "secret", "get", "OPS-7", "cli-secret"],
        b"",
    )
    .ok();
    assert_eq!(got.stdout(), "from-the-cli-2");
    // Secrets sealed in the browser — uploaded to Coffer, and straight to the org's bucket —
    // reveal through the CLI.
    for (name, value) in [
        ("browser-secret", "sealed-in-chromium"),
        ("bucket-secret", "straight-to-the-bucket"),
    ] {
        let got = as_alice(&["--org", "acme", "secret", "get", "OPS-7", name], b"").ok();
        assert_eq!(got.stdout(), value, "{name}");
    }
}

/// `METHOD {addr}/api/v1{path}` with `token` and an optional JSON body: the status and the JSON
/// answer (`null` when there is none).
async fn api(
    addr: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{addr}/api/v1{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("coffer answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn a_person_signs_in_with_single_sign_on_in_chromium() {
    let chromium = chromium();
    assert!(!chromium.is_empty());
    ensure_playwright();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The server's origin must be known before the provider (which registers its redirect URI)
    // and the server (which sends it, from `storage.public_origin`) start.
    let port = support::free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let s = Server::start_on(
        port,
        &[
            ("COFFER_SSO__ALLOW_LOOPBACK_ISSUERS", "true"),
            ("COFFER_STORAGE__PUBLIC_ORIGIN", &origin),
        ],
    );
    assert_eq!(s.addr, origin);
    let provider = Provider::start(
        &Client {
            id: "coffer",
            secret: Some("s3cret-client"),
            redirect_uris: vec![format!("{}/sso/callback", s.addr)],
        },
        json!({"alice": {"groups": ["dba"]}}),
        3600,
    );
    // The owner of org `default` (`admin`) signs in to the web UI with a password of its own.
    support::run(s.cmd().arg("passwd"), format!("{PASSWORD}\n").as_bytes()).ok();
    // The owner creates group dba and sets up single sign-on with the API, as the CLI would.
    let (status, body) = rt.block_on(api(
        &s.addr,
        reqwest::Method::POST,
        "/orgs/default/groups",
        &s.token,
        Some(json!({"name": "dba"})),
    ));
    assert!(
        (200..300).contains(&status),
        "create group: {status} {body}"
    );
    let (status, body) = rt.block_on(api(
        &s.addr,
        reqwest::Method::PUT,
        "/orgs/default/sso",
        &s.token,
        Some(json!({
            "issuer": provider.issuer(),
            "client_id": "coffer",
            "client_secret": "s3cret-client",
            "groups_claim": "groups",
            "create_people": true,
            "require_sso": false,
        })),
    ));
    assert_eq!(status, 200, "set up SSO: {body}");
    assert_eq!(body["redirect_uri"], format!("{}/sso/callback", s.addr));
    run_browser(
        &s.addr,
        "sso",
        "sso",
        &[
            ("ORG", "default"),
            ("OWNER", "admin"),
            ("OWNER_PASSWORD", PASSWORD),
            ("PROVIDER_URL", provider.issuer()),
        ],
    );
    // What the browser did is what the API sees: alice was created as a member, in group dba
    // (from the provider's groups claim); the owner removed single sign-on at the end.
    let (status, users) = rt.block_on(api(
        &s.addr,
        reqwest::Method::GET,
        "/orgs/default/users",
        &s.token,
        None,
    ));
    assert_eq!(status, 200, "{users}");
    let alice = users["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["name"] == "alice"))
        .unwrap_or_else(|| panic!("alice is not a member: {users}"));
    assert_eq!(alice["role"], "member", "{alice}");
    let (status, groups) = rt.block_on(api(
        &s.addr,
        reqwest::Method::GET,
        "/orgs/default/groups",
        &s.token,
        None,
    ));
    assert_eq!(status, 200, "{groups}");
    let dba = groups["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == "dba"))
        .unwrap_or_else(|| panic!("no group dba: {groups}"));
    assert!(
        dba["members"]
            .as_array()
            .is_some_and(|ms| ms.iter().any(|m| m == "user:alice")),
        "alice is not in dba: {dba}"
    );
    let (status, body) = rt.block_on(api(
        &s.addr,
        reqwest::Method::GET,
        "/orgs/default/sso",
        &s.token,
        None,
    ));
    assert_eq!(status, 404, "single sign-on was not removed: {body}");
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn outsiders_open_a_one_time_link_and_answer_a_request_in_chromium() {
    use base64::Engine;
    let chromium = chromium();
    assert!(!chromium.is_empty());
    ensure_playwright();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = support::free_port();
    let origin = format!("http://127.0.0.1:{port}");
    // Debug logs: the strongest version of "the logs never hold the value or the key".
    let s = Server::start_on(
        port,
        &[
            ("COFFER_STORAGE__PUBLIC_ORIGIN", &origin),
            ("RUST_LOG", "debug"),
        ],
    );
    let alice = s.org_with_owner("acme", &["--location", "eu"], "alice");
    let link_value = format!("link-value-{}", uuid::Uuid::new_v4().simple());
    let request_value = format!("vendor-value-{}", uuid::Uuid::new_v4().simple());
    support::run(
        s.cmd_with_token(&alice)
            .args(["--org", "acme", "secret", "put", "OPS-7", "link-secret"]),
        link_value.as_bytes(),
    )
    .ok();
    let out = run_browser(
        &s.addr,
        "outside",
        "outside",
        &[
            ("ORG", "acme"),
            ("USER", "alice"),
            ("PASSWORD", "a long enough passphrase"),
            ("LINK_VALUE", &link_value),
            ("REQUEST_VALUE", &request_value),
        ],
    );
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("LINK_URL="))
        .expect("the scenario prints the link");
    let fragment = url.split_once('#').unwrap().1;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(fragment)
        .unwrap();
    assert_eq!(key.len(), 32);
    // The vendor's value landed on the issue, as alice's request.
    let got = support::run(
        s.cmd_with_token(&alice).args([
            "--org",
            "acme",
            "secret",
            "get",
            "OPS-7",
            "vendor-api-key",
        ]),
        b"",
    )
    .ok();
    assert_eq!(got.stdout(), request_value);
    // Each open and the fulfilment are audited with where they came from.
    let (status, audit) = rt.block_on(api(
        &s.addr,
        reqwest::Method::GET,
        "/orgs/acme/audit?limit=1000",
        &alice,
        None,
    ));
    assert_eq!(status, 200, "{audit}");
    let events = audit["events"].as_array().unwrap();
    let of = |action: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("link.create").len(), 1, "{audit}");
    let opens = of("link.open");
    assert_eq!(opens.len(), 1, "one view, one open: {audit}");
    let details = opens[0]["details"].to_string();
    assert!(
        details.contains("127.0.0.1") && details.contains("HeadlessChrome"),
        "{details}"
    );
    assert_eq!(of("request.create").len(), 1, "{audit}");
    assert_eq!(of("request.fulfil").len(), 1, "{audit}");
    // Neither value nor the link key is anywhere in the data directory or the logs.
    let needles: [(&str, &[u8]); 4] = [
        ("the linked value", link_value.as_bytes()),
        ("the requested value", request_value.as_bytes()),
        ("the link key (base64url)", fragment.as_bytes()),
        ("the link key (bytes)", &key),
    ];
    let files = files_under(&s.data_dir());
    assert!(
        files.len() > 2,
        "the data directory holds the catalog and blobs"
    );
    for (path, bytes) in &files {
        for (what, needle) in needles {
            assert!(!contains(bytes, needle), "{what} is in {}", path.display());
        }
    }
    let log = s.log();
    assert!(log.contains("DEBUG"), "debug logging was on");
    for (what, needle) in needles {
        assert!(
            !contains(log.as_bytes(), needle),
            "{what} is in the server's log"
        );
    }
}
