//! `coffer backup` and `coffer restore` (docs/operations.md).
//!
//! Backup: the operator's `POST /api/v1/admin/backup` answers with a tar archive that holds the
//! deployment's master key, catalog and envelopes. This command encrypts it with age as the
//! chunks arrive and writes only ciphertext, to a new file of mode 0600, so no plaintext byte of
//! it reaches a disk; a transfer that fails or is interrupted removes the file. Restore is
//! offline: it decrypts the file and hands the plaintext stream to the server library
//! (`coffer_server::backup::restore`), which unpacks, verifies and moves it into the data
//! directory, and removes everything it wrote on any failure. Passphrases are read from a
//! terminal without echo, a file, or stdin — never argv — and are never printed.

use super::Ctx;
use crate::cli::{BackupArgs, RestoreArgs};
use crate::error::{CliError, Result};
use age::secrecy::SecretString;
use anyhow::{Context as _, anyhow};
use coffer_server::backup::restore::{Restore, RestoreSummary};
use coffer_server::backup::{Manifest, manifest_from_prefix};
use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, IsTerminal as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long the server may send nothing before the transfer is given up.
const IDLE: Duration = Duration::from_secs(120);
/// The response header with the archive's expected length.
const SIZE_HEADER: &str = "x-coffer-backup-size";

/// `coffer backup`.
pub async fn backup(ctx: &Ctx, args: BackupArgs) -> Result<i32> {
    // The key first: a wrong recipient or a mistyped passphrase costs no snapshot.
    let (encryptor, encrypted_to) = encryptor(&args)?;
    let mut out = NewFile::create(&args.out)?;
    let mut resp = ctx.client.post_for_stream(&["admin", "backup"]).await?;
    let expected = resp
        .headers()
        .get(SIZE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bar = indicatif::ProgressBar::new(expected).with_style(
        indicatif::ProgressStyle::with_template(
            "backing up {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("static template"),
    );
    let file = out.take_file();
    let mut writer = encryptor
        .wrap_output(BufWriter::new(file))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let mut prefix = Zeroizing::new(Vec::new());
    let mut manifest: Option<Manifest> = None;
    let mut written = 0u64;
    loop {
        let chunk = tokio::time::timeout(IDLE, resp.chunk())
            .await
            .map_err(|_| {
                anyhow!(
                    "the server sent nothing for {} s; the backup was given up and {} removed",
                    IDLE.as_secs(),
                    args.out.display()
                )
            })?
            .map_err(|e| {
                anyhow!(
                    "the backup transfer broke off ({}); {} was removed — the server's log says why",
                    ctx.client.stream_error(e),
                    args.out.display()
                )
            })?;
        let Some(chunk) = chunk else { break };
        if manifest.is_none() {
            prefix.extend_from_slice(&chunk);
            manifest = manifest_from_prefix(&prefix)
                .map_err(|e| anyhow!("the server's answer is not a Coffer backup: {e}"))?;
            if manifest.is_some() {
                prefix.clear();
            }
        }
        writer
            .write_all(&chunk)
            .with_context(|| format!("writing {}", args.out.display()))?;
        written += chunk.len() as u64;
        if written > bar.length().unwrap_or(0) {
            bar.set_length(written);
        }
        bar.set_position(written);
    }
    let Some(manifest) = manifest else {
        return Err(anyhow!("the server's answer is not a Coffer backup: it is empty").into());
    };
    writer
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", args.out.display()))?;
    out.keep();
    bar.finish_and_clear();
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&manifest).context("encoding the manifest")?
        );
        return Ok(0);
    }
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({size} bytes), encrypted {encrypted_to}",
        args.out.display()
    );
    let slugs: Vec<&str> = manifest.orgs.iter().map(|o| o.slug.as_str()).collect();
    println!(
        "orgs: {} ({}), secrets: {}, versions: {}, envelopes: {}",
        manifest.orgs.len(),
        slugs.join(", "),
        manifest.secrets,
        manifest.versions,
        manifest.blobs
    );
    for org in manifest.orgs.iter().filter(|o| o.versions_in_buckets > 0) {
        println!(
            "note: org `{}` keeps {} version(s) in its own bucket ({}), which this archive does not hold: that bucket must be backed up by its owners (S3 versioning or replication; docs/operations.md)",
            org.slug,
            org.versions_in_buckets,
            org.buckets.join(", ")
        );
    }
    for org in manifest.orgs.iter().filter(|o| o.root_key != "local") {
        println!(
            "note: org `{}` has keys wrapped only by its own KMS keys: its secrets open after a restore only while those keys are usable (docs/byok.md)",
            org.slug
        );
    }
    println!(
        "keep the {} apart from the archive: with it, the archive opens every secret of the deployment's local orgs",
        if args.recipients.is_empty() {
            "passphrase"
        } else {
            "age identity"
        }
    );
    Ok(0)
}

/// The age encryptor of `args`, and how to say what it encrypts to.
fn encryptor(args: &BackupArgs) -> Result<(age::Encryptor, String)> {
    age_encryptor(
        &args.recipients,
        args.passphrase_file.as_deref(),
        "the backup",
    )
}

