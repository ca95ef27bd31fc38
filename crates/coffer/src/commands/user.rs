//! `coffer user add|list|passwd`.

use super::Ctx;
use crate::cli::{RoleArg, UserCommand};
use crate::error::Result;
use crate::output::{self, Table, wire_name};
use coffer_api::{AddUserRequest, Member, MemberList, Role};

/// Runs one `user` subcommand.
pub async fn run(ctx: &Ctx, cmd: UserCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
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
            let mut table = Table::new(&["NAME", "ROLE", "OPERATOR", "CREATED", "ID"]);
            for m in list.users {
                table.row(vec![
                    m.name,
                    wire_name(&m.role),
                    if m.operator { "yes" } else { "" }.to_owned(),
                    output::time(m.created_at),
                    m.id.to_string(),
                ]);
            }
            table.print_or("no users");
        }
        UserCommand::Passwd { name } => {
            let password = super::user_passwd::read_new_password(&name)?;
            let mut req = coffer_api::SetPasswordRequest {
                password: password.to_string(),
            };
            let sent = ctx
                .client
                .put(&["orgs", org, "users", &name, "password"], &req)
                .await;
            zeroize::Zeroize::zeroize(&mut req.password);
            sent?;
            println!(
                "password set for {name}; they sign in at /login with org {org}, and their other sessions were signed out"
            );
        }
    }
    Ok(0)
}

fn to_role(r: RoleArg) -> Role {
    match r {
        RoleArg::Owner => Role::Owner,
        RoleArg::Admin => Role::Admin,
        RoleArg::Member => Role::Member,
        RoleArg::Auditor => Role::Auditor,
    }
}
