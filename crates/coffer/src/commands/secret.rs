//! `coffer secret put|get|list|history|rm|restore|destroy` (and `share|unshare|restrict|
//! unrestrict|access`, in [`access`](super::access)). Values move through
//! [`secret_value`](super::secret_value); this module maps arguments to routes and prints
//! metadata. Chatter of `put`/`get` goes to stderr so stdout stays the value alone. Generated
//! values come from [`generate`](super::generate), and `get --copy` hands the value to
//! [`clipboard`](super::clipboard) instead of stdout.

use super::Ctx;
use super::secret_value as value;
use crate::cli::secret::{PutArgs, Target};
use crate::cli::{KindArg, SecretCommand};
use crate::error::{CliError, Result};
use crate::output::{self, Table, wire_name};
use coffer_api::{
    PutSecretRequest, RevealedSecret, Secret, SecretHistory, SecretKind, SecretList, SecretState,
};
use zeroize::{Zeroize as _, Zeroizing};

/// Runs one `secret` subcommand.
pub async fn run(ctx: &Ctx, cmd: SecretCommand) -> Result<i32> {
    match cmd {
        SecretCommand::Put(args) => put(ctx, args).await,
        SecretCommand::Link(args) => super::share::link(ctx, args).await,
        SecretCommand::Request(args) => super::share::request(ctx, args).await,
        SecretCommand::Get {
            target,
            version,
            out,
            copy,
        } => {
            if copy {
                return copy_to_clipboard(ctx, &target, version).await;
            }
            let query = [(
                "version",
                version.map(|v| v.to_string()).unwrap_or_default(),
            )];
            let body = ctx
                .client
                .post_empty(&path(ctx, &target, Some("reveal")), &query)
                .await?;
            let mut revealed: RevealedSecret = body.parse()?;
            let bytes = value::decode(&revealed.value);
            revealed.value.zeroize();
            let bytes = bytes?;
            if ctx.json {
                body.print_json()?;
            }
            match out {
                Some(path) => {
                    value::write_file(&path, &bytes)?;
                    eprintln!(
                        "wrote {} version {} ({} bytes) to {}",
                        target.display(),
                        revealed.version,
                        bytes.len(),
                        path.display()
                    );
                }
                None if ctx.json => {}
                None => value::write_stdout(&bytes)?,
            }
            Ok(0)
        }
        SecretCommand::List {
            scope,
            prefix,
            deleted,
        } => {
            let mut query = vec![("prefix", prefix.unwrap_or_default())];
            if let Some(scope) = scope {
                query.push((
                    if scope.contains('-') {
                        "issue"
                    } else {
                        "project"
                    },
                    scope,
                ));
            }
            if deleted {
                query.push(("deleted", "true".to_owned()));
            }
            let body = ctx
                .client
                .get(&["orgs", &ctx.org, "secrets"], &query)
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let list: SecretList = body.parse()?;
            let mut table =
                Table::new(&["SCOPE", "NAME", "KIND", "VERSION", "UPDATED", "BY", "NOTE"]);
            for s in list.secrets {
                let note = note(&s);
                table.row(vec![
                    s.scope,
                    s.name,
                    wire_name(&s.kind),
                    s.version.to_string(),
                    output::time(s.updated_at),
                    s.updated_by,
                    note,
                ]);
            }
            table.print_or("no secrets");
            Ok(0)
        }
        SecretCommand::History { target } => {
            let body = ctx
                .client
                .get(&path(ctx, &target, Some("versions")), &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            let h: SecretHistory = body.parse()?;
            let s = &h.secret;
            let note = match note(s) {
                n if n.is_empty() => String::new(),
                n => format!("; {n}"),
            };
            let views = match s.view_limit {
                Some(limit) => format!(", {}/{limit} views", s.views),
                None => format!(", {} views", s.views),
            };
            println!(
                "{}/{}: {}, current version {}{views}{note}",
                s.scope,
                s.name,
                wire_name(&s.kind),
                s.version
            );
            let mut table = Table::new(&["VERSION", "CREATED", "BY", "KEY", "SIZE"]);
            for v in h.versions {
                table.row(vec![
                    v.version.to_string(),
                    output::time(v.created_at),
                    v.created_by,
                    format!("v{}", v.key_version),
                    format!("{} B", v.size),
                ]);
            }
            print!("{}", table.render());
            Ok(0)
        }
        SecretCommand::Rm { target } => {
            let body = ctx.client.delete(&path(ctx, &target, None)).await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!(
                "deleted {} (undo with `coffer secret restore {} {}`)",
                target.display(),
                target.scope,
                target.name
            );
            Ok(0)
        }
        SecretCommand::Restore { target } => {
            let body = ctx
                .client
                .post_empty(&path(ctx, &target, Some("restore")), &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!("restored {}", target.display());
            Ok(0)
        }
        SecretCommand::Share {
            target,
            with,
            level,
        } => super::access::share(ctx, &target, with, level).await,
        SecretCommand::Unshare { target, with } => {
            super::access::unshare(ctx, &target, &with).await
        }
        SecretCommand::Restrict { target } => super::access::restrict(ctx, &target, true).await,
        SecretCommand::Unrestrict { target } => super::access::restrict(ctx, &target, false).await,
        SecretCommand::Access { target } => super::access::access(ctx, &target).await,
        SecretCommand::Destroy { target, yes } => {
            if !yes {
                return Err(CliError::Usage(format!(
                    "refusing to destroy {} without --yes: destroying erases every version for good \
                     and cannot be undone (`coffer secret rm` is the restorable delete)",
                    target.display()
                )));
            }
            let body = ctx
                .client
                .post_empty(&path(ctx, &target, Some("destroy")), &[])
                .await?;
            if ctx.json {
                return body.print_json().map(|()| 0);
            }
            println!("destroyed {}: every version is erased", target.display());
            Ok(0)
        }
    }
}

/// `coffer secret get --copy`: the clipboard is opened before the reveal, so a machine without
/// one reveals (and audits) nothing.
async fn copy_to_clipboard(ctx: &Ctx, target: &Target, version: Option<u32>) -> Result<i32> {
    if ctx.json {
        return Err(CliError::Usage(
            "--copy puts the value on the clipboard; --json would print it: use one of them"
                .to_owned(),
        ));
    }
    let clear_after = super::clipboard::clear_after()?;
    let mut clipboard = super::clipboard::System::open()?;
    let query = [(
        "version",
        version.map(|v| v.to_string()).unwrap_or_default(),
    )];
    let body = ctx
        .client
        .post_empty(&path(ctx, target, Some("reveal")), &query)
        .await?;
    let mut revealed: RevealedSecret = body.parse()?;
    let bytes = value::decode(&revealed.value);
    revealed.value.zeroize();
    let bytes = bytes?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(CliError::Other(anyhow::anyhow!(
            "{} is not text (binary data cannot go on the clipboard): write it to a file with \
             `coffer secret get {} {} --out FILE`",
            target.display(),
            target.scope,
            target.name
        )));
    };
    let what = format!("{} version {}", target.display(), revealed.version);
    super::clipboard::copy_and_clear(&mut clipboard, &what, text, clear_after).await?;
    Ok(0)
}

/// `coffer secret put`.
async fn put(ctx: &Ctx, args: PutArgs) -> Result<i32> {
    let kind = args.kind.or(args.file.as_ref().map(|_| KindArg::File));
    let generated = if args.generate.generate {
        if args.generate.show && ctx.json {
            return Err(CliError::Usage(
                "--show prints the generated value on stdout, where --json prints the answer: \
                 use one of them"
                    .to_owned(),
            ));
        }
        let plan = super::generate::plan(&args.generate, kind)?;
        let value = super::generate::generate(&plan)?;
        Some((plan, value))
    } else {
        None
    };
    let plaintext = match &generated {
        Some((_, v)) => Zeroizing::new(v.as_bytes().to_vec()),
        None => value::read_for_put(&args, kind)?,
    };
    // What the success line says about a generated value, and the value for --show.
    let (how, show) = match &generated {
        Some((plan, v)) => (
            format!(
                " (generated: {} characters of {})",
                plan.length, plan.described
            ),
            args.generate.show.then_some(v),
        ),
        None => (String::new(), None),
    };
    let expires_at = match (args.expires_at, args.expires_in) {
        (Some(at), _) => Some(at),
        (None, Some(d)) => Some(time::OffsetDateTime::now_utc() + d),
        (None, None) => None,
    };
    if args.client_side {
        let put = super::secret_upload::ClientSidePut {
            kind: kind.map(to_kind),
            expect_version: args.expect_version,
            expires_at,
            view_limit: args.view_limit,
            restricted: args.restricted.then_some(true),
        };
        return super::secret_upload::put(
            ctx,
            &path(ctx, &args.target, Some("uploads")),
            put,
            plaintext,
        )
        .await
        .and_then(|secret| {
            eprintln!(
                "stored {} version {} (sealed client-side){how}",
                args.target.display(),
                secret.version
            );
            show.map_or(Ok(()), |v| value::write_stdout(v.as_bytes()))
                .map(|()| 0)
        });
    }
    let mut encoded = value::encode(&plaintext);
    drop(plaintext);
    let req = WipeOnDrop(PutSecretRequest {
        value: std::mem::take(&mut *encoded),
        kind: kind.map(to_kind),
        expect_version: args.expect_version,
        expires_at,
        view_limit: args.view_limit,
        restricted: args.restricted.then_some(true),
    });
    let body = send_put(ctx, &args.target, req).await?;
    if ctx.json {
        body.print_json()?;
    }
    let secret: Secret = body.parse()?;
    eprintln!(
        "stored {} version {}{how}",
        args.target.display(),
        secret.version
    );
    if let Some(v) = show {
        value::write_stdout(v.as_bytes())?;
    }
    Ok(0)
}

/// Sends one `PUT …/secrets/{scope}/{name}`; the request's value is wiped once sent.
async fn send_put(ctx: &Ctx, target: &Target, req: WipeOnDrop) -> Result<crate::client::Body> {
    let body = ctx.client.put(&path(ctx, target, None), &req.0).await;
    drop(req);
    body
}

/// Stores `plaintext` as a new version of `target` with kind `kind` and no other options (what
/// `coffer import` writes); returns the secret's metadata after the write.
pub(super) async fn put_value(
    ctx: &Ctx,
    target: &Target,
    plaintext: &[u8],
    kind: KindArg,
) -> Result<Secret> {
    let mut encoded = value::encode(plaintext);
    let req = WipeOnDrop(PutSecretRequest {
        value: std::mem::take(&mut *encoded),
        kind: Some(to_kind(kind)),
        expect_version: None,
        expires_at: None,
        view_limit: None,
        restricted: None,
    });
    send_put(ctx, target, req).await?.parse()
}

/// Wipes the base64 value of a request once it has been sent (or on early return).
struct WipeOnDrop(PutSecretRequest);

impl Drop for WipeOnDrop {
    fn drop(&mut self) {
        self.0.value.zeroize();
    }
}

/// `orgs/{org}/secrets/{scope}/{name}[/{action}]` as path segments.
pub(super) fn path<'a>(ctx: &'a Ctx, t: &'a Target, action: Option<&'a str>) -> Vec<&'a str> {
    let mut p = vec![
        "orgs",
        ctx.org.as_str(),
        "secrets",
        t.scope.as_str(),
        t.name.as_str(),
    ];
    p.extend(action);
    p
}

/// The NOTE column: why the secret cannot be revealed now, if it cannot.
fn note(s: &Secret) -> String {
    match (&s.unavailable, s.state) {
        (Some(why), _) => format!("unavailable: {why}"),
        (None, SecretState::Deleted) => "deleted".to_owned(),
        (None, SecretState::Active) => String::new(),
    }
}

fn to_kind(k: KindArg) -> SecretKind {
    match k {
        KindArg::Password => SecretKind::Password,
        KindArg::Note => SecretKind::Note,
        KindArg::Kv => SecretKind::Kv,
        KindArg::File => SecretKind::File,
    }
}
