//! `coffer run --issue OPS-123 [--project] -- CMD ARGS…`: reveal the issue's active secrets and
//! run CMD with them as environment variables.
//!
//! Naming: the secret name upper-cased, every character outside `[A-Z0-9_]` replaced by `_`
//! (`db-password` → `DB_PASSWORD`). A `kv` secret exports each key prefixed with the secret's name
//! (`smtp` with key `user` → `SMTP_USER`), so a key like `user` cannot clobber the shell's `USER`.
//! View-limited secrets are skipped: running a command must not silently spend a one-time view.
//! `file` secrets are exported only when they are valid UTF-8; values containing NUL cannot be
//! environment variables and are skipped. Skips are explained on stderr, never silent.
//!
//! On Unix the CLI `exec`s the command: the child replaces this process, so its exit code and
//! signals are the caller's directly, and no plaintext copy outlives the `exec` in our memory.
//! Until then values live in [`Zeroizing`] buffers. With `--format … --out FILE` the same
//! variables go into a file instead, which [`run_file`](super::run_file) writes, and deletes
//! once the command exits.

use super::Ctx;
use super::secret_value as value;
use crate::cli::RunArgs;
use crate::error::{CliError, Result};
use coffer_api::{RevealedSecret, Secret, SecretKind, SecretList, SecretState};
use std::collections::{BTreeMap, HashMap};
use zeroize::{Zeroize as _, Zeroizing};

/// Environment variables to set: name → value bytes (and where each came from).
pub type Env = BTreeMap<String, (Zeroizing<Vec<u8>>, String)>;

/// Refuses a `coffer run` without a command before anything is revealed, pointing at `coffer
/// export` for writing the secrets somewhere without running anything.
pub fn check_command(args: &RunArgs) -> Result<()> {
    if !args.command.is_empty() {
        return Ok(());
    }
    let to_file = if args.format.is_some() {
        " (--format writes a file only for the command's lifetime)"
    } else {
        ""
    };
    Err(CliError::Usage(format!(
        "coffer run needs the command to run after `--`, e.g. `coffer run --issue {issue} -- \
         ./deploy.sh`{to_file}; to write the secrets to a file without running anything, use \
         `coffer export --issue {issue} --format dotenv > secrets.env`",
        issue = args.issue
    )))
}

/// Lists and reveals the secrets to export.
pub async fn collect(ctx: &Ctx, args: &RunArgs) -> Result<Env> {
    let Some((project, _)) = args.issue.rsplit_once('-') else {
        return Err(CliError::Usage(format!(
            "--issue expects an issue key like OPS-123, got {:?}",
            args.issue
        )));
    };
    // Project secrets first so that the issue's own secrets override them.
    let mut scopes = Vec::new();
    if args.project {
        scopes.push(("project", project));
    }
    scopes.push(("issue", args.issue.as_str()));

    let mut env = Env::new();
    for (filter, scope) in scopes {
        let query = [(filter, scope.to_owned())];
        let list: SecretList = ctx
            .client
            .get(&["orgs", &ctx.org, "secrets"], &query)
            .await?
            .parse()?;
        let secrets = list.secrets.into_iter().filter(|s| s.scope == scope);
        for secret in secrets {
            if let Some(why) = skip_reason(&secret) {
                eprintln!(
                    "coffer run: skipping {}/{}: {why}",
                    secret.scope, secret.name
                );
                continue;
            }
            let path = [
                "orgs",
                &ctx.org,
                "secrets",
                &secret.scope,
                &secret.name,
                "reveal",
            ];
            let mut revealed: RevealedSecret = ctx.client.post_empty(&path, &[]).await?.parse()?;
            let bytes = value::decode(&revealed.value);
            revealed.value.zeroize();
            add(&mut env, &secret, bytes?);
        }
    }
    if env.is_empty() {
        eprintln!("coffer run: no secrets to export for {}", args.issue);
    } else {
        let names: Vec<&str> = env.keys().map(String::as_str).collect();
        eprintln!("coffer run: exporting {}", names.join(", "));
    }
    Ok(env)
}

/// Why a secret is left out of `coffer run` and `coffer export`, if it is.
pub(super) fn skip_reason(s: &Secret) -> Option<String> {
    if let Some(limit) = s.view_limit {
        return Some(format!(
            "it has a view limit ({} of {limit} used); reveal it explicitly with `coffer secret get`",
            s.views
        ));
    }
    match (&s.unavailable, s.state) {
        (Some(why), _) => Some(format!("unavailable ({why})")),
        (None, SecretState::Deleted) => Some("deleted".to_owned()),
        (None, SecretState::Active) => None,
    }
}

/// Adds one revealed secret's variable(s) to `env`.
fn add(env: &mut Env, secret: &Secret, bytes: Zeroizing<Vec<u8>>) {
    let source = format!("{}/{}", secret.scope, secret.name);
    let mut insert = |name: String, value: Zeroizing<Vec<u8>>| {
        if name.is_empty() || value.contains(&0) {
            eprintln!("coffer run: skipping {source}: cannot be an environment variable");
            return;
        }
        if let Some((_, previous)) = env.insert(name.clone(), (value, source.clone())) {
            eprintln!("coffer run: {name} from {source} overrides the one from {previous}");
        }
    };
    match secret.kind {
        SecretKind::Password | SecretKind::Note => insert(env_name(&secret.name), bytes),
        SecretKind::File if std::str::from_utf8(&bytes).is_ok() => {
            insert(env_name(&secret.name), bytes)
        }
        SecretKind::File => {
            eprintln!(
                "coffer run: skipping {source}: a binary file cannot be an environment variable"
            );
        }
        SecretKind::Kv => match serde_json::from_slice::<HashMap<String, String>>(&bytes) {
            Ok(map) => {
                for (key, v) in map {
                    let v = Zeroizing::new(v.into_bytes());
                    insert(env_name(&format!("{}_{key}", secret.name)), v);
                }
            }
            Err(_) => eprintln!("coffer run: skipping {source}: not a JSON object of strings"),
        },
    }
}

/// `db-password` → `DB_PASSWORD`.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Runs the command with `env` added to the inherited environment; returns its exit code
/// (on Unix this only returns if the command could not be started).
pub fn exec(args: RunArgs, env: Env) -> Result<i32> {
    let (program, rest) = args
        .command
        .split_first()
        .expect("check_command requires a command");
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    for (name, (value, _)) in &env {
        cmd.env(name, os_str(value));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let err = cmd.exec();
        drop(env);
        eprintln!("error: cannot run {}: {err}", program.to_string_lossy());
        Ok(if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        })
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status();
        drop(env);
        match status {
            Ok(status) => Ok(status.code().unwrap_or(1)),
            Err(err) => {
                eprintln!("error: cannot run {}: {err}", program.to_string_lossy());
                Ok(127)
            }
        }
    }
}

#[cfg(unix)]
fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt as _;
    std::ffi::OsStr::from_bytes(bytes)
}

#[cfg(not(unix))]
fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    // `add` only keeps UTF-8 for file kinds; other kinds are text in practice.
    std::ffi::OsStr::new(std::str::from_utf8(bytes).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::env_name;

    #[test]
    fn env_names() {
        assert_eq!(env_name("db-password"), "DB_PASSWORD");
        assert_eq!(env_name("api.key_2"), "API_KEY_2");
        assert_eq!(env_name("clé"), "CL_");
    }
}
