//! Signed checkpoints of an org's audit chain: what makes a truncated or rewritten chain
//! detectable even by someone who can write the catalog.
//!
//! The hash chain alone stops no one who can write the database: they can delete the newest
//! events, or rewrite events and recompute every hash after them, and the chain still verifies.
//! A checkpoint is a statement "event `seq` of org `org` had hash `head`", numbered (`n` = 1, 2,
//! …), chained to the previous checkpoint, and signed with Ed25519 under a key **the catalog does
//! not hold**: its seed is derived from the org key (HMAC-SHA256 of the org key over a label, the
//! org id and the key version), which exists only wrapped by the root key — the master key file,
//! or with BYOK the org's own KMS keys. So a catalog-only attacker cannot forge one; deleting the
//! tail leaves a checkpoint pointing past the end; rewriting leaves a checkpoint whose head no
//! longer matches; deleting checkpoints too breaks their numbering or chaining, or is caught
//! against a checkpoint kept outside (a node's memory, an auditor's copy of the last verify).
//!
//! Format v1 of the signed message (all integers big-endian), also in docs/formats.md:
//! `"coffer-audit-checkpoint-v1\0" ‖ org id (16) ‖ n (u64) ‖ seq (u64) ‖ head (32) ‖ at (i64 ms)
//! ‖ key version (u32) ‖ previous checkpoint's digest (32; zeros for n = 1)`, where a digest is
//! the SHA-256 of a checkpoint's signed message.

use crate::domain::{OrgId, Timestamp};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use aws_lc_rs::{digest, hmac};
use coffer_envelope::OrgKey;

const MESSAGE_LABEL: &[u8] = b"coffer-audit-checkpoint-v1\0";
const SEED_LABEL: &[u8] = b"coffer-audit-signing-key-v1\0";

/// The digest that precedes checkpoint 1.
pub const FIRST: [u8; 32] = [0; 32];

/// A signed checkpoint, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The org.
    pub org: OrgId,
    /// Its number in the org's checkpoints, from 1.
    pub n: u64,
    /// The event it vouches for.
    pub seq: u64,
    /// That event's hash.
    pub head: [u8; 32],
    /// When it was signed.
    pub at: Timestamp,
    /// The org-key version whose derived key signed it.
    pub key_version: u32,
    /// The previous checkpoint's digest ([`FIRST`] for n = 1).
    pub prev: [u8; 32],
    /// Ed25519 signature over [`Checkpoint::message`].
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The signed message (format v1, see the module docs).
    pub fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(MESSAGE_LABEL.len() + 16 + 8 + 8 + 32 + 8 + 4 + 32);
        m.extend_from_slice(MESSAGE_LABEL);
        m.extend_from_slice(&self.org.to_bytes());
        m.extend_from_slice(&self.n.to_be_bytes());
        m.extend_from_slice(&self.seq.to_be_bytes());
        m.extend_from_slice(&self.head);
        m.extend_from_slice(&self.at.millis().to_be_bytes());
        m.extend_from_slice(&self.key_version.to_be_bytes());
        m.extend_from_slice(&self.prev);
        m
    }

    /// SHA-256 of the signed message: what the next checkpoint chains to.
    pub fn digest(&self) -> [u8; 32] {
        digest::digest(&digest::SHA256, &self.message())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes")
    }
}

/// The org's signing key for one org-key version.
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// Derives it from the org key: seed = HMAC-SHA256(org key, label ‖ org id ‖ key version).
    pub fn derive(org_key: &OrgKey, org: OrgId, key_version: u32) -> SigningKey {
        let key = hmac::Key::new(hmac::HMAC_SHA256, org_key.expose());
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(SEED_LABEL);
        ctx.update(&org.to_bytes());
        ctx.update(&key_version.to_be_bytes());
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(ctx.sign().as_ref());
        SigningKey(
            Ed25519KeyPair::from_seed_unchecked(&seed[..])
                .expect("any 32 bytes are an Ed25519 seed"),
        )
    }

    /// The public key (32 bytes).
    pub fn public_key(&self) -> [u8; 32] {
        self.0
            .public_key()
            .as_ref()
            .try_into()
            .expect("Ed25519 public keys are 32 bytes")
    }

    /// Signs the next checkpoint after `prev` (none: this is checkpoint 1).
    pub fn sign(
        &self,
        org: OrgId,
        key_version: u32,
        seq: u64,
        head: [u8; 32],
        at: Timestamp,
        prev: Option<&Checkpoint>,
    ) -> Checkpoint {
        let mut c = Checkpoint {
            org,
            n: prev.map_or(1, |p| p.n + 1),
            seq,
            head,
            at,
            key_version,
            prev: prev.map_or(FIRST, Checkpoint::digest),
            signature: Vec::new(),
        };
        c.signature = self.0.sign(&c.message()).as_ref().to_vec();
        c
    }
}

/// Whether `c`'s signature is valid under `public_key`.
pub fn signature_valid(c: &Checkpoint, public_key: &[u8; 32]) -> bool {
    UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(&c.message(), &c.signature)
        .is_ok()
}

