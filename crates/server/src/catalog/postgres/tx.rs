//! How the PostgreSQL catalog runs its queries and judges their failures: reads on a pooled
//! connection, writes as one transaction retried whole on a transient failure, and every driver
//! error turned into a [`CatalogError`] by meaning.
//!
//! Transient means serialization failure (40001) or deadlock (40P01): PostgreSQL rolled the
//! transaction back and running it again is safe and will eventually win, so callers never see
//! it as an error. Nothing else is retried — least of all a lost connection during `COMMIT`,
//! whose outcome is unknown: repeating a reveal or a version write there could apply it twice.

use super::PostgresCatalog;
use crate::catalog::CatalogError;
use sqlx::PgConnection;
use std::time::Duration;

/// Attempts of one transaction before a run of transient failures is reported as `Unavailable`.
const MAX_ATTEMPTS: u32 = 12;

/// A failure inside one attempt: final, or transient and worth running the transaction again.
pub(super) enum Fail {
    Final(CatalogError),
    Transient(sqlx::Error),
    /// The connection failed while a statement that commits by itself was in flight: it may
    /// or may not have committed, so it must not run again.
    Unknown(CatalogError),
}

/// What the query functions return.
pub(super) type Q<T> = std::result::Result<T, Fail>;

impl From<CatalogError> for Fail {
    fn from(e: CatalogError) -> Self {
        Fail::Final(e)
    }
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40001" | "40P01")) =>
            {
                Fail::Transient(e)
            }
            _ => Fail::Final(map_err(e)),
        }
    }
}

impl Fail {
    pub(super) fn into_catalog(self) -> CatalogError {
        match self {
            Fail::Final(e) | Fail::Unknown(e) => e,
            Fail::Transient(e) => map_err(e),
        }
    }
}

/// A failure of a statement that commits by itself (outside BEGIN … COMMIT): an error the
/// server answered with rolled it back, any other leaves its outcome unknown.
pub(super) fn autocommit_fail(e: sqlx::Error) -> Fail {
    match e {
        sqlx::Error::Database(_) => Fail::from(e),
        other => Fail::Unknown(map_err(other)),
    }
}

/// A driver error by meaning. Details that are not meaning are logged here.
pub(super) fn map_err(err: sqlx::Error) -> CatalogError {
    use sqlx::Error as E;
    match &err {
        E::RowNotFound => return CatalogError::NotFound,
        E::Database(db) if db.is_unique_violation() => return CatalogError::AlreadyExists,
        // The row it refers to (org, user, secret) does not exist.
        E::Database(db) if db.is_foreign_key_violation() => return CatalogError::NotFound,
        // A trigger keeping one of the identity rules (migration 6) refused the row.
        E::Database(db)
            if db.code().as_deref() == Some("23514") && db.message().starts_with("coffer: ") =>
        {
            return CatalogError::Refused(db.message()["coffer: ".len()..].to_owned());
        }
        _ => {}
    }
    let corrupt = matches!(
        err,
        E::ColumnDecode { .. }
            | E::Decode(_)
            | E::ColumnNotFound(_)
            | E::ColumnIndexOutOfBounds { .. }
    );
    tracing::error!(error = %err, "postgres catalog");
    if corrupt {
        CatalogError::Corrupt(err.to_string())
    } else {
        CatalogError::Unavailable(err.to_string())
    }
}

/// Sleeps a random 0..min(2^attempt ms, 100 ms), so retried racers spread out.
async fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let cap_ms = 1u64.checked_shl(attempt).unwrap_or(u64::MAX).min(100);
    let noise = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    tokio::time::sleep(Duration::from_micros(noise % (cap_ms * 1000))).await;
}

impl PostgresCatalog {
    /// Runs `q` on a pooled connection, outside an explicit transaction.
    pub(super) async fn read<T>(
        &self,
        q: impl AsyncFnOnce(&mut PgConnection) -> Q<T>,
    ) -> Result<T, CatalogError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        q(&mut conn).await.map_err(Fail::into_catalog)
    }
}

/// Whether an attempt's `outcome` is the answer (`Some`) or the transaction should run again
/// (`None`, after a jittered pause).
pub(super) async fn settle<T>(outcome: Q<T>, attempt: u32) -> Option<Result<T, CatalogError>> {
    match outcome {
        Ok(v) => Some(Ok(v)),
        Err(Fail::Transient(e)) if attempt < MAX_ATTEMPTS => {
            tracing::debug!(error = %e, attempt, "postgres catalog: retrying transaction");
            backoff(attempt).await;
            None
        }
        Err(fail) => Some(Err(fail.into_catalog())),
    }
}

/// Runs `$body` — an expression over `$c: &mut PgConnection` returning `Q<T>` — in a fresh
/// transaction and commits, running it again on a transient failure (see [`settle`]). A failed
/// attempt rolls back when its transaction is dropped. A macro, not a method taking an async
/// closure: `AsyncFnMut` futures cannot yet be proven `Send` for every borrow lifetime, which
/// `async_trait` requires.
macro_rules! in_tx {
    ($self:ident, |$c:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome: tx::Q<_> = async {
                let mut transaction = $self.pool.begin().await?;
                let $c: &mut sqlx::PgConnection = &mut transaction;
                let value = $body?;
                transaction.commit().await?;
                Ok(value)
            }
            .await;
            if let Some(done) = tx::settle(outcome, attempt).await {
                break done;
            }
        }
    }};
}
pub(super) use in_tx;
