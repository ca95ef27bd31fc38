//! `coffer org keys setup|byok|local|show|check` and `coffer admin byok`: an org's root keys
//! (BYOK). Human output is a short status block plus a per-region table; `--json` prints the
//! server's answer. Refusals (turning BYOK off, keys in another location, a failed validation
//! step) are the server's messages, shown as errors with exit code 1.

use super::Ctx;
use crate::cli::{AdminCommand, OrgKeysCommand, SetupDocument};
use crate::error::Result;
use crate::output::{self, Table, wire_name};
use coffer_api::{
    ByokOrgList, KeyProviderKind, KeySetup, OrgKeys, RegionKeyInput, SetOrgKeysRequest,
};

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Prints an org's key view.
fn print_keys(k: &OrgKeys) {
    println!("org:          {} (location {})", k.org, k.location);
    match (k.provider, k.byok_since) {
        (KeyProviderKind::AwsKms, Some(t)) => {
            println!("provider:     aws-kms (BYOK since {})", output::time(t))
        }
        (p, _) => println!("provider:     {}", wire_name(&p)),
    }
    if let Some(role) = &k.role_arn {
        println!("role:         {role}");
    }
    println!("external id:  {}", k.external_id);
    match &k.suspended_reason {
        Some(why) => println!("status:       {} ({why})", wire_name(&k.status)),
        None => println!("status:       {}", wire_name(&k.status)),
    }
    println!("key versions: {}", k.key_versions);
    if !k.keys.is_empty() {
        let mut table = Table::new(&["REGION", "STATE", "LAST PROBE", "KEY", "PROBLEM"]);
        for key in &k.keys {
            let (state, at, problem) = match &key.last_probe {
                Some(p) => {
                    let state = if p.ok {
                        p.state.clone()
                    } else {
                        format!("{} (!)", p.state)
                    };
                    (
                        state,
                        output::time(p.at),
                        p.problem.clone().unwrap_or_default(),
                    )
                }
                None => ("not probed yet".into(), "-".into(), String::new()),
            };
            table.row(vec![
                key.region.clone(),
                state,
                at,
                key.key_arn.clone(),
                problem,
            ]);
        }
        print!("{}", table.render());
    }
    if !k.kms_calls.is_empty() {
        let calls: Vec<String> = k
            .kms_calls
            .iter()
            .map(|c| format!("{} {} {}", c.operation, c.outcome, c.count))
            .collect();
        println!("KMS calls (this node): {}", calls.join(", "));
    }
}

/// Runs one `org keys` subcommand.
pub async fn run(ctx: &Ctx, cmd: OrgKeysCommand) -> Result<i32> {
    let or_default = |slug: Option<String>| slug.unwrap_or_else(|| ctx.org.clone());
    let body = match cmd {
        OrgKeysCommand::Setup { slug, print } => {
            let slug = or_default(slug);
            let body = ctx
                .client
                .get(&["orgs", &slug, "keys", "setup"], &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let s: KeySetup = body.parse()?;
            match print {
                Some(SetupDocument::TrustPolicy) => println!("{}", pretty(&s.trust_policy)),
                Some(SetupDocument::KeyPolicy) => {
                    println!(
                        "{}",
                        pretty(&serde_json::Value::from(s.key_policy_statements))
                    )
                }
                Some(SetupDocument::Cloudformation) => {
                    println!("{}", pretty(&s.cloudformation_template))
                }
                None => print_setup(&s),
            }
            return Ok(0);
        }
        OrgKeysCommand::Byok {
            slug,
            role_arn,
            keys,
        } => {
            let req = SetOrgKeysRequest {
                provider: KeyProviderKind::AwsKms,
                role_arn: Some(role_arn),
                keys: keys
                    .into_iter()
                    .map(|(region, key_arn)| RegionKeyInput { region, key_arn })
                    .collect(),
            };
            let slug = or_default(slug);
            eprintln!("validating the role and keys, then re-wrapping the org keys…");
            let body = ctx.client.put(&["orgs", &slug, "keys"], &req).await?;
            if !ctx.json {
                eprintln!(
                    "BYOK is enabled for org {slug}: its keys are now wrapped only by your KMS keys"
                );
            }
            body
        }
        OrgKeysCommand::Local { slug } => {
            let slug = or_default(slug);
            let body = ctx.client.delete(&["orgs", &slug, "keys"]).await?;
            if !ctx.json {
                eprintln!("org {slug} uses Coffer-managed keys (BYOK was never enabled)");
            }
            body
        }
        OrgKeysCommand::Show { slug } => {
            let slug = or_default(slug);
            ctx.client.get(&["orgs", &slug, "keys"], &[]).await?
        }
        OrgKeysCommand::Check { slug } => {
            let slug = or_default(slug);
            ctx.client
                .post_empty(&["orgs", &slug, "keys", "check"], &[])
                .await?
        }
    };
    if ctx.json {
        return body.print_json().map(|()| 0);
    }
    print_keys(&body.parse()?);
    Ok(0)
}

fn print_setup(s: &KeySetup) {
    println!(
        "BYOK setup for org {} (location {}: {})",
        s.org,
        s.location,
        s.regions.join(", ")
    );
    println!();
    println!("external id:        {}", s.external_id);
    println!("Coffer's principal: {}", s.coffer_principal);
    println!("encryption context: coffer:org = {}", s.org_id);
    println!();
    for (i, step) in s.instructions.iter().enumerate() {
        println!("{}. {step}", i + 1);
    }
    println!();
    println!("--- role trust policy (role {}) ---", s.suggested_role_name);
    println!("{}", pretty(&s.trust_policy));
    println!("--- statements to add to each key's policy (replace ACCOUNT_ID) ---");
    println!(
        "{}",
        pretty(&serde_json::Value::from(s.key_policy_statements.clone()))
    );
    println!(
        "--- CloudFormation template (save it with: coffer org keys setup {} --print cloudformation > coffer-byok.json) ---",
        s.org
    );
    println!("{}", pretty(&s.cloudformation_template));
}

/// Runs one `admin` subcommand.
pub async fn admin(ctx: &Ctx, cmd: AdminCommand) -> Result<i32> {
    match cmd {
        AdminCommand::Byok => {
            let body = ctx.client.get(&["admin", "byok"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: ByokOrgList = body.parse()?;
            let mut table = Table::new(&[
                "ORG",
                "LOCATION",
                "STATUS",
                "REGION",
                "STATE",
                "LAST PROBE",
                "KMS CALLS",
                "KEY",
            ]);
            for org in &list.orgs {
                let calls: u64 = org.kms_calls.iter().map(|c| c.count).sum();
                for key in &org.keys {
                    let (state, at) = match &key.last_probe {
                        Some(p) => (p.state.clone(), output::time(p.at)),
                        None => ("-".into(), "-".into()),
                    };
                    table.row(vec![
                        org.org.clone(),
                        org.location.to_string(),
                        wire_name(&org.status),
                        key.region.clone(),
                        state,
                        at,
                        calls.to_string(),
                        key.key_arn.clone(),
                    ]);
                }
            }
            table.print_or("no org uses BYOK");
        }
    }
    Ok(0)
}
