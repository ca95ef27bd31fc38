//! `coffer service-account create|role|rm`: the org's non-human identities. Their tokens are
//! minted with `coffer token create --service-account NAME`.

use super::Ctx;
use super::user::to_role;
use crate::cli::ServiceAccountCommand;
use crate::error::Result;
use crate::output::wire_name;
use coffer_api::{CreateServiceAccountRequest, Member, SetRoleRequest};

/// Runs one `service-account` subcommand.
pub async fn run(ctx: &Ctx, cmd: ServiceAccountCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        ServiceAccountCommand::Create { name, role } => {
            let req = CreateServiceAccountRequest {
                name,
                role: to_role(role),
            };
            let body = ctx
                .client
                .post(&["orgs", org, "service-accounts"], &req)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let m: Member = body.parse()?;
            println!(
                "created service account {} ({}) in org {org}; mint its token with `coffer token create --service-account {}`",
                m.name,
                wire_name(&m.role),
                m.name
            );
        }
        ServiceAccountCommand::Role { name, role } => {
            let req = SetRoleRequest {
                role: to_role(role),
            };
            let body = ctx
                .client
                .put(&["orgs", org, "service-accounts", &name], &req)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let m: Member = body.parse()?;
            println!("service account {} is now {}", m.name, wire_name(&m.role));
        }
        ServiceAccountCommand::Rm { name } => {
            let body = ctx
                .client
                .delete(&["orgs", org, "service-accounts", &name])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!("removed service account {name}; its tokens no longer work");
        }
    }
    Ok(0)
}
