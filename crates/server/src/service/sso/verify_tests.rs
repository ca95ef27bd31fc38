//! Unit tests of [`verify_id_token`]: ID tokens made and signed here (an RSA key generated at
//! test time), checked against a client built from hand-made provider metadata whose JWKS holds
//! the matching public key.
//!
//! The claims' times are built from JSON (seconds since the epoch) because `chrono`, which
//! `openidconnect`'s time setters take, is not a dependency of this crate.

use super::{Client, Identity, verify_id_token};
use base64::Engine;
use openidconnect::core::{
    CoreClient, CoreGenderClaim, CoreIdToken, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, Audience, AuthUrl, ClientId, ClientSecret, EmptyAdditionalProviderMetadata,
    EndUserEmail, EndUserUsername, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, JsonWebKeySet,
    JsonWebKeySetUrl, Nonce, PrivateSigningKey, ResponseTypes,
};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://id.example.com";
const CLIENT_ID: &str = "coffer";
const NONCE: &str = "the-nonce-of-this-sign-in";
const SUBJECT: &str = "248289761001";
const KID: &str = "k1";

/// The extra claims a provider may send: a groups array and, for the one-string form of a
/// groups claim, `team`.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct Groups {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team: Option<String>,
}
impl AdditionalClaims for Groups {}

type Claims = IdTokenClaims<Groups, CoreGenderClaim>;
type GroupsIdToken =
    IdToken<Groups, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The provider's key (its public half is in the client's JWKS).
fn provider_key() -> CoreRsaPrivateSigningKey {
    static PEM: OnceLock<String> = OnceLock::new();
    let pem = PEM.get_or_init(crate::testing::rsa::pkcs1_pem);
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(KID.into())))
        .expect("the generated PEM parses")
}

/// Another key, presenting itself under the provider key's id.
fn other_key() -> CoreRsaPrivateSigningKey {
    static PEM: OnceLock<String> = OnceLock::new();
    let pem = PEM.get_or_init(crate::testing::rsa::pkcs1_pem);
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(KID.into())))
        .expect("the generated PEM parses")
}

fn client_with(secret: Option<&str>) -> Client {
    let jwk: CoreJsonWebKey = provider_key().as_verification_key();
    let meta = CoreProviderMetadata::new(
        IssuerUrl::new(ISSUER.into()).unwrap(),
        AuthUrl::new(format!("{ISSUER}/authorize")).unwrap(),
        JsonWebKeySetUrl::new(format!("{ISSUER}/jwks")).unwrap(),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        EmptyAdditionalProviderMetadata {},
    )
    .set_jwks(JsonWebKeySet::new(vec![jwk]));
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(CLIENT_ID.into()),
        secret.map(|s| ClientSecret::new(s.into())),
    )
}