/// An age encryptor to `recipients`, else with the passphrase of `passphrase_file`, else with one
/// asked for (`what`: what it protects, for the prompt); and how to say what it encrypts to.
pub(super) fn age_encryptor(
    recipients: &[String],
    passphrase_file: Option<&Path>,
    what: &str,
) -> Result<(age::Encryptor, String)> {
    if recipients.is_empty() {
        let passphrase = match passphrase_file {
            Some(file) => passphrase_from_file(file)?,
            None => new_passphrase(what)?,
        };
        return Ok((
            age::Encryptor::with_user_passphrase(passphrase),
            "with a passphrase".into(),
        ));
    }
    let mut parsed: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    for r in recipients {
        parsed.push(parse_recipient(r)?);
    }
    let encryptor = age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as _))
        .map_err(|e| CliError::Usage(format!("--recipient: {e}")))?;
    let n = parsed.len();
    let to = format!("to {n} age recipient{}", if n == 1 { "" } else { "s" });
    Ok((encryptor, to))
}

fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>> {
    if let Ok(r) = s.parse::<age::pq::Recipient>() {
        return Ok(Box::new(r));
    }
    // Classic X25519 recipients are what `age-keygen` printed until age 1.3, so operators have
    // them; age 0.13 deprecates them in favour of post-quantum ones, which docs/operations.md
    // recommends for new keys.
    #[allow(deprecated)]
    if let Ok(r) = s.parse::<age::x25519::Recipient>() {
        return Ok(Box::new(r));
    }
    Err(CliError::Usage(format!(
        "--recipient {s:?} is not an age recipient: expected `age1…` (X25519) or `age1pq1…`, as `age-keygen` prints"
    )))
}

/// A new passphrase for `what`: asked twice on a terminal, else the first line of stdin.
fn new_passphrase(what: &str) -> Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let first = prompt(&format!("Passphrase for {what}: "))?;
        let again = prompt("Repeat it: ")?;
        if *first != *again {
            return Err(anyhow!(
                "the two passphrases differ; nothing was written, run the command again"
            )
            .into());
        }
        return checked(first);
    }
    checked(stdin_line()?)
}

/// The passphrase of `what`: asked once on a terminal, else the first line of stdin.
pub(super) fn passphrase(what: &str) -> Result<SecretString> {
    if std::io::stdin().is_terminal() {
        return checked(prompt(&format!("Passphrase of {what}: "))?);
    }
    checked(stdin_line()?)
}

fn prompt(text: &str) -> Result<Zeroizing<String>> {
    Ok(Zeroizing::new(
        rpassword::prompt_password(text).context("cannot read the passphrase from the terminal")?,
    ))
}

fn stdin_line() -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the passphrase from stdin")?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// The first line of `file`.
pub(super) fn passphrase_from_file(file: &Path) -> Result<SecretString> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the passphrase file {}", file.display()))?,
    );
    let line = text.lines().next().unwrap_or("");
    checked(Zeroizing::new(line.to_owned()))
}

fn checked(passphrase: Zeroizing<String>) -> Result<SecretString> {
    if passphrase.is_empty() {
        return Err(CliError::Usage(
            "the passphrase is empty: type one, or put it on the first line of --passphrase-file"
                .into(),
        ));
    }
    Ok(SecretString::from(passphrase.to_string()))
}

/// The file being written: removed unless [`NewFile::keep`] is called.
pub(super) struct NewFile {
    path: PathBuf,
    file: Option<File>,
    keep: bool,
}

impl NewFile {
    /// Creates `path` with mode 0600; refuses an existing file.
    pub(super) fn create(path: &Path) -> Result<NewFile> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => CliError::Usage(format!(
                    "{} exists: coffer never overwrites a file; choose another --out",
                    path.display()
                )),
                _ => CliError::Other(anyhow!("cannot create {}: {e}", path.display())),
            })?;
        Ok(NewFile {
            path: path.to_path_buf(),
            file: Some(file),
            keep: false,
        })
    }

    pub(super) fn take_file(&mut self) -> File {
        self.file.take().expect("taken once")
    }

    pub(super) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.keep {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Opens the age file `shown` that `decryptor` reads: with a passphrase (prompted for `what`,
/// or from `passphrase_file`) or with the identities in `identity`, whichever it was encrypted
/// for; `error` words a decryption failure (its flag: a passphrase was used).
pub(super) fn decrypt_with<R: std::io::Read>(
    decryptor: age::Decryptor<R>,
    shown: &str,
    what: &str,
    identity: Option<&std::path::Path>,
    passphrase_file: Option<&std::path::Path>,
    error: fn(&str, age::DecryptError, bool) -> CliError,
) -> Result<age::stream::StreamReader<R>> {
    if decryptor.is_scrypt() {
        if identity.is_some() {
            return Err(CliError::Usage(format!(
                "{shown} is encrypted with a passphrase, not to an age recipient: use --passphrase or --passphrase-file"
            )));
        }
        let passphrase = match passphrase_file {
            Some(f) => passphrase_from_file(f)?,
            None => passphrase(what)?,
        };
        let identity = age::scrypt::Identity::new(passphrase);
        return decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| error(shown, e, true));
    }
    let Some(identity_file) = identity else {
        return Err(CliError::Usage(format!(
            "{shown} is encrypted to age recipients, not with a passphrase: use --identity FILE"
        )));
    };
    let identities = age::IdentityFile::from_file(identity_file.display().to_string())
        .with_context(|| format!("cannot read the identity file {}", identity_file.display()))?
        .into_identities()
        .map_err(|e| anyhow!("the identity file {}: {e}", identity_file.display()))?;
    decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| error(shown, e, false))
}

