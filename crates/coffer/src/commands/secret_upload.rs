//! `coffer secret put --client-side`: the value never leaves this process unencrypted. The
//! server grants a one-time data key (with its wrapped form and the version's binding); the
//! envelope is sealed here with `coffer-envelope`, the data key is wiped, the envelope is `PUT`
//! where the grant says (straight to the org's bucket when presigned), and the commit sends the
//! envelope's SHA-256 so the server can refuse anything that is not exactly what was sealed.

use super::Ctx;
use crate::error::{CliError, Result};
use base64::Engine;
use coffer_api::{CommitUploadRequest, CreateUploadRequest, Secret, SecretKind, UploadGrant};
use coffer_envelope::{Binding, Key32, WrappedDataKey, seal_with_data_key};
use zeroize::{Zeroize as _, Zeroizing};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The new version's settings.
pub struct ClientSidePut {
    /// Kind.
    pub kind: Option<SecretKind>,
    /// Check-and-set.
    pub expect_version: Option<u32>,
    /// Expiry.
    pub expires_at: Option<time::OffsetDateTime>,
    /// View limit.
    pub view_limit: Option<u32>,
    /// Create the secret restricted to its shares.
    pub restricted: Option<bool>,
}

fn bad_grant(what: &str) -> CliError {
    CliError::Other(anyhow::anyhow!(
        "the server's upload grant has an unusable {what} (version mismatch?)"
    ))
}

/// Seals `plaintext` with the granted data key; wipes the key material it decoded.
fn seal(grant: &UploadGrant, plaintext: &[u8]) -> Result<Vec<u8>> {
    let raw = Zeroizing::new(
        B64.decode(grant.data_key.as_bytes())
            .map_err(|_| bad_grant("data key"))?,
    );
    let data_key = Key32::try_from_slice(&raw).map_err(|_| bad_grant("data key"))?;
    let wrapped = B64
        .decode(grant.wrapped_key.as_bytes())
        .ok()
        .and_then(|w| WrappedDataKey::from_slice(&w).ok())
        .ok_or_else(|| bad_grant("wrapped key"))?;
    let binding = Binding {
        org: *grant.org_id.as_bytes(),
        secret: *grant.secret_id.as_bytes(),
        version: grant.version,
        key_version: grant.key_version,
    };
    seal_with_data_key(&data_key, &wrapped, &binding, plaintext)
        .map_err(|e| CliError::Other(anyhow::anyhow!("sealing the value failed: {e}")))
}

/// Requests a grant at `uploads` (the secret's `…/uploads` path), seals, uploads and commits.
pub async fn put(
    ctx: &Ctx,
    uploads: &[&str],
    put: ClientSidePut,
    plaintext: Zeroizing<Vec<u8>>,
) -> Result<Secret> {
    let req = CreateUploadRequest {
        kind: put.kind,
        expect_version: put.expect_version,
        expires_at: put.expires_at,
        view_limit: put.view_limit,
        size: plaintext.len() as u64,
        restricted: put.restricted,
    };
    let mut grant: UploadGrant = ctx.client.post(uploads, &req).await?.parse()?;
    let sealed = seal(&grant, &plaintext);
    grant.data_key.zeroize();
    drop(plaintext);
    let envelope = sealed?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &envelope);
    let sha256: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    ctx.client
        .put_envelope(&grant.put_url, grant.presigned, envelope)
        .await?;
    let id = grant.id.to_string();
    let commit = ["orgs", ctx.org.as_str(), "uploads", id.as_str(), "commit"];
    let body = ctx
        .client
        .post(&commit, &CommitUploadRequest { sha256 })
        .await?;
    if ctx.json {
        body.print_json()?;
    }
    body.parse()
}
