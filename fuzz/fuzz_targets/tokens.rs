//! Fuzz target: the shape checks every bearer credential passes before it is hashed or looked
//! up (`service::tokens`: API tokens, session cookies, invitation and reset codes, SCIM tokens)
//! and the `/metrics` token comparison. Each shape check must agree with its documented form —
//! the kind's prefix, then exactly 43 base64url characters — no string may have the shape of two
//! kinds (so one kind can never be presented as another), the stored hash is SHA-256 of the
//! exact text, and the metrics token matches exactly its own text and nothing else.
#![no_main]

use coffer_server::config::MetricsToken;
use coffer_server::service::tokens;
use libfuzzer_sys::fuzz_target;

const KINDS: [&str; 5] = [
    tokens::PREFIX,
    tokens::SESSION_PREFIX,
    tokens::INVITATION_PREFIX,
    tokens::RESET_PREFIX,
    tokens::SCIM_PREFIX,
];

/// The documented shape, written independently of `tokens::well_formed_with`.
fn documented(prefix: &str, s: &str) -> bool {
    s.len() == prefix.len() + 43
        && s.as_bytes()[..prefix.len()] == *prefix.as_bytes()
        && s.as_bytes()[prefix.len()..]
            .iter()
            .all(|&b| matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

fn check(s: &str) {
    let mut kinds = 0;
    for prefix in KINDS {
        let ok = tokens::well_formed_with(prefix, s);
        assert_eq!(ok, documented(prefix, s), "{prefix} {s:?}");
        kinds += usize::from(ok);
    }
    assert!(kinds <= 1, "{s:?} has the shape of {kinds} kinds");
    assert_eq!(tokens::well_formed(s), documented(tokens::PREFIX, s));

    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    assert_eq!(&tokens::hash(s)[..], digest.as_ref());
}

/// The input as `<metrics token>\n<presented>`: it matches exactly when the two are equal.
fn metrics(s: &str) {
    let (want, presented) = s.split_once('\n').unwrap_or((s, ""));
    let token: MetricsToken = serde_json::from_value(serde_json::Value::from(want)).unwrap();
    assert_eq!(token.matches(presented), want == presented);
    assert!(token.matches(want));
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    check(&s);
    metrics(&s);
    // The same text under each kind's prefix, so every shape check sees its near misses.
    if let Some((&pick, rest)) = data.split_first() {
        let rest = String::from_utf8_lossy(rest);
        check(&format!("{}{rest}", KINDS[usize::from(pick) % KINDS.len()]));
    }
});
