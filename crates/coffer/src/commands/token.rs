//! `coffer token create|list|revoke` (tokens scoped to an org) and `coffer operator token …`
//! (the operator's deployment-wide tokens). `create` prints the token value alone on stdout (so
//! `export COFFER_TOKEN=$(coffer token create …)` works) and everything else on stderr.

use super::Ctx;
use crate::cli::{OperatorCommand, OperatorTokenCommand, TokenCommand};
use crate::error::Result;
use crate::output::{self, Table};
use coffer_api::{CreateTokenRequest, CreatedToken, TokenList};
use std::time::Duration;
use zeroize::Zeroizing;

/// Runs one `token` subcommand.
pub async fn run(ctx: &Ctx, cmd: TokenCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        TokenCommand::Create {
            service_account,
            name,
            expires_in,
        } => {
            let req = request(service_account, name, expires_in);
            create(ctx, &["orgs", org, "tokens"], &req).await
        }
        TokenCommand::List => list(ctx, &["orgs", org, "tokens"]).await,
        TokenCommand::Revoke { id } => revoke(ctx, &["orgs", org, "tokens"], id).await,
    }
}

/// Runs one `operator` subcommand.
pub async fn operator(ctx: &Ctx, cmd: OperatorCommand) -> Result<i32> {
    let OperatorCommand::Token(cmd) = cmd;
    match cmd {
        OperatorTokenCommand::Create { name, expires_in } => {
            create(
                ctx,
                &["operator", "tokens"],
                &request(None, name, expires_in),
            )
            .await
        }
        OperatorTokenCommand::List => list(ctx, &["operator", "tokens"]).await,
        OperatorTokenCommand::Revoke { id } => revoke(ctx, &["operator", "tokens"], id).await,
    }
}

fn request(
    service_account: Option<String>,
    name: Option<String>,
    expires_in: Option<Duration>,
) -> CreateTokenRequest {
    CreateTokenRequest {
        user: None,
        service_account,
        name,
        expires_in_seconds: expires_in.map(|d| d.as_secs().max(1)),
    }
}

async fn create(ctx: &Ctx, path: &[&str], req: &impl serde::Serialize) -> Result<i32> {
    let body = ctx.client.post(path, req).await?;
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
    let scope = match &info.org {
        Some(org) => format!("in org {org}"),
        None => "deployment-wide (operator)".to_owned(),
    };
    eprintln!(
        "created token {} {:?} for {} {scope} ({expiry}); it is shown only once",
        info.id, info.name, info.user
    );
    println!("{}", token.as_str());
    Ok(0)
}

async fn list(ctx: &Ctx, path: &[&str]) -> Result<i32> {
    let body = ctx.client.get(path, &[]).await?;
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
    Ok(0)
}

async fn revoke(ctx: &Ctx, path: &[&str], id: uuid::Uuid) -> Result<i32> {
    let id = id.to_string();
    let mut segments = path.to_vec();
    segments.push(&id);
    let body = ctx.client.delete(&segments).await?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    eprintln!("revoked token {id}");
    Ok(0)
}
