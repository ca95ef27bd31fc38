//! `coffer import --from FORMAT FILE --issue OPS-123 [--dry-run]`: parse and check the whole file
//! ([`import_parse`](super::import_parse)), then write each entry with the same call as `coffer
//! secret put`, reporting one line per entry on stderr under a progress bar. Values are never
//! printed. A bad file is refused before anything is written; a failed write does not stop the
//! others, but makes the exit code 1.

use super::Ctx;
use super::import_parse::{self, Parsed};
use super::secret_value as value;
use crate::cli::KindArg;
use crate::cli::secret::Target;
use crate::cli::transfer::ImportArgs;
use crate::error::{CliError, Result};
use anyhow::Context as _;
use zeroize::Zeroizing;

/// Runs `coffer import`.
pub async fn run(ctx: &Ctx, args: ImportArgs) -> Result<i32> {
    if !is_issue_key(&args.issue) {
        return Err(CliError::Usage(format!(
            "--issue expects an issue key like OPS-123, got {:?}",
            args.issue
        )));
    }
    let label = if args.file.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        args.file.display().to_string()
    };
    let bytes = if args.file.as_os_str() == "-" {
        value::read_all(std::io::stdin().lock()).context("cannot read stdin")?
    } else {
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("cannot open {label}"))?;
        value::read_all(file).with_context(|| format!("cannot read {label}"))?
    };
    let text = Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
        anyhow::anyhow!("refusing {label}: it is not UTF-8 text; nothing was written")
    })?);
    drop(bytes);
    let parsed: Parsed = match import_parse::parse(args.from, &text) {
        Ok(p) => p,
        Err(problems) => {
            let mut msg = format!("refusing {label}; nothing was written:");
            for p in &problems {
                msg.push_str("\n  ");
                msg.push_str(p);
            }
            return Err(CliError::Other(anyhow::anyhow!(msg)));
        }
    };
    drop(text);
    for skipped in &parsed.skipped {
        eprintln!("skipped {skipped}");
    }
    let total = parsed.entries.len();
    if args.dry_run {
        for e in &parsed.entries {
            println!(
                "would write {}/{} ({}, from {})",
                args.issue,
                e.name,
                kind_name(e.kind),
                e.source
            );
        }
        eprintln!(
            "dry run: {total} secret(s) would be written to {}; nothing was written",
            args.issue
        );
        return Ok(0);
    }

    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("importing {bar:40} {pos}/{len} {msg}")
            .expect("static template"),
    );
    let mut failed = 0;
    for e in &parsed.entries {
        bar.set_message(e.name.clone());
        let target = Target {
            scope: args.issue.clone(),
            name: e.name.clone(),
        };
        let line = match super::secret::put_value(ctx, &target, e.value.as_bytes(), e.kind).await {
            Ok(s) if s.version == 1 => format!("{}: created ({})", target.display(), e.source),
            Ok(s) => format!(
                "{}: new version {} ({})",
                target.display(),
                s.version,
                e.source
            ),
            Err(err) => {
                failed += 1;
                format!("{}: failed: {err} ({})", target.display(), e.source)
            }
        };
        // `suspend` prints even when the bar is hidden (stderr not a terminal).
        bar.suspend(|| eprintln!("{line}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "imported {} of {total} secret(s) into {}{}",
        total - failed,
        args.issue,
        if failed > 0 {
            format!("; {failed} failed")
        } else {
            String::new()
        }
    );
    Ok(if failed > 0 { 1 } else { 0 })
}

fn kind_name(kind: KindArg) -> &'static str {
    match kind {
        KindArg::Password => "password",
        KindArg::Note => "note",
        KindArg::Kv => "kv",
        KindArg::File => "file",
    }
}

/// `OPS-123` (coffer_api::patterns::SCOPE with the issue number).
fn is_issue_key(s: &str) -> bool {
    let Some((project, number)) = s.rsplit_once('-') else {
        return false;
    };
    let mut p = project.chars();
    p.next().is_some_and(|c| c.is_ascii_uppercase())
        && (2..=10).contains(&project.len())
        && p.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !number.is_empty()
        && number.len() <= 9
        && !number.starts_with('0')
        && number.chars().all(|c| c.is_ascii_digit())
}
