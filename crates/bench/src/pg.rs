//! `--catalog postgres://…`: the benchmark's own PostgreSQL database per app, created on the
//! given server (whose user may `CREATE DATABASE`) with the test suite's throwaway database
//! (`coffer_server::testing::pg`), and dropped again — with any connections the app left open —
//! when the run ends, also when it fails.

use anyhow::{Context, Result};
use coffer_server::testing::pg::TestDb;

/// `url` without a password, for the report and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// A database of the benchmark's own on `server` (an URL of any database there); dropped when
/// the returned value is.
pub async fn create(server: &str) -> Result<TestDb> {
    TestDb::create_on(server).await.with_context(|| {
        format!(
            "creating a database on PostgreSQL at {} (its user must be allowed to CREATE DATABASE)",
            redact(server)
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        let s = "postgres://postgres@127.0.0.1:5432";
        assert_eq!(
            super::redact("postgres://u:p@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact(s), s);
    }
}
