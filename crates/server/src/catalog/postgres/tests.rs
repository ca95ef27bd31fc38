//! Tests against a real PostgreSQL server (no mocks): each test creates its own database
//! `coffer_test_<random>` on `postgres://postgres@127.0.0.1:5432/postgres` (or the server in
//! `COFFER_TEST_PG_URL`) and drops it afterwards, also when the test panics. An unreachable
//! server fails the test with instructions instead of skipping it: a skipped backend is an
//! untested backend.

use super::open::MIGRATIONS;
use super::*;
use crate::catalog::access::AccessCatalog;
use crate::catalog::byok::ByokCatalog;
use crate::catalog::{KeyProviderKind, conformance};
use crate::domain::Location;
use sqlx::{Connection, PgConnection};
use std::time::Duration;

use crate::testing::pg::{TestDb, admin, with_database};

#[tokio::test]
async fn conformance() {
    let db = TestDb::create().await;
    let catalog = PostgresCatalog::open(&db.url, 8).await.unwrap();
    assert_eq!(catalog.backend(), "postgres");
    conformance::run_all(&catalog).await;
    catalog.pool.close().await;
}

/// The writes rely on READ COMMITTED (a fresh snapshot after each lock wait); the catalog pins
/// it per connection, so a server defaulting to SERIALIZABLE changes nothing.
#[tokio::test]
async fn conformance_when_the_server_defaults_to_serializable() {
    let db = TestDb::create().await;
    let mut conn = admin().await;
    let sql = format!(
        "ALTER DATABASE {} SET default_transaction_isolation = 'serializable'",
        db.name
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let catalog = PostgresCatalog::open(&db.url, 8).await.unwrap();
    let level: String = catalog
        .read(async |c| {
            Ok(sqlx::query_scalar("SHOW transaction_isolation")
                .fetch_one(c)
                .await?)
        })
        .await
        .unwrap();
    assert_eq!(level, "read committed");
    conformance::run_all(&catalog).await;
    catalog.pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_keep_one_org_chain_intact() {
    let db = TestDb::create().await;
    let catalog = std::sync::Arc::new(PostgresCatalog::open(&db.url, 8).await.unwrap());
    let org = NewOrg {
        id: OrgId::new(),
        slug: OrgSlug::parse("chain").unwrap(),
        name: "chain".into(),
        location: Location::local(),
        created_at: Timestamp::now(),
        key_wraps: vec![OrgKeyWrap {
            provider: "local".into(),
            key_ref: "m".into(),
            bytes: vec![1; 8],
        }],
    };
    let id = org.id;
    let draft = move |i: usize| {
        AuditDraft::new(
            id,
            None,
            "t",
            "test.event",
            format!("e{i}"),
            serde_json::json!({}),
        )
    };
    catalog.create_org(org, draft(0)).await.unwrap();
    let tasks: Vec<_> = (1..=64)
        .map(|i| {
            let c = catalog.clone();
            tokio::spawn(async move { c.append_audit(draft(i)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let events = catalog
        .audit_events(
            id,
            &AuditFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut v = crate::audit::Verifier::default();
    events.iter().for_each(|e| v.push(e));
    let v = v.finish();
    assert_eq!((v.events, v.failure), (65, None));
    catalog.pool.close().await;
}

#[tokio::test]
async fn concurrent_opens_migrate_once_and_a_newer_schema_is_refused() {
    let db = TestDb::create().await;
    let (a, b) = tokio::join!(
        PostgresCatalog::open(&db.url, 1),
        PostgresCatalog::open(&db.url, 1)
    );
    a.unwrap().pool.close().await;
    b.unwrap().pool.close().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, MIGRATIONS.len() as i64);
    sqlx::query("INSERT INTO schema_migrations VALUES (999, '', 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let err = PostgresCatalog::open(&db.url, 1)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("newer coffer"), "{err}");
}

#[tokio::test]
async fn open_error_names_the_url_without_its_password() {
    let url = "postgres://u:hunter2@127.0.0.1:1/x";
    let err = open::open(url, 1, Duration::from_millis(300), Default::default())
        .await
        .err()
        .expect("nothing listens on port 1");
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("postgres://u:***@127.0.0.1:1/x"), "{text}");
    assert!(matches!(err, CatalogError::Unavailable(_)), "{err:?}");
}

#[test]
fn redact_hides_passwords_and_keeps_the_rest() {
    assert_eq!(
        redact("postgres://u:p%40ss@h:5/db?sslmode=disable"),
        "postgres://u:***@h:5/db?sslmode=disable"
    );
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(
        redact("postgres://h/db?user=u&password=secret&x=1"),
        "postgres://h/db?user=u&password=***&x=1"
    );
    assert_eq!(redact("postgres://u:a:b@c@h/db"), "postgres://u:***@h/db");
    assert_eq!(
        with_database("postgres://u@h:1/postgres?sslmode=disable", "t"),
        "postgres://u@h:1/t?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h:1", "t"), "postgres://u@h:1/t");
}

/// Orgs created before migration 2 get key settings, each with its own external id.
#[tokio::test]
async fn migration_2_gives_existing_orgs_settings_and_distinct_external_ids() {
    let db = TestDb::create().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(MIGRATIONS[0].1)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, checksum bytea NOT NULL, applied_at bigint NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO schema_migrations VALUES (1, $1, 0)")
        .bind(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, MIGRATIONS[0].1.as_bytes())
                .as_ref(),
        )
        .execute(&mut conn)
        .await
        .unwrap();
    let ids = [OrgId::new(), OrgId::new()];
    for (i, id) in ids.iter().enumerate() {
        sqlx::query("INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES ($1, $2, 'n', 'local', 'active', 1, 0)")
            .bind(id.as_uuid())
            .bind(format!("old-{i}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let _ = conn.close().await;
    let catalog = PostgresCatalog::open(&db.url, 2).await.unwrap();
    let a = catalog.key_settings(ids[0]).await.unwrap();
    let b = catalog.key_settings(ids[1]).await.unwrap();
    assert_eq!(a.provider, KeyProviderKind::Local);
    assert!(a.external_id.as_str().starts_with("coffer-") && a.external_id.as_str().len() == 39);
    assert_ne!(a.external_id, b.external_id);
    catalog.pool.close().await;
}

/// A catalog written by the model before migration 6 opens with every user, role, token,
/// password and session intact, and its operator becomes a person.
#[tokio::test]
async fn migration_6_keeps_users_roles_tokens_and_sessions() {
    use crate::catalog::conformance::identity::{OldWorld, old_world_survives};
    let db = TestDb::create().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, checksum bytea NOT NULL, applied_at bigint NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 5) {
        sqlx::raw_sql(*sql).execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations VALUES ($1, $2, 0)")
            .bind(version)
            .bind(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sql.as_bytes()).as_ref())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let w = OldWorld::default();
    let q = |sql: &'static str| sqlx::query(sql);
    q("INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES ($1, 'default', 'Default', 'local', 'active', 1, 0)")
        .bind(w.org.as_uuid())
        .execute(&mut conn)
        .await
        .unwrap();
    for (id, name, operator, role, token) in [
        (w.admin, "admin", true, "owner", w.admin_token),
        (w.bob, "bob", false, "member", w.bob_token),
    ] {
        q("INSERT INTO users (id, name, operator, created_at) VALUES ($1, $2, $3, 0)")
            .bind(id.as_uuid())
            .bind(name)
            .bind(operator)
            .execute(&mut conn)
            .await
            .unwrap();
        q("INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(w.org.as_uuid())
            .bind(id.as_uuid())
            .bind(role)
            .execute(&mut conn)
            .await
            .unwrap();
        q("INSERT INTO tokens (id, hash, user_id, org_id, name, created_at) VALUES ($1, $2, $3, $4, 'old', 0)")
            .bind(uuid::Uuid::new_v4())
            .bind(&token[..])
            .bind(id.as_uuid())
            .bind(w.org.as_uuid())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    q("INSERT INTO user_passwords (user_id, phc, set_at) VALUES ($1, '$argon2id$bob', 0)")
        .bind(w.bob.as_uuid())
        .execute(&mut conn)
        .await
        .unwrap();
    q("INSERT INTO web_sessions (id, hash, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, 0, 9999999999999)")
        .bind(uuid::Uuid::new_v4())
        .bind(&w.bob_session[..])
        .bind(w.bob.as_uuid())
        .bind(w.org.as_uuid())
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let catalog = PostgresCatalog::open(&db.url, 2).await.unwrap();
    old_world_survives(&catalog, &w).await;
    catalog.pool.close().await;
}

/// The org's chain, verified: (events, first failure).
async fn verified_chain(catalog: &PostgresCatalog, org: OrgId) -> (u64, Option<String>) {
    let filter = AuditFilter {
        limit: 10_000,
        ..Default::default()
    };
    let events = catalog.audit_events(org, &filter).await.unwrap();
    let mut v = crate::audit::Verifier::default();
    events.iter().for_each(|e| v.push(e));
    let v = v.finish();
    (v.events, v.failure.map(|f| format!("{f:?}")))
}

/// A catalog on a fresh database (kept alive by the returned guard), counting its group commits
/// in the returned metrics, with one org `slug` (created with an `org.create` event).
async fn measured_catalog_with_org(
    slug: &str,
) -> (
    TestDb,
    std::sync::Arc<crate::metrics::Metrics>,
    PostgresCatalog,
    OrgId,
) {
    let db = TestDb::create().await;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let catalog =
        PostgresCatalog::open_measured(&db.url, 8, Duration::from_secs(10), metrics.clone())
            .await
            .unwrap();
    let org = conformance::new_org(slug);
    let id = org.id;
    let created = AuditDraft::new(id, None, "t", "org.create", "t", serde_json::json!({}));
    catalog.create_org(org, created).await.unwrap();
    (db, metrics, catalog, id)
}

/// Concurrent reveals share transactions (group commit), and still count exactly: a
/// view-limited secret gives out its limit and no more, each counted reveal its own count,
/// and the chain has one event per counted reveal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reveals_are_committed_in_groups_and_counted_exactly() {
    let (_db, metrics, catalog, id) = measured_catalog_with_org("groups").await;
    let event = |action| AuditDraft::new(id, None, "t", action, "t", serde_json::json!({}));
    let (open, limited) = (SecretId::new(), SecretId::new());
    catalog
        .put_version(
            conformance::version(id, open, "OPS-1", "open", 1),
            event("w"),
        )
        .await
        .unwrap();
    let mut v = conformance::version(id, limited, "OPS-1", "limited", 1);
    v.view_limit = Some(40);
    catalog.put_version(v, event("w")).await.unwrap();
    // A second org's reveals share the groups and chain on their own org's head.
    let other = conformance::new_org("groups-b");
    let other_id = other.id;
    let other_event =
        |action| AuditDraft::new(other_id, None, "t", action, "t", serde_json::json!({}));
    catalog
        .create_org(other, other_event("org.create"))
        .await
        .unwrap();
    let theirs = SecretId::new();
    catalog
        .put_version(
            conformance::version(other_id, theirs, "OPS-1", "open", 1),
            other_event("w"),
        )
        .await
        .unwrap();
    let commits_before = metrics.group_commits.get();

    let reveals = (0..100).map(|i| {
        let secret = if i % 2 == 0 { open } else { limited };
        catalog.record_view(secret, event("secret.reveal"))
    });
    let elsewhere = (0..30).map(|_| catalog.record_view(theirs, other_event("secret.reveal")));
    let (results, elsewhere) = futures::future::join(
        futures::future::join_all(reveals),
        futures::future::join_all(elsewhere),
    )
    .await;
    let mut theirs_counted: Vec<u32> = elsewhere.into_iter().map(|r| r.unwrap().count).collect();
    theirs_counted.sort_unstable();
    assert_eq!(theirs_counted, (1..=30).collect::<Vec<_>>());
    assert_eq!(verified_chain(&catalog, other_id).await, (32, None));

    let commits = metrics.group_commits.get() - commits_before;
    assert!(
        (1..30).contains(&commits),
        "130 concurrent reveals took {commits} commits"
    );
    let open_counts: Vec<u32> = results
        .iter()
        .step_by(2)
        .map(|r| r.clone().unwrap().count)
        .collect();
    let mut sorted = open_counts.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=50).collect::<Vec<_>>());
    let limited: Vec<_> = results.iter().skip(1).step_by(2).collect();
    let mut counted: Vec<u32> = limited
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|v| v.count)
        .collect();
    counted.sort_unstable();
    assert_eq!(counted, (1..=40).collect::<Vec<_>>());
    assert!(
        limited
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == CatalogError::ViewLimitReached)
    );
    // org.create + 2 writes + 50 + 40 counted reveals, one chain.
    assert_eq!(verified_chain(&catalog, id).await, (93, None));
    catalog.pool.close().await;
}

/// Concurrent version writes share transactions; a refused write (a lost check-and-set) leaves
/// its group without changing anything, and a write the database rejects (a NUL byte in a text
/// column) fails alone: the group is rerun job by job and every other write lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_fails_alone_and_its_group_lands() {
    let (_db, _, catalog, id) = measured_catalog_with_org("failing").await;
    let event = |action| AuditDraft::new(id, None, "t", action, "t", serde_json::json!({}));
    let before = catalog.org_key_encryptions(id, 1).await.unwrap();

    let mut writes: Vec<NewVersion> = (0..30)
        .map(|i| conformance::version(id, SecretId::new(), "OPS-2", &format!("s{i}"), 1))
        .collect();
    writes[7].by = "bad\0writer".into(); // PostgreSQL text cannot hold NUL: a database error
    writes[20].name = writes[21].name.clone(); // two first versions of one name: one loses
    let results = futures::future::join_all(
        writes
            .iter()
            .map(|v| catalog.put_version(v.clone(), event("w"))),
    )
    .await;

    assert!(results[7].is_err(), "{:?}", results[7]);
    let lost: Vec<usize> = [20, 21]
        .into_iter()
        .filter(|&i| results[i].is_err())
        .collect();
    assert_eq!(lost.len(), 1, "{:?} {:?}", results[20], results[21]);
    assert_eq!(results[lost[0]], Err(CatalogError::Conflict { current: 1 }));
    let landed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(landed, 28);
    // Each landed write counted its wraps, and nothing else did.
    let after = catalog.org_key_encryptions(id, 1).await.unwrap();
    assert_eq!(
        after - before,
        28 * crate::catalog::rules::WRAPS_PER_VERSION as u64
    );
    let listed = catalog
        .list_secrets(
            id,
            &crate::catalog::SecretFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 28);
    assert_eq!(verified_chain(&catalog, id).await, (29, None));
    catalog.pool.close().await;
}

/// The first versions of a group are one statement, with the answers each would have had
/// alone: a name a live secret has (`Conflict` with its version), two of one name (one
/// lands), a restricted secret (its creator's share), and the rest land, all in one commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_versions_of_a_group_land_in_one_statement() {
    let (_db, metrics, catalog, id) = measured_catalog_with_org("creates").await;
    let event = |action| AuditDraft::new(id, None, "t", action, "t", serde_json::json!({}));
    let (member, _) =
        conformance::identity::person(&catalog, id, "rita", crate::domain::Role::Member, 0x51)
            .await;
    let taken = SecretId::new();
    for n in 1..=2 {
        let v = conformance::version(id, taken, "OPS-3", "taken", n);
        catalog.put_version(v, event("w")).await.unwrap();
    }
    let commits_before = metrics.group_commits.get();
    let (events_before, _) = verified_chain(&catalog, id).await;

    let mut writes: Vec<NewVersion> = (0..24u8)
        .map(|i| {
            let mut v = conformance::version(id, SecretId::new(), "OPS-3", &format!("s{i}"), 1);
            (v.wrapped_key, v.size) = (vec![i; 60], u64::from(i) + 1);
            v
        })
        .collect();
    writes[5].name = writes[6].name.clone();
    writes[9].name = SecretName::parse("taken").unwrap();
    writes[12].restricted_to = Some(member.user.id);
    let results = futures::future::join_all(
        writes
            .iter()
            .map(|v| catalog.put_version(v.clone(), event("w"))),
    )
    .await;

    assert!(
        metrics.group_commits.get() - commits_before <= 3,
        "24 concurrent writes took {} commits",
        metrics.group_commits.get() - commits_before
    );
    assert_eq!(results[9], Err(CatalogError::Conflict { current: 2 }));
    let pair: Vec<_> = [5, 6].into_iter().map(|i| results[i].is_ok()).collect();
    assert!(pair == [true, false] || pair == [false, true], "{pair:?}");
    let lost = if pair[0] { 6 } else { 5 };
    assert_eq!(results[lost], Err(CatalogError::Conflict { current: 1 }));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 22);
    for (v, r) in writes.iter().zip(&results).filter(|(_, r)| r.is_ok()) {
        let s = r.as_ref().unwrap();
        assert_eq!((s.id, s.version, &s.name), (v.secret, 1, &v.name));
        let stored = catalog.version(v.secret, 1).await.unwrap();
        assert_eq!(
            (stored.blob_key.as_str(), &stored.wrapped_key, stored.size),
            (v.blob_key.as_str(), &v.wrapped_key, v.size)
        );
    }
    let restricted = results[12].as_ref().unwrap();
    assert!(restricted.restricted);
    let shares = catalog.shares(restricted.id).await.unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(
        shares[0].principal,
        crate::catalog::PrincipalId::User(member.user.id)
    );
    assert!(results.iter().filter(|r| r.is_ok()).all(|r| {
        let s = r.as_ref().unwrap();
        s.restricted == (s.id == restricted.id)
    }));
    let (events, failure) = verified_chain(&catalog, id).await;
    assert_eq!(failure, None);
    assert_eq!(events, events_before + 22);
    catalog.pool.close().await;
}

/// A group whose first versions would overrun their key's limit writes them one by one, so
/// exactly the writes past the limit are refused (`KeyExhausted`) and the rest land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_versions_past_the_key_limit_are_refused_exactly() {
    let (_db, _, catalog, id) = measured_catalog_with_org("limit").await;
    let event = |action| AuditDraft::new(id, None, "t", action, "t", serde_json::json!({}));
    let before = catalog.org_key_encryptions(id, 1).await.unwrap();
    let room = 5;
    let max = before + room * crate::catalog::rules::WRAPS_PER_VERSION as u64;

    let writes: Vec<NewVersion> = (0..12)
        .map(|i| {
            let mut v = conformance::version(id, SecretId::new(), "OPS-4", &format!("k{i}"), 1);
            v.max_encryptions = max;
            v
        })
        .collect();
    let results = futures::future::join_all(
        writes
            .iter()
            .map(|v| catalog.put_version(v.clone(), event("w"))),
    )
    .await;

    let landed = results.iter().filter(|r| r.is_ok()).count() as u64;
    assert_eq!(landed, room, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == CatalogError::KeyExhausted)
    );
    assert_eq!(catalog.org_key_encryptions(id, 1).await.unwrap(), max);
    catalog.pool.close().await;
}

