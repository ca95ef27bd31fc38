//! `coffer user add|list`.

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
