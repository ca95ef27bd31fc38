//! Fuzz target: every JSON request body the API reads, through the very extractor the handlers
//! use (`Body<T>`: a JSON object and nothing after it), on every input. A body either reads or is
//! refused with an error — never a panic. Anything but a JSON object is refused. What reads
//! writes back out as JSON that reads again to the same value (so what a handler validates is
//! what the client meant), and every whole number read is exactly the number the client wrote:
//! `30` or `30.0`, never a fraction, a negative or an out-of-range number rounded into range.
#![no_main]

use coffer_api as api;
use coffer_server::testing::fuzz::json_body;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// 2^64: the first whole number a `u64` cannot hold (exact as an f64).
const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;

/// Every number `read` holds where `sent` has a number too is the same whole number.
fn same_numbers(sent: &Value, read: &Value, at: &str) {
    match (sent, read) {
        (Value::Object(s), Value::Object(r)) => {
            for (k, rv) in r {
                if let Some(sv) = s.get(k) {
                    same_numbers(sv, rv, &format!("{at}.{k}"));
                }
            }
        }
        (Value::Array(s), Value::Array(r)) if s.len() == r.len() => {
            for (i, (sv, rv)) in s.iter().zip(r).enumerate() {
                same_numbers(sv, rv, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(s), Value::Number(r)) => {
            let Some(r) = r.as_u64() else { return };
            let exact = s.as_u64() == Some(r)
                || s.as_f64().is_some_and(|f| {
                    f.fract() == 0.0 && (0.0..TWO_TO_64).contains(&f) && f as u64 == r
                });
            assert!(exact, "{at}: the client sent {s}, the server read {r}");
        }
        _ => {}
    }
}

/// What every body type must do: read only from a JSON object, and write back out.
fn reads<T: Serialize>(bytes: &[u8], read: fn(&[u8]) -> Result<T, String>) -> Option<Vec<u8>> {
    let sent = serde_json::from_slice::<Value>(bytes).ok();
    let v = read(bytes).ok()?;
    let sent = sent.expect("a body that reads is JSON");
    assert!(sent.is_object(), "only an object is a body: {sent}");
    let written = serde_json::to_vec(&v).expect("what was read writes back");
    let again: Value = serde_json::from_slice(&written).unwrap();
    same_numbers(&sent, &again, "body");
    Some(written)
}

/// A request type: what it writes back reads again to the same value.
fn body<T: DeserializeOwned + Serialize>(bytes: &[u8]) {
    let Some(written) = reads(bytes, json_body::<T>) else {
        return;
    };
    let again = json_body::<T>(&written).unwrap_or_else(|e| {
        panic!(
            "{} does not read back: {e}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(
        serde_json::to_vec(&again).unwrap(),
        written,
        "a second round trip changes it"
    );
}

fuzz_target!(|data: &[u8]| {
    body::<api::PutSecretRequest>(data);
    body::<api::CreateUploadRequest>(data);
    body::<api::CommitUploadRequest>(data);
    body::<api::CreateGroupRequest>(data);
    body::<api::CreateGrantRequest>(data);
    body::<api::ShareRequest>(data);
    body::<api::SetRestrictedRequest>(data);
    body::<api::AddUserRequest>(data);
    body::<api::SetRoleRequest>(data);
    body::<api::InviteRequest>(data);
    body::<api::AcceptInvitationRequest>(data);
    body::<api::CreateServiceAccountRequest>(data);
    body::<api::ResetRequest>(data);
    body::<api::RedeemResetRequest>(data);
    body::<api::CreateTokenRequest>(data);
    body::<api::CreateOperatorTokenRequest>(data);
    body::<api::CreateOrgRequest>(data);
    body::<api::RecoveryKitRequest>(data);
    body::<api::CreateLinkRequest>(data);
    body::<api::OpenLinkRequest>(data);
    body::<api::CreateSecretRequest>(data);
    body::<api::FulfilSecretRequest>(data);
    body::<api::CreateWebhookRequest>(data);
    body::<api::CreateScimTokenRequest>(data);
    body::<api::SetOrgKeysRequest>(data);
    body::<api::SetStorageRequest>(data);
    body::<api::ConnectJiraRequest>(data);
    body::<api::ForgeLinkRequest>(data);
    body::<api::SetSsoRequest>(data);
    body::<api::CliTokenRequest>(data);
    body::<api::SignInRequest>(data);
    body::<api::SetPasswordRequest>(data);
    // The Forge trigger's event body is any JSON object. (Not round-tripped: serde_json reads
    // long floats to the nearest few ulps, not exactly, and an event's floats are never used.)
    reads(data, json_body::<Value>);
});