/// A public client (no secret), as a PKCE-only org has.
fn client() -> Client {
    client_with(None)
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

/// Claims valid for this client, issued now, expiring in five minutes, answering [`NONCE`].
fn claims_with(iss: &str, aud: &str, iat: i64, exp: i64) -> Claims {
    let claims: Claims = serde_json::from_value(serde_json::json!({
        "iss": iss,
        "aud": [aud],
        "iat": iat,
        "exp": exp,
        "sub": SUBJECT,
    }))
    .expect("the claims deserialize");
    claims.set_nonce(Some(Nonce::new(NONCE.into())))
}

fn claims() -> Claims {
    let now = now();
    claims_with(ISSUER, CLIENT_ID, now, now + 300)
}

/// Signs with `key` (RS256) and turns the token into the `CoreIdToken` the flow receives.
fn sign_with(claims: Claims, key: &CoreRsaPrivateSigningKey) -> CoreIdToken {
    let token = GroupsIdToken::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("signing");
    CoreIdToken::from_str(&token.to_string()).expect("a signed token parses")
}

fn sign(claims: Claims) -> CoreIdToken {
    sign_with(claims, &provider_key())
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with a hand-made header `alg`, signed (HMAC-SHA256) with `hmac_key` if given, else
/// with an empty signature.
fn forged(alg: &str, claims: &Claims, hmac_key: Option<&[u8]>) -> CoreIdToken {
    let header = b64url(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{KID}"}}"#).as_bytes());
    let payload = b64url(&serde_json::to_vec(claims).expect("the claims serialize"));
    let input = format!("{header}.{payload}");
    let signature = hmac_key.map_or_else(String::new, |k| {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k);
        b64url(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref())
    });
    CoreIdToken::from_str(&format!("{input}.{signature}")).expect("the forged token parses")
}

fn verify(token: &CoreIdToken) -> Result<Identity, String> {
    verify_id_token(&client(), token, NONCE, None)
}

fn refused(result: Result<Identity, String>) -> String {
    match result {
        Ok(id) => panic!("accepted a bad token (subject {})", id.subject),
        Err(e) => e,
    }
}

#[test]
fn a_good_token_gives_subject_name_and_groups() {
    let mut claims = claims()
        .set_preferred_username(Some(EndUserUsername::new("alice".into())))
        .set_email(Some(EndUserEmail::new("someone-else@example.com".into())))
        .set_email_verified(Some(true));
    claims.additional_claims_mut().groups = vec!["ops".into(), "dev".into()];
    let token = sign(claims);

    let id = verify_id_token(&client(), &token, NONCE, Some("groups")).expect("accepted");
    assert_eq!(id.subject, SUBJECT);
    assert_eq!(
        id.name.as_deref(),
        Some("alice"),
        "preferred_username wins over the email"
    );
    assert_eq!(
        id.groups,
        Some(vec!["ops".to_owned(), "dev".to_owned()]),
        "the groups claim's names, in order"
    );

    let id = verify(&token).expect("accepted");
    assert_eq!(
        id.groups, None,
        "no groups claim configured, no groups read"
    );
}

#[test]
fn a_confidential_client_accepts_a_good_rs256_token() {
    let token = sign(claims());
    let id = verify_id_token(&client_with(Some("s3cret")), &token, NONCE, None).expect("accepted");
    assert_eq!(id.subject, SUBJECT);
}

#[test]
fn without_preferred_username_the_name_is_a_verified_emails_local_part() {
    let token = sign(
        claims()
            .set_email(Some(EndUserEmail::new("alice@example.com".into())))
            .set_email_verified(Some(true)),
    );
    assert_eq!(verify(&token).unwrap().name.as_deref(), Some("alice"));
}

#[test]
fn an_unverified_email_gives_no_name() {
    let unverified = sign(
        claims()
            .set_email(Some(EndUserEmail::new("alice@example.com".into())))
            .set_email_verified(Some(false)),
    );
    assert_eq!(verify(&unverified).unwrap().name, None);

    let unsaid = sign(claims().set_email(Some(EndUserEmail::new("alice@example.com".into()))));
    assert_eq!(
        verify(&unsaid).unwrap().name,
        None,
        "email_verified absent counts as unverified"
    );

    assert_eq!(
        verify(&sign(claims())).unwrap().name,
        None,
        "no name claims"
    );
}

#[test]
fn a_groups_claim_may_be_one_string_or_absent() {
    let mut one = claims();
    one.additional_claims_mut().team = Some("ops".into());
    let id = verify_id_token(&client(), &sign(one), NONCE, Some("team")).unwrap();
    assert_eq!(id.groups, Some(vec!["ops".to_owned()]));

    let id = verify_id_token(&client(), &sign(claims()), NONCE, Some("groups")).unwrap();
    assert_eq!(
        id.groups, None,
        "a configured claim the token lacks leaves groups as they are"
    );
}

#[test]
fn a_wrong_nonce_is_refused() {
    let token = sign(claims());
    let e = refused(verify_id_token(&client(), &token, "another-sign-in", None));
    assert!(e.contains("nonce"), "{e}");

    let e = refused(verify(&sign(claims().set_nonce(None))));
    assert!(e.contains("nonce"), "a token without a nonce: {e}");
}

#[test]
fn another_audience_is_refused() {
    let now = now();
    let token = sign(claims_with(ISSUER, "someone-else", now, now + 300));
    let e = refused(verify(&token));
    assert!(e.contains("audience"), "{e}");

    let token = sign(claims().set_audiences(vec![Audience::new("someone-else".into())]));
    let e = refused(verify(&token));
    assert!(e.contains("audience"), "{e}");
}

#[test]
fn an_expired_token_is_refused() {
    let now = now();
    let token = sign(claims_with(ISSUER, CLIENT_ID, now - 7200, now - 3600));
    let e = refused(verify(&token));
    assert!(e.contains("expired"), "{e}");
}

#[test]
fn another_issuer_is_refused() {
    let now = now();
    let token = sign(claims_with(
        "https://evil.example.com",
        CLIENT_ID,
        now,
        now + 300,
    ));
    let e = refused(verify(&token));
    assert!(e.contains("another provider"), "{e}");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let token = sign_with(claims(), &other_key());
    let e = refused(verify(&token));
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn a_tampered_payload_is_refused() {
    let good = sign(claims()).to_string();
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims = claims();
    claims.additional_claims_mut().groups = vec!["admins".into()];
    let payload = b64url(&serde_json::to_vec(&claims).unwrap());
    let token = CoreIdToken::from_str(&format!("{}.{payload}.{}", parts[0], parts[2])).unwrap();
    let e = refused(verify_id_token(&client(), &token, NONCE, Some("groups")));
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn an_unsigned_token_is_refused() {
    let token = forged("none", &claims(), None);
    let e = refused(verify(&token));
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn hs256_with_the_client_id_as_key_is_refused() {
    let token = forged("HS256", &claims(), Some(CLIENT_ID.as_bytes()));
    let e = refused(verify(&token));
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn hs256_with_the_client_secret_is_refused_when_the_provider_signs_rs256() {
    let token = forged("HS256", &claims(), Some(b"s3cret"));
    let e = refused(verify_id_token(
        &client_with(Some("s3cret")),
        &token,
        NONCE,
        None,
    ));
    assert!(e.contains("signature"), "{e}");
}
