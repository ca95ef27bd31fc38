//! `coffer passwd`: change your own password (the current one is asked for when the server needs
//! it), or redeem a reset code from the operator. Piped input is one line per password: the new
//! one, then the current one if it is asked for.

use super::Ctx;
use super::password;
use crate::cli::PasswdArgs;
use crate::error::{CliError, Result};
use coffer_api::{RedeemResetRequest, RedeemedReset, SetPasswordRequest};
use zeroize::{Zeroize, Zeroizing};

/// Runs `coffer passwd`.
pub async fn run(ctx: &Ctx, args: PasswdArgs) -> Result<i32> {
    if let Some(code) = args.reset_code {
        return redeem(ctx, Zeroizing::new(code), args.token_for).await;
    }
    let new = password::read_new("you")?;
    let mut req = SetPasswordRequest {
        password: new.to_string(),
        current_password: None,
    };
    let mut sent = ctx.client.put(&["me", "password"], &req).await;
    if matches!(&sent, Err(CliError::Api { code, .. }) if code == "current_password_required") {
        req.current_password = Some(password::read_current()?.to_string());
        sent = ctx.client.put(&["me", "password"], &req).await;
    }
    req.password.zeroize();
    if let Some(c) = req.current_password.as_mut() {
        c.zeroize();
    }
    sent?;
    println!("password changed; your other web sessions were signed out");
    Ok(0)
}

async fn redeem(ctx: &Ctx, code: Zeroizing<String>, org: Option<String>) -> Result<i32> {
    let new = password::read_new("you")?;
    let mut req = RedeemResetRequest {
        code: code.to_string(),
        password: new.to_string(),
        org,
    };
    let sent = ctx.client.post(&["credentials", "redeem"], &req).await;
    req.code.zeroize();
    req.password.zeroize();
    let body = sent?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    let redeemed: RedeemedReset = body.parse()?;
    eprintln!("password set for {}", redeemed.user);
    if let Some(t) = redeemed.token {
        let token = Zeroizing::new(t.token);
        eprintln!(
            "your new token for org {} (shown once) follows",
            t.info.org.as_deref().unwrap_or("?")
        );
        println!("{}", token.as_str());
    }
    Ok(0)
}
