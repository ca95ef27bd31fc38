//! What stands between a sign-in form and the password hashes: Argon2id with OWASP's parameters
//! (m = 19456 KiB, t = 2, p = 1), run on blocking threads behind a bounded semaphore so a flood
//! of sign-ins queues instead of exhausting memory (each hash holds ~19 MiB), and a limiter.
//!
//! The limiter's rules (docs/web-ui.md, "Password guessing"):
//! - An attempt is *reserved* before its hash is checked, and counts as a failure until it is
//!   known to have succeeded; so 60 concurrent guesses get no more through than 60 sequential
//!   ones would.
//! - Failures count per (account, source address): after [`PAIR_FAILURES`], that pair waits
//!   [`FIRST_BACKOFF`], doubling with each further run of failures up to [`MAX_BACKOFF`]; a
//!   success clears the pair. A stranger guessing at someone's account from their own address
//!   therefore locks out only themselves, never the account's owner signing in from elsewhere.
//! - Failures also count per source across accounts ([`SOURCE_FAILURES`] per [`WINDOW`]), which
//!   stops one address from spraying many accounts.
//!
//! The limiter is in memory, per node: behind a load balancer with N nodes an attacker gets at
//! most N times the budget. That is stated in docs/web-ui.md; the Argon2 cost stays per guess.

use crate::service::{Error, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Failed sign-ins one (account, source) pair may have before it must wait.
pub const PAIR_FAILURES: u32 = 5;
/// The first wait of a pair; each further run of failures doubles it.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);
/// The longest wait of a pair.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Failed sign-ins one source address may have per window, across accounts.
pub const SOURCE_FAILURES: u32 = 20;
/// The source window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a pair's history is kept after its last failure.
const PAIR_MEMORY: Duration = Duration::from_secs(24 * 3600);
/// Entries kept per map before stale ones are dropped (bounds memory under a spray).
const MAX_ENTRIES: usize = 50_000;
/// Hashes computed at once (2 × ~19 MiB).
const HASHING_PERMITS: usize = 2;
/// How long a sign-in waits for a hashing slot before answering 503.
const HASHING_WAIT: Duration = Duration::from_secs(10);

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One (account, source) pair: failures since the last wait (reserved attempts included), how
/// many waits it has had, and until when it waits.
#[derive(Clone, Copy)]
struct Pair {
    failures: u32,
    waits: u32,
    until: Option<Instant>,
    last: Instant,
}

/// One source: failures (reserved attempts included) in the window that started at `start`.
#[derive(Clone, Copy)]
struct Source {
    start: Instant,
    failures: u32,
}

#[derive(Default)]
struct Limits {
    pairs: HashMap<(String, String), Pair>,
    sources: HashMap<String, Source>,
}

impl Limits {
    fn prune(&mut self, now: Instant) {
        if self.pairs.len() >= MAX_ENTRIES {
            self.pairs.retain(|_, p| {
                p.until.is_some_and(|u| u > now) || now.duration_since(p.last) < PAIR_MEMORY
            });
            if self.pairs.len() >= MAX_ENTRIES {
                self.pairs.clear();
            }
        }
        if self.sources.len() >= MAX_ENTRIES {
            self.sources
                .retain(|_, s| now.duration_since(s.start) < WINDOW);
            if self.sources.len() >= MAX_ENTRIES {
                self.sources.clear();
            }
        }
    }
}

fn backoff(waits: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32.checked_shl(waits).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
}

/// A reserved sign-in attempt. It counts as a failure unless [`Attempt::succeeded`] is called
/// (dropping it, on any error path, leaves it counted).
#[must_use = "an attempt counts as a failure unless marked as succeeded"]
pub struct Attempt<'a> {
    guard: &'a SignInGuard,
    pair: (String, String),
    resolved: bool,
}

