//! `coffer org scim token create|list|revoke`: the org's SCIM tokens (docs/scim.md). `create`
//! prints the token value alone on stdout (so `TOKEN=$(coffer org scim token create okta)`
//! works) and everything else — what it is, the base URL to give the identity provider, that it
//! is shown once — on stderr.

use super::Ctx;
use crate::cli::{OrgScimCommand, OrgScimTokenCommand};
use crate::error::Result;
use crate::output::{self, Table};
use coffer_api::{CreateScimTokenRequest, CreatedScimToken, ScimTokenList};
use zeroize::Zeroizing;

/// Runs one `org scim` subcommand.
pub async fn run(ctx: &Ctx, cmd: OrgScimCommand) -> Result<i32> {
    let OrgScimCommand::Token(cmd) = cmd;
    let or_default = |slug: Option<String>| slug.unwrap_or_else(|| ctx.org.clone());
    match cmd {
        OrgScimTokenCommand::Create { name, slug } => {
            let slug = or_default(slug);
            let req = CreateScimTokenRequest { name };
            let body = ctx
                .client
                .post(&["orgs", &slug, "scim", "tokens"], &req)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let created: CreatedScimToken = body.parse()?;
            let token = Zeroizing::new(created.token);
            eprintln!(
                "created SCIM token {} {:?} for org {slug}; it is shown only once (Coffer keeps only its hash)",
                created.id, created.name
            );
            eprintln!(
                "Give it to the org's identity provider as the bearer token, with the SCIM base URL {}/scim/v2 (docs/scim.md).",
                ctx.client.base_url().trim_end_matches('/')
            );
            println!("{}", token.as_str());
        }
        OrgScimTokenCommand::List { slug } => {
            let slug = or_default(slug);
            let body = ctx
                .client
                .get(&["orgs", &slug, "scim", "tokens"], &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: ScimTokenList = body.parse()?;
            let mut table = Table::new(&["ID", "NAME", "CREATED BY", "CREATED", "REVOKED"]);
            for t in list.tokens {
                table.row(vec![
                    t.id.to_string(),
                    t.name,
                    t.created_by,
                    output::time(t.created_at),
                    output::opt_time(t.revoked_at),
                ]);
            }
            table.print_or(&format!("no SCIM tokens in org {slug}"));
        }
        OrgScimTokenCommand::Revoke { id, slug } => {
            let slug = or_default(slug);
            let id = id.to_string();
            let body = ctx
                .client
                .delete(&["orgs", &slug, "scim", "tokens", &id])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            eprintln!("revoked SCIM token {id} of org {slug}; the next request with it is refused");
        }
    }
    Ok(0)
}