/// `coffer restore` (offline: no server, no token).
pub fn restore(args: RestoreArgs) -> Result<i32> {
    let from = &args.from;
    let shown = from.display().to_string();
    // The target first: a non-empty directory is refused before any passphrase is asked.
    let restore = Restore::begin(&args.data_dir).map_err(|e| CliError::Other(e.into()))?;
    let file = File::open(from).with_context(|| format!("cannot open {shown}"))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template("restoring {bar:40} {bytes}/{total_bytes}")
            .expect("static template"),
    );
    let decryptor = age::Decryptor::new(bar.wrap_read(BufReader::new(file)))
        .map_err(|e| decrypt_error(&shown, e, false))?;
    let plaintext = decrypt_with(
        decryptor,
        &shown,
        "the backup",
        args.identity.as_deref(),
        args.passphrase_file.as_deref(),
        decrypt_error,
    )?;
    let failed = |e: coffer_server::backup::restore::RestoreError| {
        CliError::Other(anyhow!(
            "{e}; nothing was left in {}",
            args.data_dir.display()
        ))
    };
    let manifest = restore.unpack(plaintext).map_err(failed)?;
    bar.finish_and_clear();
    match (manifest.master_key, &args.master_key) {
        (false, Some(file)) => restore.supply_master_key(file).map_err(failed)?,
        (false, None) => {
            return Err(CliError::Other(anyhow!(
                "this archive does not carry the master key (the server's \
                 keys.master_key_in_backups is off): give --master-key FILE, a copy of the \
                 server's master key file; nothing was left in {}",
                args.data_dir.display()
            )));
        }
        (true, Some(_)) => {
            return Err(CliError::Other(anyhow!(
                "this archive carries its master key: leave out --master-key; nothing was left \
                 in {}",
                args.data_dir.display()
            )));
        }
        (true, None) => {}
    }
    eprintln!(
        "unpacked a backup of {} org(s) taken at {} by coffer {}; verifying…",
        manifest.orgs.len(),
        manifest.created_at,
        manifest.coffer_version
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let summary = runtime
        .block_on(restore.verify(&manifest))
        .map_err(failed)?;
    restore
        .commit()
        .map_err(|e| anyhow!("{e}; remove {} and restore again", args.data_dir.display()))?;
    print_summary(&args.data_dir, &summary);
    Ok(0)
}

fn decrypt_error(file: &str, e: age::DecryptError, passphrase: bool) -> CliError {
    use age::DecryptError as D;
    let message = match e {
        D::DecryptionFailed | D::KeyDecryptionFailed if passphrase => {
            "wrong passphrase: it does not open this backup".to_owned()
        }
        D::NoMatchingKeys => {
            "no key in the identity file opens this backup (it was encrypted to other recipients)"
                .to_owned()
        }
        D::InvalidMac => {
            "the backup's header was altered, or the key is not the one it was encrypted with"
                .to_owned()
        }
        D::UnknownFormat | D::InvalidHeader => {
            "it is not an age-encrypted Coffer backup (or its header is damaged)".to_owned()
        }
        other => other.to_string(),
    };
    CliError::Other(anyhow!("cannot decrypt {file}: {message}"))
}

fn print_summary(dir: &Path, s: &RestoreSummary) {
    println!(
        "restored into {}: orgs: {}, secrets: {}, versions: {}, envelopes: {}",
        dir.display(),
        s.orgs,
        s.secrets,
        s.versions,
        s.blobs
    );
    println!(
        "verified: {} audit events and {} signed checkpoints; every envelope's header matches its version",
        s.audit_events, s.checkpoints
    );
    for (org, buckets, versions) in &s.bucket_orgs {
        println!(
            "note: org `{org}` keeps {versions} version(s) in its own bucket ({}): not in the backup and not checked; the restored server reads them there",
            buckets.join(", ")
        );
    }
    for org in &s.kms_orgs {
        println!(
            "note: org `{org}` has keys wrapped only by its own KMS keys: its secrets open once the restored server reaches them (docs/byok.md)"
        );
    }
    for org in &s.unchecked_checkpoints {
        println!(
            "note: org `{org}`'s signed checkpoints need its KMS keys: run `coffer audit verify --org {org}` on the restored server"
        );
    }
    println!(
        "start it with: coffer serve --data-dir {} (the tokens in use at the backup still work)",
        dir.display()
    );
}
