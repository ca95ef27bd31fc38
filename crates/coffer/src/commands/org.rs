//! `coffer org create|list|show|rotate-key` (and the `keys`, `storage`, `sso`, `scim`, `webhook`,
//! `jira` groups' dispatch).

use super::Ctx;
use crate::cli::OrgCommand;
use crate::error::Result;
use crate::output::{self, Table, wire_name};
use coffer_api::{CreateOrgRequest, Org, OrgList, Role, RotateKeyResponse};

/// Runs one `org` subcommand.
pub async fn run(ctx: &Ctx, cmd: OrgCommand) -> Result<i32> {
    match cmd {
        OrgCommand::Create {
            slug,
            owner,
            name,
            location,
        } => {
            let req = CreateOrgRequest {
                slug,
                name,
                location,
            };
            let body = ctx.client.post(&["orgs"], &req).await?;
            let org: Org = body.parse()?;
            if ctx.json && owner.is_none() {
                return body.print_json().map(|()| 0);
            }
            eprintln!(
                "created org {} ({}, location {})",
                org.slug,
                org.name,
                wire_name(&org.location)
            );
            if let Some(owner) = owner {
                return super::user::invite(ctx, &org.slug, owner, Role::Owner, None).await;
            }
        }
        OrgCommand::List => {
            let body = ctx.client.get(&["orgs"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: OrgList = body.parse()?;
            let mut table = Table::new(&["SLUG", "NAME", "LOCATION", "STATUS", "KEY", "CREATED"]);
            for org in list.orgs {
                table.row(vec![
                    org.slug,
                    org.name,
                    wire_name(&org.location),
                    wire_name(&org.status),
                    format!("v{}", org.key_version),
                    output::time(org.created_at),
                ]);
            }
            table.print_or("no orgs");
        }
        OrgCommand::Show { slug } => {
            let slug = slug.unwrap_or_else(|| ctx.org.clone());
            let body = ctx.client.get(&["orgs", &slug], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let org: Org = body.parse()?;
            println!("slug:         {}", org.slug);
            println!("name:         {}", org.name);
            println!("id:           {}", org.id);
            println!("location:     {}", wire_name(&org.location));
            match org.suspended_reason {
                Some(reason) => println!("status:       {} ({reason})", wire_name(&org.status)),
                None => println!("status:       {}", wire_name(&org.status)),
            }
            println!("key version:  {}", org.key_version);
            println!("created:      {}", output::time(org.created_at));
        }
        OrgCommand::Keys(cmd) => return super::keys::run(ctx, cmd).await,
        OrgCommand::Storage(cmd) => return super::storage::run(ctx, cmd).await,
        OrgCommand::Sso(cmd) => return super::sso::run(ctx, cmd).await,
        OrgCommand::Scim(cmd) => return super::scim::run(ctx, cmd).await,
        OrgCommand::Webhook(cmd) => return super::webhook::run(ctx, cmd).await,
        OrgCommand::Jira(cmd) => return super::jira::run_org(ctx, cmd).await,
        OrgCommand::RecoveryKit(args) => return super::recovery::make_kit(ctx, args).await,
        OrgCommand::RotateKey { slug } => {
            let slug = slug.unwrap_or_else(|| ctx.org.clone());
            let body = ctx
                .client
                .post_empty(&["orgs", &slug, "keys", "rotate"], &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let r: RotateKeyResponse = body.parse()?;
            println!(
                "org key rotated: version {new} (was {old}); new writes use version {new}, older versions still decrypt",
                new = r.key_version,
                old = r.previous_version
            );
        }
    }
    Ok(0)
}
