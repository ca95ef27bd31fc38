//! Verifying a Forge Invocation Token (FIT): the JWT Atlassian's Forge platform puts in
//! `Authorization: Bearer …` of every call it makes (or lets a Custom UI make) to a Forge Remote
//! (research in docs/jira-forge.md; Atlassian's "Forge remote essentials").
//!
//! RS256 only (the header's `alg` must say so: `none`, HS256 or anything else is refused before
//! any key is looked at), against the JWKS at `jira.forge.jwks_url` (Atlassian's by default),
//! `iss` = `forge/invocation-token`, `exp` and `nbf` with `jira.forge.leeway`, and the claims
//! Coffer needs present. `aud` is the app id, which only the org's trusted installation decides
//! (`service::forge`), so it is returned rather than checked here. The key set is cached; a token
//! signed with a `kid` the cached set lacks makes one refetch (at most one per
//! [`REFETCH_PAUSE`]), then is refused. Everything the caller uses comes from the verified token
//! only: the installation, the app, the acting user, and the issue of the module's context.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The issuer of every FIT.
pub const ISSUER: &str = "forge/invocation-token";
/// The least time between two fetches of the key set forced by an unknown `kid`.
pub const REFETCH_PAUSE: Duration = Duration::from_secs(1);
/// How long a fetched key set is used before it is fetched again anyway.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fit {
    /// The app's id (`aud`), `ari:cloud:ecosystem::app/<uuid>`.
    pub app_id: String,
    /// The installation (`app.installationId`).
    pub installation_id: String,
    /// The acting user's Atlassian account id (`principal`; UI calls only).
    pub principal: Option<String>,
    /// The issue key of the module's context (`context.extension.issue.key`), if any.
    pub issue_key: Option<String>,
    /// The issue id of the module's context, if any.
    pub issue_id: Option<String>,
    /// The module (`app.module.key`): the trigger's endpoint for events.
    pub module: Option<String>,
    /// The site's cloud id (`context.cloudId`, else the installation's context).
    pub cloud_id: Option<String>,
}

/// Why a token was refused (a sentence for the 401; never the token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the Forge Invocation Token was refused: {0}")]
pub struct FitRefused(pub String);

struct Keys {
    set: JwkSet,
    /// When the set was last fetched successfully.
    fetched: Instant,
}

struct Cache {
    keys: Option<Keys>,
    /// When a fetch was last tried, successful or not (unknown `kid`s wait [`REFETCH_PAUSE`]).
    tried: Option<Instant>,
}

/// The verifier: the JWKS location, its cache, and the leeway.
pub struct FitVerifier {
    jwks_url: String,
    leeway: Duration,
    http: reqwest::Client,
    keys: Mutex<Cache>,
}

fn refused(why: impl Into<String>) -> FitRefused {
    FitRefused(why.into())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

impl FitVerifier {
    /// A verifier of tokens signed by the keys at `jwks_url` (the operator's setting, not a
    /// tenant's: fetched with a plain client, no redirects).
    pub fn new(jwks_url: &str, leeway: Duration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("coffer-forge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with rustls builds");
        Self {
            jwks_url: jwks_url.to_owned(),
            leeway,
            http,
            keys: Mutex::new(Cache {
                keys: None,
                tried: None,
            }),
        }
    }

    /// A verifier that holds `set` and never fetches (its key-set address is empty, so a
    /// refetch fails at once and the held keys keep serving): for the fuzz targets, which verify
    /// offline. Test support only.
    #[cfg(any(test, feature = "testing"))]
    pub fn with_keys(set: JwkSet, leeway: Duration) -> Self {
        let verifier = Self::new("", leeway);
        *verifier
            .keys
            .try_lock()
            .expect("a new verifier's cache is free") = Cache {
            keys: Some(Keys {
                set,
                fetched: Instant::now(),
            }),
            tried: Some(Instant::now()),
        };
        verifier
    }

    async fn fetch(&self) -> Result<JwkSet, FitRefused> {
        let res = self.http.get(&self.jwks_url).send().await.map_err(|e| {
            tracing::warn!(error = %e, "fetching the Forge JWKS failed");
            refused("Coffer could not fetch Forge's signing keys")
        })?;
        if !res.status().is_success() {
            tracing::warn!(status = %res.status(), "the Forge JWKS answered an error");
            return Err(refused("Coffer could not fetch Forge's signing keys"));
        }
        res.json::<JwkSet>()
            .await
            .map_err(|_| refused("Forge's signing keys could not be read"))
    }

    /// The key for `kid`, from the cache or a (rate-limited) refetch. A failed refetch keeps
    /// the keys already held.
    async fn key(&self, kid: &str) -> Result<DecodingKey, FitRefused> {
        let mut cache = self.keys.lock().await;
        let stale = cache
            .keys
            .as_ref()
            .is_none_or(|k| k.fetched.elapsed() > KEYS_TTL);
        let unknown = cache
            .keys
            .as_ref()
            .is_none_or(|k| k.set.find(kid).is_none());
        let may_try = cache.tried.is_none_or(|t| t.elapsed() >= REFETCH_PAUSE);
        if (stale || unknown) && may_try {
            cache.tried = Some(Instant::now());
            match self.fetch().await {
                Ok(set) => {
                    cache.keys = Some(Keys {
                        set,
                        fetched: Instant::now(),
                    });
                }
                Err(e) if cache.keys.is_none() => return Err(e),
                Err(_) => {} // logged; the held keys still serve
            }
        }
        let jwk = cache
            .keys
            .as_ref()
            .and_then(|k| k.set.find(kid))
            .ok_or_else(|| refused("no Forge signing key has its key id"))?;
        DecodingKey::from_jwk(jwk).map_err(|_| refused("the Forge signing key is not usable"))
    }

    /// Verifies `token` and reads what Coffer uses of it.
    pub async fn verify(&self, token: &str) -> Result<Fit, FitRefused> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| refused("it is not a JSON Web Token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(refused(format!(
                "it is signed with {:?}; Forge signs with RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| refused("its header names no key (kid)"))?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.leeway = self.leeway.as_secs();
        v.validate_nbf = true;
        v.validate_aud = false; // the org's trusted app decides (service::forge)
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            refused(match e.kind() {
                K::ExpiredSignature => "it has expired",
                K::ImmatureSignature => "it is not valid yet",
                K::InvalidIssuer => "it was not issued by Forge",
                K::InvalidSignature => "its signature does not match Forge's key",
                K::MissingRequiredClaim(_) => "it lacks a required claim",
                _ => "it is malformed",
            })
        })?;
        let c = data.claims;
        let app_id = match &c["aud"] {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) if a.len() == 1 => text(&a[0]),
            _ => None,
        }
        .ok_or_else(|| refused("its audience is not one app"))?;
        let installation_id = text(&c["app"]["installationId"])
            .or_else(|| text(&c["app"]["installation"]["id"]))
            .ok_or_else(|| refused("it names no installation"))?;
        let issue = &c["context"]["extension"]["issue"];
        Ok(Fit {
            app_id,
            installation_id,
            principal: text(&c["principal"]),
            issue_key: text(&issue["key"]),
            issue_id: text(&issue["id"]).or_else(|| issue["id"].as_u64().map(|n| n.to_string())),
            module: text(&c["app"]["module"]["key"]),
            cloud_id: text(&c["context"]["cloudId"]).or_else(|| {
                c["app"]["installation"]["contexts"]
                    .as_array()
                    .and_then(|a| a.iter().find_map(|x| text(&x["cloudId"])))
            }),
        })
    }
}
