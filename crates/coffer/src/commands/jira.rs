//! `coffer org jira connect|show|check|reconcile|disconnect` (the org's link to a Jira site) and
//! `coffer jira link|status|unlink|access` (your own Jira account in the org). `connect` reads the
//! OAuth client secret from stdin (or a no-echo prompt on a terminal) with
//! `--client-secret-stdin`, or from a file with `--client-secret-file`; it is never an argument
//! and never shown. The webhook secret the server makes on the first connect is printed once.
//!
//! Linking an account is a browser consent at Jira, started from the web UI while signed in
//! (`/integrations/jira/{org}/link` needs the web session): `jira link` prints and opens that URL.

use super::Ctx;
use super::secret_value::{read_all, strip_one_newline};
use crate::cli::jira::JiraKindArg;
use crate::cli::{JiraCommand, OrgJiraCommand};
use crate::error::{CliError, Result};
use crate::output::{self, Table};
use anyhow::Context as _;
use coffer_api::{
    ConnectJiraRequest, ForgeLink, ForgeLinkRequest, JiraAccess, JiraAccountLink, JiraCheck,
    JiraOrphan, JiraOrphans, JiraSettings,
};
use std::io::IsTerminal as _;
use std::path::Path;
use zeroize::{Zeroize as _, Zeroizing};

/// Issues checked per page of the orphan check.
const ORPHAN_PAGE: usize = 50;