impl Attempt<'_> {
    /// The password matched: the pair starts over and the attempt no longer counts.
    pub fn succeeded(mut self) {
        self.resolved = true;
        let mut l = self.guard.limits.lock().expect("limiter poisoned");
        l.pairs.remove(&self.pair);
        if let Some(s) = l.sources.get_mut(&self.pair.1) {
            s.failures = s.failures.saturating_sub(1);
        }
    }

    /// The attempt failed (the default when dropped).
    pub fn failed(mut self) {
        self.fail();
    }

    fn fail(&mut self) {
        if std::mem::replace(&mut self.resolved, true) {
            return;
        }
        let now = Instant::now();
        let mut l = self.guard.limits.lock().expect("limiter poisoned");
        if let Some(p) = l.pairs.get_mut(&self.pair) {
            p.last = now;
            if p.failures >= PAIR_FAILURES {
                p.until = Some(now + backoff(p.waits));
                p.waits = p.waits.saturating_add(1);
                p.failures = 0;
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.fail();
    }
}

/// The sign-in guard of one node.
pub struct SignInGuard {
    hashing: Arc<Semaphore>,
    limits: Mutex<Limits>,
    /// A hash of a random password, verified against when the account has none, so an unknown
    /// user costs as much time as a wrong password.
    decoy: String,
}

impl Default for SignInGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl SignInGuard {
    /// A guard with the default limits.
    pub fn new() -> Self {
        let mut random = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut random[..]).expect("OS random generator failed");
        let decoy = argon2()
            .hash_password(&random[..], &SaltString::generate(&mut OsRng))
            .expect("hashing a random password")
            .to_string();
        Self {
            hashing: Arc::new(Semaphore::new(HASHING_PERMITS)),
            limits: Mutex::new(Limits::default()),
            decoy,
        }
    }

    /// Reserves a sign-in attempt of `account` from `source`, or says how long to wait first.
    /// The attempt counts as a failure of the pair and of the source until it succeeds.
    pub fn reserve(&self, account: &str, source: &str) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut l = self.limits.lock().expect("limiter poisoned");
        l.prune(now);
        let key = (account.to_owned(), source.to_owned());
        let pair = l.pairs.get(&key).copied();
        if let Some(wait) = pair
            .and_then(|p| p.until)
            .and_then(|u| u.checked_duration_since(now))
            .filter(|w| !w.is_zero())
        {
            return Err(wait);
        }
        if pair.is_some_and(|p| p.failures >= PAIR_FAILURES) {
            // Attempts still in flight have used the pair's budget.
            return Err(backoff(pair.map_or(0, |p| p.waits)));
        }
        let src = l.sources.entry(source.to_owned()).or_insert(Source {
            start: now,
            failures: 0,
        });
        if now.duration_since(src.start) >= WINDOW {
            *src = Source {
                start: now,
                failures: 0,
            };
        }
        if src.failures >= SOURCE_FAILURES {
            return Err(WINDOW.saturating_sub(now.duration_since(src.start)));
        }
        src.failures += 1;
        let p = l.pairs.entry(key.clone()).or_insert(Pair {
            failures: 0,
            waits: 0,
            until: None,
            last: now,
        });
        p.failures += 1;
        p.last = now;
        Ok(Attempt {
            guard: self,
            pair: key,
            resolved: false,
        })
    }

    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout(HASHING_WAIT, self.hashing.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Error::Unavailable(
                "too many sign-ins at once; try again in a few seconds".into(),
            )),
        }
    }

    /// The Argon2id PHC string of `password` (fresh salt).
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String> {
        let _permit = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            argon2()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2: {e}")))
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
    }

    /// Whether `password` matches `phc` (the decoy when the account has no password: always
    /// false, at the same cost).
    pub async fn verify(&self, phc: Option<String>, password: Zeroizing<String>) -> Result<bool> {
        let _permit = self.slot().await?;
        let real = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.decoy.clone());
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc)
                .map_err(|e| Error::Internal(format!("stored password hash: {e}")))?;
            Ok(real
                && argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok())
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
    }
}

/// The longest new password, in characters (the OpenAPI document's `maxLength`).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password's shape; the error says what to change.
pub fn check_new_password(p: &str) -> Result<()> {
    let chars = p.chars().count();
    if chars < 12 {
        return Err(Error::InvalidInput(format!(
            "the password has {chars} characters; use at least 12 (a passphrase of a few words is easiest)"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::InvalidInput(format!(
            "the password has {chars} characters; use at most {MAX_PASSWORD_CHARS}"
        )));
    }
    if p.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "the password contains a control character (a pasted line break?); remove it".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let g = SignInGuard::new();
        let phc = g
            .hash(Zeroizing::new("correct horse battery".into()))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let ok = |p: &str| g.verify(Some(phc.clone()), Zeroizing::new(p.into()));
        assert!(ok("correct horse battery").await.unwrap());
        assert!(!ok("correct horse battery!").await.unwrap());
        let none = g.verify(None, Zeroizing::new("anything".into()));
        assert!(!none.await.unwrap(), "no password: never a match");
    }

    #[test]
    fn a_pair_waits_after_its_failures_and_backs_off() {
        let g = SignInGuard::new();
        for _ in 0..PAIR_FAILURES {
            g.reserve("alice", "10.0.0.1").unwrap().failed();
        }
        let wait = g
            .reserve("alice", "10.0.0.1")
            .err()
            .expect("the pair waits");
        assert!(wait <= FIRST_BACKOFF && wait > FIRST_BACKOFF - Duration::from_secs(5));
        let own = g
            .reserve("alice", "10.9.9.9")
            .expect("the owner elsewhere is not locked out");
        own.succeeded();
        assert!(
            g.reserve("bob", "10.0.0.1").is_ok(),
            "other accounts are not"
        );
        assert_eq!(backoff(1), FIRST_BACKOFF * 2);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn attempts_in_flight_use_the_budget() {
        let g = SignInGuard::new();
        let held: Vec<_> = (0..60).map(|_| g.reserve("alice", "10.0.0.2")).collect();
        let through = held.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            through, PAIR_FAILURES as usize,
            "no more than the limit at once"
        );
        drop(held);
        assert!(
            g.reserve("alice", "10.0.0.2").is_err(),
            "dropped attempts count as failures"
        );
    }

    #[test]
    fn a_success_clears_the_pair_and_a_spraying_source_is_stopped() {
        let g = SignInGuard::new();
        for _ in 0..PAIR_FAILURES - 1 {
            g.reserve("carol", "10.0.0.3").unwrap().failed();
        }
        g.reserve("carol", "10.0.0.3").unwrap().succeeded();
        for _ in 0..PAIR_FAILURES {
            g.reserve("carol", "10.0.0.3").unwrap().failed();
        }
        assert!(g.reserve("carol", "10.0.0.3").is_err());
        for i in 0..SOURCE_FAILURES {
            if let Ok(a) = g.reserve(&format!("user{i}"), "192.0.2.7") {
                a.failed();
            }
        }
        assert!(
            g.reserve("dave", "192.0.2.7").is_err(),
            "a spraying source is blocked"
        );
        assert!(g.reserve("dave", "192.0.2.8").is_ok());
    }

    #[test]
    fn new_passwords_must_be_long_enough_and_printable() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("twelve chars").is_ok());
        assert!(check_new_password("line\nbreak in it").is_err());
    }
}
