//! The SQLite catalog against the conformance suite, and what only it does: refusing a newer
//! schema, one process per file, and serving warm reads from its cache.

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = super::SqliteCatalog::open(&dir.path().join("catalog.db"), 2)
        .await
        .unwrap();
    crate::catalog::conformance::run_all(&catalog).await;
}

#[tokio::test]
async fn refuses_a_catalog_from_a_newer_coffer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    drop(super::SqliteCatalog::open(&path, 1).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("INSERT INTO schema_migrations VALUES (999, 0)", [])
        .unwrap();
    drop(conn);
    let err = super::SqliteCatalog::open(&path, 1)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("newer coffer"), "{err}");
}

/// A second catalog on the same file is refused while the first is open (its read cache would
/// miss the other's writes), and allowed once the first has closed.
#[tokio::test]
async fn one_process_per_catalog_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let first = super::SqliteCatalog::open(&path, 1).await.unwrap();
    let err = super::SqliteCatalog::open(&path, 1)
        .await
        .err()
        .expect("must refuse a second holder");
    assert!(err.to_string().contains("--data-dir"), "{err}");
    drop(first);
    super::SqliteCatalog::open(&path, 1).await.unwrap();
}

/// Warm `authenticate` and `reveal_target` calls are served from memory (the conformance suite
/// proves they are never stale); a reveal or a lone audit event keeps them warm, any other
/// write makes them cold.
#[tokio::test]
async fn warm_reads_come_from_the_cache() {
    use crate::catalog::Catalog;
    use crate::catalog::conformance::byok::event;
    use crate::catalog::conformance::identity::person;
    use crate::catalog::conformance::{new_org, version};
    use crate::domain::*;
    use crate::metrics::{CacheLabels, Metrics};

    let dir = tempfile::tempdir().unwrap();
    let metrics = std::sync::Arc::new(Metrics::default());
    let c = super::SqliteCatalog::open_measured(&dir.path().join("c.db"), 2, 100, metrics.clone())
        .await
        .unwrap();
    let hits = || {
        let labels = CacheLabels { result: "hit" };
        metrics.catalog_cache.get_or_create(&labels).get()
    };
    let o = new_org("cached");
    let (org, slug) = (o.id, o.slug.clone());
    c.create_org(o, event(org, "org.create")).await.unwrap();
    let (_, t) = person(&c, org, "cache-cy", Role::Member, 0xc4).await;
    let id = SecretId::new();
    c.put_version(
        version(org, id, "CA-1", "db", 1),
        event(org, "secret.write"),
    )
    .await
    .unwrap();
    let (scope, name) = (
        Scope::parse("CA-1").unwrap(),
        SecretName::parse("db").unwrap(),
    );

    let reads = async || {
        c.authenticate(&t.hash).await.unwrap().unwrap();
        c.reveal_target(&slug, &scope, &name, None).await.unwrap();
    };
    reads().await;
    assert_eq!(hits(), 0, "cold");
    reads().await;
    assert_eq!(hits(), 2, "warm: both from memory");
    c.record_view(id, event(org, "secret.reveal"))
        .await
        .unwrap();
    reads().await;
    assert_eq!(hits(), 4, "a reveal keeps them warm");
    c.append_audit(event(org, "auth.failed")).await.unwrap();
    reads().await;
    assert_eq!(hits(), 6, "so does an audit event on its own");
    c.set_deleted(id, None, event(org, "secret.restore"))
        .await
        .unwrap();
    reads().await;
    assert_eq!(hits(), 6, "any other write makes them cold");
    reads().await;
    assert_eq!(hits(), 8);
}

/// A catalog written by the model before migration 6 opens with every user, role, token,
/// password and session intact, and its operator becomes a person.
#[tokio::test]
async fn migration_6_keeps_users_roles_tokens_and_sessions() {
    use crate::catalog::conformance::identity::{OldWorld, old_world_survives};
    use rusqlite::params;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT;",
    )
    .unwrap();
    for (version, sql) in super::MIGRATIONS.iter().filter(|(v, _)| *v <= 5) {
        conn.execute_batch(sql).unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [version])
            .unwrap();
    }
    let w = OldWorld::default();
    let org = w.org.to_bytes();
    conn.execute(
        "INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES (?1, 'default', 'Default', 'local', 'active', 1, 0)",
        [org],
    )
    .unwrap();
    for (id, name, operator, role, token) in [
        (w.admin, "admin", 1, "owner", w.admin_token),
        (w.bob, "bob", 0, "member", w.bob_token),
    ] {
        let id = id.to_bytes();
        conn.execute(
            "INSERT INTO users (id, name, operator, created_at) VALUES (?1, ?2, ?3, 0)",
            params![id, name, operator],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3)",
            params![org, id, role],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tokens (id, hash, user_id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4, 'old', 0)",
            params![uuid::Uuid::new_v4().as_bytes(), token, id, org],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO user_passwords (user_id, phc, set_at) VALUES (?1, '$argon2id$bob', 0)",
        [w.bob.to_bytes()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO web_sessions (id, hash, user_id, org_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, 0, 9999999999999)",
        params![uuid::Uuid::new_v4().as_bytes(), w.bob_session, w.bob.to_bytes(), org],
    )
    .unwrap();
    drop(conn);
    let catalog = super::SqliteCatalog::open(&path, 1).await.unwrap();
    old_world_survives(&catalog, &w).await;
}
