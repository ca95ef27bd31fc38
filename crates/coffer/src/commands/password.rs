//! Reading passwords: from a no-echo terminal prompt (a new one asked twice, so a typo cannot
//! lock anyone out) or, when stdin is not a terminal, one line of it. Never from argv, where it
//! would land in shell history and `ps`.

use crate::error::{CliError, Result};
use anyhow::Context as _;
use std::io::{BufRead as _, IsTerminal as _};
use zeroize::Zeroizing;

fn prompt(text: &str) -> Result<Zeroizing<String>> {
    Ok(Zeroizing::new(
        rpassword::prompt_password(text).context("cannot read the password from the terminal")?,
    ))
}

/// One line of stdin, without its line ending.
fn stdin_line(what: &str) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// A new password for `who`: prompted twice on a terminal, else the first line of stdin.
pub fn read_new(who: &str) -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        let first = prompt(&format!("New password for {who}: "))?;
        let again = prompt("Repeat it: ")?;
        if *first != *again {
            return Err(CliError::Other(anyhow::anyhow!(
                "the two passwords differ; nothing was changed, run the command again"
            )));
        }
        return Ok(first);
    }
    let line = stdin_line("password")?;
    if line.is_empty() {
        return Err(CliError::Other(anyhow::anyhow!(
            "no password on stdin: pipe it in (printf '%s\\n' 'PASSWORD' | coffer …) or run on a terminal"
        )));
    }
    Ok(line)
}

/// The current password: prompted once on a terminal, else the next line of stdin.
pub fn read_current() -> Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        return prompt("Current password: ");
    }
    stdin_line("current password")
}
