//! Fuzz target: the Jira webhook's signature check (`X-Hub-Signature: sha256=<hex HMAC-SHA256 of
//! the raw body>` under the org's webhook secret), the only thing between the internet and the
//! lifecycle steps that delete secrets. A fixed body is signed with a fixed secret; the genuine
//! header is accepted, and so are only the spellings the check documents (surrounding whitespace,
//! either case of hex). The fuzzer's input is tried three ways: as a patch to the genuine body or
//! header (the first byte picks which and where, the rest is XORed in), as a header for the
//! genuine body, and as a body under the genuine header. Whatever it accepts must carry the HMAC
//! of exactly the body it came with, under the org's secret.
#![no_main]

use coffer_server::testing::fuzz::jira_signature_ok;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"jira-webhook-secret-for-fuzzing";
const BODY: &[u8] =
    br#"{"webhookEvent":"jira:issue_deleted","issue":{"id":"10001","key":"OPS-123"}}"#;

fn tag(body: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET);
    aws_lc_rs::hmac::sign(&key, body).as_ref().to_vec()
}

fn genuine_header() -> String {
    format!("sha256={}", hex::encode(tag(BODY)))
}

/// What the check may accept: `sha256=` and the hex of the body's tag, in either case, with
/// whitespace around it (as `str::trim` removes).
fn acceptable(header: &str, body: &[u8]) -> bool {
    header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .is_some_and(|sig| sig == tag(body))
}

fn check(header: Option<&str>, body: &[u8]) {
    let ok = jira_signature_ok(SECRET, header, body);
    match header {
        Some(h) => assert_eq!(ok, acceptable(h, body), "header {h:?}"),
        None => assert!(!ok, "no header, yet accepted"),
    }
    // The same header and body under another secret never pass.
    assert!(!jira_signature_ok(b"another secret", header, body));
}

fuzz_target!(|data: &[u8]| {
    let header = genuine_header();
    check(Some(&header), BODY);
    check(
        Some(&format!(
            " {} \t",
            header.to_uppercase().replace("SHA256=", "sha256=")
        )),
        BODY,
    );
    check(None, BODY);

    if let [pick, at, patch @ ..] = data {
        let mut body = BODY.to_vec();
        let mut head = header.clone().into_bytes();
        let target = if pick % 2 == 0 { &mut body } else { &mut head };
        let n = target.len();
        for (i, b) in patch.iter().enumerate() {
            target[(usize::from(*at) + i) % n] ^= b;
        }
        if let Ok(head) = std::str::from_utf8(&head) {
            check(Some(head), &body);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        check(Some(s), BODY);
    }
    check(Some(&header), data);
});
