//! The token of `coffer login`, kept on this machine between commands: one record (server, org,
//! person, token, its id and expiry) in `credentials.json` in the config directory —
//! `$COFFER_CONFIG_DIR`, else `$XDG_CONFIG_HOME/coffer`, else `~/.config/coffer`.
//!
//! The file is readable by its owner only from the moment it exists: it is written to a fresh
//! file created with mode 0600 (`create_new`, so never an existing file with a wider mode),
//! synced, and renamed over the old one; the directory is created with mode 0700. The token is
//! never printed, and never in an error message (parse errors name only the line and column).

use crate::client::ApiToken;
use crate::error::{CliError, Result};
use anyhow::Context as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The file name in the config directory.
pub const FILE_NAME: &str = "credentials.json";

/// A token value in memory that is wiped on drop and never shown by `Debug`.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of a token value.
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(|s| Secret(Zeroizing::new(s)))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A stored login.
#[derive(Debug, Serialize, Deserialize)]
pub struct Login {
    /// The server (`--addr` at login).
    pub addr: String,
    /// The org the token acts in.
    pub org: String,
    /// Whose token it is.
    pub user: String,
    /// The token.
    pub token: Secret,
    /// Its id (to revoke it).
    pub token_id: Uuid,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Login {
    /// The token, for a [`crate::client::Client`].
    pub fn api_token(&self) -> Result<ApiToken> {
        self.token
            .0
            .parse()
            .map_err(|e: String| CliError::Other(anyhow::anyhow!("the stored login: {e}")))
    }

    /// Whether the token has expired.
    pub fn expired(&self) -> bool {
        self.expires_at <= OffsetDateTime::now_utc()
    }

    /// Whether the login is for the server at `addr` (compared as URLs, so a trailing slash or
    /// the case of the host do not matter).
    pub fn is_for(&self, addr: &str) -> bool {
        let norm = |a: &str| {
            reqwest::Url::parse(a)
                .map(|u| u.to_string().trim_end_matches('/').to_owned())
                .unwrap_or_else(|_| a.trim_end_matches('/').to_owned())
        };
        norm(&self.addr) == norm(addr)
    }

    /// The record without the token, as pretty JSON for `--json`.
    pub fn public_json(&self) -> String {
        #[derive(Serialize)]
        struct Public<'a> {
            addr: &'a str,
            org: &'a str,
            user: &'a str,
            token_id: Uuid,
            #[serde(with = "time::serde::rfc3339")]
            expires_at: OffsetDateTime,
        }
        serde_json::to_string_pretty(&Public {
            addr: &self.addr,
            org: &self.org,
            user: &self.user,
            token_id: self.token_id,
            expires_at: self.expires_at,
        })
        .unwrap_or_default()
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The config directory, if one can be named (`None`: no COFFER_CONFIG_DIR, XDG_CONFIG_HOME
/// nor HOME).
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = env_path("COFFER_CONFIG_DIR") {
        return Some(d);
    }
    // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
    if let Some(x) = env_path("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
        return Some(x.join("coffer"));
    }
    if let Some(home) = env_path("HOME") {
        return Some(home.join(".config").join("coffer"));
    }
    #[cfg(windows)]
    if let Some(appdata) = env_path("APPDATA") {
        return Some(appdata.join("coffer"));
    }
    None
}

/// The credentials file, or why there is none.
pub fn path() -> Result<PathBuf> {
    dir().map(|d| d.join(FILE_NAME)).ok_or_else(|| {
        CliError::Usage(
            "cannot tell where to keep the login: set COFFER_CONFIG_DIR (or HOME)".to_owned(),
        )
    })
}

/// Reads the stored login, if there is one.
pub fn load() -> Result<Option<Login>> {
    let Some(dir) = dir() else {
        return Ok(None);
    };
    load_from(&dir.join(FILE_NAME))
}

fn load_from(path: &Path) -> Result<Option<Login>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::Other(
                anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            ));
        }
    };
    // serde's messages can quote the input: name only where it went wrong.
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        CliError::Other(anyhow::anyhow!(
            "{} is not a `coffer login` record (line {}, column {}): remove it or run `coffer logout`",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

/// Stores `login`, replacing any previous one; returns the file's path.
pub fn save(login: &Login) -> Result<PathBuf> {
    let path = path()?;
    let dir = path
        .parent()
        .expect("the file is in a directory")
        .to_owned();
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;

    let json = Zeroizing::new(serde_json::to_vec_pretty(login).context("encoding the login")?);
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", Uuid::new_v4().simple()));
    let written = write_new(&tmp, &json).and_then(|()| {
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    // Make the rename itself durable (best effort: not every platform can sync a directory).
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(path)
}

/// Writes `bytes` to the new file `path`, created with mode 0600, and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Removes the stored login; `false` if there was none.
pub fn remove() -> Result<bool> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CliError::Other(
            anyhow::Error::new(e).context(format!("cannot remove {}", path.display())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(addr: &str) -> Login {
        Login {
            addr: addr.to_owned(),
            org: "acme".into(),
            user: "alice".into(),
            token: Secret(Zeroizing::new("coffer_secret_value".into())),
            token_id: Uuid::nil(),
            expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    #[test]
    fn addr_comparison_ignores_trailing_slash_and_case() {
        let l = sample("http://127.0.0.1:8420");
        assert!(l.is_for("http://127.0.0.1:8420/"));
        assert!(sample("https://Coffer.Example.com/").is_for("https://coffer.example.com"));
        assert!(!l.is_for("http://127.0.0.1:8421"));
        assert!(!l.is_for("https://127.0.0.1:8420"));
    }

    #[test]
    fn public_json_and_debug_leave_the_token_out() {
        let l = sample("http://x");
        let json = l.public_json();
        assert!(
            json.starts_with("{\n  \"addr\": \"http://x\",\n  \"org\""),
            "{json}"
        );
        assert!(!json.contains("coffer_secret_value"));
        assert!(!format!("{l:?}").contains("coffer_secret_value"));
        assert!(!l.expired());
    }

    #[test]
    fn a_broken_file_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, r#"{"token": 12, "x": "coffer_secret_value""#).unwrap();
        let e = load_from(&p).unwrap_err().to_string();
        assert!(e.contains("not a `coffer login` record"), "{e}");
        assert!(!e.contains("coffer_secret_value"), "{e}");
        assert!(load_from(&dir.path().join("absent")).unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_created_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_new(&p, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            write_new(&p, b"y").is_err(),
            "never reuses an existing file"
        );
    }
}
