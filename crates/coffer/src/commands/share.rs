//! `coffer secret link|request` and `coffer link|request list|revoke`: sharing with people
//! outside Coffer (docs/links-and-requests.md).
//!
//! A link's copy is sealed here, with the envelope format, under a fresh key that goes only into
//! the printed URL's fragment: the server gets ciphertext it cannot open, and the key is printed
//! once, on stdout, never sent anywhere. A request needs nothing sealed here: the outsider's
//! browser seals the value to the request's public key.

use super::Ctx;
use super::secret::path;
use super::secret_value as value;
use crate::cli::share::{LinkArgs, RequestArgs};
use crate::cli::{LinkCommand, RequestCommand};
use crate::error::Result;
use crate::output::{self, Table};
use base64::Engine;
use coffer_api::{
    CreateLinkRequest, CreateSecretRequest, LinkInfo, LinkList, Org, RevealedSecret, Secret,
    SecretRequestInfo, SecretRequestList,
};
use coffer_envelope::{Binding, Key32};
use zeroize::{Zeroize as _, Zeroizing};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `coffer secret link`.
pub async fn link(ctx: &Ctx, a: LinkArgs) -> Result<i32> {
    // Checked before the reveal, which would use one of the views the server then refuses to
    // extend (it checks again).
    let meta: Secret = ctx
        .client
        .get(&path(ctx, &a.target, None), &[])
        .await?
        .parse()?;
    if let Some(limit) = meta.view_limit {
        return Err(anyhow::anyhow!(
            "{} has a view limit of {limit}; a link would hand out views past it. Share it with \
             a member instead, or write it without a view limit",
            a.target.display()
        )
        .into());
    }
    let query = [(
        "version",
        a.version.map(|v| v.to_string()).unwrap_or_default(),
    )];
    let body = ctx
        .client
        .post_empty(&path(ctx, &a.target, Some("reveal")), &query)
        .await?;
    let mut revealed: RevealedSecret = body.parse()?;
    let bytes = value::decode(&revealed.value);
    revealed.value.zeroize();
    let bytes = bytes?;
    let org: Org = ctx.client.get(&["orgs", &ctx.org], &[]).await?.parse()?;
    let key = Key32::generate();
    let binding = Binding {
        org: *org.id.as_bytes(),
        secret: *revealed.secret.id.as_bytes(),
        version: revealed.version,
        key_version: 1,
    };
    let sealed = coffer_envelope::seal(&key, &binding, &bytes)
        .map_err(|e| anyhow::anyhow!("sealing the link's copy: {e}"))?;
    drop(bytes);
    let proof = coffer_envelope::link_open_proof(&key);
    let open_hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &proof);
    let req = CreateLinkRequest {
        version: Some(revealed.version),
        envelope: B64.encode(&sealed.bytes),
        open_hash: hex_lower(open_hash.as_ref()),
        expires_in_seconds: a.expires.as_secs(),
        max_views: a.views,
    };
    let mut info: LinkInfo = ctx
        .client
        .post(&path(ctx, &a.target, Some("links")), &req)
        .await?
        .parse()?;
    let url = Zeroizing::new(format!("{}#{}", info.url, B64URL.encode(key.expose())));
    if ctx.json {
        info.url = url.to_string();
        println!(
            "{}",
            serde_json::to_string_pretty(&info).map_err(anyhow::Error::from)?
        );
        info.url.zeroize();
    } else {
        println!("{}", url.as_str());
        eprintln!(
            "one-time link to {} version {}: opens {} time(s) until {}; id {}. Send it over a \
             channel you trust — Coffer cannot show it again (revoke: coffer link revoke {}).",
            info.target,
            info.version,
            info.max_views,
            output::time(info.expires_at),
            info.id,
            info.id
        );
    }
    Ok(0)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `coffer secret request`.
pub async fn request(ctx: &Ctx, a: RequestArgs) -> Result<i32> {
    let req = CreateSecretRequest {
        note: a.note,
        expires_in_seconds: a.expires.as_secs(),
    };
    let body = ctx
        .client
        .post(&path(ctx, &a.target, Some("requests")), &req)
        .await?;
    if ctx.json {
        body.print_json()?;
        return Ok(0);
    }
    let info: SecretRequestInfo = body.parse()?;
    let url = info
        .url
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the server did not send the request's URL"))?;
    println!("{url}");
    eprintln!(
        "request for {} open until {}; id {}. Send the page to the person (Coffer cannot show it \
         again): their browser encrypts the value, which becomes a new version of the secret.",
        info.target,
        output::time(info.expires_at),
        info.id
    );
    Ok(0)
}

/// `coffer link list|revoke`.
pub async fn links(ctx: &Ctx, cmd: LinkCommand) -> Result<i32> {
    let body = match &cmd {
        LinkCommand::List => ctx.client.get(&["orgs", &ctx.org, "links"], &[]).await?,
        LinkCommand::Revoke { id } => ctx.client.delete(&["orgs", &ctx.org, "links", id]).await?,
    };
    if ctx.json {
        body.print_json()?;
        return Ok(0);
    }
    match cmd {
        LinkCommand::List => {
            let list: LinkList = body.parse()?;
            let mut t = Table::new(&["ID", "SECRET", "VERSION", "BY", "VIEWS", "EXPIRES", "STATE"]);
            for l in list.links {
                t.row(vec![
                    l.id.to_string(),
                    l.target,
                    l.version.to_string(),
                    l.created_by,
                    format!("{}/{}", l.views, l.max_views),
                    output::time(l.expires_at),
                    l.state,
                ]);
            }
            t.print_or("no links");
        }
        LinkCommand::Revoke { .. } => {
            let l: LinkInfo = body.parse()?;
            println!(
                "revoked link {} to {} ({} of {} views used)",
                l.id, l.target, l.views, l.max_views
            );
        }
    }
    Ok(0)
}

/// `coffer request list|revoke`.
pub async fn requests(ctx: &Ctx, cmd: RequestCommand) -> Result<i32> {
    let body = match &cmd {
        RequestCommand::List => ctx.client.get(&["orgs", &ctx.org, "requests"], &[]).await?,
        RequestCommand::Revoke { id } => {
            ctx.client
                .delete(&["orgs", &ctx.org, "requests", id])
                .await?
        }
    };
    if ctx.json {
        body.print_json()?;
        return Ok(0);
    }
    match cmd {
        RequestCommand::List => {
            let list: SecretRequestList = body.parse()?;
            let mut t = Table::new(&["ID", "SECRET", "BY", "EXPIRES", "STATE"]);
            for r in list.requests {
                let state = match r.fulfilled_version {
                    Some(v) => format!("{} (v{v})", r.state),
                    None => r.state,
                };
                t.row(vec![
                    r.id.to_string(),
                    r.target,
                    r.created_by,
                    output::time(r.expires_at),
                    state,
                ]);
            }
            t.print_or("no requests");
        }
        RequestCommand::Revoke { .. } => {
            let r: SecretRequestInfo = body.parse()?;
            println!("request {} for {} is {}", r.id, r.target, r.state);
        }
    }
    Ok(0)
}
