//! A throwaway PostgreSQL database: `coffer_t_<random>` on
//! `postgres://postgres@127.0.0.1:5432/postgres` (or the server in `COFFER_TEST_PG_URL`, or the
//! one the benchmark is given), dropped `WITH (FORCE)` when the [`TestDb`] goes out of scope —
//! also while a test unwinds from a panic, or a benchmark run fails. An unreachable server fails
//! a test with the command that starts it; it never skips. The one harness of every PostgreSQL
//! test and of the benchmark: the catalog's unit tests, the server's integration tests, the
//! multi-node tests and `coffer-bench --catalog postgres://…`.

use sqlx::{Connection, PgConnection};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The test server's URL (`COFFER_TEST_PG_URL`, else the machine's PostgreSQL).
pub fn server_url() -> String {
    std::env::var("COFFER_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_SERVER.into())
}

/// `url` pointing at database `db` instead of its own.
pub fn with_database(url: &str, db: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let path = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let query = url[path..].find('?').map_or("", |i| &url[path + i..]);
    format!("{}/{db}{query}", &url[..path])
}

/// `host:port` of the test server.
pub fn server_addr() -> String {
    let url = server_url();
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// `url` (on the test server) reaching it through `127.0.0.1:port` instead.
pub fn via_port(url: &str, port: u16) -> String {
    let addr = server_addr();
    assert!(
        url.contains(&addr),
        "give COFFER_TEST_PG_URL with an explicit port"
    );
    url.replacen(&addr, &format!("127.0.0.1:{port}"), 1)
}

/// A connection to the server's maintenance database, or a panic saying how to start it.
pub async fn admin() -> PgConnection {
    let server = server_url();
    match PgConnection::connect(&server).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {server} ({e}). The multi-node tests need a real \
             server: start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start`, or set \
             COFFER_TEST_PG_URL to a server URL whose user may CREATE DATABASE"
        ),
    }
}

/// A database of its own for one test.
pub struct TestDb {
    server: String,
    /// The database's name.
    pub name: String,
    /// Connection URL of the database.
    pub url: String,
}

impl TestDb {
    /// Creates `coffer_t_<random>` on the test server, or panics saying how to start it.
    pub async fn create() -> Self {
        let server = server_url();
        admin().await.close().await.ok();
        Self::create_on(&server).await.expect("CREATE DATABASE")
    }

    /// Creates `coffer_t_<random>` on `server` (the URL of any database there, whose user may
    /// `CREATE DATABASE`).
    pub async fn create_on(server: &str) -> Result<Self, sqlx::Error> {
        let name = format!("coffer_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(server).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let _ = conn.close().await;
        let url = with_database(server, &name);
        Ok(Self {
            server: server.to_owned(),
            name,
            url,
        })
    }

    /// One query's single `bigint` answer, on a connection of its own.
    pub async fn count(&self, sql: &'static str) -> i64 {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect(sql);
        let _ = conn.close().await;
        n
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime or while unwinding: do the async work on a
        // thread with a runtime of its own, and wait for it.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = PgConnection::connect(&server)
                    .await
                    .map_err(|e| e.to_string())?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop database {}: {dropped:?}", self.name);
        }
    }
}
