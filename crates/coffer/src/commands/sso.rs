//! `coffer org sso show|set|disable`: the org's OpenID provider. `set` reads the client secret
//! from stdin (or a no-echo prompt on a terminal) only with `--client-secret-stdin`; the secret
//! is never an argument and never shown (the server only says whether one is stored).

use super::Ctx;
use super::secret_value::{read_all, strip_one_newline};
use crate::cli::OrgSsoCommand;
use crate::error::{CliError, Result};
use crate::output;
use anyhow::Context as _;
use coffer_api::{SetSsoRequest, SsoSettings};
use std::io::IsTerminal as _;
use zeroize::{Zeroize as _, Zeroizing};

/// Runs one `org sso` subcommand.
pub async fn run(ctx: &Ctx, cmd: OrgSsoCommand) -> Result<i32> {
    let or_default = |slug: Option<String>| slug.unwrap_or_else(|| ctx.org.clone());
    match cmd {
        OrgSsoCommand::Show { slug } => {
            let slug = or_default(slug);
            let body = ctx.client.get(&["orgs", &slug, "sso"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            print_settings(&slug, &body.parse()?);
        }
        OrgSsoCommand::Set {
            slug,
            issuer,
            client_id,
            client_secret_stdin,
            public_client,
            groups_claim,
            create_people,
            require_sso,
        } => {
            let slug = or_default(slug);
            let client_secret = if client_secret_stdin {
                Some(read_client_secret()?)
            } else if public_client {
                Some(Zeroizing::new(String::new()))
            } else {
                None
            };
            let mut req = SetSsoRequest {
                issuer,
                client_id,
                client_secret: client_secret.as_ref().map(|s| s.to_string()),
                groups_claim,
                create_people,
                require_sso,
            };
            if !ctx.json {
                eprintln!(
                    "checking the provider ({}/.well-known/openid-configuration)…",
                    req.issuer.trim_end_matches('/')
                );
            }
            let sent = ctx.client.put(&["orgs", &slug, "sso"], &req).await;
            req.client_secret.zeroize();
            let body = sent?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let settings: SsoSettings = body.parse()?;
            println!("single sign-on is set up for org {slug}");
            print_settings(&slug, &settings);
            eprintln!(
                "Register {} as a redirect URI of client {} at the provider; people then sign in with `coffer login --org {slug}` or on the sign-in page.",
                settings.redirect_uri, settings.client_id
            );
        }
        OrgSsoCommand::Disable { slug } => {
            let slug = or_default(slug);
            let body = ctx.client.delete(&["orgs", &slug, "sso"]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!(
                "single sign-on is off for org {slug}: its links to provider accounts are gone, and people sign in with passwords"
            );
        }
    }
    Ok(0)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn print_settings(slug: &str, s: &SsoSettings) {
    let secret = if s.client_secret_set {
        "set"
    } else {
        "none (public client, PKCE only)"
    };
    let groups = s
        .groups_claim
        .as_deref()
        .unwrap_or("- (groups are not synced)");
    println!("org:            {slug}");
    println!("issuer:         {}", s.issuer);
    println!("client id:      {}", s.client_id);
    println!("client secret:  {secret}");
    println!("groups claim:   {groups}");
    println!("create people:  {}", yes_no(s.create_people));
    println!("require sso:    {}", yes_no(s.require_sso));
    println!(
        "redirect URI:   {} (register it at the provider)",
        s.redirect_uri
    );
    println!(
        "updated:        {} by {}",
        output::time(s.updated_at),
        s.updated_by
    );
}

/// The client secret from stdin: prompted without echo on a terminal, else read to the end;
/// one trailing newline is stripped; empty is refused (that is what --public-client says).
fn read_client_secret() -> Result<Zeroizing<String>> {
    let mut bytes = if std::io::stdin().is_terminal() {
        let typed = Zeroizing::new(
            rpassword::prompt_password("Client secret: ")
                .context("cannot read the client secret from the terminal")?,
        );
        Zeroizing::new(typed.as_bytes().to_vec())
    } else {
        read_all(std::io::stdin().lock()).context("cannot read the client secret from stdin")?
    };
    strip_one_newline(&mut bytes);
    if bytes.is_empty() {
        return Err(CliError::Usage(
            "the client secret on stdin is empty: pipe it in, or pass --public-client for a client without one".to_owned(),
        ));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CliError::Usage("the client secret must be text (UTF-8)".to_owned()))?;
    Ok(Zeroizing::new(text.to_owned()))
}
