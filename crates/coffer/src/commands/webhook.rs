//! `coffer org webhook add|list|remove|rotate-secret|deliveries|redeliver`: the org's webhooks
//! (docs/webhooks.md). `add` and `rotate-secret` print the signing secret alone on stdout (so
//! `SECRET=$(coffer org webhook add …)` works) and everything else — the webhook's id, that the
//! secret is shown once — on stderr. What the server stored from someone else's input (URLs,
//! descriptions, names, a receiver's error) is printed with its control characters escaped, so it
//! cannot move the cursor, recolour or rewrite the terminal.

use super::Ctx;
use crate::cli::OrgWebhookCommand;
use crate::error::Result;
use crate::output::{self, Table};
use coffer_api::{
    CreateWebhookRequest, CreatedWebhook, DeliveryInfo, DeliveryList, RotatedWebhookSecret,
    WebhookList,
};
use zeroize::Zeroizing;

fn names<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `text` for a terminal: control characters escaped (`\n`, `\u{1b}`), the rest as it is.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The last answer of a delivery, for a table cell.
fn last(d: &DeliveryInfo) -> String {
    match (&d.last_status, &d.last_error) {
        (_, Some(error)) => printable(error),
        (Some(status), None) => format!("HTTP {status}"),
        (None, None) => "-".into(),
    }
}

/// Runs one `org webhook` subcommand.
pub async fn run(ctx: &Ctx, cmd: OrgWebhookCommand) -> Result<i32> {
    let slug = ctx.org.as_str();
    match cmd {
        OrgWebhookCommand::Add {
            url,
            events,
            description,
        } => {
            let req = CreateWebhookRequest {
                url,
                events,
                description,
            };
            let body = ctx.client.post(&["orgs", slug, "webhooks"], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let created: CreatedWebhook = body.parse()?;
            let secret = Zeroizing::new(created.secret);
            let w = &created.webhook;
            eprintln!(
                "added webhook {} of org {slug}: {} for {}",
                w.id,
                printable(&w.url),
                names(&w.events)
            );
            eprintln!(
                "Its signing secret is shown only once (Coffer keeps it sealed): give it to the receiver to check Coffer-Signature (docs/webhooks.md)."
            );
            println!("{}", secret.as_str());
        }
        OrgWebhookCommand::List => {
            let body = ctx.client.get(&["orgs", slug, "webhooks"], &[]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: WebhookList = body.parse()?;
            let mut table = Table::new(&[
                "ID",
                "URL",
                "EVENTS",
                "CREATED BY",
                "CREATED",
                "DESCRIPTION",
            ]);
            for w in list.webhooks {
                table.row(vec![
                    w.id.to_string(),
                    printable(&w.url),
                    names(&w.events),
                    printable(&w.created_by),
                    output::time(w.created_at),
                    w.description
                        .as_deref()
                        .map_or_else(|| "-".into(), printable),
                ]);
            }
            table.print_or(&format!("no webhooks in org {slug}"));
        }
        OrgWebhookCommand::Remove { id } => {
            let id = id.to_string();
            let body = ctx.client.delete(&["orgs", slug, "webhooks", &id]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            eprintln!("removed webhook {id} of org {slug} and its deliveries");
        }
        OrgWebhookCommand::RotateSecret { id } => {
            let id = id.to_string();
            let body = ctx
                .client
                .post_empty(&["orgs", slug, "webhooks", &id, "rotate-secret"], &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let rotated: RotatedWebhookSecret = body.parse()?;
            let secret = Zeroizing::new(rotated.secret);
            eprintln!(
                "webhook {id} of org {slug} has a new signing secret, shown only once; every delivery from now on is signed with it"
            );
            println!("{}", secret.as_str());
        }
        OrgWebhookCommand::Deliveries { id, failed, limit } => {
            let id = id.to_string();
            let query = [("failed", failed.to_string()), ("limit", limit.to_string())];
            let body = ctx
                .client
                .get(&["orgs", slug, "webhooks", &id, "deliveries"], &query)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: DeliveryList = body.parse()?;
            let mut table = Table::new(&[
                "ID", "EVENT", "STATE", "ATTEMPTS", "CREATED", "NEXT", "LAST",
            ]);
            for d in list.deliveries {
                table.row(vec![
                    d.id.to_string(),
                    d.event.to_string(),
                    d.state.to_string(),
                    d.attempts.to_string(),
                    output::time(d.created_at),
                    output::opt_time(d.next_attempt_at),
                    last(&d),
                ]);
            }
            let none = if failed {
                format!("no failed deliveries of webhook {id}")
            } else {
                format!("no deliveries of webhook {id} yet")
            };
            table.print_or(&none);
        }
        OrgWebhookCommand::Redeliver { delivery_id } => {
            let id = delivery_id.to_string();
            let body = ctx
                .client
                .post_empty(
                    &["orgs", slug, "webhooks", "deliveries", &id, "redeliver"],
                    &[],
                )
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let d: DeliveryInfo = body.parse()?;
            eprintln!(
                "delivery {id} ({} {}) is queued again; `coffer org webhook deliveries {}` shows how it goes",
                d.event, d.event_id, d.webhook_id
            );
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            printable("https://h.example/\u{1b}[2J\r\nx\u{7}"),
            "https://h.example/\\u{1b}[2J\\r\\nx\\u{7}"
        );
        assert_eq!(printable("pager — zoë"), "pager — zoë");
        assert_eq!(printable("a\u{9b}b"), "a\\u{9b}b");
    }
}
