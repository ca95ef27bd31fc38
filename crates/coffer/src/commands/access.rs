//! `coffer group …`, `coffer grant …` and `coffer secret share|unshare|restrict|unrestrict|access`:
//! who may use which secrets (docs/access.md). Each maps its arguments to one route and prints
//! what the server answered (`--json`: the body as is).

use super::Ctx;
use crate::cli::secret::Target;
use crate::cli::{GrantCommand, GroupCommand, LevelArg};
use crate::error::Result;
use crate::output::Table;
use coffer_api::{
    AccessLevel, CreateGrantRequest, CreateGroupRequest, Grant, GrantList, GroupList, SecretAccess,
    SetRestrictedRequest, ShareRequest,
};

fn level(l: LevelArg) -> AccessLevel {
    match l {
        LevelArg::Read => AccessLevel::Read,
        LevelArg::Write => AccessLevel::Write,
        LevelArg::Manage => AccessLevel::Manage,
    }
}

/// A group member as the API names it: a bare name is a person.
fn member(s: &str) -> String {
    if s.contains(':') {
        s.to_owned()
    } else {
        format!("user:{s}")
    }
}

/// Runs one `group` subcommand.
pub async fn group(ctx: &Ctx, cmd: GroupCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        GroupCommand::List => {
            let body = ctx.client.get(&["orgs", org, "groups"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: GroupList = body.parse()?;
            let mut table = Table::new(&["GROUP", "MEMBERS", "BY"]);
            for g in list.groups {
                table.row(vec![g.name, g.members.join(", "), g.created_by]);
            }
            table.print_or("no groups");
        }
        GroupCommand::Create { name } => {
            let body = ctx
                .client
                .post(
                    &["orgs", org, "groups"],
                    &CreateGroupRequest { name: name.clone() },
                )
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!("created group {name}; add members with `coffer group add {name} NAME`");
        }
        GroupCommand::Delete { name } => {
            ctx.client.delete(&["orgs", org, "groups", &name]).await?;
            println!("deleted group {name} with its grants and shares");
        }
        GroupCommand::Add { group, member: who } => {
            let who = member(&who);
            ctx.client
                .put_empty(&["orgs", org, "groups", &group, "members", &who])
                .await?;
            println!("{who} is in group {group}");
        }
        GroupCommand::Rm { group, member: who } => {
            let who = member(&who);
            ctx.client
                .delete(&["orgs", org, "groups", &group, "members", &who])
                .await?;
            println!("{who} is not in group {group}");
        }
    }
    Ok(0)
}

/// Runs one `grant` subcommand.
pub async fn grant(ctx: &Ctx, cmd: GrantCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        GrantCommand::List => {
            let body = ctx.client.get(&["orgs", org, "grants"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: GrantList = body.parse()?;
            let mut table = Table::new(&["SCOPE", "TO", "LEVEL", "BY", "ID"]);
            for g in list.grants {
                table.row(vec![
                    g.scope,
                    g.principal,
                    g.level.to_string(),
                    g.created_by,
                    g.id.to_string(),
                ]);
            }
            table.print_or("no grants");
        }
        GrantCommand::Add {
            scope,
            to,
            level: l,
        } => {
            let req = CreateGrantRequest {
                scope,
                to,
                level: level(l),
            };
            let body = ctx.client.post(&["orgs", org, "grants"], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let g: Grant = body.parse()?;
            println!(
                "granted {} {} on {} (revoke with `coffer grant rm {}`)",
                g.principal, g.level, g.scope, g.id
            );
        }
        GrantCommand::Rm { id } => {
            ctx.client
                .delete(&["orgs", org, "grants", &id.to_string()])
                .await?;
            println!("revoked grant {id}");
        }
    }
    Ok(0)
}

fn secret_path<'a>(ctx: &'a Ctx, t: &'a Target, rest: &[&'a str]) -> Vec<&'a str> {
    let mut p = vec![
        "orgs",
        ctx.org.as_str(),
        "secrets",
        t.scope.as_str(),
        t.name.as_str(),
    ];
    p.extend_from_slice(rest);
    p
}

/// Prints who can see a secret and why.
fn print_access(a: &SecretAccess, target: &Target) {
    if a.restricted {
        println!(
            "{} is restricted: only its shares give access",
            target.display()
        );
    }
    let mut table = Table::new(&["WHO", "ACCESS", "BECAUSE"]);
    for e in &a.entries {
        table.row(vec![
            e.principal.clone(),
            e.access.clone(),
            e.because.join("; "),
        ]);
    }
    table.print_or("nobody can see it");
}

/// `coffer secret share`.
pub async fn share(ctx: &Ctx, target: &Target, with: String, l: LevelArg) -> Result<i32> {
    let req = ShareRequest {
        with,
        level: level(l),
    };
    let body = ctx
        .client
        .put(&secret_path(ctx, target, &["shares"]), &req)
        .await?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    println!(
        "shared {} with {} ({})",
        target.display(),
        req.with,
        req.level
    );
    print_access(&body.parse()?, target);
    Ok(0)
}

/// `coffer secret unshare`.
pub async fn unshare(ctx: &Ctx, target: &Target, with: &str) -> Result<i32> {
    ctx.client
        .delete(&secret_path(ctx, target, &["shares", with]))
        .await?;
    println!("{} is not shared with {with}", target.display());
    Ok(0)
}

/// `coffer secret restrict|unrestrict`.
pub async fn restrict(ctx: &Ctx, target: &Target, restricted: bool) -> Result<i32> {
    let body = ctx
        .client
        .put(
            &secret_path(ctx, target, &["restricted"]),
            &SetRestrictedRequest { restricted },
        )
        .await?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    if !restricted {
        println!("{} is no longer restricted", target.display());
    }
    print_access(&body.parse()?, target);
    Ok(0)
}

/// `coffer secret access`.
pub async fn access(ctx: &Ctx, target: &Target) -> Result<i32> {
    let body = ctx
        .client
        .get(&secret_path(ctx, target, &["access"]), &[])
        .await?;
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    print_access(&body.parse()?, target);
    Ok(0)
}
