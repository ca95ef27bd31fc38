//! The sign-in flow through an org's OpenID provider: authorization code with PKCE (S256),
//! `state` and `nonce`, the ID token verified by `openidconnect` (signature against the
//! provider's keys, issuer, audience, expiry, nonce).
//!
//! [`Coffer::begin_sso`] stores a pending row (found by the SHA-256 of `state`, one-time, ten
//! minutes) bound to the browser that started it by a cookie, and answers the provider URL.
//! [`Coffer::finish_sso`] takes that row (so a `state` is redeemed once), checks the cookie,
//! redeems the code, verifies the ID token, and then, by the row's purpose:
//! - *sign-in*: the linked person (or a new one, if the org creates people) gets a session;
//! - *link*: the person who started it, signed in to the org, is linked to the subject;
//! - *CLI*: a one-time code goes to the CLI's loopback port, which the CLI exchanges, with the
//!   verifier only it holds, for a short-lived personal token ([`Coffer::exchange_cli_code`]).
//!
//! With a groups claim set, each sign-in makes the person a member of exactly the org's groups
//! the claim names (names the org has no group for are ignored).

use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, SessionRecord, SsoLink, SsoPending, SsoPurpose, SsoRecord, TokenRecord,
    UserRecord,
};
use crate::domain::policy::Actor;
use crate::domain::{GroupName, IdentityKind, OrgId, OrgSlug, Role, Timestamp, TokenId, UserName};
use crate::service::web::{SESSION_LIFETIME, SignedIn, csrf_for};
use crate::service::{Coffer, Error, Result, tokens};
use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a started sign-in waits for the provider.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(600);
/// How long the CLI has to exchange its code.
pub const CLI_CODE_LIFETIME: Duration = Duration::from_secs(120);
/// How long a token from `coffer login` lasts.
pub const CLI_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The name of a token from `coffer login`.
pub const CLI_TOKEN_NAME: &str = "coffer login";

/// What a sign-in is started for.
pub enum Begin<'a> {
    /// A browser sign-in.
    SignIn,
    /// The signed-in caller links their account.
    Link(&'a Actor),
    /// `coffer login`: end on this loopback port; `challenge` is the base64url SHA-256 of the
    /// CLI's verifier.
    Cli {
        /// Port.
        port: u16,
        /// Challenge.
        challenge: String,
    },
}

/// A started sign-in.
pub struct Begun {
    /// Where to send the browser.
    pub url: String,
    /// The value of the cookie that binds the sign-in to this browser.
    pub browser: Zeroizing<String>,
}

/// How a sign-in ended.
pub enum Finished {
    /// A browser session in `slug`.
    SignedIn {
        /// The session.
        signed: SignedIn,
        /// The org.
        slug: OrgSlug,
    },
    /// The caller's account is linked.
    Linked {
        /// The org.
        slug: OrgSlug,
    },
    /// Send the browser to the CLI's loopback URL.
    Cli {
        /// The URL (with the one-time code).
        url: String,
    },
}

/// A token from `coffer login`.
pub struct CliToken {
    /// The record.
    pub record: TokenRecord,
    /// The value (shown once).
    pub value: Zeroizing<String>,
    /// The org.
    pub slug: OrgSlug,
    /// The person.
    pub user: UserName,
}

