//! The audit copy's object format (v1): one JSON object per signed checkpoint, holding the
//! checkpoint and the events it newly vouches for, written to the org's own bucket (under S3
//! Object Lock where the bucket has it) by `service::audit_log::copy`. Pure: no I/O.
//!
//! Why one object per checkpoint: a checkpoint is the unit the org's signing key vouches for,
//! so each object can be checked on its own (signature, event hashes, the link to the previous
//! object) by anyone with the checkpoint public key, without the catalog; objects are never
//! rewritten (a later checkpoint is a new object), which is what Object Lock needs; and the
//! number in the key (`orgs/{org}/audit/{n:020}.json`, zero-padded so keys sort by `n`) makes a
//! missing object visible as a gap. Events are stored field for field as the chain stores them
//! (timestamps in milliseconds, `details` as the exact text), so every hash can be recomputed.
//! Hashes, ids and the signature are hex, as in the API's `audit verify` answer, so an auditor
//! can compare the two by eye. Spelled out in docs/formats.md ("Audit copy").

use super::checkpoint::{self, Checkpoint};
use super::{AuditRecord, GENESIS, chain_hash};
use crate::blob::{BlobKey, BlobPrefix};
use crate::domain::{OrgId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// The `format` field of every copy object.
pub const FORMAT: &str = "coffer-audit-copy";
/// The `version` field this code writes and reads.
pub const VERSION: u32 = 1;
/// Largest copy object read back (a checkpoint rarely covers more than a few thousand events).
pub const MAX_OBJECT_BYTES: usize = 256 << 20;

/// The key of checkpoint `n`'s copy (relative to the bucket's prefix).
pub fn object_key(org: OrgId, n: u64) -> BlobKey {
    BlobKey::parse(&format!("orgs/{org}/audit/{n:020}.json")).expect("ids and digits are safe")
}

/// The prefix every copy object of `org` is under.
pub fn prefix(org: OrgId) -> BlobPrefix {
    BlobPrefix::parse(&format!("orgs/{org}/audit/")).expect("ids are safe")
}

/// The checkpoint number a copy object's key names, if it is one.
pub fn number_of(org: OrgId, key: &BlobKey) -> Option<u64> {
    let rest = key.as_str().strip_prefix(prefix(org).as_str())?;
    let digits = rest.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Object {
    format: String,
    version: u32,
    org: String,
    checkpoint: CheckpointJson,
    events: Vec<EventJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointJson {
    n: u64,
    seq: u64,
    head: String,
    at_ms: i64,
    key_version: u32,
    prev: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventJson {
    seq: u64,
    at_ms: i64,
    actor_id: Option<String>,
    actor: String,
    action: String,
    target: String,
    details: String,
    prev_hash: String,
    hash: String,
}

/// The object for checkpoint `c` and `events` (those with seq after the previous checkpoint's,
/// up to `c.seq`, in order).
pub fn encode(c: &Checkpoint, events: &[AuditRecord]) -> Vec<u8> {
    let object = Object {
        format: FORMAT.into(),
        version: VERSION,
        org: c.org.to_string(),
        checkpoint: CheckpointJson {
            n: c.n,
            seq: c.seq,
            head: hex::encode(c.head),
            at_ms: c.at.millis(),
            key_version: c.key_version,
            prev: hex::encode(c.prev),
            signature: hex::encode(&c.signature),
        },
        events: events
            .iter()
            .map(|e| EventJson {
                seq: e.seq,
                at_ms: e.at.millis(),
                actor_id: e.actor_id.map(|u| u.to_string()),
                actor: e.actor.clone(),
                action: e.action.clone(),
                target: e.target.clone(),
                details: e.details.clone(),
                prev_hash: hex::encode(e.prev_hash),
                hash: hex::encode(e.hash),
            })
            .collect(),
    };
    let mut out = serde_json::to_vec(&object).expect("plain data serializes");
    out.push(b'\n');
    out
}

fn hash32(field: &str, s: &str) -> Result<[u8; 32], String> {
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("`{field}` is not 64 hex digits"))
}

fn uuid(field: &str, s: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(s).map_err(|_| format!("`{field}` is not a UUID"))
}

/// Reads a copy object of `org`: its checkpoint and events. Errors say what is malformed.
pub fn decode(org: OrgId, bytes: &[u8]) -> Result<(Checkpoint, Vec<AuditRecord>), String> {
    let o: Object =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not a copy object: {e}"))?;
    if o.format != FORMAT || o.version != VERSION {
        return Err(format!(
            "it is `{}` version {}, not `{FORMAT}` version {VERSION}",
            o.format, o.version
        ));
    }
    if uuid("org", &o.org)? != org.as_uuid() {
        return Err(format!("it belongs to org {}, not {org}", o.org));
    }
    let c = &o.checkpoint;
    let checkpoint = Checkpoint {
        org,
        n: c.n,
        seq: c.seq,
        head: hash32("checkpoint.head", &c.head)?,
        at: Timestamp::from_millis(c.at_ms),
        key_version: c.key_version,
        prev: hash32("checkpoint.prev", &c.prev)?,
        signature: hex::decode(&c.signature)
            .map_err(|_| "`checkpoint.signature` is not hex".to_owned())?,
    };
    let events = o
        .events
        .into_iter()
        .map(|e| {
            Ok(AuditRecord {
                org,
                seq: e.seq,
                at: Timestamp::from_millis(e.at_ms),
                actor_id: e
                    .actor_id
                    .as_deref()
                    .map(|a| uuid("actor_id", a).map(UserId::from_uuid))
                    .transpose()?,
                actor: e.actor,
                action: e.action,
                target: e.target,
                details: e.details,
                prev_hash: hash32("prev_hash", &e.prev_hash)?,
                hash: hash32("hash", &e.hash)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((checkpoint, events))
}

/// Checks one copy on its own and against the copy before it (`prev`: `None` for n = 1): the
/// checkpoint follows `prev` and is validly signed under `public_key`; the events are exactly
/// those after `prev`'s event up to the checkpoint's, each hash recomputes and links to the one
/// before, and the last is the checkpoint's head. The error says which of those fails.
pub fn check_segment(
    c: &Checkpoint,
    events: &[AuditRecord],
    prev: Option<&Checkpoint>,
    public_key: &[u8; 32],
) -> Result<(), String> {
    let want_n = prev.map_or(1, |p| p.n + 1);
    if c.n != want_n {
        return Err(format!("it holds checkpoint {}, not {want_n}", c.n));
    }
    if c.prev != prev.map_or(checkpoint::FIRST, Checkpoint::digest) {
        return Err(format!(
            "checkpoint {} does not follow checkpoint {}",
            c.n,
            c.n - 1
        ));
    }
    if !checkpoint::signature_valid(c, public_key) {
        return Err(format!(
            "checkpoint {} has no valid signature under the org's checkpoint key",
            c.n
        ));
    }
    let (mut seq, mut head) = prev.map_or((0, GENESIS), |p| (p.seq, p.head));
    for e in events {
        if e.seq != seq + 1 {
            return Err(format!(
                "event {} is missing (the next event held is {})",
                seq + 1,
                e.seq
            ));
        }
        if e.prev_hash != head {
            return Err(format!(
                "event {} does not link to event {}",
                e.seq,
                e.seq - 1
            ));
        }
        let recomputed = chain_hash(
            &e.prev_hash,
            e.seq,
            e.org,
            e.at,
            e.actor_id,
            &e.actor,
            &e.action,
            &e.target,
            &e.details,
        );
        if e.hash != recomputed {
            return Err(format!("event {} does not match its hash", e.seq));
        }
        (seq, head) = (e.seq, e.hash);
    }
    if seq != c.seq || head != c.head {
        return Err(format!(
            "its events end at {seq}, but checkpoint {} vouches for event {} with another hash",
            c.n, c.seq
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::checkpoint::SigningKey;
    use crate::audit::{AuditDraft, seal};
    use coffer_envelope::OrgKey;

    fn chain(org: OrgId, n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let d = AuditDraft::new(
                    org,
                    (seq % 2 == 0).then(UserId::new),
                    "Zoë",
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

    #[test]
    fn objects_round_trip_and_check_and_every_change_is_named() {
        let org = OrgId::new();
        let key = SigningKey::derive(&OrgKey::generate(), org, 1);
        let public = key.public_key();
        let events = chain(org, 7);
        let c1 = key.sign(org, 1, 3, events[2].hash, Timestamp::now(), None);
        let c2 = key.sign(org, 1, 7, events[6].hash, Timestamp::now(), Some(&c1));
        let bytes = encode(&c2, &events[3..]);
        let (c, evs) = decode(org, &bytes).unwrap();
        assert_eq!((&c, &evs[..]), (&c2, &events[3..]));
        assert_eq!(check_segment(&c1, &events[..3], None, &public), Ok(()));
        assert_eq!(check_segment(&c, &evs, Some(&c1), &public), Ok(()));

        let err = |c: &Checkpoint, e: &[AuditRecord], p: Option<&Checkpoint>| {
            check_segment(c, e, p, &public).unwrap_err()
        };
        assert!(err(&c2, &events[3..], None).contains("not 1"));
        assert!(err(&c2, &events[4..], Some(&c1)).contains("event 4 is missing"));
        assert!(err(&c2, &events[3..6], Some(&c1)).contains("events end at 6"));
        let mut edited = events[3..].to_vec();
        edited[1].actor = "mallory".into();
        assert!(err(&c2, &edited, Some(&c1)).contains("event 5 does not match its hash"));
        let mut forged = c2.clone();
        forged.seq = 6;
        assert!(err(&forged, &events[3..6], Some(&c1)).contains("no valid signature"));
        let other = SigningKey::derive(&OrgKey::generate(), org, 1);
        assert!(
            check_segment(&c1, &events[..3], None, &other.public_key())
                .unwrap_err()
                .contains("no valid signature")
        );

        assert!(
            decode(OrgId::new(), &bytes)
                .unwrap_err()
                .contains("belongs to org")
        );
        let text = String::from_utf8(bytes).unwrap();
        let v2 = text.replace("\"version\":1", "\"version\":2");
        assert!(
            decode(org, v2.as_bytes())
                .unwrap_err()
                .contains("version 2")
        );
        assert!(
            decode(org, b"{}")
                .unwrap_err()
                .contains("not a copy object")
        );
    }

    #[test]
    fn keys_sort_by_number_and_parse_back() {
        let org = OrgId::new();
        let k = object_key(org, 42);
        assert_eq!(
            k.as_str(),
            format!("orgs/{org}/audit/00000000000000000042.json")
        );
        assert!(object_key(org, 9).as_str() < object_key(org, 10).as_str());
        assert_eq!(number_of(org, &k), Some(42));
        assert_eq!(number_of(OrgId::new(), &k), None);
        let other = BlobKey::parse(&format!("orgs/{org}/audit/42.json")).unwrap();
        assert_eq!(number_of(org, &other), None);
    }
}
