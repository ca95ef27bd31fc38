//! Reading a new password for `coffer user passwd`: from a no-echo terminal prompt (asked twice,
//! so a typo cannot lock anyone out) or, when stdin is not a terminal, its first line. Never
//! from argv, where it would land in shell history and `ps`.

use crate::error::{CliError, Result};
use anyhow::Context as _;
use std::io::{BufRead as _, IsTerminal as _};
use zeroize::Zeroizing;

/// The new password for `user`.
pub fn read_new_password(user: &str) -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password(format!("New web UI password for {user}: "))
                .context("cannot read the password from the terminal")?,
        );
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat it: ")
                .context("cannot read the password from the terminal")?,
        );
        if *first != *again {
            return Err(CliError::Other(anyhow::anyhow!(
                "the two passwords differ; nothing was changed, run the command again"
            )));
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        return Err(CliError::Other(anyhow::anyhow!(
            "no password on stdin: pipe it in (printf %s 'PASSWORD' | coffer user passwd {user}) or run on a terminal"
        )));
    }
    Ok(trimmed)
}
