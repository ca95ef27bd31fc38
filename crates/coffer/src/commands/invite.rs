//! `coffer invite accept CODE`: joining an org. A new person chooses their password here (unless
//! `--no-password`); someone who already has an account accepts signed in as themselves (their
//! COFFER_TOKEN of any org) and keeps their password. The new token for the org is printed alone
//! on stdout.

use super::Ctx;
use super::password;
use crate::cli::InviteCommand;
use crate::error::Result;
use crate::output::wire_name;
use coffer_api::{AcceptInvitationRequest, AcceptedInvitation};
use zeroize::{Zeroize, Zeroizing};

/// Runs one `invite` subcommand.
pub async fn run(ctx: &Ctx, cmd: InviteCommand) -> Result<i32> {
    let InviteCommand::Accept { code, no_password } = cmd;
    let code = Zeroizing::new(code);
    // Signed in: an existing person accepting with their own token, who keeps their password.
    let password = if no_password || ctx.client.has_token() {
        None
    } else {
        Some(password::read_new("your new Coffer account")?)
    };
    let mut req = AcceptInvitationRequest {
        code: code.to_string(),
        password: password.as_ref().map(|p| p.to_string()),
        token: Some(true),
    };
    let sent = ctx.client.post(&["invitations", "accept"], &req).await;
    req.code.zeroize();
    if let Some(p) = req.password.as_mut() {
        p.zeroize();
    }
    let body = sent?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    let accepted: AcceptedInvitation = body.parse()?;
    let token = Zeroizing::new(accepted.token.map(|t| t.token).unwrap_or_default());
    eprintln!(
        "{} joined org {} as {}. Your token for it (shown once) follows; keep it like a password, e.g. export COFFER_TOKEN=… and COFFER_ORG={}",
        accepted.user,
        accepted.org,
        wire_name(&accepted.role),
        accepted.org
    );
    println!("{}", token.as_str());
    Ok(0)
}
