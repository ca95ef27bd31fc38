//! Which catalog a black-box test's app runs on, for the areas that run each chain on both
//! (`tests/tenancy`, `tests/sso`, `tests/scim`): SQLite in the app's data directory, or a
//! throwaway PostgreSQL database of the machine's server. And a free loopback port, for apps
//! whose public origin must be known before they start.

use coffer_server::catalog::CatalogSettings;
use coffer_server::testing::pg::TestDb;

/// Which catalog the app runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The catalog settings for `backend` (`None`: the default SQLite one) and, for PostgreSQL, the
/// database, which must outlive the app.
pub async fn catalog(backend: Backend) -> (Option<CatalogSettings>, Option<TestDb>) {
    match backend {
        Backend::Sqlite => (None, None),
        Backend::Postgres => {
            let db = TestDb::create().await;
            let settings = CatalogSettings::Postgres {
                url: db.url.clone(),
                pool_size: 8,
                connect_timeout: std::time::Duration::from_secs(10),
            };
            (Some(settings), Some(db))
        }
    }
}

/// A free port on the loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}
