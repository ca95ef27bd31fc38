//! `coffer org recovery-kit` and `coffer recover` (docs/operations.md "Recovery from the bucket
//! alone").
//!
//! The kit: the owner re-authenticates with their current password, the server answers with the
//! org's id, storage and every org-key version (`POST /api/v1/orgs/{org}/recovery-kit`), and this
//! command encrypts that answer with age as it writes it, to a new 0600 file — the body stays in a
//! buffer that is wiped on drop and no plaintext byte of it reaches a disk.
//!
//! Recovery needs no server: it decrypts the kit, and then either opens one envelope — taking the
//! org and the org-key version from the envelope's header, checking the org is the kit's, and
//! opening it with the binding the header claims — or rebuilds every secret of the org from its
//! store (`super::recover_store`). With one envelope there is no catalog and no manifest to
//! compare that binding with, so a successful open proves only that the envelope is the kit org's
//! and was sealed for the secret id, version and key version its header names. A BYOK kit's org
//! keys are unwrapped with KMS `Decrypt` under the caller's own AWS credentials.

use super::Ctx;
use super::backup::{NewFile, age_encryptor};
use super::password;
use super::recover_store::{KitKeys, MAX_OBJECT};
use crate::cli::{RecoverArgs, RecoveryKitArgs};
use crate::error::{CliError, Result};
use anyhow::{Context as _, anyhow};
use coffer_api::{
    KeyProviderKind, RECOVERY_KIT_FORMAT, RECOVERY_KIT_VERSION, RecoveryKit, RecoveryKitRequest,
};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::path::Path;
use zeroize::Zeroizing;

/// `coffer org recovery-kit`.
pub async fn make_kit(ctx: &Ctx, args: RecoveryKitArgs) -> Result<i32> {
    let slug = args.slug.clone().unwrap_or_else(|| ctx.org.clone());
    // The kit's key first, then the password: a wrong recipient costs no audited kit.
    let (encryptor, encrypted_to) = age_encryptor(
        &args.recipients,
        args.passphrase_file.as_deref(),
        "the recovery kit",
    )?;
    let mut out = NewFile::create(&args.out)?;
    let current = password::read_current()?;
    let req = RecoveryKitRequest {
        current_password: Some(current.to_string()),
    };
    drop(current);
    let body = ctx
        .client
        .post(&["orgs", &slug, "recovery-kit"], &req)
        .await?;
    drop(req);
    let kit: RecoveryKit = body.parse()?;
    if kit.format != RECOVERY_KIT_FORMAT || kit.version != RECOVERY_KIT_VERSION {
        return Err(anyhow!(
            "the server answered a kit of format {} version {}, which this coffer does not know; nothing was written",
            kit.format,
            kit.version
        )
        .into());
    }
    let shown = args.out.display().to_string();
    let mut writer = encryptor
        .wrap_output(BufWriter::new(out.take_file()))
        .with_context(|| format!("writing {shown}"))?;
    writer
        .write_all(body.bytes())
        .with_context(|| format!("writing {shown}"))?;
    writer
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {shown}"))?;
    out.keep();
    let versions: Vec<String> = kit.org_keys.iter().map(|k| k.version.to_string()).collect();
    println!(
        "wrote the recovery kit of org `{}` ({}) to {shown}, encrypted {encrypted_to}",
        kit.slug, kit.org_id
    );
    println!(
        "org-key versions: {}; root key: {}; storage: {}",
        versions.join(", "),
        crate::output::wire_name(&kit.root_key),
        match &kit.storage.bucket {
            Some(b) => format!("bucket {b}"),
            None => "the deployment's default store".into(),
        }
    );
    if kit.root_key == KeyProviderKind::Local {
        println!(
            "this kit opens every secret of the org without Coffer: keep it, and its key, like the master key"
        );
    } else {
        println!(
            "this org's keys are wrapped by its own KMS keys: recovering with this kit also needs them"
        );
    }
    Ok(0)
}

