//! One module per command group. [`dispatch`] builds what a command needs (a tokio runtime, a
//! [`Client`]) and returns the process exit code.

mod access;
mod audit;
mod invite;
mod keys;
mod org;
mod passwd;
mod password;
mod run;
mod secret;
mod secret_upload;
mod secret_value;
mod serve;
mod service_account;
mod storage;
mod token;
mod user;

use crate::cli::{Cli, Command, OrgCommand, UserCommand};
use crate::client::{ApiToken, Client, DEFAULT_TOKEN_FILE, OPERATOR_TOKEN_FILE};
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
    let token = match (cli.global.token, default_token_file(&cli.command)) {
        (Some(token), _) => Some(token),
        (None, Some(file)) => ApiToken::from_file(file)?,
        (None, None) => None,
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
        Command::Invite(cmd) => runtime.block_on(invite::run(&ctx, cmd)),
        Command::ServiceAccount(cmd) => runtime.block_on(service_account::run(&ctx, cmd)),
        Command::Token(cmd) => runtime.block_on(token::run(&ctx, cmd)),
        Command::Passwd(args) => runtime.block_on(passwd::run(&ctx, args)),
        Command::Operator(cmd) => runtime.block_on(token::operator(&ctx, cmd)),
        Command::Secret(cmd) => runtime.block_on(secret::run(&ctx, cmd)),
        Command::Group(cmd) => runtime.block_on(access::group(&ctx, cmd)),
        Command::Grant(cmd) => runtime.block_on(access::grant(&ctx, cmd)),
        Command::Audit(cmd) => runtime.block_on(audit::run(&ctx, cmd)),
        Command::Whoami => runtime.block_on(whoami(&ctx)),
        Command::Admin(cmd) => runtime.block_on(keys::admin(&ctx, cmd)),
    }
}

/// The token file `coffer serve` wrote that a command picks up when no token is given: the
/// operator's for the operator's commands, none for accepting an invitation or redeeming a reset
/// code (those authenticate with the code, or with a token given on purpose), else the first
/// owner's.
fn default_token_file(command: &Command) -> Option<&'static str> {
    match command {
        Command::Org(OrgCommand::Create { .. })
        | Command::User(UserCommand::Add { .. } | UserCommand::Reset { .. })
        | Command::Operator(_)
        | Command::Admin(_) => Some(OPERATOR_TOKEN_FILE),
        Command::Invite(_) => None,
        Command::Passwd(args) if args.reset_code.is_some() => None,
        _ => Some(DEFAULT_TOKEN_FILE),
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
    match (&me.org, &me.role) {
        (Some(org), Some(role)) => println!(
            "{} ({}) in org {org} (role {}; token {})",
            me.user,
            output::wire_name(&me.kind),
            output::wire_name(role),
            me.token_id
        ),
        _ => println!(
            "{}: the deployment's operator, in no org (token {})",
            me.user, me.token_id
        ),
    }
    Ok(0)
}
