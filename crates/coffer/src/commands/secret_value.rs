//! Moving secret values between the user and the wire without leaving copies behind: reading
//! them from stdin / a file / a no-echo prompt, base64 in both directions, and writing them to
//! stdout or a 0600 file. Every buffer holding plaintext is a [`Zeroizing`] one, and growing a
//! buffer copies into a fresh zeroizing one instead of letting `Vec` reallocate silently.

use crate::cli::KindArg;
use crate::cli::secret::PutArgs;
use crate::error::{CliError, Result};
use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::io::{IsTerminal as _, Read, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// Reads the value `coffer secret put` stores. `kind` is the kind that will be sent (`None` =
/// let the server keep the existing kind; treated like `password` for newline stripping).
pub fn read_for_put(args: &PutArgs, kind: Option<KindArg>) -> Result<Zeroizing<Vec<u8>>> {
    let password_like = matches!(kind, None | Some(KindArg::Password));
    let mut value = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            read_all(file).with_context(|| format!("cannot read {}", path.display()))?
        }
        None if std::io::stdin().is_terminal() && password_like => {
            let prompt = format!("Value for {}: ", args.target.display());
            let typed = Zeroizing::new(
                rpassword::prompt_password(prompt)
                    .context("cannot read the value from the terminal")?,
            );
            Zeroizing::new(typed.as_bytes().to_vec())
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "Reading the value of {} from stdin; end with Ctrl-D.",
                    args.target.display()
                );
            }
            read_all(std::io::stdin().lock()).context("cannot read the value from stdin")?
        }
    };
    if password_like {
        strip_one_newline(&mut value);
    }
    if value.is_empty() {
        return Err(CliError::Other(anyhow::anyhow!(
            "refusing to store an empty value for {}: pipe the value on stdin or pass --file",
            args.target.display()
        )));
    }
    if kind == Some(KindArg::Kv) {
        check_kv(&value)?;
    }
    Ok(value)
}

/// Removes one trailing `\n` (or `\r\n`).
pub fn strip_one_newline(value: &mut Zeroizing<Vec<u8>>) {
    if value.last() == Some(&b'\n') {
        value.pop();
        if value.last() == Some(&b'\r') {
            value.pop();
        }
    }
}

/// Checks that a `kv` value is a JSON object whose values are all strings.
fn check_kv(value: &[u8]) -> Result<()> {
    let ok = matches!(
        serde_json::from_slice::<serde_json::Value>(value),
        Ok(serde_json::Value::Object(map)) if map.values().all(|v| v.is_string())
    );
    if ok {
        Ok(())
    } else {
        Err(CliError::Other(anyhow::anyhow!(
            "a kv value must be a JSON object of strings, e.g. {{\"user\": \"app\", \"pass\": \"…\"}}"
        )))
    }
}

/// Reads everything from `reader` into a zeroizing buffer.
pub fn read_all(mut reader: impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = match reader.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity((buf.len() + n) * 2));
            bigger.extend_from_slice(&buf);
            buf = bigger; // the old buffer is wiped as it drops
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Standard padded base64 of a value, in a zeroizing string.
pub fn encode(value: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len().div_ceil(3) * 4));
    STANDARD.encode_string(value, &mut out);
    out
}

/// Decodes a base64 value from the wire into a zeroizing buffer.
pub fn decode(b64: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(b64.len() / 4 * 3 + 3));
    STANDARD
        .decode_vec(b64, &mut out)
        .context("the server sent a value that is not valid base64")?;
    Ok(out)
}

/// Writes a value to stdout exactly; adds a newline only when stdout is a terminal and the value
/// does not end with one (so the shell prompt does not glue onto it).
pub fn write_stdout(value: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(value)?;
    if out.is_terminal() && value.last() != Some(&b'\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes a value to `path`, readable by the owner only (0600), replacing any previous content.
pub fn write_file(path: &Path, value: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // An existing file keeps its old mode through `open`: tighten it before writing.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("cannot restrict {} to mode 0600", path.display()))?;
    write_and_sync(file, path, value)
}

fn write_and_sync(mut file: std::fs::File, path: &Path, value: &[u8]) -> Result<()> {
    file.write_all(value)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_newline() {
        let mut v = Zeroizing::new(b"pw\n\n".to_vec());
        strip_one_newline(&mut v);
        assert_eq!(&v[..], b"pw\n");
        let mut v = Zeroizing::new(b"pw\r\n".to_vec());
        strip_one_newline(&mut v);
        assert_eq!(&v[..], b"pw");
    }

    #[test]
    fn read_all_handles_growth() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        assert_eq!(&read_all(&data[..]).unwrap()[..], &data[..]);
    }

    #[test]
    fn base64_roundtrip() {
        let v = [0u8, 255, 10, 13, 1];
        assert_eq!(&decode(&encode(&v)).unwrap()[..], &v[..]);
    }

    #[test]
    fn kv_must_be_object_of_strings() {
        assert!(check_kv(br#"{"a":"b"}"#).is_ok());
        assert!(check_kv(br#"{"a":1}"#).is_err());
        assert!(check_kv(b"[1]").is_err());
    }
}