/// Runs one `org jira` subcommand.
pub async fn run_org(ctx: &Ctx, cmd: OrgJiraCommand) -> Result<i32> {
    let or_default = |slug: Option<String>| slug.unwrap_or_else(|| ctx.org.clone());
    match cmd {
        OrgJiraCommand::Connect {
            slug,
            site,
            kind,
            client_id,
            client_secret_stdin,
            client_secret_file,
            expose_names,
            retention_days,
            rotate_webhook_secret,
        } => {
            let slug = or_default(slug);
            let client_secret = match (&client_secret_file, client_secret_stdin) {
                (Some(file), _) => Some(read_secret_file(file)?),
                (None, true) => Some(read_secret_stdin()?),
                (None, false) => None,
            };
            let mut req = ConnectJiraRequest {
                kind: kind.as_str().to_owned(),
                site,
                client_id,
                client_secret: client_secret.as_ref().map(|s| s.to_string()),
                expose_names,
                retention_days,
                rotate_webhook_secret,
            };
            if !ctx.json {
                let what = match kind {
                    JiraKindArg::Cloud => "its cloud id",
                    JiraKindArg::DataCenter => "its version",
                };
                eprintln!("asking {} for {what}…", req.site.trim_end_matches('/'));
            }
            let sent = ctx.client.put(&["orgs", &slug, "jira"], &req).await;
            req.client_secret.zeroize();
            let body = sent?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let mut settings: JiraSettings = body.parse()?;
            println!("org {slug} is linked to Jira at {}", settings.site);
            print_settings(&slug, &settings);
            if let Some(secret) = settings.webhook_secret.take() {
                let secret = Zeroizing::new(secret);
                println!();
                println!("webhook secret:   {}", secret.as_str());
                eprintln!(
                    "Paste this secret into the \"Secret\" field of Jira's webhook (Jira settings → System → WebHooks), \
                     with the URL {}. It is not shown again: `coffer org jira connect … --rotate-webhook-secret` makes a new one.",
                    settings.webhook_url
                );
            }
            eprintln!(
                "Register {} as the redirect URL of client {} ({}); people then link their Jira account with `coffer jira link {slug}`.",
                settings.redirect_uri,
                settings.client_id,
                match kind {
                    JiraKindArg::Cloud => "the OAuth 2.0 (3LO) app's callback URL",
                    JiraKindArg::DataCenter => "the incoming application link's redirect URL",
                }
            );
        }
        OrgJiraCommand::Show { slug } => {
            let slug = or_default(slug);
            let body = ctx.client.get(&["orgs", &slug, "jira"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            print_settings(&slug, &body.parse()?);
        }
        OrgJiraCommand::Check { slug } => {
            let slug = or_default(slug);
            let body = ctx
                .client
                .post_empty(&["orgs", &slug, "jira", "check"], &[])
                .await?;
            let check: JiraCheck = body.parse()?;
            if ctx.json {
                body.print_json()?;
            } else {
                let width = check.steps.iter().map(|s| s.step.chars().count()).max();
                for s in &check.steps {
                    let mark = if s.ok { "✓" } else { "✗" };
                    println!(
                        "{mark} {:<w$}  {}",
                        s.step,
                        s.detail,
                        w = width.unwrap_or(0)
                    );
                }
                if check.ok {
                    println!("the Jira link of org {slug} works");
                } else {
                    eprintln!("the Jira link of org {slug} has a problem: see the ✗ steps");
                }
            }
            return Ok(if check.ok { 0 } else { 1 });
        }
        OrgJiraCommand::Reconcile { slug } => {
            let slug = or_default(slug);
            let all = orphans(ctx, &slug).await?;
            if ctx.json {
                let text = serde_json::to_string_pretty(&all).context("encoding JSON")?;
                println!("{text}");
                return Ok(0);
            }
            print_orphans(&slug, &all);
        }
        OrgJiraCommand::Disconnect { slug } => {
            let slug = or_default(slug);
            let body = ctx.client.delete(&["orgs", &slug, "jira"]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!(
                "org {slug} is no longer linked to Jira: its people's Jira account links are gone, and Coffer's own access decides alone again"
            );
            eprintln!("Remove Coffer's webhook in Jira too: its secret no longer works.");
        }
        OrgJiraCommand::ForgeLink {
            slug,
            app_id,
            installation_id,
        } => {
            let slug = or_default(slug);
            let req = ForgeLinkRequest {
                app_id,
                installation_id,
            };
            let body = ctx
                .client
                .put(&["orgs", &slug, "jira", "forge"], &req)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let l: ForgeLink = body.parse()?;
            println!(
                "org {slug} trusts Forge app {} on installation {}",
                l.app_id, l.installation_id
            );
        }
        OrgJiraCommand::ForgeShow { slug } => {
            let slug = or_default(slug);
            let body = ctx
                .client
                .get(&["orgs", &slug, "jira", "forge"], &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let l: ForgeLink = body.parse()?;
            println!(
                "app {}\ninstallation {}\nlinked by {} at {}",
                l.app_id, l.installation_id, l.linked_by, l.linked_at
            );
        }
        OrgJiraCommand::ForgeUnlink { slug } => {
            let slug = or_default(slug);
            let body = ctx.client.delete(&["orgs", &slug, "jira", "forge"]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!("org {slug} no longer trusts any Forge installation");
        }
    }
    Ok(0)
}

/// Runs one `jira` subcommand.
pub async fn run(ctx: &Ctx, cmd: JiraCommand) -> Result<i32> {
    let or_default = |org: Option<String>| org.unwrap_or_else(|| ctx.org.clone());
    match cmd {
        JiraCommand::Link { org, no_browser } => {
            let org = or_default(org);
            // Best effort: say now when the org has no Jira link, or the caller already has one.
            match ctx.client.get(&["orgs", &org, "jira"], &[]).await {
                Ok(body) => {
                    if let Ok(JiraSettings { me: Some(me), .. }) = body.parse::<JiraSettings>() {
                        eprintln!(
                            "note: you are linked to Jira as {} ({}) since {}; linking again replaces it",
                            me.display_name,
                            me.account_id,
                            output::time(me.linked_at)
                        );
                    }
                }
                Err(e @ CliError::Api { status: 404, .. }) => return Err(e),
                Err(_) => {}
            }
            let url = ctx
                .client
                .site_url(&["integrations", "jira", &org, "link"], &[]);
            if ctx.json {
                println!("{}", serde_json::json!({ "org": org, "url": url.as_str() }));
            } else {
                println!("{url}");
                eprintln!(
                    "Open this URL in the browser where you are signed in to Coffer's web UI (sign in first if it asks): \
                     Jira asks you to allow Coffer, then sends you back to the org's Jira page. \
                     The link is made there, in the browser; `coffer jira status {org}` shows it afterwards."
                );
            }
            if !no_browser {
                super::login::open_browser(url.as_str());
            }
        }
        JiraCommand::Status { org } => {
            let org = or_default(org);
            match ctx
                .client
                .get(&["orgs", &org, "jira", "account"], &[])
                .await
            {
                Ok(body) => {
                    if ctx.json {
                        return body.print_json().map(|()| 0);
                    }
                    let me: JiraAccountLink = body.parse()?;
                    println!(
                        "in org {org} you are linked to Jira as {} ({}) since {}",
                        me.display_name,
                        me.account_id,
                        output::time(me.linked_at)
                    );
                }
                Err(CliError::Api {
                    status: 404,
                    message,
                    ..
                }) if !ctx.json => {
                    println!("{message}");
                    return Ok(1);
                }
                Err(e) => return Err(e),
            }
        }
        JiraCommand::Unlink { org } => {
            let org = or_default(org);
            let body = ctx
                .client
                .delete(&["orgs", &org, "jira", "account"])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!(
                "your Jira account link in org {org} is removed; until you link again (`coffer jira link {org}`) Jira admits you to no issue's secrets"
            );
        }
        JiraCommand::Access { scope } => {
            let body = ctx
                .client
                .get(&["orgs", &ctx.org, "jira", "access", &scope], &[])
                .await?;
            let access: JiraAccess = body.parse()?;
            if ctx.json {
                body.print_json()?;
            } else {
                println!("{}", access.message);
            }
            return Ok(if access.admitted { 0 } else { 1 });
        }
    }
    Ok(0)
}

/// Every page of the orphan check, with a progress bar (checked/total issues) on a terminal.
async fn orphans(ctx: &Ctx, slug: &str) -> Result<JiraOrphans> {
    let bar = if ctx.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "asking Jira {bar:40} {pos}/{len} issues, {msg}",
            )
            .expect("static template"),
        )
    };
    let mut found: Vec<JiraOrphan> = Vec::new();
    let mut checked = 0usize;
    let mut after: Option<String> = None;
    let total = loop {
        let mut query = vec![("limit", ORPHAN_PAGE.to_string())];
        query.extend(after.take().map(|a| ("after", a)));
        let page: JiraOrphans = match ctx
            .client
            .get(&["orgs", slug, "jira", "orphans"], &query)
            .await
            .and_then(|b| b.parse())
        {
            Ok(p) => p,
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
        };
        checked += page.checked;
        let total = page.total.max(checked);
        found.extend(page.orphans);
        bar.set_length(total as u64);
        bar.set_position(checked as u64);
        bar.set_message(format!("{} orphaned", found.len()));
        match page.next {
            Some(next) => after = Some(next),
            None => break total,
        }
    };
    bar.finish_and_clear();
    Ok(JiraOrphans {
        total,
        checked,
        orphans: found,
        next: None,
    })
}

fn print_orphans(slug: &str, all: &JiraOrphans) {
    if all.orphans.is_empty() {
        println!(
            "no orphans: Jira shows you each of the {} issue(s) of org {slug} that hold secrets",
            all.checked
        );
        return;
    }
    let mut table = Table::new(&["ISSUE", "SECRETS"]);
    for o in &all.orphans {
        table.row(vec![o.issue.clone(), o.secrets.join(", ")]);
    }
    print!("{}", table.render());
    eprintln!(
        "{} of {} issue(s) with secrets are orphans: Jira, asked as you, does not show them (deleted, moved without a webhook \
         reaching Coffer, or hidden from you). Move or delete their secrets with `coffer secret`.",
        all.orphans.len(),
        all.checked
    );
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn print_settings(slug: &str, s: &JiraSettings) {
    println!("org:              {slug}");
    println!("site:             {}", s.site);
    println!("kind:             {}", s.kind);
    if let Some(id) = &s.cloud_id {
        println!("cloud id:         {id}");
    }
    println!("client id:        {}", s.client_id);
    println!("client secret:    stored (never shown)");
    println!(
        "webhook URL:      {} (register it in Jira with the webhook secret)",
        s.webhook_url
    );
    println!(
        "redirect URI:     {} (register it in the OAuth app / incoming link)",
        s.redirect_uri
    );
    println!(
        "expose names:     {} ({})",
        yes_no(s.expose_names),
        if s.expose_names {
            "links on issues name their secrets"
        } else {
            "links on issues give only the number of secrets"
        }
    );
    println!(
        "retention:        {} day(s) before the secrets of an issue Jira deleted are destroyed",
        s.retention_days
    );
    println!("linked accounts:  {}", s.linked_accounts);
    match &s.me {
        Some(me) => println!(
            "you:              {} ({}), linked {}",
            me.display_name,
            me.account_id,
            output::time(me.linked_at)
        ),
        None => println!("you:              not linked (`coffer jira link {slug}`)"),
    }
    println!(
        "updated:          {} by {}",
        output::time(s.updated_at),
        s.updated_by
    );
}

/// The client secret from a file: one trailing newline stripped; empty or non-UTF-8 refused.
fn read_secret_file(path: &Path) -> Result<Zeroizing<String>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let bytes = read_all(file).with_context(|| format!("cannot read {}", path.display()))?;
    secret_text(bytes, &format!("the client secret file {}", path.display()))
}

/// The client secret from stdin: prompted without echo on a terminal, else read to the end.
fn read_secret_stdin() -> Result<Zeroizing<String>> {
    let bytes = if std::io::stdin().is_terminal() {
        let typed = Zeroizing::new(
            rpassword::prompt_password("Jira client secret: ")
                .context("cannot read the client secret from the terminal")?,
        );
        Zeroizing::new(typed.as_bytes().to_vec())
    } else {
        read_all(std::io::stdin().lock()).context("cannot read the client secret from stdin")?
    };
    secret_text(bytes, "the client secret on stdin")
}

fn secret_text(mut bytes: Zeroizing<Vec<u8>>, what: &str) -> Result<Zeroizing<String>> {
    strip_one_newline(&mut bytes);
    if bytes.is_empty() {
        return Err(CliError::Usage(format!(
            "{what} is empty: give the secret of the OAuth client (Cloud: the 3LO app's; Data Center: the incoming link's)"
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CliError::Usage(format!("{what} must be text (UTF-8)")))?;
    Ok(Zeroizing::new(text.to_owned()))
}