/// A reveal whose event names an org without a row is refused and counts nothing, also when
/// it shares its group with reveals that count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reveal_without_its_org_counts_nothing() {
    let (_db, _, catalog, id) = measured_catalog_with_org("orgless").await;
    let event = |org, action| AuditDraft::new(org, None, "t", action, "t", serde_json::json!({}));
    let secret = SecretId::new();
    catalog
        .put_version(
            conformance::version(id, secret, "OPS-5", "s", 1),
            event(id, "w"),
        )
        .await
        .unwrap();
    let (before, _) = verified_chain(&catalog, id).await;

    let reveals = (0..20).map(|i| {
        let org = if i == 7 { OrgId::new() } else { id };
        catalog.record_view(secret, event(org, "secret.reveal"))
    });
    let results = futures::future::join_all(reveals).await;

    assert_eq!(results[7], Err(CatalogError::NotFound));
    let mut counts: Vec<u32> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|v| v.count))
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=19).collect::<Vec<_>>());
    let scope = Scope::parse("OPS-5").unwrap();
    let name = SecretName::parse("s").unwrap();
    assert_eq!(catalog.secret(id, &scope, &name).await.unwrap().views, 19);
    assert_eq!(verified_chain(&catalog, id).await, (before + 19, None));
    catalog.pool.close().await;
}