/// `coffer recover` (no server, no token): one object, or the org's whole store.
pub fn recover(args: RecoverArgs) -> Result<i32> {
    let kit = open_kit(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    runtime.block_on(async {
        match &args.object {
            Some(object) => open_object(&kit, &args, object).await,
            None => super::recover_store::rebuild(&kit, &args).await,
        }
    })
}

/// `coffer recover --object`.
async fn open_object(kit: &RecoveryKit, args: &RecoverArgs, path: &Path) -> Result<i32> {
    let object = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open {object}"))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_OBJECT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {object}"))?;
    if bytes.len() as u64 > MAX_OBJECT {
        return Err(anyhow!("{object} is over {MAX_OBJECT} bytes: not a Coffer envelope").into());
    }
    let envelope = coffer_envelope::parse(&bytes, bytes.len())
        .map_err(|e| anyhow!("{object} is not a Coffer envelope: {e}"))?;
    let binding = envelope.binding;
    if coffer_server::manifest::is_manifest_binding(&binding) {
        return Err(anyhow!(
            "{object} is a version's manifest (its name and scope, `….cfm`), not a value: open the envelope beside it (`….cfr`), or rebuild the org with --bucket or --dir to use the names"
        )
        .into());
    }
    let org = uuid::Uuid::from_bytes(binding.org);
    if org != kit.org_id {
        return Err(anyhow!(
            "{object} belongs to org {org}, not to the kit's org `{}` ({}): use that org's recovery kit",
            kit.slug,
            kit.org_id
        )
        .into());
    }
    let mut keys = KitKeys::new(kit, args.kms_endpoint.clone());
    let key = keys
        .get(binding.key_version)
        .await
        .map_err(|e| anyhow!("{object}: {e}"))?;
    let plaintext = coffer_envelope::open(key, &binding, &bytes, bytes.len()).map_err(|e| {
        anyhow!(
            "{object} does not open with the kit's org key version {}: {e} (altered, or not sealed by this org)",
            binding.key_version
        )
    })?;
    let secret = uuid::Uuid::from_bytes(binding.secret);
    match &args.out {
        Some(path) => {
            let mut out = NewFile::create(path)?;
            let mut file = out.take_file();
            file.write_all(plaintext.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            out.keep();
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(plaintext.as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing the value to stdout")?;
        }
    }
    eprintln!(
        "opened secret {secret} version {} (org key version {}) of org `{}`: {} bytes",
        binding.version,
        binding.key_version,
        kit.slug,
        plaintext.len()
    );
    Ok(0)
}

/// Decrypts and parses the kit of `args`.
fn open_kit(args: &RecoverArgs) -> Result<RecoveryKit> {
    let shown = args.kit.display().to_string();
    let file = File::open(&args.kit).with_context(|| format!("cannot open {shown}"))?;
    let decryptor =
        age::Decryptor::new(BufReader::new(file)).map_err(|e| kit_error(&shown, e, false))?;
    let mut reader = super::backup::decrypt_with(
        decryptor,
        &shown,
        "the recovery kit",
        args.identity.as_deref(),
        args.passphrase_file.as_deref(),
        kit_error,
    )?;
    let mut json = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut json)
        .map_err(|e| anyhow!("{shown} is damaged or was altered: {e}"))?;
    let kit: RecoveryKit = serde_json::from_slice(&json)
        .map_err(|e| anyhow!("{shown} is not a Coffer recovery kit: {e}"))?;
    if kit.format != RECOVERY_KIT_FORMAT {
        return Err(anyhow!(
            "{shown} is not a Coffer recovery kit (format {:?})",
            kit.format
        )
        .into());
    }
    if kit.version != RECOVERY_KIT_VERSION {
        return Err(anyhow!(
            "{shown} is a recovery kit of version {}, which this coffer does not read (it reads version {RECOVERY_KIT_VERSION})",
            kit.version
        )
        .into());
    }
    Ok(kit)
}

fn kit_error(file: &str, e: age::DecryptError, passphrase: bool) -> CliError {
    use age::DecryptError as D;
    let message = match e {
        D::DecryptionFailed | D::KeyDecryptionFailed if passphrase => {
            "wrong passphrase: it does not open this kit".to_owned()
        }
        D::NoMatchingKeys => {
            "no key in the identity file opens this kit (it was encrypted to other recipients)"
                .to_owned()
        }
        D::InvalidMac => {
            "the kit's header was altered, or the key is not the one it was encrypted with"
                .to_owned()
        }
        D::UnknownFormat | D::InvalidHeader => {
            "it is not an age-encrypted recovery kit (or its header is damaged)".to_owned()
        }
        other => other.to_string(),
    };
    CliError::Other(anyhow!("{file}: {message}"))
}
