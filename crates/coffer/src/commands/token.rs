//! `coffer token create|list|revoke`. `create` prints the token value alone on stdout (so
//! `export COFFER_TOKEN=$(coffer token create …)` works) and everything else on stderr.

use super::Ctx;
use crate::cli::TokenCommand;
use crate::error::Result;
use crate::output::{self, Table};
use coffer_api::{CreateTokenRequest, CreatedToken, TokenList};
use zeroize::Zeroizing;

/// Runs one `token` subcommand.
pub async fn run(ctx: &Ctx, cmd: TokenCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        TokenCommand::Create {
            user,
            name,
            expires_in,
        } => {
            let req = CreateTokenRequest {
                user,
                name,
                expires_in_seconds: expires_in.map(|d| d.as_secs().max(1)),
            };
            let body = ctx.client.post(&["orgs", org, "tokens"], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let created: CreatedToken = body.parse()?;
            let token = Zeroizing::new(created.token);
            let info = created.info;
            let expiry = match info.expires_at {
                Some(t) => format!("expires {}", output::time(t)),
                None => "never expires".to_owned(),
            };
            eprintln!(
                "created token {} {:?} for {} in org {} ({expiry}); it is shown only once",
                info.id, info.name, info.user, info.org
            );
            println!("{}", token.as_str());
        }
        TokenCommand::List => {
            let body = ctx.client.get(&["orgs", org, "tokens"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: TokenList = body.parse()?;
            let mut table = Table::new(&["ID", "USER", "NAME", "CREATED", "EXPIRES", "REVOKED"]);
            for t in list.tokens {
                table.row(vec![
                    t.id.to_string(),
                    t.user,
                    t.name,
                    output::time(t.created_at),
                    output::opt_time(t.expires_at),
                    output::opt_time(t.revoked_at),
                ]);
            }
            table.print_or("no tokens");
        }
        TokenCommand::Revoke { id } => {
            let id = id.to_string();
            let body = ctx.client.delete(&["orgs", org, "tokens", &id]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            eprintln!("revoked token {id}");
        }
    }
    Ok(0)
}
