//! `coffer export --issue OPS-123 --format dotenv|json [--force]`: list the issue's secrets,
//! reveal each (every reveal is audited by the server as usual) and write them to stdout.
//!
//! Keys are the names of `coffer run` ([`env_name`](super::run::env_name)): upper-cased, every
//! character outside `[A-Z0-9_]` turned into `_` (`db-password` → `DB_PASSWORD`), so an import of
//! the output gives the same names back. `file` secrets are skipped (binary data has no place in
//! a .env file), as are view-limited, expired and deleted ones (an export must not spend a
//! one-time view); each skip is a note on stderr. Nothing is written to a terminal without
//! `--force`, and nothing at all unless every reveal succeeded. [`render`] is the one writer of
//! both formats; `coffer run --format` writes its file with it too.

use super::Ctx;
use super::run::{env_name, skip_reason};
use super::secret_value as value;
use crate::cli::transfer::{ExportArgs, ExportFormat};
use crate::error::{CliError, Result};
use coffer_api::{RevealedSecret, SecretKind, SecretList};
use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use zeroize::{Zeroize as _, Zeroizing};

/// Runs `coffer export`.
pub async fn run(ctx: &Ctx, args: ExportArgs) -> Result<i32> {
    if !args.issue.contains('-') {
        return Err(CliError::Usage(format!(
            "--issue expects an issue key like OPS-123, got {:?}",
            args.issue
        )));
    }
    if std::io::stdout().is_terminal() && !args.force {
        return Err(CliError::Usage(
            "refusing to print secret values to a terminal, where they would stay in the \
             scrollback: redirect stdout (`coffer export … > secrets.env`) or pass --force"
                .to_owned(),
        ));
    }
    let query = [("issue", args.issue.clone())];
    let list: SecretList = ctx
        .client
        .get(&["orgs", &ctx.org, "secrets"], &query)
        .await?
        .parse()?;
    let mut out: BTreeMap<String, (Zeroizing<String>, String)> = BTreeMap::new();
    for secret in list.secrets.into_iter().filter(|s| s.scope == args.issue) {
        let source = format!("{}/{}", secret.scope, secret.name);
        if let Some(why) = skip_reason(&secret) {
            eprintln!("coffer export: skipping {source}: {why}");
            continue;
        }
        if secret.kind == SecretKind::File {
            eprintln!(
                "coffer export: skipping {source}: a file secret (binary data) is not exported; \
                 use `coffer secret get {} {} --out FILE`",
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
        let bytes = bytes?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            eprintln!("coffer export: skipping {source}: the value is not UTF-8 text");
            continue;
        };
        let key = env_name(&secret.name);
        if let Some((_, first)) = out.get(&key) {
            return Err(CliError::Other(anyhow::anyhow!(
                "{source} and {first} both become {key}; nothing was written (rename one with \
                 `coffer secret put` and `coffer secret rm`)"
            )));
        }
        out.insert(key, (Zeroizing::new(text.to_owned()), source));
    }
    let buf = render(
        args.format,
        out.iter().map(|(key, (v, _))| (key.as_str(), v.as_str())),
    )?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(buf.as_bytes())?;
    stdout.flush()?;
    eprintln!(
        "coffer export: wrote {} secret(s) of {}",
        out.len(),
        args.issue
    );
    Ok(0)
}

/// Renders `(key, value)` pairs, in the order given, as `format`: `KEY="value"` lines (see
/// [`escape_dotenv`]), or a JSON object with one member per line.
pub(super) fn render<'a>(
    format: ExportFormat,
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(String::new());
    match format {
        ExportFormat::Dotenv => {
            for (key, v) in entries {
                buf.push_str(key);
                buf.push_str("=\"");
                escape_dotenv(v, &mut buf);
                buf.push_str("\"\n");
            }
        }
        ExportFormat::Json => {
            buf.push('{');
            let mut empty = true;
            for (key, v) in entries {
                buf.push_str(if empty { "\n  " } else { ",\n  " });
                empty = false;
                let mut k = serde_json::to_string(key).map_err(anyhow::Error::from)?;
                let mut s = serde_json::to_string(v).map_err(anyhow::Error::from)?;
                buf.push_str(&k);
                buf.push_str(": ");
                buf.push_str(&s);
                k.zeroize();
                s.zeroize();
            }
            buf.push_str(if empty { "}\n" } else { "\n}\n" });
        }
    }
    Ok(buf)
}

/// Escapes a value for a double-quoted .env value: `\\`, `\"`, `\$`, `\n`, `\r`, `\t`.
fn escape_dotenv(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_dotenv, render};
    use crate::cli::transfer::ExportFormat;
    use crate::cli::transfer::ImportFormat;
    use crate::commands::import_parse;

    #[test]
    fn dotenv_escaping_roundtrips_through_the_parser() {
        let value = "a \"b\" \\c $HOME\nline\ttab\r # not a comment 'x'";
        let mut line = String::from("SOME_KEY=\"");
        escape_dotenv(value, &mut line);
        line.push_str("\"\n");
        let parsed = import_parse::parse(ImportFormat::Dotenv, &line).unwrap();
        assert_eq!(parsed.entries[0].name, "some-key");
        assert_eq!(parsed.entries[0].value.as_str(), value);
    }

    #[test]
    fn render_writes_both_formats() {
        let entries = [("A", "1"), ("B_C", "x \"y\"")];
        assert_eq!(
            render(ExportFormat::Dotenv, entries).unwrap().as_str(),
            "A=\"1\"\nB_C=\"x \\\"y\\\"\"\n"
        );
        assert_eq!(
            render(ExportFormat::Json, entries).unwrap().as_str(),
            "{\n  \"A\": \"1\",\n  \"B_C\": \"x \\\"y\\\"\"\n}\n"
        );
        assert_eq!(render(ExportFormat::Json, []).unwrap().as_str(), "{}\n");
        assert_eq!(render(ExportFormat::Dotenv, []).unwrap().as_str(), "");
    }
}
