//! `coffer user invite|invitations|uninvite|add|list|role|rm|reset`: memberships of an org, and
//! the operator's credential reset. Codes (invitations, resets) are printed alone on stdout,
//! like tokens, so they can be captured; everything else goes to stderr.

use super::Ctx;
use crate::cli::{RoleArg, UserCommand};
use crate::error::Result;
use crate::output::{self, Table, wire_name};
use coffer_api::{
    AddUserRequest, CreatedInvitation, CreatedReset, InvitationList, InviteRequest, Member,
    MemberList, ResetRequest, Role, SetRoleRequest,
};
use zeroize::Zeroizing;

/// Runs one `user` subcommand.
pub async fn run(ctx: &Ctx, cmd: UserCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        UserCommand::Invite {
            name,
            role,
            expires_in,
        } => return invite(ctx, org, name, to_role(role), expires_in).await,
        UserCommand::Invitations => {
            let body = ctx.client.get(&["orgs", org, "invitations"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: InvitationList = body.parse()?;
            let mut table = Table::new(&["NAME", "ROLE", "STATE", "BY", "EXPIRES", "ID"]);
            for i in list.invitations {
                table.row(vec![
                    i.name,
                    wire_name(&i.role),
                    wire_name(&i.state),
                    i.created_by,
                    output::time(i.expires_at),
                    i.id.to_string(),
                ]);
            }
            table.print_or("no invitations");
        }
        UserCommand::Uninvite { id } => {
            let id = id.to_string();
            let body = ctx
                .client
                .delete(&["orgs", org, "invitations", &id])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            eprintln!("revoked invitation {id}");
        }
        UserCommand::Add { name, role } => {
            let req = AddUserRequest {
                name,
                role: to_role(role),
            };
            let body = ctx.client.post(&["orgs", org, "users"], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let member: Member = body.parse()?;
            println!(
                "{} is {} of org {org}",
                member.name,
                wire_name(&member.role)
            );
        }
        UserCommand::List => {
            let body = ctx.client.get(&["orgs", org, "users"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: MemberList = body.parse()?;
            let mut table = Table::new(&["NAME", "KIND", "ROLE", "CREATED", "ID"]);
            for m in list.users {
                table.row(vec![
                    m.name,
                    wire_name(&m.kind),
                    wire_name(&m.role),
                    output::time(m.created_at),
                    m.id.to_string(),
                ]);
            }
            table.print_or("no members");
        }
        UserCommand::Role { name, role } => {
            let req = SetRoleRequest {
                role: to_role(role),
            };
            let body = ctx.client.put(&["orgs", org, "users", &name], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let m: Member = body.parse()?;
            println!("{} is now {} of org {org}", m.name, wire_name(&m.role));
        }
        UserCommand::Rm { name } => {
            let body = ctx.client.delete(&["orgs", org, "users", &name]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!(
                "removed {name} from org {org}; their tokens and sessions there no longer work"
            );
        }
        UserCommand::Reset { name, expires_in } => {
            let req = ResetRequest {
                expires_in_seconds: expires_in.map(|d| d.as_secs().max(1)),
            };
            let body = ctx.client.post(&["users", &name, "reset"], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let reset: CreatedReset = body.parse()?;
            let code = Zeroizing::new(reset.code);
            eprintln!(
                "reset {name}: every token, session and the password were revoked. Hand them this code (it works once, until {}); they run `coffer passwd --reset-code CODE --token-for ORG`:",
                output::time(reset.expires_at)
            );
            println!("{}", code.as_str());
        }
    }
    Ok(0)
}

/// `coffer user invite` (and `coffer org create --owner`): prints the code alone on stdout.
pub async fn invite(
    ctx: &Ctx,
    org: &str,
    name: String,
    role: Role,
    expires_in: Option<std::time::Duration>,
) -> Result<i32> {
    let req = InviteRequest {
        name,
        role,
        expires_in_seconds: expires_in.map(|d| d.as_secs().max(1)),
    };
    let body = ctx.client.post(&["orgs", org, "invitations"], &req).await?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    let created: CreatedInvitation = body.parse()?;
    let code = Zeroizing::new(created.code);
    let i = created.info;
    eprintln!(
        "invited {} to org {} as {} (until {}). Hand them this code; it works once. They run `coffer invite accept CODE` (or open {}/invite#CODE in a browser):",
        i.name,
        i.org,
        wire_name(&i.role),
        output::time(i.expires_at),
        ctx.client.base_url().trim_end_matches('/'),
    );
    println!("{}", code.as_str());
    Ok(0)
}

/// The wire role of a command-line role.
pub fn to_role(r: RoleArg) -> Role {
    match r {
        RoleArg::Owner => Role::Owner,
        RoleArg::Admin => Role::Admin,
        RoleArg::Member => Role::Member,
        RoleArg::Auditor => Role::Auditor,
    }
}
