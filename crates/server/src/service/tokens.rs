//! API token values: `coffer_` followed by 43 base64url characters (256 random bits). The prefix
//! lets secret scanners recognise leaked tokens; only the SHA-256 of the whole string is stored.

use base64::Engine;
use zeroize::Zeroizing;

/// Prefix of every token.
pub const PREFIX: &str = "coffer_";

/// A fresh token value.
pub fn generate() -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut raw[..]).expect("OS random generator failed");
    Zeroizing::new(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw[..])
    ))
}

/// Whether `s` has the shape of a token (checked before hashing or any lookup).
pub fn well_formed(s: &str) -> bool {
    s.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// SHA-256 of the token string, as stored.
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
}
