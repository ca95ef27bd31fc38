//! `coffer org storage setup|set|reset|show`: an org's bucket. A save prints the server's
//! validation sentence, its warnings and each step; a refused save is the server's message
//! (which step failed and the fix), exit code 1. `show` includes the bucket's health as the
//! server's drift checks last recorded it (a degraded bucket names its failing step and the fix). Moving existing secrets is followed with a
//! progress bar fed by polling `GET …/storage`.

use super::Ctx;
use crate::cli::OrgStorageCommand;
use crate::error::Result;
use coffer_api::{
    SetStorageRequest, StorageHealth, StorageHealthStatus, StorageKind, StorageSaved, StorageSetup,
    StorageView,
};
use std::time::Duration;

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn print_view(v: &StorageView) {
    match v.kind {
        StorageKind::Default => println!("storage:   default (the deployment's own store)"),
        StorageKind::Custom => {
            let bucket = v.bucket.as_deref().unwrap_or_default();
            let region = v.region.as_deref().unwrap_or_default();
            println!("storage:   s3://{bucket} ({region})");
            if let Some(e) = &v.endpoint {
                println!("endpoint:  {e}");
            }
            if let Some(p) = &v.prefix {
                println!("prefix:    {p}/");
            }
            if let (Some(at), Some(by)) = (v.saved_at, &v.saved_by) {
                println!("saved:     {} by {by}", crate::output::time(at));
            }
        }
    }
    let m = &v.migration;
    println!(
        "secrets:   {} of {} versions in place ({})",
        m.done, m.total, m.state
    );
    if let Some(e) = &m.last_error {
        println!("problem:   {e}");
    }
    if let Some(h) = &v.health {
        print_health(h);
    }
}

/// The bucket's health as the drift checks last recorded it.
fn print_health(h: &StorageHealth) {
    let when = |t: Option<time::OffsetDateTime>| t.map(crate::output::time).unwrap_or_default();
    match h.status {
        StorageHealthStatus::Unchecked => {
            println!("health:    not checked yet (every storage.probe_interval)")
        }
        StorageHealthStatus::Ok => println!(
            "health:    ok since {} (checked {})",
            when(h.since),
            when(h.checked_at)
        ),
        StorageHealthStatus::Degraded => {
            println!(
                "health:    DEGRADED at step `{}` since {} (checked {})",
                h.step.as_deref().unwrap_or("?"),
                when(h.since),
                when(h.checked_at)
            );
            if let Some(d) = &h.detail {
                println!("           {d}");
            }
        }
    }
    for w in &h.warnings {
        println!("warning:   {} ({})", w.detail, w.step);
    }
}

/// Polls the org's storage until every version is in place, drawing a progress bar.
async fn follow(ctx: &Ctx, slug: &str) -> Result<StorageView> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "moving secrets {bar:40} {pos}/{len} versions {msg}",
        )
        .expect("static template"),
    );
    loop {
        let view: StorageView = ctx
            .client
            .get(&["orgs", slug, "storage"], &[])
            .await?
            .parse()?;
        let m = &view.migration;
        bar.set_length(m.total);
        bar.set_position(m.done);
        bar.set_message(m.last_error.clone().unwrap_or_default());
        if m.state == "idle" {
            bar.finish_and_clear();
            return Ok(view);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs one `org storage` subcommand.
pub async fn run(ctx: &Ctx, cmd: OrgStorageCommand) -> Result<i32> {
    let or_default = |slug: Option<String>| slug.unwrap_or_else(|| ctx.org.clone());
    let (slug, wait, body) = match cmd {
        OrgStorageCommand::Setup {
            slug,
            bucket,
            region,
        } => {
            let slug = or_default(slug);
            let mut query = vec![("bucket", bucket)];
            query.extend(region.map(|r| ("region", r)));
            let body = ctx
                .client
                .get(&["orgs", &slug, "storage", "setup"], &query)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            print_setup(&body.parse()?);
            return Ok(0);
        }
        OrgStorageCommand::Set {
            slug,
            bucket,
            region,
            endpoint,
            prefix,
            no_wait,
        } => {
            let slug = or_default(slug);
            let req = SetStorageRequest {
                bucket,
                region,
                endpoint,
                prefix,
            };
            if !ctx.json {
                eprintln!(
                    "validating the bucket (region, residency, put/get/delete of a probe object)…"
                );
            }
            let body = ctx.client.put(&["orgs", &slug, "storage"], &req).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let saved: StorageSaved = body.parse()?;
            println!("{}", saved.message);
            for c in &saved.checks {
                println!("  {:<14} {:<8} {}", c.step, c.outcome, c.detail);
            }
            for w in &saved.warnings {
                eprintln!("warning: {w}");
            }
            (slug, !no_wait, None)
        }
        OrgStorageCommand::Reset { slug, no_wait } => {
            let slug = or_default(slug);
            let body = ctx.client.delete(&["orgs", &slug, "storage"]).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!("org {slug} stores new secrets in the deployment's default store again");
            (slug, !no_wait, None)
        }
        OrgStorageCommand::Show { slug, watch } => {
            let slug = or_default(slug);
            let body = ctx.client.get(&["orgs", &slug, "storage"], &[]).await?;
            if ctx.json && !watch {
                return body.print_json().map(|()| 0);
            }
            (slug, watch, Some(body.parse::<StorageView>()?))
        }
    };
    let view = match (wait, body) {
        (true, _) => follow(ctx, &slug).await?,
        (false, Some(v)) => v,
        (false, None) => ctx
            .client
            .get(&["orgs", &slug, "storage"], &[])
            .await?
            .parse()?,
    };
    print_view(&view);
    Ok(0)
}

fn print_setup(s: &StorageSetup) {
    println!("Storage setup for org {}: bucket {}", s.org, s.bucket);
    if !s.allowed_regions.is_empty() {
        println!("allowed regions:    {}", s.allowed_regions.join(", "));
    }
    println!("Coffer's principal: {}", s.coffer_principal);
    println!("Coffer's origin:    {}", s.public_origin);
    println!();
    for (i, step) in s.instructions.iter().enumerate() {
        println!("{}. {step}", i + 1);
    }
    println!();
    println!("--- commands ---");
    for c in &s.commands {
        println!("{c}");
    }
    println!("--- bucket policy ---");
    println!("{}", pretty(&s.bucket_policy));
    println!("--- CORS configuration ---");
    println!("{}", pretty(&s.cors_configuration));
}
