//! One module per command group. [`dispatch`] builds what a command needs (a tokio runtime, a
//! [`Client`]) and returns the process exit code.

mod access;
mod audit;
mod backup;
mod clipboard;
mod completions;
mod export;
mod generate;
mod import;
mod import_parse;
mod invite;
mod jira;
mod keys;
mod login;
mod org;
mod passwd;
mod password;
mod recover_store;
mod recovery;
mod run;
mod run_file;
mod scim;
mod secret;
mod secret_upload;
mod secret_value;
mod serve;
mod service_account;
mod share;
mod sso;
mod storage;
mod token;
mod user;
mod webhook;

use crate::cli::{Cli, Command, GlobalArgs, OrgCommand, UserCommand};
use crate::client::{ApiToken, Client, DEFAULT_TOKEN_FILE, OPERATOR_TOKEN_FILE};
use crate::credentials;
use crate::error::Result;
use crate::output;
use coffer_api::WhoAmI;

/// The org used when neither --org, COFFER_ORG nor a login names one.
const DEFAULT_ORG: &str = "default";

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
    match cli.command {
        Command::Serve(args) => return serve::run(args),
        Command::Completions(args) => return completions::print(args.shell),
        Command::Restore(args) => return backup::restore(args),
        Command::Recover(args) => return recovery::recover(args),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    match cli.command {
        Command::Login(args) => return runtime.block_on(login::login(&cli.global, args)),
        Command::Logout => return runtime.block_on(login::logout(&cli.global)),
        _ => {}
    }
    let ctx = context(cli.global, &cli.command)?;
    match cli.command {
        Command::Serve(_)
        | Command::Completions(_)
        | Command::Restore(_)
        | Command::Recover(_)
        | Command::Login(_)
        | Command::Logout => {
            unreachable!("handled above")
        }
        Command::Run(args) => {
            run::check_command(&args)?;
            if let (Some(format), Some(out)) = (args.format, &args.out) {
                return runtime.block_on(run_file::run(&ctx, &args, format, out));
            }
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
        Command::Link(cmd) => runtime.block_on(share::links(&ctx, cmd)),
        Command::Request(cmd) => runtime.block_on(share::requests(&ctx, cmd)),
        Command::Audit(cmd) => runtime.block_on(audit::run(&ctx, cmd)),
        Command::Jira(cmd) => runtime.block_on(jira::run(&ctx, cmd)),
        Command::Import(args) => runtime.block_on(import::run(&ctx, args)),
        Command::Export(args) => runtime.block_on(export::run(&ctx, args)),
        Command::Whoami => runtime.block_on(whoami(&ctx)),
        Command::Admin(cmd) => runtime.block_on(keys::admin(&ctx, cmd)),
        Command::Backup(args) => runtime.block_on(backup::backup(&ctx, args)),
    }
}

/// The client and org of a command. The token: --token / COFFER_TOKEN; else, for a command that
/// would read `admin.token`, the stored one of `coffer login` if it is for this --addr (and for
/// --org / COFFER_ORG when given) and has not expired, whose org is then the default; else the
/// token file of [`default_token_file`].
fn context(global: GlobalArgs, command: &Command) -> Result<Ctx> {
    let mut org = global.org;
    let mut from_login = false;
    let token = match (global.token, default_token_file(command)) {
        (Some(token), _) => Some(token),
        (None, None) => None,
        (None, Some(file)) => {
            let login = if file == DEFAULT_TOKEN_FILE {
                stored_login(&global.addr, org.as_deref())?
            } else {
                None
            };
            match login {
                Some(login) => {
                    from_login = true;
                    let token = login.api_token()?;
                    org.get_or_insert(login.org);
                    Some(token)
                }
                None => ApiToken::from_file(file)?,
            }
        }
    };
    let mut client = Client::new(&global.addr, token, global.ca_cert.as_deref())?;
    if from_login {
        client = client.with_login_token();
    }
    Ok(Ctx {
        client,
        org: org.unwrap_or_else(|| DEFAULT_ORG.to_owned()),
        json: global.json,
    })
}

/// The stored login, if it is for `addr` (and `org`, when given) and still valid; says so on
/// stderr when it would have been used but has expired.
fn stored_login(addr: &str, org: Option<&str>) -> Result<Option<credentials::Login>> {
    let Some(login) = credentials::load()? else {
        return Ok(None);
    };
    if !login.is_for(addr) || org.is_some_and(|o| o != login.org) {
        return Ok(None);
    }
    if login.expired() {
        eprintln!(
            "note: the login to org {} expired at {}; run `coffer login` again",
            login.org,
            output::time(login.expires_at)
        );
        return Ok(None);
    }
    Ok(Some(login))
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
        | Command::Admin(_)
        | Command::Backup(_) => Some(OPERATOR_TOKEN_FILE),
        Command::Invite(_) | Command::Login(_) | Command::Logout | Command::Completions(_) => None,
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
