//! Arguments of `coffer org jira …` (the org's link to a Jira site: connect, show, check,
//! reconcile, disconnect) and of `coffer jira …` (your own Jira account in an org linked to Jira,
//! and what Jira says about you and one issue). See docs/jira.md. The OAuth client secret is
//! never an argument: `--client-secret-stdin` reads it from stdin (or a no-echo prompt on a
//! terminal), `--client-secret-file` from a file.

use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

/// A Jira flavour as typed on the command line.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum JiraKindArg {
    /// Jira Cloud (`https://acme.atlassian.net`), through an OAuth 2.0 (3LO) app.
    Cloud,
    /// Jira Data Center, through an incoming application link (its OAuth 2.0 provider).
    DataCenter,
}

impl JiraKindArg {
    /// The wire name (`cloud`, `data-center`).
    pub fn as_str(self) -> &'static str {
        match self {
            JiraKindArg::Cloud => "cloud",
            JiraKindArg::DataCenter => "data-center",
        }
    }
}

/// `coffer org jira …`.
#[derive(Subcommand)]
pub enum OrgJiraCommand {
    /// Link the org to a Jira site, or change the link (owners). Coffer asks the site for its
    /// cloud id (Cloud) or version (Data Center) first and changes nothing if it does not answer.
    ///
    /// The client secret is read from stdin with --client-secret-stdin or from a file with
    /// --client-secret-file (never from the command line). It is required when linking, and when
    /// the site, kind or client id changes; otherwise leaving it out keeps the stored one.
    /// --expose-names and --retention-days left out keep what is set.
    ///
    /// The first link (and --rotate-webhook-secret) prints the webhook secret once: paste it with
    /// the webhook URL into Jira's webhook settings.
    Connect {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// The site's base URL, e.g. https://acme.atlassian.net or https://jira.acme.internal.
        #[arg(long, value_name = "URL")]
        site: String,
        /// Which Jira the site is.
        #[arg(long, value_enum, default_value = "cloud")]
        kind: JiraKindArg,
        /// The OAuth client id (Cloud: the 3LO app's; Data Center: the incoming link's).
        #[arg(long, value_name = "ID")]
        client_id: String,
        /// Read the client secret from stdin (prompted without echo on a terminal).
        #[arg(long, conflicts_with = "client_secret_file")]
        client_secret_stdin: bool,
        /// Read the client secret from FILE (one trailing newline is ignored).
        #[arg(long, value_name = "FILE")]
        client_secret_file: Option<PathBuf>,
        /// Let the remote links Coffer puts on issues name the secrets (`--expose-names
        /// false` turns it off again) [default: as now; only their number for a new link].
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        expose_names: Option<bool>,
        /// Days a secret whose issue Jira deleted stays restorable before it is destroyed
        /// [default: as now; 30 for a new link].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
        retention_days: Option<u32>,
        /// Make a new webhook secret (the old one stops working at once).
        #[arg(long)]
        rotate_webhook_secret: bool,
    },
    /// Show the org's Jira link: the site, the webhook URL and redirect URI to register in Jira,
    /// and your own account link (anyone in the org; never a secret).
    Show {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Check the link step by step (admins): the site answers, and your own Jira account link
    /// works. Exits 1 when a step fails.
    Check {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Find orphans (admins): issues that hold secrets but that Jira, asked as you, does not show
    /// (deleted, moved without a webhook reaching Coffer, or hidden from you). Lists them with
    /// their secrets' names.
    Reconcile {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Unlink the org from Jira (owners): every account link goes with it, and Coffer's own
    /// access decides alone again.
    Disconnect {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Trust the Coffer Forge app's installation on the org's Jira Cloud site (owners): Forge
    /// Invocation Tokens of that app and installation act in this org, and no other's
    /// (docs/jira-forge.md).
    ForgeLink {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// The Forge app's id, `ari:cloud:ecosystem::app/<uuid>`.
        #[arg(long, value_name = "ARI")]
        app_id: String,
        /// The installation's id on the site (`forge install list`).
        #[arg(long, value_name = "ID")]
        installation_id: String,
    },
    /// Show the Forge installation the org trusts.
    ForgeShow {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Stop trusting the org's Forge installation (owners).
    ForgeUnlink {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
}

/// `coffer jira …`.
#[derive(Subcommand)]
pub enum JiraCommand {
    /// Link your Jira account: prints (and opens) the web UI address that sends you to Jira's
    /// consent page. The link is made in the browser where you are signed in to Coffer's web UI.
    Link {
        /// Org slug [default: --org].
        org: Option<String>,
        /// Only print the URL to open; do not try to open a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// Show your Jira account link in the org, or how to make one. Exits 1 when there is none.
    Status {
        /// Org slug [default: --org].
        org: Option<String>,
    },
    /// Remove your Jira account link in the org (and Coffer's tokens for it).
    Unlink {
        /// Org slug [default: --org].
        org: Option<String>,
    },
    /// What Jira says about you and one issue or project of --org: whether you may use its
    /// secrets, and why. Exits 1 when Jira does not admit you.
    Access {
        /// The issue or project key, e.g. OPS-123 or OPS.
        scope: String,
    },
}
