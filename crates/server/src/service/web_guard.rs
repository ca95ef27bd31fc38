//! What stands between a sign-in form and the password hashes: Argon2id with OWASP's parameters
//! (m = 19456 KiB, t = 2, p = 1), run on blocking threads behind a bounded semaphore so a flood
//! of sign-ins queues instead of exhausting memory (each hash holds ~19 MiB), and a failure-rate
//! limiter per account and per source address.
//!
//! The limiter is in memory, per node: behind a load balancer with N nodes an attacker gets at
//! most N times the budget. That is stated in docs/web-ui.md; the Argon2 cost stays per guess.

use super::{Error, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Failed sign-ins one account may have per window.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failed sign-ins one source address may have per window.
pub const SOURCE_FAILURES: u32 = 20;
/// The limiter's window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Entries kept per map before the oldest windows are dropped (bounds memory under a spray).
const MAX_ENTRIES: usize = 50_000;
/// Hashes computed at once (2 × ~19 MiB).
const HASHING_PERMITS: usize = 2;
/// How long a sign-in waits for a hashing slot before answering 503.
const HASHING_WAIT: Duration = Duration::from_secs(10);

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Failures per key inside a fixed window that starts at the first failure.
#[derive(Default)]
struct Windows(HashMap<String, (Instant, u32)>);

impl Windows {
    fn blocked_for(&self, key: &str, limit: u32, now: Instant) -> Option<Duration> {
        let (start, n) = self.0.get(key)?;
        let left = WINDOW.checked_sub(now.duration_since(*start))?;
        (*n >= limit).then_some(left)
    }

    fn fail(&mut self, key: &str, now: Instant) {
        if self.0.len() >= MAX_ENTRIES {
            self.0
                .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if self.0.len() >= MAX_ENTRIES {
                self.0.clear();
            }
        }
        let entry = self.0.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

/// The sign-in guard of one node.
pub struct SignInGuard {
    hashing: Arc<Semaphore>,
    accounts: Mutex<Windows>,
    sources: Mutex<Windows>,
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
            accounts: Mutex::new(Windows::default()),
            sources: Mutex::new(Windows::default()),
            decoy,
        }
    }

    /// `Some(wait)` if the account or the source has used up its failures.
    pub fn blocked(&self, account: &str, source: &str) -> Option<Duration> {
        let now = Instant::now();
        let a = self.accounts.lock().expect("limiter poisoned");
        let s = self.sources.lock().expect("limiter poisoned");
        let x = a.blocked_for(account, ACCOUNT_FAILURES, now);
        let y = s.blocked_for(source, SOURCE_FAILURES, now);
        x.max(y)
    }

    /// Counts a failed sign-in against the account and the source.
    pub fn failed(&self, account: &str, source: &str) {
        let now = Instant::now();
        self.accounts
            .lock()
            .expect("limiter poisoned")
            .fail(account, now);
        self.sources
            .lock()
            .expect("limiter poisoned")
            .fail(source, now);
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

/// Checks a new password's shape; the error says what to change.
pub fn check_new_password(p: &str) -> Result<()> {
    let chars = p.chars().count();
    if chars < 12 {
        return Err(Error::InvalidInput(format!(
            "the password has {chars} characters; use at least 12 (a passphrase of a few words is easiest)"
        )));
    }
    if p.len() > 1024 {
        return Err(Error::InvalidInput(
            "the password is over 1024 bytes; use a shorter one".into(),
        ));
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
    fn the_limiter_blocks_an_account_and_a_source_after_their_failures() {
        let g = SignInGuard::new();
        for i in 0..ACCOUNT_FAILURES {
            assert!(g.blocked("alice", "10.0.0.1").is_none());
            g.failed("alice", &format!("10.0.1.{i}"));
        }
        let wait = g
            .blocked("alice", "10.9.9.9")
            .expect("account blocked from anywhere");
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(5));
        assert!(
            g.blocked("bob", "10.0.0.1").is_none(),
            "other accounts are not"
        );
        for i in 0..SOURCE_FAILURES {
            g.failed(&format!("user{i}"), "192.0.2.7");
        }
        assert!(
            g.blocked("carol", "192.0.2.7").is_some(),
            "a spraying source is blocked"
        );
        assert!(g.blocked("carol", "192.0.2.8").is_none());
    }

    #[test]
    fn new_passwords_must_be_long_enough_and_printable() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("twelve chars").is_ok());
        assert!(check_new_password("line\nbreak in it").is_err());
    }
}