pub(crate) fn random_text() -> Zeroizing<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system CSPRNG works");
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The base64url SHA-256 of a PKCE verifier (its S256 challenge).
pub fn challenge_of(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

fn same(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

fn start_again(what: &str) -> Error {
    Error::Unauthenticated(format!(
        "{what}; start again from Coffer's sign-in page (or run `coffer login` again)"
    ))
}

/// The claims Coffer reads from a verified ID token.
pub struct Identity {
    /// `sub`.
    pub subject: String,
    /// `preferred_username`, else the local part of a verified `email`: the name a new person
    /// gets.
    pub name: Option<String>,
    /// What a person the org's SCIM created may be recognised by: `preferred_username` and the
    /// whole verified `email`, ASCII only, lowercased (never a local part, never a Unicode fold
    /// such as the Kelvin sign's to `k`).
    pub directory_names: Vec<String>,
    /// The groups claim's names (`None` if no groups claim is configured, or the token does not
    /// carry it).
    pub groups: Option<Vec<String>>,
}

/// Reads `claim` from a verified ID token's payload: an array of strings or one string.
/// `None` when the token has no such claim (or it is neither): then groups are left as they
/// are, since a provider that leaves the claim out (Entra ID's "overage", a missing scope) is not
/// saying the person is in no group.
fn groups_claim(token: &CoreIdToken, claim: &str) -> Option<Vec<String>> {
    let jwt = token.to_string();
    let payload = jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    match payload.as_ref().and_then(|p| p.get(claim)) {
        Some(serde_json::Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(serde_json::Value::String(s)) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// Verifies the ID token of a token response and reads the identity from it.
pub fn verify_id_token(
    client: &CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    token: &CoreIdToken,
    nonce: &str,
    groups: Option<&str>,
) -> std::result::Result<Identity, String> {
    let verifier = client.id_token_verifier();
    let claims = token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| {
            use openidconnect::ClaimsVerificationError as V;
            match e {
                V::Expired(_) => {
                    "the provider's ID token has expired (check both clocks)".to_owned()
                }
                V::InvalidAudience(_) => {
                    "the provider's ID token is for another client (audience)".to_owned()
                }
                V::InvalidIssuer(_) => {
                    "the ID token was issued by another provider than the org's".to_owned()
                }
                V::InvalidNonce(_) => {
                    "the ID token does not answer this sign-in (nonce mismatch)".to_owned()
                }
                V::SignatureVerification(_) => {
                    "the ID token's signature does not verify with the provider's keys".to_owned()
                }
                other => format!("the ID token was refused: {other}"),
            }
        })?;
    let name = claims
        .preferred_username()
        .map(|n| n.as_str().to_owned())
        .or_else(|| {
            claims
                .email()
                .filter(|_| claims.email_verified() == Some(true))
                .and_then(|e| e.as_str().split('@').next().map(str::to_owned))
        });
    let directory_names = [
        claims.preferred_username().map(|n| n.as_str().to_owned()),
        claims
            .email()
            .filter(|_| claims.email_verified() == Some(true))
            .map(|e| e.as_str().to_owned()),
    ]
    .into_iter()
    .flatten()
    .filter(|n| n.is_ascii())
    .map(|n| n.to_ascii_lowercase())
    .collect();
    Ok(Identity {
        subject: claims.subject().as_str().to_owned(),
        name,
        directory_names,
        groups: groups.and_then(|c| groups_claim(token, c)),
    })
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

impl Coffer {
    async fn sso_client(
        &self,
        sso: &SsoRecord,
        secret: Option<Zeroizing<String>>,
    ) -> Result<Client> {
        let meta = self
            .sso
            .providers
            .metadata(&sso.issuer)
            .await
            .map_err(Error::Unavailable)?;
        let redirect = RedirectUrl::new(self.sso.redirect_uri.clone())
            .map_err(|e| Error::Internal(format!("the SSO redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            (*meta).clone(),
            ClientId::new(sso.client_id.clone()),
            secret.map(|s| ClientSecret::new(s.to_string())),
        )
        .set_redirect_uri(redirect))
    }

    async fn org_sso(&self, slug: &str) -> Result<(OrgSlug, OrgId, SsoRecord)> {
        let unknown = || {
            Error::NotFound(format!(
                "single sign-on is not set up for org `{slug}`; check the org name, or sign in with your password"
            ))
        };
        let slug = OrgSlug::parse(slug).map_err(|_| unknown())?;
        let org = self
            .catalog
            .org_by_slug(&slug)
            .await
            .map_err(|_| unknown())?;
        let sso = self
            .catalog
            .sso(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?
            .ok_or_else(unknown)?;
        Ok((slug, org.id, sso))
    }

    /// Starts a sign-in (or a link, or a CLI login) through org `slug`'s provider.
    pub async fn begin_sso(&self, slug: &str, purpose: Begin<'_>) -> Result<Begun> {
        let (slug, org, sso) = self.org_sso(slug).await?;
        let purpose = match purpose {
            Begin::SignIn => SsoPurpose::SignIn,
            Begin::Link(actor) => {
                if actor.org() != Some(org) || actor.kind() != IdentityKind::Person {
                    return Err(Error::Forbidden(format!(
                        "only a person signed in to org `{slug}` can link their own account to its provider"
                    )));
                }
                SsoPurpose::Link(actor.user)
            }
            Begin::Cli { port, challenge } => {
                if port == 0 || challenge.len() != 43 {
                    return Err(Error::InvalidInput(
                        "cli_port must be the CLI's loopback port and cli_challenge the base64url SHA-256 of its verifier (43 characters)".into(),
                    ));
                }
                SsoPurpose::Cli { port, challenge }
            }
        };
        let client = self.sso_client(&sso, None).await?;
        let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_text();
        let nonce = random_text();
        let (state_param, nonce_param) = (state.to_string(), nonce.to_string());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_param),
                move || Nonce::new(nonce_param),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(pkce);
        if sso.groups_claim.is_some() {
            request = request.add_scope(Scope::new("groups".into()));
        }
        let (url, _, _) = request.url();
        // The provider's document chose this URL; browsers are sent there.
        super::provider::check_url(url.as_str(), self.sso.providers.allow_loopback()).map_err(
            |m| Error::Unavailable(format!("the provider's authorization endpoint: {m}")),
        )?;
        let browser = random_text();
        let pending = SsoPending {
            hash: tokens::hash(&state),
            org,
            purpose,
            nonce: nonce.to_string(),
            verifier: verifier.secret().clone(),
            browser: tokens::hash(&browser),
            expires_at: Timestamp::now().plus(PENDING_LIFETIME),
        };
        self.catalog
            .put_sso_pending(pending, Timestamp::now())
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
        Ok(Begun {
            url: url.to_string(),
            browser,
        })
    }

    /// Ends a sign-in the provider sent back with `code` and `state`; `browser` is the binding
    /// cookie's value, `source` where the request came from.
    pub async fn finish_sso(
        &self,
        state: &str,
        code: &str,
        iss: Option<&str>,
        browser: Option<&str>,
        source: &str,
    ) -> Result<Finished> {
        let pending = self
            .catalog
            .take_sso_pending(&tokens::hash(state), Timestamp::now())
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?
            .filter(|p| !matches!(p.purpose, SsoPurpose::CliExchange { .. }))
            .ok_or_else(|| start_again("this sign-in was already used or has expired"))?;
        let bound = browser.is_some_and(|b| same(&tokens::hash(b), &pending.browser));
        if !bound {
            self.failed_auth_in(pending.org, "sso_other_browser", None);
            return Err(start_again(
                "this sign-in was started in another browser (or its cookie is gone)",
            ));
        }
        let org = self
            .catalog
            .org_by_id(pending.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))?;
        let sso = self
            .catalog
            .sso(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?
            .ok_or_else(|| start_again("the org's single sign-on was removed meanwhile"))?;
        // RFC 9207: a provider that names itself in the response must be the org's (a mix-up
        // with another org's provider, which shares this redirect URI, ends here).
        if iss.is_some_and(|i| i != sso.issuer) {
            return Err(start_again(
                "the answer came from another provider than the org's",
            ));
        }
        let secret = self.sso_client_secret(&sso).await?;
        let client = self.sso_client(&sso, secret).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Error::Unavailable(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.sso.providers)
            .await
            .map_err(|e| {
                // Only the kind: an unreadable answer's body may hold tokens.
                use openidconnect::RequestTokenError as T;
                let why = match &e {
                    T::ServerResponse(r) => r.error().to_string(),
                    T::Request(_) => "the call failed".to_owned(),
                    T::Parse(..) => "an answer Coffer cannot read".to_owned(),
                    T::Other(_) => "an unexpected answer".to_owned(),
                };
                tracing::info!(org = %org.slug, %why, "the OpenID provider refused a code");
                start_again("the provider did not accept this sign-in's code")
            })?;
        let token = response.id_token().ok_or_else(|| {
            start_again("the provider answered without an ID token (is `openid` among the client's scopes?)")
        })?;
        let identity =
            match verify_id_token(&client, token, &pending.nonce, sso.groups_claim.as_deref()) {
                Ok(i) => i,
                Err(reason) => {
                    self.sso.providers.forget(&sso.issuer).await;
                    self.failed_auth(
                        Some(org.slug.as_str()),
                        "sso_token_refused",
                        Some(crate::service::audit_log::Failure {
                            source: Some(source),
                            user: None,
                            token: None,
                        }),
                    );
                    return Err(Error::Unauthenticated(format!("sign-in refused: {reason}")));
                }
            };
        let slug = org.slug.clone();
        let outcome = self
            .finish_for(pending, &org, &sso, &identity, source)
            .await;
        if let Err(e) = &outcome
            && !matches!(e, Error::Unavailable(_) | Error::Internal(_))
        {
            let failure = crate::service::audit_log::Failure {
                source: Some(source),
                user: identity.name.as_deref(),
                token: None,
            };
            self.failed_auth(Some(slug.as_str()), "sso_sign_in_refused", Some(failure));
        }
        outcome
    }

    /// What a verified sign-in leads to, by the pending row's purpose.
    async fn finish_for(
        &self,
        pending: SsoPending,
        org: &crate::catalog::OrgRecord,
        sso: &SsoRecord,
        identity: &Identity,
        source: &str,
    ) -> Result<Finished> {
        let slug = org.slug.clone();
        match pending.purpose {
            SsoPurpose::Link(user) => {
                self.link(sso, user, identity).await?;
                Ok(Finished::Linked { slug })
            }
            SsoPurpose::SignIn => {
                let user = self.sso_person(sso, &slug, identity).await?;
                self.sync_groups(sso, &user, identity).await?;
                let signed = self.sso_session(org.id, &user, source).await?;
                Ok(Finished::SignedIn { signed, slug })
            }
            SsoPurpose::Cli { port, challenge } => {
                let user = self.sso_person(sso, &slug, identity).await?;
                self.sync_groups(sso, &user, identity).await?;
                let code = random_text();
                let exchange = SsoPending {
                    hash: tokens::hash(&code),
                    org: org.id,
                    purpose: SsoPurpose::CliExchange {
                        user: user.id,
                        challenge,
                    },
                    nonce: String::new(),
                    verifier: String::new(),
                    browser: pending.browser,
                    expires_at: Timestamp::now().plus(CLI_CODE_LIFETIME),
                };
                self.catalog
                    .put_sso_pending(exchange, Timestamp::now())
                    .await
                    .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
                Ok(Finished::Cli {
                    url: format!("http://127.0.0.1:{port}/callback?code={}", code.as_str()),
                })
            }
            SsoPurpose::CliExchange { .. } => {
                Err(start_again("this sign-in was already used or has expired"))
            }
        }
    }

    /// Links the subject to `user`, who started the link signed in to the org.
    async fn link(
        &self,
        sso: &SsoRecord,
        user: crate::domain::UserId,
        id: &Identity,
    ) -> Result<()> {
        let me = self
            .catalog
            .user_by_id(user)
            .await
            .map_err(|e| Error::catalog(e, || "user".into()))?;
        let link = SsoLink {
            org: sso.org,
            issuer: sso.issuer.clone(),
            subject: id.subject.clone(),
            user,
            created_at: Timestamp::now(),
        };
        let audit = AuditDraft::new(
            sso.org,
            Some(user),
            me.name.as_str(),
            "sso.link",
            format!("user:{}", me.name),
            serde_json::json!({"issuer": sso.issuer, "subject": id.subject}),
        );
        match self.catalog.link_sso(link, audit).await {
            Ok(_) => Ok(()),
            Err(CatalogError::AlreadyExists) => Err(Error::AlreadyExists(
                "this provider account is already linked to another member of the org, or yours to another provider account; an owner can unlink by removing and re-adding single sign-on".into(),
            )),
            Err(CatalogError::Refused(_)) => Err(Error::Forbidden(
                "you are no longer a member of this org".into(),
            )),
            Err(e) => Err(Error::catalog(e, || "single sign-on".into())),
        }
    }

    /// The person the subject is linked to, or a new one if the org creates people.
    async fn sso_person(
        &self,
        sso: &SsoRecord,
        slug: &OrgSlug,
        id: &Identity,
    ) -> Result<UserRecord> {
        let linked = self
            .catalog
            .sso_user(sso.org, &sso.issuer, &id.subject)
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?;
        if let Some(user) = linked {
            return self
                .catalog
                .user_by_id(user)
                .await
                .map_err(|e| Error::catalog(e, || "user".into()));
        }
        if let Some(user) = self.scim_provisioned(sso, slug, id).await? {
            return Ok(user);
        }
        if !sso.create_people {
            return Err(Error::Forbidden(format!(
                "your provider account is not linked to a member of org `{slug}`: sign in once with your Coffer password and choose \"Link single sign-on\" on your account page, or ask an owner to let single sign-on create people"
            )));
        }
        let raw = id.name.clone().ok_or_else(|| {
            Error::Forbidden(
                "the provider sent neither preferred_username nor a verified email, so Coffer cannot name a new person; ask an owner to invite you".into(),
            )
        })?;
        let name = UserName::parse(&raw).map_err(|e| {
            Error::Forbidden(format!(
                "the provider's user name {raw:?} is not a valid Coffer name ({e}); ask an owner to invite you, then link your account"
            ))
        })?;
        let now = Timestamp::now();
        let user = UserRecord::person(name.clone(), now);
        let link = SsoLink {
            org: sso.org,
            issuer: sso.issuer.clone(),
            subject: id.subject.clone(),
            user: user.id,
            created_at: now,
        };
        let audit = vec![AuditDraft::new(
            sso.org,
            Some(user.id),
            name.as_str(),
            "member.add",
            format!("user:{name}"),
            serde_json::json!({"role": Role::Member, "via": "sso", "issuer": sso.issuer, "subject": id.subject}),
        )];
        match self
            .catalog
            .create_sso_person(user.clone(), Role::Member, link, audit)
            .await
        {
            Ok(_) => Ok(user),
            Err(CatalogError::AlreadyExists) => Err(Error::AlreadyExists(format!(
                "the name `{name}` is already taken in this Coffer; if it is yours, sign in with your password and link single sign-on, else ask an owner to invite you under another name"
            ))),
            Err(e) => Err(Error::catalog(e, || "single sign-on".into())),
        }
    }

    /// The person this org's SCIM created under the provider's user name (lowercased, as SCIM
    /// stores userNames), now linked to the subject — if there is one, they are still a member,
    /// and they are not linked to another subject. Such a person is the org directory's own:
    /// the org's provisioning created them, so its provider may sign them in. Anyone else —
    /// people who joined by invitation, people another org provisioned — is never matched by
    /// name (docs/sso.md).
    async fn scim_provisioned(
        &self,
        sso: &SsoRecord,
        slug: &OrgSlug,
        id: &Identity,
    ) -> Result<Option<UserRecord>> {
        let mut found = None;
        for name in id
            .directory_names
            .iter()
            .filter_map(|n| UserName::parse(n).ok())
        {
            match self.catalog.user_by_name(&name).await {
                Ok(u) if u.kind == IdentityKind::Person => {
                    found = Some(u);
                    break;
                }
                Ok(_) | Err(CatalogError::NotFound) => {}
                Err(e) => return Err(Error::catalog(e, || "user".into())),
            }
        }
        let Some(user) = found else {
            return Ok(None);
        };
        let provisioned = self
            .catalog
            .scim_user(sso.org, user.id)
            .await
            .map_err(|e| Error::catalog(e, || "SCIM user".into()))?
            .is_some_and(|r| r.provisioned);
        if !provisioned {
            return Ok(None);
        }
        let link = SsoLink {
            org: sso.org,
            issuer: sso.issuer.clone(),
            subject: id.subject.clone(),
            user: user.id,
            created_at: Timestamp::now(),
        };
        let audit = AuditDraft::new(
            sso.org,
            Some(user.id),
            user.name.as_str(),
            "sso.link",
            format!("user:{}", user.name),
            serde_json::json!({"issuer": sso.issuer, "subject": id.subject, "via": "scim"}),
        );
        match self.catalog.link_sso(link, audit).await {
            Ok(_) => Ok(Some(user)),
            // No longer a member (deactivated): not theirs to sign in as.
            Err(CatalogError::Refused(_)) => Ok(None),
            Err(CatalogError::AlreadyExists) => Err(Error::AlreadyExists(format!(
                "`{}` of org `{slug}` is already linked to another account of this provider; an owner can unlink by removing and re-adding single sign-on",
                user.name
            ))),
            Err(e) => Err(Error::catalog(e, || "single sign-on".into())),
        }
    }

    /// Makes `user` a member of exactly the org's groups the claim names.
    async fn sync_groups(&self, sso: &SsoRecord, user: &UserRecord, id: &Identity) -> Result<()> {
        let Some(claimed) = &id.groups else {
            return Ok(());
        };
        let groups = self
            .catalog
            .groups(sso.org)
            .await
            .map_err(|e| Error::catalog(e, || "groups".into()))?;
        for g in groups {
            let want = claimed
                .iter()
                .any(|c| GroupName::parse(c).is_ok_and(|n| n == g.name));
            let has = g.members.contains(&user.id);
            if want == has {
                continue;
            }
            let action = if want {
                "group.member_add"
            } else {
                "group.member_remove"
            };
            let audit = AuditDraft::new(
                sso.org,
                Some(user.id),
                user.name.as_str(),
                action,
                format!("group:{}", g.name),
                serde_json::json!({"member": format!("user:{}", user.name), "via": "sso"}),
            );
            self.catalog
                .set_group_member(sso.org, g.id, user.id, want, audit)
                .await
                .map_err(|e| Error::catalog(e, || format!("group `{}`", g.name)))?;
        }
        Ok(())
    }

    async fn sso_session(&self, org: OrgId, user: &UserRecord, source: &str) -> Result<SignedIn> {
        let value = tokens::generate_with(tokens::SESSION_PREFIX);
        let now = Timestamp::now();
        let session = SessionRecord {
            id: TokenId::new(),
            hash: tokens::hash(&value),
            user: user.id,
            org: Some(org),
            created_at: now,
            expires_at: now.plus(SESSION_LIFETIME),
            revoked_at: None,
        };
        let audit = AuditDraft::new(
            org,
            Some(user.id),
            user.name.as_str(),
            "session.create",
            "session",
            serde_json::json!({"session_id": session.id.to_string(), "source": source, "via": "sso"}),
        );
        self.catalog
            .create_session(session.clone(), Some(audit))
            .await
            .map_err(|e| Error::catalog(e, || "session".into()))?;
        let csrf = csrf_for(&value);
        Ok(SignedIn {
            session,
            value,
            csrf,
        })
    }

    /// Exchanges a `coffer login` code, with the verifier of its challenge, for a personal token
    /// in the org ([`CLI_TOKEN_LIFETIME`]).
    pub async fn exchange_cli_code(&self, code: &str, verifier: &str) -> Result<CliToken> {
        let gone = || start_again("this login code was already used or has expired");
        let pending = self
            .catalog
            .take_sso_pending(&tokens::hash(code), Timestamp::now())
            .await
            .map_err(|e| Error::catalog(e, || "single sign-on".into()))?
            .ok_or_else(gone)?;
        let SsoPurpose::CliExchange { user, challenge } = pending.purpose else {
            return Err(gone());
        };
        if !same(challenge_of(verifier).as_bytes(), challenge.as_bytes()) {
            return Err(start_again("the verifier does not match this login"));
        }
        let org = self
            .catalog
            .org_by_id(pending.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))?;
        let person = self
            .catalog
            .user_by_id(user)
            .await
            .map_err(|e| Error::catalog(e, || "user".into()))?;
        let value = tokens::generate();
        let now = Timestamp::now();
        let record = TokenRecord {
            id: TokenId::new(),
            hash: tokens::hash(&value),
            user: person.id,
            user_name: person.name.clone(),
            org: Some(org.id),
            name: CLI_TOKEN_NAME.into(),
            created_at: now,
            expires_at: Some(now.plus(CLI_TOKEN_LIFETIME)),
            revoked_at: None,
        };
        let audit = AuditDraft::new(
            org.id,
            Some(person.id),
            person.name.as_str(),
            "token.create",
            format!("user:{}/{CLI_TOKEN_NAME}", person.name),
            serde_json::json!({
                "token_id": record.id.to_string(),
                "name": record.name,
                "expires_at": record.expires_at.map(|t| t.to_string()),
                "via": "sso",
            }),
        );
        self.catalog
            .create_token(record.clone(), Some(audit))
            .await
            .map_err(|e| match e {
                CatalogError::Refused(_) | CatalogError::NotFound => {
                    Error::Forbidden(format!("you are no longer a member of org `{}`", org.slug))
                }
                other => Error::catalog(other, || "token".into()),
            })?;
        Ok(CliToken {
            record,
            value,
            slug: org.slug,
            user: person.name,
        })
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod verify_tests;