/// What is wrong with a run of an org's checkpoints, given the chain they vouch for: the first
/// problem found, in words that name what is missing or rewritten.
///
/// `checkpoints` is the stored run in order of `n`; `hash_at(seq)` the chain's hash of event
/// `seq` (`None` past its end); `key(version)` the public key of that org-key version (`None`:
/// it could not be derived); `events` how many events the chain has.
pub fn check_run(
    checkpoints: &[Checkpoint],
    events: u64,
    hash_at: impl Fn(u64) -> Option<[u8; 32]>,
    key: impl Fn(u32) -> Option<[u8; 32]>,
) -> Result<(), String> {
    let mut prev: Option<&Checkpoint> = None;
    for c in checkpoints {
        let want_n = prev.map_or(1, |p| p.n + 1);
        if c.n != want_n {
            return Err(format!(
                "checkpoint {want_n} is missing (the next stored one is {})",
                c.n
            ));
        }
        if c.prev != prev.map_or(FIRST, Checkpoint::digest) {
            return Err(format!(
                "checkpoint {} does not follow checkpoint {}: one of them was replaced",
                c.n,
                c.n - 1
            ));
        }
        let Some(public) = key(c.key_version) else {
            return Err(format!(
                "checkpoint {} cannot be checked: org key version {} is unavailable",
                c.n, c.key_version
            ));
        };
        if !signature_valid(c, &public) {
            return Err(format!(
                "checkpoint {} has no valid signature: it was forged or altered",
                c.n
            ));
        }
        if c.seq > events {
            return Err(format!(
                "events {}..={} are missing: checkpoint {} (signed {}) vouches for event {} but the chain ends at {events}",
                events + 1,
                c.seq,
                c.n,
                c.at,
                c.seq
            ));
        }
        if hash_at(c.seq) != Some(c.head) {
            return Err(format!(
                "event {} was rewritten: it no longer has the hash checkpoint {} (signed {}) recorded",
                c.seq, c.n, c.at
            ));
        }
        prev = Some(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (OrgKey, OrgId) {
        (OrgKey::generate(), OrgId::new())
    }

    #[test]
    fn checkpoints_verify_and_every_change_is_named() {
        let (org_key, org) = key();
        let k = SigningKey::derive(&org_key, org, 1);
        let public = k.public_key();
        let hashes: Vec<[u8; 32]> = (0..10u8).map(|i| [i + 1; 32]).collect();
        let hash_at = |seq: u64| hashes.get(seq as usize - 1).copied();
        let c1 = k.sign(org, 1, 4, hashes[3], Timestamp::now(), None);
        let c2 = k.sign(org, 1, 10, hashes[9], Timestamp::now(), Some(&c1));
        let keys = |_| Some(public);
        assert_eq!(
            check_run(&[c1.clone(), c2.clone()], 10, hash_at, keys),
            Ok(())
        );
        // The newest events deleted.
        let err = check_run(&[c1.clone(), c2.clone()], 7, hash_at, keys).unwrap_err();
        assert!(err.contains("events 8..=10 are missing"), "{err}");
        // An event rewritten (its hash recomputed).
        let rewritten = |seq: u64| {
            if seq == 4 {
                Some([0xee; 32])
            } else {
                hash_at(seq)
            }
        };
        let err = check_run(&[c1.clone(), c2.clone()], 10, rewritten, keys).unwrap_err();
        assert!(err.contains("event 4 was rewritten"), "{err}");
        // A checkpoint deleted, altered or forged.
        let err = check_run(std::slice::from_ref(&c2), 10, hash_at, keys).unwrap_err();
        assert!(err.contains("checkpoint 1 is missing"), "{err}");
        let mut moved = c2.clone();
        moved.seq = 9;
        moved.head = hashes[8];
        let err = check_run(&[c1.clone(), moved], 10, hash_at, keys).unwrap_err();
        assert!(err.contains("no valid signature"), "{err}");
        let other = SigningKey::derive(&OrgKey::generate(), org, 1);
        let forged = other.sign(org, 1, 10, hashes[9], Timestamp::now(), Some(&c1));
        let err = check_run(&[c1.clone(), forged], 10, hash_at, keys).unwrap_err();
        assert!(err.contains("no valid signature"), "{err}");
        let replaced = k.sign(org, 1, 10, hashes[9], Timestamp::now(), None);
        let err = check_run(&[c1, Checkpoint { n: 2, ..replaced }], 10, hash_at, keys).unwrap_err();
        assert!(err.contains("does not follow"), "{err}");
    }

    #[test]
    fn the_key_is_bound_to_org_and_version_and_stable() {
        let (org_key, org) = key();
        let a = SigningKey::derive(&org_key, org, 1).public_key();
        assert_eq!(a, SigningKey::derive(&org_key, org, 1).public_key());
        assert_ne!(a, SigningKey::derive(&org_key, org, 2).public_key());
        assert_ne!(
            a,
            SigningKey::derive(&org_key, OrgId::new(), 1).public_key()
        );
    }
}
