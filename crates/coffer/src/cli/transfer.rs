//! Arguments of `coffer import` and `coffer export` (docs/import-export.md).

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// `coffer import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The file's format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub from: ImportFormat,
    /// The file to import; `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Issue to attach the secrets to, e.g. OPS-123.
    #[arg(long, value_name = "ISSUE")]
    pub issue: String,
    /// Check the file and print what would be written (names and kinds, never values); write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What `coffer import` reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum ImportFormat {
    /// `KEY=value` lines (`export`, quotes, `#` comments).
    Dotenv,
    /// A flat JSON object of string values.
    Json,
    /// The output of `vault kv get -format=json` (KV v2 or v1).
    VaultKv,
    /// Bitwarden's unencrypted JSON export: logins' passwords and secure notes.
    BitwardenJson,
}

/// `coffer export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Issue whose secrets to export, e.g. OPS-123.
    #[arg(long, value_name = "ISSUE")]
    pub issue: String,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Write to stdout even when it is a terminal.
    #[arg(long)]
    pub force: bool,
}

/// What `coffer export` writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum ExportFormat {
    /// `KEY="value"` lines.
    Dotenv,
    /// A flat JSON object of string values.
    Json,
}
