//! `coffer audit list|verify`. `verify` exits 0 when the chain is intact (and, with
//! `--against-bucket`, matches the copy in the org's own bucket) and 1 otherwise, so it can gate
//! a cron job or CI step.

use super::Ctx;
use crate::cli::AuditCommand;
use crate::error::Result;
use crate::output::{self, Table};
use coffer_api::{AuditList, AuditVerification};

/// Runs one `audit` subcommand.
pub async fn run(ctx: &Ctx, cmd: AuditCommand) -> Result<i32> {
    let org = ctx.org.as_str();
    match cmd {
        AuditCommand::List {
            after,
            limit,
            action,
            actor,
            secret,
        } => {
            let query = [
                ("after", after.map(|v| v.to_string()).unwrap_or_default()),
                ("limit", limit.map(|v| v.to_string()).unwrap_or_default()),
                ("action", action.unwrap_or_default()),
                ("actor", actor.unwrap_or_default()),
                ("target", secret.unwrap_or_default()),
            ];
            let body = ctx.client.get(&["orgs", org, "audit"], &query).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: AuditList = body.parse()?;
            let mut table = Table::new(&["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "DETAILS"]);
            for e in list.events {
                let details = match &e.details {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::Object(m) if m.is_empty() => String::new(),
                    other => other.to_string(),
                };
                table.row(vec![
                    e.seq.to_string(),
                    output::time(e.at),
                    e.actor,
                    e.action,
                    e.target,
                    details,
                ]);
            }
            table.print_or("no audit events");
            Ok(0)
        }
        AuditCommand::Verify {
            expect,
            against_bucket,
        } => {
            let bucket = if against_bucket { "true" } else { "" };
            let query = [
                ("expect", expect.unwrap_or_default()),
                ("against_bucket", bucket.to_owned()),
            ];
            let body = ctx
                .client
                .get(&["orgs", org, "audit", "verify"], &query)
                .await?;
            let v: AuditVerification = body.parse()?;
            if ctx.json {
                body.print_json()?;
            } else if v.ok {
                println!("{} ({} events, head {})", v.message, v.events, v.head);
                if let Some(c) = &v.checkpoint {
                    println!(
                        "checkpoint {}:{} (event {}, signed by {}) — keep it; `coffer audit verify --expect {}:{}` proves later that nothing before it was removed or rewritten",
                        c.n, c.head, c.seq, c.public_key, c.n, c.head
                    );
                }
            } else if let Some(problem) = v.bucket.as_ref().and_then(|b| b.problem.as_ref()) {
                eprintln!("audit trail DIVERGES from the bucket copy: {problem}");
            } else {
                match v.first_bad_seq {
                    Some(seq) => eprintln!("audit chain BROKEN at seq {seq}: {}", v.message),
                    None => eprintln!("audit chain BROKEN: {}", v.message),
                }
            }
            Ok(if v.ok { 0 } else { 1 })
        }
    }
}
