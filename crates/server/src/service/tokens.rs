//! Bearer secrets Coffer hands out: API tokens (`coffer_`), session cookies (`coffer_s_`),
//! invitation codes (`coffer_i_`), credential-reset codes (`coffer_r_`) and SCIM tokens
//! (`coffer_scim_`), each the prefix
//! followed by 43 base64url characters (256 random bits). The prefixes let secret scanners
//! recognise a leaked one and keep one kind from being presented as another; only the SHA-256
//! of the whole string is stored.

use base64::Engine;
use zeroize::Zeroizing;

/// Prefix of every API token.
pub const PREFIX: &str = "coffer_";
/// Prefix of every session cookie value.
pub const SESSION_PREFIX: &str = "coffer_s_";
/// Prefix of every invitation code.
pub const INVITATION_PREFIX: &str = "coffer_i_";
/// Prefix of every credential-reset code.
pub const RESET_PREFIX: &str = "coffer_r_";
/// Prefix of every SCIM token (an org's provisioning credential, good only at `/scim/v2`).
pub const SCIM_PREFIX: &str = "coffer_scim_";

/// A fresh value with `prefix`.
pub fn generate_with(prefix: &str) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut raw[..]).expect("OS random generator failed");
    Zeroizing::new(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw[..])
    ))
}

/// A fresh API token.
pub fn generate() -> Zeroizing<String> {
    generate_with(PREFIX)
}

/// Whether `s` has the shape of a value with `prefix` (checked before hashing or any lookup).
pub fn well_formed_with(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Whether `s` has the shape of an API token.
pub fn well_formed(s: &str) -> bool {
    well_formed_with(PREFIX, s)
}

/// SHA-256 of the value, as stored.
pub fn hash(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_well_formed_unique_and_hashed() {
        let (a, b) = (generate(), generate());
        assert!(well_formed(&a) && well_formed(&b));
        assert_ne!(*a, *b);
        assert_ne!(hash(&a), hash(&b));
        assert!(!well_formed("coffer_short"));
        assert!(!well_formed(&a.replace(PREFIX, "vault_")));
    }

    #[test]
    fn one_kind_is_never_another() {
        let kinds = [
            PREFIX,
            SESSION_PREFIX,
            INVITATION_PREFIX,
            RESET_PREFIX,
            SCIM_PREFIX,
        ];
        for made in kinds {
            let v = generate_with(made);
            for asked in kinds {
                assert_eq!(
                    well_formed_with(asked, &v),
                    asked == made,
                    "{made} as {asked}"
                );
            }
        }
    }
}
