//! Fuzz target: the Forge Invocation Token verifier (`service::forge::fit::FitVerifier`, RS256
//! JWTs that Atlassian's Forge platform sends as `Authorization: Bearer …`), the gate of every
//! Forge call. The verifier holds one RSA key (`kid` `k1`); a genuine token signed with it is
//! made at start. The first input byte picks what the rest is:
//!
//! - a patch to the genuine token (two bytes of offset, the rest XORed in): only the unaltered
//!   token is accepted, and it reads back the claims it was signed with;
//! - a whole token: accepted only if it is the genuine one;
//! - the claims of a token signed with the verifier's key: accepted only if they are a JSON
//!   object whose issuer is Forge's, whose `exp`/`nbf` hold (with the leeway), whose audience is
//!   one app and that names an installation; and then what the verifier returns is what the
//!   claims say. Claims that satisfy all of that with plain whole-second times are accepted;
//! - the header of a token signed with the verifier's key: accepted only if it reads as RS256
//!   and `k1`.
//!
//! Whatever the claims, a token signed by another key under the same `kid` is refused.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coffer_server::service::forge::fit::{Fit, FitVerifier, ISSUER};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const KID: &str = "k1";
const LEEWAY: u64 = 60;
const HEADER: &str = r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;

struct World {
    runtime: tokio::runtime::Runtime,
    verifier: FitVerifier,
    key: EncodingKey,
    forger: EncodingKey,
    genuine: String,
    claims: Value,
}

/// A fresh RSA key (PKCS#1, as `testing::rsa` makes it).
fn rsa_key() -> EncodingKey {
    let pem = coffer_server::testing::rsa::pkcs1_pem();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    EncodingKey::from_rsa_der(&STANDARD.decode(b64).expect("PEM body is base64"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `header.claims.signature`, the first two as given (base64url of the raw bytes).
fn token(header: &[u8], claims: &[u8], key: &EncodingKey) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, Algorithm::RS256).expect("signs");
    format!("{input}.{sig}")
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let key = rsa_key();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("an RSA JWK");
        jwk.common.key_id = Some(KID.into());
        let verifier =
            FitVerifier::with_keys(JwkSet { keys: vec![jwk] }, Duration::from_secs(LEEWAY));
        let claims = json!({
            "iss": ISSUER,
            "aud": "ari:cloud:ecosystem::app/6f3a0c2e-1b7d-4c2a-9d5e-1f0a2b3c4d5e",
            "exp": now() + 10 * 365 * 86_400,
            "nbf": now() - 60,
            "iat": now() - 60,
            "principal": "557058:account",
            "app": {"installationId": "ari:cloud:ecosystem::installation/1", "module": {"key": "trigger"}},
            "context": {"cloudId": "cloud-1", "extension": {"issue": {"key": "OPS-123", "id": 10001}}},
        });
        let genuine = token(HEADER.as_bytes(), claims.to_string().as_bytes(), &key);
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            verifier,
            key,
            forger: rsa_key(),
            genuine,
            claims,
        }
    })
}

fn verify(w: &World, token: &str) -> Option<Fit> {
    w.runtime.block_on(w.verifier.verify(token)).ok()
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Seconds the clock may move between the verifier's reading and this file's.
const SLACK: u64 = 2;

/// What the verifier must return for `claims`, if it accepts them; `None` if they break a rule.
/// `iss` may also be a list naming Forge (as `jsonwebtoken` reads RFC 7519's claim).
fn expected(claims: &Value) -> Option<Fit> {
    let c = claims.as_object()?;
    let t = now();
    let time = |k: &str| c.get(k).and_then(Value::as_f64);
    let (exp, nbf) = (time("exp")?, time("nbf")?);
    let issuer = match c.get("iss")? {
        Value::String(s) => s == ISSUER,
        Value::Array(a) => a.iter().any(|i| i == ISSUER),
        _ => false,
    };
    if !issuer || exp < (t - LEEWAY - SLACK) as f64 || nbf > (t + LEEWAY + SLACK) as f64 {
        return None;
    }
    let app_id = match claims.get("aud")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.len() == 1 => text(&a[0]),
        _ => None,
    }?;
    let installation_id = text(&claims["app"]["installationId"])
        .or_else(|| text(&claims["app"]["installation"]["id"]))?;
    let issue = &claims["context"]["extension"]["issue"];
    Some(Fit {
        app_id,
        installation_id,
        principal: text(&claims["principal"]),
        issue_key: text(&issue["key"]),
        issue_id: text(&issue["id"]).or_else(|| issue["id"].as_u64().map(|n| n.to_string())),
        module: text(&claims["app"]["module"]["key"]),
        cloud_id: text(&claims["context"]["cloudId"]).or_else(|| {
            claims["app"]["installation"]["contexts"]
                .as_array()
                .and_then(|a| a.iter().find_map(|x| text(&x["cloudId"])))
        }),
    })
}

/// Claims no verifier could doubt: the times are plain whole seconds well inside the leeway.
fn unambiguous(claims: &Value) -> bool {
    let t = now();
    let secs = |k: &str| claims.get(k).and_then(Value::as_u64);
    secs("exp").is_some_and(|e| e > t + 2 * LEEWAY)
        && secs("nbf").is_some_and(|n| n.saturating_add(2 * LEEWAY) < t)
        && claims
            .get("iat")
            .is_none_or(|v| v.as_u64().is_some_and(|i| i < t))
        && claims.get("sub").is_none_or(Value::is_string)
}

fn check_claims(w: &World, raw: &[u8]) {
    let got = verify(w, &token(HEADER.as_bytes(), raw, &w.key));
    let claims = serde_json::from_slice::<Value>(raw).ok();
    let want = claims.as_ref().and_then(expected);
    if let Some(fit) = &got {
        assert_eq!(Some(fit), want.as_ref(), "accepted claims {claims:?}");
    } else if let (Some(c), Some(_)) = (&claims, &want) {
        assert!(!unambiguous(c), "refused valid claims {c}");
    }
    assert!(verify(w, &token(HEADER.as_bytes(), raw, &w.forger)).is_none());
}

fn check_header(w: &World, raw: &[u8]) {
    let claims = w.claims.to_string();
    let t = token(raw, claims.as_bytes(), &w.key);
    if verify(w, &t).is_some() {
        let h = jsonwebtoken::decode_header(&t).expect("an accepted header reads");
        assert_eq!(h.alg, Algorithm::RS256, "accepted header {h:?}");
        assert_eq!(h.kid.as_deref(), Some(KID), "accepted header {h:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Some((&mode, rest)) = data.split_first() else {
        assert_eq!(verify(w, &w.genuine), expected(&w.claims));
        assert!(verify(w, &w.genuine).is_some());
        return;
    };
    match mode % 4 {
        0 => {
            if let [hi, lo, patch @ ..] = rest {
                let mut t = w.genuine.clone().into_bytes();
                let n = t.len();
                let start = usize::from(u16::from_be_bytes([*hi, *lo])) % n;
                for (i, b) in patch.iter().enumerate() {
                    t[(start + i) % n] ^= b;
                }
                if let Ok(t) = String::from_utf8(t) {
                    let got = verify(w, &t);
                    if t == w.genuine {
                        assert_eq!(got, expected(&w.claims));
                    } else {
                        assert!(got.is_none(), "accepted an altered token");
                    }
                }
            }
        }
        1 => {
            if let Ok(t) = std::str::from_utf8(rest) {
                assert_eq!(verify(w, t).is_some(), t == w.genuine, "token {t:?}");
            }
        }
        2 => check_claims(w, rest),
        _ => check_header(w, rest),
    }
});
