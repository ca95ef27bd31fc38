//! One module per command group. [`dispatch`] builds what a command needs (a tokio runtime, a
//! [`Client`]) and returns the process exit code.

mod audit;
mod keys;
mod org;
mod run;
mod secret;
mod secret_upload;
mod secret_value;
mod serve;
mod storage;
mod token;
mod user;
mod user_passwd;

use crate::cli::{Cli, Command};
use crate::client::{ApiToken, Client};
use crate::error::Result;
use crate::output;
use coffer_api::WhoAmI;

/// What every client command gets.
pub struct Ctx {
    /// The HTTP client.
    pub client: Client,
    /// `--org`.
    pub org: String,
    /// `--json`.
    pub json: bool,
}

/// Runs the parsed command line; returns the exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    if let Command::Serve(args) = cli.command {
        return serve::run(args);
    }
    let token = match cli.global.token {
        Some(token) => Some(token),
        None => ApiToken::from_default_file()?,
    };
    let client = Client::new(&cli.global.addr, token)?;
    let ctx = Ctx {
        client,
        org: cli.global.org,
        json: cli.global.json,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    match cli.command {
        Command::Serve(_) => unreachable!("handled above"),
        Command::Run(args) => {
            let env = runtime.block_on(run::collect(&ctx, &args))?;
            drop(runtime);
            run::exec(args, env)
        }
        Command::Org(cmd) => runtime.block_on(org::run(&ctx, cmd)),
        Command::User(cmd) => runtime.block_on(user::run(&ctx, cmd)),
        Command::Token(cmd) => runtime.block_on(token::run(&ctx, cmd)),
        Command::Secret(cmd) => runtime.block_on(secret::run(&ctx, cmd)),
        Command::Audit(cmd) => runtime.block_on(audit::run(&ctx, cmd)),
        Command::Whoami => runtime.block_on(whoami(&ctx)),
        Command::Admin(cmd) => runtime.block_on(keys::admin(&ctx, cmd)),
    }
}

/// `coffer whoami`.
async fn whoami(ctx: &Ctx) -> Result<i32> {
    let body = ctx.client.get(&["whoami"], &[]).await?;
    if ctx.json {
        body.print_json()?;
        return Ok(0);
    }
    let me: WhoAmI = body.parse()?;
    let operator = if me.operator {
        ", deployment operator"
    } else {
        ""
    };
    println!(
        "{} in org {} (role {}{operator}; token {})",
        me.user,
        me.org,
        output::wire_name(&me.role),
        me.token_id
    );
    Ok(0)
}
