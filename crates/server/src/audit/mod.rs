//! The audit trail: an append-only, hash-chained list of events per org.
//!
//! Each event's hash covers the previous event's hash, its own sequence number and every field,
//! so removing, reordering or editing any stored event breaks the chain from that point on and
//! [`verify`] names the first bad sequence number. Events are appended by the catalog *in the
//! same transaction* as the change they describe (or before a reveal's value is returned): if the
//! event cannot be written, the request fails. Events carry names and ids, never secret values
//! or raw tokens. The hash input is versioned (`coffer-audit-v1`) like every persisted format.
//! [`checkpoint`] signs the chain's head; [`copy`] is the format of the copy kept in an org's own
//! bucket.

pub mod checkpoint;
pub mod copy;

use crate::domain::{OrgId, Timestamp, UserId};
use aws_lc_rs::digest;

/// Characters of an event's actor kept.
const MAX_ACTOR_CHARS: usize = 128;
/// Characters of an event's target kept.
const MAX_TARGET_CHARS: usize = 512;
/// Bytes of an event's details kept; larger details are replaced by a note of their size.
const MAX_DETAILS_BYTES: usize = 16 * 1024;

/// `s` cut to `max` characters, marked with `…` when cut.
fn cap(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

/// The zero hash that precedes an org's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// An event about to be appended: everything but its place in the chain.
#[derive(Clone, Debug)]
pub struct AuditDraft {
    /// The org whose chain it joins.
    pub org: OrgId,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it (none for anonymous failures).
    pub actor_id: Option<UserId>,
    /// The actor's name, or `anonymous`.
    pub actor: String,
    /// What happened, e.g. `secret.reveal`.
    pub action: &'static str,
    /// What it happened to, e.g. `OPS-123/db-password`.
    pub target: String,
    /// Canonical JSON (sorted keys) with extra facts.
    pub details: String,
}

impl AuditDraft {
    /// A draft with `details` serialized canonically (serde_json's map keeps keys sorted). Every
    /// field is capped (actor, target, details), so no request can make one event large.
    pub fn new(
        org: OrgId,
        actor_id: Option<UserId>,
        actor: impl Into<String>,
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        let mut details = details.to_string();
        if details.len() > MAX_DETAILS_BYTES {
            details = serde_json::json!({"truncated_bytes": details.len()}).to_string();
        }
        Self {
            org,
            at: Timestamp::now(),
            actor_id,
            actor: cap(actor.into(), MAX_ACTOR_CHARS),
            action,
            target: cap(target.into(), MAX_TARGET_CHARS),
            details,
        }
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The org.
    pub org: OrgId,
    /// Position in the org's chain, from 1.
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// Acting user.
    pub actor_id: Option<UserId>,
    /// Acting user's name.
    pub actor: String,
    /// Action.
    pub action: String,
    /// Target.
    pub target: String,
    /// Canonical JSON details.
    pub details: String,
    /// Hash of the previous event.
    pub prev_hash: [u8; 32],
    /// Hash of this event.
    pub hash: [u8; 32],
}

/// What every event's hashed bytes start with: the hash format's version.
pub const HASH_PREFIX: &[u8] = b"coffer-audit-v1\0";

/// Feeds `put` the bytes of an event's [`hash_tail`], piece by piece (so hashing one needs no
/// buffer).
#[allow(clippy::too_many_arguments)]
fn feed_tail(
    mut put: impl FnMut(&[u8]),
    org: OrgId,
    at: Timestamp,
    actor_id: Option<UserId>,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) {
    put(&org.to_bytes());
    put(&at.millis().to_be_bytes());
    let actor_id = actor_id.map(|u| u.to_bytes());
    let fields = [
        actor_id.as_ref().map_or(&[][..], |b| &b[..]),
        actor.as_bytes(),
        action.as_bytes(),
        target.as_bytes(),
        details.as_bytes(),
    ];
    for field in fields {
        put(&(field.len() as u64).to_be_bytes());
        put(field);
    }
}

/// What an event's hash covers after [`HASH_PREFIX`], the previous hash and its sequence
/// number: everything the event says about itself. An event's hash is SHA-256 of
/// `HASH_PREFIX || prev || seq (8 bytes, big-endian) || tail`, which a catalog may also compute
/// inside its database from this tail (PostgreSQL's reveal groups do).
#[allow(clippy::too_many_arguments)]
pub fn hash_tail(
    org: OrgId,
    at: Timestamp,
    actor_id: Option<UserId>,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + 8 + 8 * 5 + 16 + actor.len() + action.len() + target.len() + details.len(),
    );
    feed_tail(
        |b| out.extend_from_slice(b),
        org,
        at,
        actor_id,
        actor,
        action,
        target,
        details,
    );
    out
}

/// The hash of an event at `seq` following `prev`.
#[allow(clippy::too_many_arguments)]
pub fn chain_hash(
    prev: &[u8; 32],
    seq: u64,
    org: OrgId,
    at: Timestamp,
    actor_id: Option<UserId>,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(HASH_PREFIX);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    feed_tail(
        |b| ctx.update(b),
        org,
        at,
        actor_id,
        actor,
        action,
        target,
        details,
    );
    ctx.finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

impl AuditDraft {
    /// This event's [`hash_tail`].
    pub fn hash_tail(&self) -> Vec<u8> {
        hash_tail(
            self.org,
            self.at,
            self.actor_id,
            &self.actor,
            self.action,
            &self.target,
            &self.details,
        )
    }

    /// The hash this event has at `seq`, following `prev_hash`: all a catalog needs to store
    /// it next to the draft's own fields, without building the record.
    pub fn hash_at(&self, seq: u64, prev_hash: &[u8; 32]) -> [u8; 32] {
        chain_hash(
            prev_hash,
            seq,
            self.org,
            self.at,
            self.actor_id,
            &self.actor,
            self.action,
            &self.target,
            &self.details,
        )
    }
}

/// Seals a draft into the record that follows `prev_hash` at `seq`.
pub fn seal(draft: &AuditDraft, seq: u64, prev_hash: [u8; 32]) -> AuditRecord {
    let hash = draft.hash_at(seq, &prev_hash);
    AuditRecord {
        org: draft.org,
        seq,
        at: draft.at,
        actor_id: draft.actor_id,
        actor: draft.actor.clone(),
        action: draft.action.to_owned(),
        target: draft.target.clone(),
        details: draft.details.clone(),
        prev_hash,
        hash,
    }
}

/// The result of checking a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Events checked.
    pub events: u64,
    /// Hash of the last good event.
    pub head: [u8; 32],
    /// First sequence number that failed, and why.
    pub failure: Option<(u64, &'static str)>,
}

/// Incremental verifier: feed events in sequence order (from 1), then [`Verifier::finish`].
pub struct Verifier {
    expected_seq: u64,
    head: [u8; 32],
    failure: Option<(u64, &'static str)>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            head: GENESIS,
            failure: None,
        }
    }
}

impl Verifier {
    /// Checks the next event.
    pub fn push(&mut self, e: &AuditRecord) {
        if self.failure.is_some() {
            return;
        }
        let why = if e.seq != self.expected_seq {
            Some("an event is missing or out of order")
        } else if e.prev_hash != self.head {
            Some("the link to the previous event is broken")
        } else if e.hash
            != chain_hash(
                &e.prev_hash,
                e.seq,
                e.org,
                e.at,
                e.actor_id,
                &e.actor,
                &e.action,
                &e.target,
                &e.details,
            )
        {
            Some("the event was modified after it was written")
        } else {
            None
        };
        match why {
            Some(reason) => self.failure = Some((self.expected_seq, reason)),
            None => {
                self.head = e.hash;
                self.expected_seq += 1;
            }
        }
    }

    /// The verdict.
    pub fn finish(self) -> Verification {
        Verification {
            events: self.expected_seq - 1,
            head: self.head,
            failure: self.failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let org = OrgId::new();
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let d = AuditDraft::new(
                    org,
                    None,
                    "admin",
                    "secret.write",
                    format!("OPS-{seq}/x"),
                    serde_json::json!({"version": seq}),
                );
                let r = seal(&d, seq, prev);
                prev = r.hash;
                r
            })
            .collect()
    }

    fn verify(events: &[AuditRecord]) -> Verification {
        let mut v = Verifier::default();
        events.iter().for_each(|e| v.push(e));
        v.finish()
    }

    #[test]
    fn intact_chain_verifies() {
        let v = verify(&chain(5));
        assert_eq!((v.events, v.failure), (5, None));
    }

    #[test]
    fn every_kind_of_tampering_is_caught_at_its_event() {
        let good = chain(5);
        let mut edited = good.clone();
        edited[2].target = "OPS-9/x".into();
        assert_eq!(verify(&edited).failure.unwrap().0, 3);
        let mut removed = good.clone();
        removed.remove(1);
        assert_eq!(verify(&removed).failure.unwrap().0, 2);
        let mut swapped = good.clone();
        swapped.swap(3, 4);
        assert_eq!(verify(&swapped).failure.unwrap().0, 4);
        let mut rehashed = good.clone();
        rehashed[1].details = "{}".into();
        rehashed[1].hash = chain_hash(
            &rehashed[1].prev_hash,
            2,
            rehashed[1].org,
            rehashed[1].at,
            None,
            "admin",
            "secret.write",
            &rehashed[1].target,
            "{}",
        );
        assert_eq!(
            verify(&rehashed).failure.unwrap().0,
            3,
            "re-hashing one event breaks the next link"
        );
    }
}
